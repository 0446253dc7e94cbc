// Broken inventories, one small edit each from a valid base, and the exact problems each must
// produce: file, line, column, field and a distinctive part of the message.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { loadInventory, validateTexts, type Problem } from "../../model/load";
import { optionValueProblem, VIRT_GROUP } from "../../model/options";
import { buildModel, modelWarnings } from "../../model/model";
import { EAST, FIXTURE_DIR, MESH, REAL_DIR, fixtureTexts, realInventory, realTexts, replaceOnce, validInventory } from "./fixtures";

type Texts = Record<string, string>;
type Edit = (t: Texts) => void;
/** [file, line, column, field, part of the message] */
type Expected = [string, number, number, string, string];

interface Case {
  name: string;
  base?: "fixture" | "real";
  edits: Edit[];
  problems: Expected[];
}

const ed = (file: string, from: string, to: string): Edit => (t) => {
  assert.ok(file in t, `test edit: no file ${file}`);
  t[file] = replaceOnce(t[file], from, to);
};
const del = (file: string): Edit => (t) => {
  assert.ok(file in t, `test edit: no file ${file}`);
  delete t[file];
};
const put = (file: string, text: string): Edit => (t) => {
  t[file] = text;
};
/** A fourth east node with the storage role only; it goes before `volumes:` (lines 14-17). */
const addEast4 = ed("east.yaml", "volumes:\n", "  east4:\n    address: 192.0.2.4\n    tinc: 10.9.1.4\n    roles: [storage]\nvolumes:\n");

const PATH_RULE = "must be an absolute, normalised path of letters, digits";
const SET_RULE = "the brick count must be a multiple of the replica count";

const cases: Case[] = [
  // --- YAML itself
  { name: "YAML: unclosed flow sequence (reported where the parser notices: the next line)", edits: [ed("east.yaml", "roles: [compute]", "roles: [compute")], problems: [["east.yaml", 14, 1, "", "YAML syntax: Flow sequence in block collection must be sufficiently indented and end with a ]"]] },
  { name: "YAML: a second colon on one line", edits: [ed("east.yaml", "    replica: 2\n", "    replica: 2: 3\n")], problems: [["east.yaml", 16, 14, "", "YAML syntax: Nested mappings are not allowed in compact mappings"]] },
  { name: "YAML: duplicate key inside a node", edits: [ed("east.yaml", "    tinc: 10.9.1.2\n", "    tinc: 10.9.1.2\n    tinc: 10.9.1.5\n")], problems: [["east.yaml", 9, 5, "", "YAML syntax: Map keys must be unique"]] },
  { name: "YAML: duplicate node name in one DC file", edits: [ed("east.yaml", "  east3:", "  east1:")], problems: [["east.yaml", 10, 3, "", "Map keys must be unique"]] },
  { name: "YAML: a syntax error in one file hides none of the other files' problems", edits: [ed("east.yaml", "roles: [compute]", "roles: [compute"), ed("west.yaml", "diskGb: 20", "diskGb: 5"), ed("mesh.yaml", "  port: 655", "  port: high")], problems: [["east.yaml", 14, 1, "", "YAML syntax: Flow sequence"], ["mesh.yaml", 5, 9, "mesh.port", "expected number"], ["west.yaml", 13, 13, "volumes.data.diskGb", ">=10"]] },
  { name: "YAML: a syntax error in mesh.yaml hides none of the DCs' problems (and is no missing mesh:)", edits: [ed("mesh.yaml", "  port: 655\n", "  port: 655\n  port: 656\n"), ed("west.yaml", "diskGb: 20", "diskGb: 5")], problems: [["mesh.yaml", 6, 3, "", "Map keys must be unique"], ["west.yaml", 13, 13, "volumes.data.diskGb", ">=10"]] },
  { name: "YAML errors in two files are all reported", edits: [ed("east.yaml", "  east3:", "  east1:"), ed("mesh.yaml", "  port: 655\n", "  port: 655\n  port: 656\n")], problems: [["east.yaml", 10, 3, "", "Map keys must be unique"], ["mesh.yaml", 6, 3, "", "Map keys must be unique"]] },
  // --- files
  { name: "mesh.yaml missing", edits: [del("mesh.yaml")], problems: [["mesh.yaml", 0, 0, "", "mesh.yaml is missing"]] },
  { name: "mesh.yaml is a list", edits: [put("mesh.yaml", "- subnet: 10.9.0.0/16\n")], problems: [["mesh.yaml", 1, 1, "", "mesh.yaml must be a mapping with a `mesh:` section"]] },
  { name: "mesh.yaml without mesh:", edits: [put("mesh.yaml", "# nothing yet\n")], problems: [["mesh.yaml", 1, 1, "mesh", "mesh is required"]] },
  { name: "unknown top-level key in mesh.yaml", edits: [ed("mesh.yaml", "mesh:\n", "meshes: 1\nmesh:\n")], problems: [["mesh.yaml", 2, 1, "meshes", 'unknown top-level key "meshes" in mesh.yaml: only mesh: and drift: belong here']] },
  { name: "empty DC file", edits: [put("east.yaml", "")], problems: [["east.yaml", 1, 1, "nodes", "nodes is required"]] },
  { name: "DC file is a list", edits: [put("east.yaml", "- east1\n")], problems: [["east.yaml", 1, 1, "", "expected object, received array"]] },
  { name: "east.yaml and east.yml both present (the .yml used to win silently)", edits: [put("east.yml", EAST)], problems: [["east.yml", 1, 1, "", "east.yaml and east.yml are both here and only one is read: keep east.yaml (move anything you need from east.yml into it) and remove east.yml"]] },
  { name: "bad DC file name (upper case, underscore)", edits: [del("east.yaml"), put("East_1.yaml", EAST)], problems: [["East_1.yaml", 1, 1, "", 'data center name "East_1" must be lower-case letters, digits and dashes']] },
  { name: "DC with no nodes", edits: [put("north.yaml", "nodes: {}\n")], problems: [["north.yaml", 1, 8, "nodes", "a data center needs at least one node"]] },
  // --- unknown fields
  { name: "unknown volume field, with did-you-mean (and the real one is then missing)", edits: [ed("east.yaml", "    replica: 2", "    replicas: 2")], problems: [["east.yaml", 15, 3, "volumes.data.replica", "replica is required"], ["east.yaml", 16, 5, "volumes.data.replicas", 'unknown field "replicas": remove it or check its spelling (did you mean replica?)']] },
  { name: "unknown node field ip, did you mean tinc", edits: [ed("east.yaml", "    tinc: 10.9.1.2", "    ip: 10.9.1.2")], problems: [["east.yaml", 6, 3, "nodes.east2.tinc", "tinc is required: must be an IPv4 address"], ["east.yaml", 8, 5, "nodes.east2.ip", 'unknown field "ip": remove it or check its spelling (did you mean tinc?)']] },
  { name: "a drift key with options before it", edits: [ed("mesh.yaml", "  connectToPerDc: 2\n", "  connectToPerDc: 2\ndrift:\n  keys:\n    - ssh-ed25519 AAAAC3Nz ok\n    - command=\"sh\" ssh-ed25519 AAAAC3Nz x\n")], problems: [["mesh.yaml", 10, 7, "drift.keys[1]", "must be one OpenSSH public key line"]] },
  { name: "unknown drift field", edits: [ed("mesh.yaml", "  connectToPerDc: 2\n", "  connectToPerDc: 2\ndrift:\n  key: ssh-ed25519 AAAAC3Nz\n")], problems: [["mesh.yaml", 8, 3, "drift.key", 'unknown field "key"']] },
  { name: "unknown mesh field", edits: [ed("mesh.yaml", "  port: 655", "  prot: 655")], problems: [["mesh.yaml", 5, 3, "mesh.prot", 'unknown field "prot"']] },
  // --- types and missing fields
  { name: "replica is a word", edits: [ed("east.yaml", "    replica: 2", "    replica: two")], problems: [["east.yaml", 16, 14, "volumes.data.replica", "replica must be 2, or 3 (with arbiter: 1)"]] },
  { name: "roles is a string", edits: [ed("east.yaml", "    roles: [compute]", "    roles: compute")], problems: [["east.yaml", 13, 12, "nodes.east3.roles", "expected array, received string"]] },
  { name: "mesh port is a string", edits: [ed("mesh.yaml", "  port: 655", "  port: high")], problems: [["mesh.yaml", 5, 9, "mesh.port", "expected number, received string"]] },
  { name: "ssh port out of range", edits: [ed("east.yaml", "    roles: [compute]", "    roles: [compute]\n    ssh: { port: 70000 }")], problems: [["east.yaml", 14, 18, "nodes.east3.ssh.port", "<=65535"]] },
  { name: "missing subnet points at mesh:", edits: [ed("mesh.yaml", "  subnet: 10.9.0.0/16\n", "")], problems: [["mesh.yaml", 2, 1, "mesh.subnet", "subnet is required"]] },
  { name: "missing tinc points at the node", edits: [ed("east.yaml", "    tinc: 10.9.1.3\n", "")], problems: [["east.yaml", 10, 3, "nodes.east3.tinc", "tinc is required"]] },
  { name: "missing replicaSets", edits: [ed("east.yaml", "    replicaSets:\n      - [east1, east2]\n", "")], problems: [["east.yaml", 15, 3, "volumes.data.replicaSets", "replicaSets is required"]] },
  { name: "empty replicaSets", edits: [ed("east.yaml", "    replicaSets:\n      - [east1, east2]\n", "    replicaSets: []\n")], problems: [["east.yaml", 18, 18, "volumes.data.replicaSets", "a volume needs at least one replica set"]] },
  { name: "unknown provider", edits: [ed("east.yaml", "nodes:\n", "provider: aws\nnodes:\n")], problems: [["east.yaml", 1, 11, "provider", 'expected one of "metal"|"gce"']] },
  { name: "gce disk too small", edits: [ed("west.yaml", "diskGb: 20", "diskGb: 5")], problems: [["west.yaml", 13, 13, "volumes.data.diskGb", ">=10"]] },
  // --- node names
  { name: "node name with a dash (points at the name)", edits: [ed("east.yaml", "  east3:", "  east-3:")], problems: [["east.yaml", 10, 3, "nodes.east-3", 'node name "east-3" is not a valid tinc name']] },
  { name: "node name in upper case", edits: [ed("east.yaml", "  east3:", "  East3:")], problems: [["east.yaml", 10, 3, "nodes.East3", 'node name "East3" is not a valid tinc name']] },
  { name: "same node name in two DCs", edits: [ed("west.yaml", "  west3:", "  east3: { tinc: 10.9.2.9, roles: [compute] }\n  west3:")], problems: [["west.yaml", 7, 3, "nodes.east3", 'node "east3" is already defined in data center east: node names are unique across the whole mesh, rename one of them (the other is at east.yaml:10:3)']] },
  // --- addresses
  { name: "tinc address outside the subnet", edits: [ed("east.yaml", "tinc: 10.9.1.3", "tinc: 10.8.1.3")], problems: [["east.yaml", 12, 11, "nodes.east3.tinc", "tinc address 10.8.1.3 is outside the mesh subnet 10.9.0.0/16"]] },
  { name: "tinc address used twice", edits: [ed("east.yaml", "tinc: 10.9.1.3", "tinc: 10.9.1.1")], problems: [["east.yaml", 12, 11, "nodes.east3.tinc", "tinc address 10.9.1.1 is already used by node east1"]] },
  { name: "tinc address used twice across DCs", edits: [ed("west.yaml", "tinc: 10.9.2.2", "tinc: 10.9.1.2")], problems: [["west.yaml", 6, 18, "nodes.west2.tinc", "tinc address 10.9.1.2 is already used by node east2: every node needs its own (the other is at east.yaml:8:5)"]] },
  { name: "tinc address is the network address", edits: [ed("east.yaml", "tinc: 10.9.1.3", "tinc: 10.9.0.0")], problems: [["east.yaml", 12, 11, "nodes.east3.tinc", "is the subnet's network or broadcast address"]] },
  { name: "tinc address is the broadcast address", edits: [ed("east.yaml", "tinc: 10.9.1.3", "tinc: 10.9.255.255")], problems: [["east.yaml", 12, 11, "nodes.east3.tinc", "is the subnet's network or broadcast address"]] },
  { name: "tinc address is not an address", edits: [ed("east.yaml", "tinc: 10.9.1.3", "tinc: 10.9.1.300")], problems: [["east.yaml", 12, 11, "nodes.east3.tinc", "must be an IPv4 address"]] },
  { name: "subnet with host bits", edits: [ed("mesh.yaml", "10.9.0.0/16", "10.9.0.1/16")], problems: [["mesh.yaml", 4, 11, "mesh.subnet", "must be an IPv4 subnet in CIDR form"]] },
  { name: "subnet without prefix", edits: [ed("mesh.yaml", "10.9.0.0/16", "10.9.0.0")], problems: [["mesh.yaml", 4, 11, "mesh.subnet", "must be an IPv4 subnet in CIDR form"]] },
  { name: "metal node without address (points at the node)", edits: [ed("east.yaml", "    address: 192.0.2.3\n", "")], problems: [["east.yaml", 10, 3, "nodes.east3.address", "a metal node needs its public `address`"]] },
  { name: "public address with a space", edits: [ed("east.yaml", "address: 192.0.2.3", "address: 'bad host'")], problems: [["east.yaml", 11, 14, "nodes.east3.address", "must be an IPv4 address or a DNS name"]] },
  { name: "public address that looks like IPv4 but is not (no DNS name ends in a number)", edits: [ed("east.yaml", "address: 192.0.2.3", "address: 999.1.1.1")], problems: [["east.yaml", 11, 14, "nodes.east3.address", "999.1.1.1 is not an IPv4 address (four numbers 0-255, no leading zeros), and a DNS name does not end in a number: fix the address"]] },
  { name: "ssh host with a leading zero", edits: [ed("east.yaml", "    roles: [compute]", "    roles: [compute]\n    ssh: { host: 192.0.2.03 }")], problems: [["east.yaml", 14, 18, "nodes.east3.ssh.host", "192.0.2.03 is not an IPv4 address"]] },
  { name: "two nodes with the same public address", edits: [ed("east.yaml", "address: 192.0.2.3", "address: 192.0.2.1")], problems: [["east.yaml", 11, 14, "nodes.east3.address", "public address 192.0.2.1 is already used by node east1: every node needs its own, tinc peers tell nodes apart by it (the other is at east.yaml:3:5)"]] },
  { name: "public address equal to the node's tinc address", edits: [ed("east.yaml", "address: 192.0.2.3", "address: 10.9.1.3")], problems: [["east.yaml", 11, 14, "nodes.east3.address", "public address 10.9.1.3 is this node's tinc address: `address` is where tinc peers and SSH reach the node from outside the mesh, `tinc` its address inside the mesh; give its public address"]] },
  { name: "gce node with an address", edits: [ed("west.yaml", "west1: { tinc", "west1: { address: 198.51.100.9, tinc")], problems: [["west.yaml", 5, 21, "nodes.west1.address", "a gce node gets its public address from its stack (a static address the stack reserves): remove `address`"]] },
  // --- roles
  { name: "roles empty", edits: [ed("east.yaml", "    roles: [compute]", "    roles: []")], problems: [["east.yaml", 13, 12, "nodes.east3.roles", "give at least one role"]] },
  { name: "unknown role", edits: [ed("east.yaml", "    roles: [compute]", "    roles: [compute, gpu]")], problems: [["east.yaml", 13, 22, "nodes.east3.roles[1]", "a role is one of: storage, compute"]] },
  { name: "a role listed twice", edits: [ed("east.yaml", "    roles: [storage, compute]\n  east2:", "    roles: [storage, storage]\n  east2:")], problems: [["east.yaml", 5, 22, "nodes.east1.roles[1]", "storage is listed twice in roles: list each role once"]] },
  // --- bricks
  { name: "brick on an unknown node", edits: [ed("east.yaml", "- [east1, east2]", "- [east1, east9]")], problems: [["east.yaml", 19, 17, "volumes.data.replicaSets[0][1]", 'brick node "east9" is not a node of east']] },
  { name: "brick on a node of another DC", edits: [ed("east.yaml", "- [east1, east2]", "- [east1, west2]")], problems: [["east.yaml", 19, 17, "volumes.data.replicaSets[0][1]", 'brick node "west2" belongs to data center west, not east']] },
  { name: "brick on a node without the storage role", edits: [ed("east.yaml", "- [east1, east2]", "- [east1, east3]")], problems: [["east.yaml", 19, 17, "volumes.data.replicaSets[0][1]", 'node "east3" holds a brick but lacks the storage role']] },
  { name: "bricks without path (no brickPath)", edits: [ed("east.yaml", "    brickPath: /srv/gluster/data\n", "")], problems: [["east.yaml", 18, 10, "volumes.data.replicaSets[0][0]", 'brick "east1" has no path'], ["east.yaml", 18, 17, "volumes.data.replicaSets[0][1]", 'brick "east2" has no path']] },
  { name: "brick path with a space", edits: [ed("east.yaml", "- [east1, east2]", '- [east1, "east2:/srv/my data"]')], problems: [["east.yaml", 19, 17, "volumes.data.replicaSets[0][1]", `brick path "/srv/my data" ${PATH_RULE}`]] },
  { name: "brick path with ..", edits: [ed("east.yaml", "- [east1, east2]", '- [east1, "east2:/srv/../etc"]')], problems: [["east.yaml", 19, 17, "volumes.data.replicaSets[0][1]", `brick path "/srv/../etc" ${PATH_RULE}`]] },
  { name: "relative brick path", edits: [ed("east.yaml", "- [east1, east2]", '- [east1, "east2:srv/data"]')], problems: [["east.yaml", 19, 17, "volumes.data.replicaSets[0][1]", "a brick is NODE or NODE:/absolute/path"], ["east.yaml", 19, 17, "volumes.data.replicaSets[0][1]", `brick path "srv/data" ${PATH_RULE}`]] },
  { name: "brick path with a trailing slash", edits: [ed("east.yaml", "- [east1, east2]", '- [east1, "east2:/srv/data/"]')], problems: [["east.yaml", 19, 17, "volumes.data.replicaSets[0][1]", `brick path "/srv/data/" ${PATH_RULE}`]] },
  { name: "brick path with $()", edits: [ed("east.yaml", "- [east1, east2]", '- [east1, "east2:/srv/$(reboot)"]')], problems: [["east.yaml", 19, 17, "volumes.data.replicaSets[0][1]", `brick path "/srv/$(reboot)" ${PATH_RULE}`]] },
  { name: "brick path with ;", edits: [ed("east.yaml", "- [east1, east2]", '- [east1, "east2:/srv/x;rm"]')], problems: [["east.yaml", 19, 17, "volumes.data.replicaSets[0][1]", `brick path "/srv/x;rm" ${PATH_RULE}`]] },
  { name: "brickPath with ; (the field and every brick that uses it)", edits: [ed("east.yaml", "brickPath: /srv/gluster/data", "brickPath: /srv/gluster/data;reboot")], problems: [["east.yaml", 17, 16, "volumes.data.brickPath", PATH_RULE], ["east.yaml", 19, 10, "volumes.data.replicaSets[0][0]", 'brick path "/srv/gluster/data;reboot"'], ["east.yaml", 19, 17, "volumes.data.replicaSets[0][1]", 'brick path "/srv/gluster/data;reboot"']] },
  { name: "brick in a system folder: /etc", edits: [ed("east.yaml", "- [east1, east2]", '- [east1, "east2:/etc"]')], problems: [["east.yaml", 19, 17, "volumes.data.replicaSets[0][1]", "brick path /etc is the folder /etc, the system's own files: give the brick a folder of its own, such as /srv/gluster/data"]] },
  { name: "brick inside glusterd's state", edits: [ed("east.yaml", "- [east1, east2]", '- [east1, "east2:/var/lib/glusterd/bricks/b1"]')], problems: [["east.yaml", 19, 17, "volumes.data.replicaSets[0][1]", "brick path /var/lib/glusterd/bricks/b1 is inside the folder /var/lib/glusterd, glusterd's own state"]] },
  { name: "brick inside glustermesh's own mounts", edits: [ed("east.yaml", "- [east1, east2]", '- [east1, "east2:/mnt/gluster/east/data"]')], problems: [["east.yaml", 19, 17, "volumes.data.replicaSets[0][1]", "is inside the folder /mnt/gluster, where glustermesh mounts the volumes"]] },
  { name: "brickPath /proc (each brick that uses it)", edits: [ed("east.yaml", "brickPath: /srv/gluster/data", "brickPath: /proc/gluster")], problems: [["east.yaml", 19, 10, "volumes.data.replicaSets[0][0]", "brick path /proc/gluster is inside the folder /proc, made up by the kernel and systemd at every boot"], ["east.yaml", 19, 17, "volumes.data.replicaSets[0][1]", "brick path /proc/gluster is inside the folder /proc"]] },
  { name: "brick that is a shared folder itself: /srv", edits: [ed("east.yaml", "- [east1, east2]", '- [east1, "east2:/srv"]')], problems: [["east.yaml", 19, 17, "volumes.data.replicaSets[0][1]", "brick path /srv is the folder /srv itself, which holds other things and which gluster would take over: put the brick in a folder of its own below it, such as /srv/gluster/data"]] },
  { name: "brick inside another brick of the node", edits: [addEast4, ed("east.yaml", "- [east1, east2]", '- [east1, east2]\n      - [east4, "east1:/srv/gluster/data/sub"]')], problems: [["east.yaml", 24, 17, "volumes.data.replicaSets[1][1]", "brick east1:/srv/gluster/data/sub is inside brick east1:/srv/gluster/data (volume data, replica set 1): gluster refuses a brick inside another, put them side by side (the other is at east.yaml:23:10)"]] },
  { name: "brick of another volume around a brick of the node", edits: [ed("east.yaml", "    sync: { every: 5min }\n", "    sync: { every: 5min }\n  logs:\n    replica: 2\n    replicaSets:\n      - [\"east2:/srv/gluster\", \"east1:/srv/gluster/logs\"]\n")], problems: [["east.yaml", 27, 10, "volumes.logs.replicaSets[0][0]", "brick east2:/srv/gluster contains brick east2:/srv/gluster/data (volume data, replica set 1): gluster refuses a brick inside another, put them side by side (the other is at east.yaml:19:17)"]] },
  // --- gce bricks: each gets its own disk, mounted at the brick's parent (render/disk.ts)
  { name: "gce: two bricks of a node sharing their parent folder (render used to crash)", edits: [ed("west.yaml", "    sync: { every: 30s }\n", "    sync: { every: 30s }\n  logs:\n    replica: 3\n    arbiter: 1\n    brickPath: /srv/gluster/logs\n    replicaSets:\n      - [west1, west2, west3]\n")], problems: [1, 2, 3].map((n, j): Expected => ["west.yaml", 22, 10 + 7 * j, `volumes.logs.replicaSets[0][${j}]`, `bricks west${n}:/srv/gluster/data (volume data) and west${n}:/srv/gluster/logs share the folder /srv/gluster, where each one's own disk is mounted on gce: give every brick of a node its own parent folder, such as /srv/gluster/logs/brick (the other is at west.yaml:15:${10 + 7 * j})`]) },
  { name: "gce: a brick directly under / (render used to crash)", edits: [ed("west.yaml", "brickPath: /srv/gluster/data", "brickPath: /bricks")], problems: [1, 2, 3].map((n, j): Expected => ["west.yaml", 15, 10 + 7 * j, `volumes.data.replicaSets[0][${j}]`, `brick west${n}:/bricks is on gce, where its own disk is mounted at its parent folder, here /: put the brick one level deeper in a folder of its own, such as /srv/gluster/data/brick`]) },
  { name: "gce: a brick whose disk would be mounted over /srv", edits: [ed("west.yaml", "brickPath: /srv/gluster/data", "brickPath: /srv/data")], problems: [1, 2, 3].map((n, j): Expected => ["west.yaml", 15, 10 + 7 * j, `volumes.data.replicaSets[0][${j}]`, `brick west${n}:/srv/data is on gce, where its own disk is mounted at its parent folder, here /srv`]) },
  { name: "gce: volumes whose disk names differ only in case", edits: [ed("west.yaml", "    sync: { every: 30s }\n", "    sync: { every: 30s }\n  Data:\n    replica: 3\n    arbiter: 1\n    brickPath: /srv/gm/Data/brick\n    replicaSets:\n      - [west1, west2, west3]\n")], problems: [["west.yaml", 17, 3, "volumes.Data", 'volumes "data" and "Data" would share their disks\' names on gce (names there are lower-case: gm-data-set1): rename one of them (the other is at west.yaml:9:3)']] },
  // --- replica sets
  { name: "replica set of 1 in a replica 2 volume", edits: [addEast4, ed("east.yaml", "- [east1, east2]", "- [east1, east2]\n      - [east4]")], problems: [["east.yaml", 24, 9, "volumes.data.replicaSets[1]", `replica set 2 has 1 brick, but volume data is replica 2: ${SET_RULE}`]] },
  { name: "replica set of 3 in a replica 2 volume", edits: [addEast4, ed("east.yaml", "- [east1, east2]", "- [east1, east2, east4]")], problems: [["east.yaml", 23, 9, "volumes.data.replicaSets[0]", `replica set 1 has 3 bricks, but volume data is replica 2: ${SET_RULE}`]] },
  { name: "replica set of 2 in a replica 3 arbiter 1 volume", edits: [ed("west.yaml", "- [west1, west2, west3]", "- [west1, west2]")], problems: [["west.yaml", 15, 9, "volumes.data.replicaSets[0]", `replica set 1 has 2 bricks, but volume data is replica 3: ${SET_RULE}`]] },
  { name: "two bricks of a set on one node", edits: [ed("east.yaml", "- [east1, east2]", '- [east1, "east1:/srv/gluster/data2"]')], problems: [["east.yaml", 19, 17, "volumes.data.replicaSets[0][1]", "replica set 1 has two bricks on node east1"]] },
  { name: "same brick used twice", edits: [addEast4, ed("east.yaml", "- [east1, east2]", "- [east1, east2]\n      - [east4, east1]")], problems: [["east.yaml", 24, 17, "volumes.data.replicaSets[1][1]", "brick east1:/srv/gluster/data is already used by volume data, replica set 1"]] },
  { name: "same brick in two volumes", edits: [ed("east.yaml", "    sync: { every: 5min }\n", "    sync: { every: 5min }\n  logs:\n    replica: 2\n    replicaSets:\n      - [\"east2:/srv/gluster/data\", \"east1:/srv/gluster/logs\"]\n")], problems: [["east.yaml", 27, 10, "volumes.logs.replicaSets[0][0]", "brick east2:/srv/gluster/data is already used by volume data, replica set 1"]] },
  { name: "arbiter without replica 3", edits: [ed("east.yaml", "    replica: 2\n", "    replica: 2\n    arbiter: 1\n")], problems: [["east.yaml", 17, 14, "volumes.data.arbiter", "an arbiter needs `replica: 3`"]] },
  { name: "arbiter 2", edits: [ed("west.yaml", "    arbiter: 1", "    arbiter: 2")], problems: [["west.yaml", 11, 14, "volumes.data.arbiter", "arbiter can only be 1"]] },
  { name: "replica 4 (no misleading set-size message)", edits: [ed("east.yaml", "    replica: 2", "    replica: 4")], problems: [["east.yaml", 16, 14, "volumes.data.replica", "replica must be 2, or 3 (with arbiter: 1)"]] },
  // --- options
  { name: "unknown option with a suggestion", edits: [ed("east.yaml", "network.ping-timeout: 20", "network.ping-timout: 20")], problems: [["east.yaml", 22, 28, "volumes.data.options.network.ping-timout", 'unknown gluster option "network.ping-timout": did you mean network.ping-timeout?']] },
  { name: "unknown short option with a suggestion", edits: [ed("east.yaml", "network.ping-timeout: 20", "quick-reed: off")], problems: [["east.yaml", 22, 19, "volumes.data.options.quick-reed", "did you mean performance.quick-read?"]] },
  { name: "unknown option without a suggestion", edits: [ed("east.yaml", "network.ping-timeout: 20", "zzz: 20")], problems: [["east.yaml", 22, 12, "volumes.data.options.zzz", 'unknown gluster option "zzz": see `gluster volume set help`']] },
  { name: "nfs.disable off", edits: [ed("east.yaml", "network.ping-timeout: 20", "nfs.disable: off")], problems: [["east.yaml", 22, 20, "volumes.data.options.nfs.disable", "NFS must stay off"]] },
  { name: "nfs disabled=false by its short name", edits: [ed("east.yaml", "network.ping-timeout: 20", "disable: false")], problems: [["east.yaml", 22, 16, "volumes.data.options.disable", "NFS must stay off"]] },
  { name: "auth.allow not covering the other DC's data brick nodes (the arbiter west3 needs no access)", edits: [ed("east.yaml", "network.ping-timeout: 20", 'auth.allow: "10.9.1.*"')], problems: [["east.yaml", 22, 19, "volumes.data.options.auth.allow", "auth.allow does not cover nodes west1 (10.9.2.1), west2 (10.9.2.2), which use this volume"]] },
  { name: "auth.allow not covering one compute node", edits: [ed("east.yaml", "network.ping-timeout: 20", 'auth.allow: "10.9.1.1,10.9.1.2,10.9.2.*"')], problems: [["east.yaml", 22, 19, "volumes.data.options.auth.allow", "auth.allow does not cover node east3 (10.9.1.3), which uses this volume"]] },
  { name: "unknown option group", edits: [ed("east.yaml", "group: virt", "group: db")], problems: [["east.yaml", 21, 14, "volumes.data.options.group", 'unknown option group "db": the only group is virt']] },
  // --- option values, by the form gluster takes for each key
  { name: "a boolean option that is no boolean", edits: [ed("east.yaml", "network.ping-timeout: 20", "performance.quick-read: maybe")], problems: [["east.yaml", 22, 31, "volumes.data.options.performance.quick-read", 'performance.quick-read is on or off (gluster also takes yes/no, true/false, enable/disable, 1/0), not "maybe"']] },
  { name: "a boolean option by its short name", edits: [ed("east.yaml", "network.ping-timeout: 20", "eager-lock: always")], problems: [["east.yaml", 22, 19, "volumes.data.options.eager-lock", 'cluster.eager-lock is on or off']] },
  { name: "nfs.disable that is no boolean (its form first)", edits: [ed("east.yaml", "network.ping-timeout: 20", "nfs.disable: maybe")], problems: [["east.yaml", 22, 20, "volumes.data.options.nfs.disable", 'nfs.disable is on or off']] },
  { name: "a number option with a unit", edits: [ed("east.yaml", "network.ping-timeout: 20", "network.ping-timeout: 20s")], problems: [["east.yaml", 22, 29, "volumes.data.options.network.ping-timeout", 'network.ping-timeout is a whole number from 0 to 1013 (seconds), not "20s"']] },
  { name: "a number option out of gluster's range", edits: [ed("east.yaml", "network.ping-timeout: 20", "network.ping-timeout: 2000")], problems: [["east.yaml", 22, 29, "volumes.data.options.network.ping-timeout", 'network.ping-timeout is a whole number from 0 to 1013 (seconds), not "2000"']] },
  { name: "a size option that is no size", edits: [ed("east.yaml", "network.ping-timeout: 20", "performance.cache-size: lots")], problems: [["east.yaml", 22, 31, "volumes.data.options.performance.cache-size", 'performance.cache-size is a size such as 64MB or 512KB (a number with B, KB, MB, GB, TB or PB, no space), not "lots"']] },
  { name: "a shard block size below gluster's 4MB", edits: [ed("east.yaml", "network.ping-timeout: 20", "features.shard-block-size: 1MB")], problems: [["east.yaml", 22, 34, "volumes.data.options.features.shard-block-size", 'features.shard-block-size is a size such as 64MB or 512KB (a number with B, KB, MB, GB, TB or PB, no space, from 4MB to 4TB), not "1MB"']] },
  { name: "an option of fixed choices", edits: [ed("east.yaml", "network.ping-timeout: 20", "cluster.quorum-type: always")], problems: [["east.yaml", 22, 28, "volumes.data.options.cluster.quorum-type", 'cluster.quorum-type is one of none, auto, fixed, not "always"']] },
  { name: "auth.allow with an entry that is no address", edits: [ed("east.yaml", "network.ping-timeout: 20", 'auth.allow: "10.9.1.x"')], problems: [["east.yaml", 22, 19, "volumes.data.options.auth.allow", 'auth.allow is a comma-separated list of IPv4 addresses (10.1.1.1,10.1.1.2), patterns with * (10.1.*) or subnets (10.1.0.0/16), or * for every address, not "10.9.1.x"']] },
  { name: "auth.reject with shell in it", edits: [ed("east.yaml", "network.ping-timeout: 20", 'auth.reject: "10.1.1.1;touch /tmp/x"')], problems: [["east.yaml", 22, 20, "volumes.data.options.auth.reject", 'auth.reject is a comma-separated list of IPv4 addresses']] },
  { name: "auth.reject with an empty entry", edits: [ed("east.yaml", "network.ping-timeout: 20", 'auth.reject: "10.1.1.1,,10.1.1.2"')], problems: [["east.yaml", 22, 20, "volumes.data.options.auth.reject", 'auth.reject is a comma-separated list of IPv4 addresses']] },
  // --- control characters, in any string of any file (one message: no other about the same value)
  { name: "control: an option value with a newline that would end the options heredoc", edits: [ed("east.yaml", "network.ping-timeout: 20", 'auth.reject: "10.1.1.1\\nOPTIONS\\ntouch /tmp/canary"')], problems: [["east.yaml", 22, 20, "volumes.data.options.auth.reject", '"10.1.1.1\\nOPTIONS\\ntouch /tmp/canary" contains a control character (a newline at character 9): a value is one line of printable text, remove it']] },
  { name: "control: a tab in an address", edits: [ed("east.yaml", "address: 192.0.2.3", 'address: "192.0.2.3\\t"')], problems: [["east.yaml", 11, 14, "nodes.east3.address", "contains a control character (a tab at character 10)"]] },
  { name: "control: an escape in the gce image (a field with no pattern of its own)", edits: [ed("west.yaml", "  machineType: e2-standard-2\n", '  machineType: e2-standard-2\n  image: "debian-cloud/debian-12\\e[2J"\n')], problems: [["west.yaml", 4, 10, "gce.image", "contains a control character (byte 0x1b at character 23)"]] },
  { name: "control: DEL in a drift key's comment", edits: [ed("mesh.yaml", "  connectToPerDc: 2\n", '  connectToPerDc: 2\ndrift:\n  keys:\n    - "ssh-ed25519 AAAAC3Nz ci\\x7f"\n')], problems: [["mesh.yaml", 9, 7, "drift.keys[0]", "contains a control character (byte 0x7f at character 24)"]] },
  { name: "control: NUL in brickPath (reported once, where it is written)", edits: [ed("east.yaml", "brickPath: /srv/gluster/data", 'brickPath: "/srv/gluster/data\\0"')], problems: [["east.yaml", 17, 16, "volumes.data.brickPath", "contains a control character (a NUL byte at character 18)"]] },
  { name: "control: a newline in a brick", edits: [ed("east.yaml", "- [east1, east2]", '- [east1, "east2:/srv/x\\nreboot"]')], problems: [["east.yaml", 19, 17, "volumes.data.replicaSets[0][1]", "contains a control character (a newline at character 13)"]] },
  { name: "control: a tab in a node name (the field shows it escaped)", edits: [ed("east.yaml", "  east3:", '  "east\\t3":')], problems: [["east.yaml", 10, 3, "nodes.east\\t3", 'the name "east\\t3" contains a control character (a tab at character 5): a name is printable text, remove it']] },
  { name: "control: a newline in an option key", edits: [ed("east.yaml", "network.ping-timeout: 20", '"network.ping-timeout\\n": 20')], problems: [["east.yaml", 22, 7, "volumes.data.options.network.ping-timeout\\n", "contains a control character (a newline at character 21)"]] },
  // --- sync
  { name: "sync interval 5m", edits: [ed("east.yaml", "every: 5min", "every: 5m")], problems: [["east.yaml", 23, 20, "volumes.data.sync.every", "every is a time span such as 30s, 2min or 1h"]] },
  { name: "sync interval 0s", edits: [ed("east.yaml", "every: 5min", "every: 0s")], problems: [["east.yaml", 23, 20, "volumes.data.sync.every", "every is a time span"]] },
  { name: "sync interval 45s (systemd would reject the timer's calendar)", edits: [ed("east.yaml", "every: 5min", "every: 45s")], problems: [["east.yaml", 23, 20, "volumes.data.sync.every", "every must divide a minute, an hour or a day evenly"]] },
  { name: "sync interval 90min", edits: [ed("east.yaml", "every: 5min", "every: 90min")], problems: [["east.yaml", 23, 20, "volumes.data.sync.every", "every must divide a minute, an hour or a day evenly"]] },
  { name: "sync interval 24h", edits: [ed("east.yaml", "every: 5min", "every: 24h")], problems: [["east.yaml", 23, 20, "volumes.data.sync.every", "every must divide a minute, an hour or a day evenly"]] },
  { name: "sync: true", edits: [ed("east.yaml", "sync: { every: 5min }", "sync: true")], problems: [["east.yaml", 23, 11, "volumes.data.sync", "sync is false, or { every: 2min }"]] },
  // --- providers
  { name: "gce DC without gce block", edits: [ed("west.yaml", "gce:\n  machineType: e2-standard-2\n", "")], problems: [["west.yaml", 1, 11, "provider", "a gce data center needs a `gce:` block"]] },
  { name: "gce block on a metal DC", edits: [ed("east.yaml", "nodes:\n", "gce:\n  machineType: e2-small\nnodes:\n")], problems: [["east.yaml", 2, 3, "gce", "`gce:` only belongs to a data center with `provider: gce`"]] },
  { name: "gce label key in upper case", edits: [ed("west.yaml", "  machineType: e2-standard-2\n", "  machineType: e2-standard-2\n  labels: { Team: x }\n")], problems: [["west.yaml", 4, 13, "gce.labels.Team", "Invalid key"]] },
  // --- volume names, ssh
  { name: "volume name with a dash (points at the name)", edits: [ed("east.yaml", "  data:\n    replica: 2", "  my-data:\n    replica: 2")], problems: [["east.yaml", 15, 3, "volumes.my-data", 'volume name "my-data" must start with a letter']] },
  { name: "ssh hostKey without the key", edits: [ed("east.yaml", "    roles: [compute]", "    roles: [compute]\n    ssh: { hostKey: 'ssh-ed25519' }")], problems: [["east.yaml", 14, 21, "nodes.east3.ssh.hostKey", "must be one public key line as `ssh-keyscan -t ed25519 HOST` prints it"]] },
  { name: "ssh hostKey with the host name", edits: [ed("east.yaml", "    roles: [compute]", "    roles: [compute]\n    ssh: { hostKey: 'east3 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB' }")], problems: [["east.yaml", 14, 21, "nodes.east3.ssh.hostKey", "without the host name"]] },
  { name: "ssh hostKey of an unknown type", edits: [ed("east.yaml", "    roles: [compute]", "    roles: [compute]\n    ssh: { hostKey: 'ssh-dss AAAAB3NzaC1kc3MAAACBA' }")], problems: [["east.yaml", 14, 21, "nodes.east3.ssh.hostKey", "must be one public key line"]] },
  // --- derived from the real inventory
  { name: "real: padelford's cloud3 second brick made the default path (used twice)", base: "real", edits: [ed("padelford.yaml", '- [cloud7, "cloud3:/home/salvus/vm/images/gluster/projects2"]', "- [cloud7, cloud3]")], problems: [["padelford.yaml", 22, 18, "volumes.projects.replicaSets[3][1]", "brick cloud3:/home/salvus/vm/images/gluster/projects is already used by volume projects, replica set 1"]] },
  { name: "real: padelford pairs cloud2 with 4545's cloud10", base: "real", edits: [ed("padelford.yaml", "- [cloud2, cloud4]", "- [cloud2, cloud10]")], problems: [["padelford.yaml", 20, 18, "volumes.projects.replicaSets[1][1]", 'brick node "cloud10" belongs to data center 4545, not padelford']] },
  { name: "real: 4545 with a lone brick", base: "real", edits: [ed("4545.yaml", "- [cloud20, cloud21]", "- [cloud20]")], problems: [["4545.yaml", 28, 9, "volumes.projects.replicaSets[5]", `replica set 6 has 1 brick, but volume projects is replica 2: ${SET_RULE}`]] },
  { name: "real: gce-europe-1 as replica 2 with its arbiter", base: "real", edits: [ed("gce-europe-1.yaml", "    replica: 3", "    replica: 2")], problems: [["gce-europe-1.yaml", 17, 14, "volumes.projects.arbiter", "an arbiter needs `replica: 3`"], ["gce-europe-1.yaml", 21, 9, "volumes.projects.replicaSets[0]", `replica set 1 has 3 bricks, but volume projects is replica 2: ${SET_RULE}`]] },
  { name: "real: gce-central-1 without its gce block", base: "real", edits: [ed("gce-central-1.yaml", "gce:\n  machineType: e2-standard-2\n  image: debian-cloud/debian-12\n  bootDiskGb: 20\n", "")], problems: [["gce-central-1.yaml", 4, 11, "provider", "a gce data center needs a `gce:` block"]] },
  { name: "real: padelford auth.allow leaves out the other DCs", base: "real", edits: [ed("padelford.yaml", "      group: virt", '      group: virt\n      auth.allow: "10.1.1.*,10.1.2.*,10.1.3.*,10.1.4.*,10.1.5.*,10.1.6.*,10.1.7.*"')], problems: [["padelford.yaml", 25, 19, "volumes.projects.options.auth.allow", "auth.allow does not cover nodes cloud10 (10.1.10.1), cloud11 (10.1.11.1)"]] },
  { name: "real: a node of 4545 renamed with a dash", base: "real", edits: [ed("4545.yaml", "  cloud21: {", "  cloud-21: {")], problems: [["4545.yaml", 16, 3, "nodes.cloud-21", 'node name "cloud-21" is not a valid tinc name'], ["4545.yaml", 28, 19, "volumes.projects.replicaSets[5][1]", 'brick node "cloud21" is not a node of 4545']] },
  { name: "real: mesh.yaml subnet too small for the nodes", base: "real", edits: [ed("mesh.yaml", "subnet: 10.1.0.0/16", "subnet: 10.1.0.0/20")], problems: [
    ...[16, 17, 18, 19, 20, 21].map((n): Expected => ["4545.yaml", n - 5, 43, `nodes.cloud${n}.tinc`, `tinc address 10.1.${n}.1 is outside the mesh subnet 10.1.0.0/20`]),
    ...[1, 2, 3, 4].map((n): Expected => ["gce-central-1.yaml", 9 + n, 24, `nodes.gcecentral${n}.tinc`, `tinc address 10.1.40.${n} is outside the mesh subnet`]),
    ...[1, 2, 3].map((n): Expected => ["gce-europe-1.yaml", 9 + n, 23, `nodes.gceeurope${n}.tinc`, `tinc address 10.1.50.${n} is outside the mesh subnet`]),
  ] },
];

const MULTI: Case = {
  name: "every problem at once: field-level and cross-field, in three files",
  edits: [
    ed("mesh.yaml", "  port: 655", "  port: high"),
    ed("east.yaml", "  east3:", "  east-3:"),
    ed("east.yaml", "tinc: 10.9.1.2", "tinc: 10.8.1.2"),
    ed("east.yaml", "    replica: 2", "    replicas: 2"),
    ed("east.yaml", "network.ping-timeout: 20", "network.ping-timout: 20"),
    ed("west.yaml", "- [west1, west2, west3]", "- [west1, west2]"),
    ed("west.yaml", "diskGb: 20", "diskGb: 5"),
  ],
  problems: [
    ["east.yaml", 8, 11, "nodes.east2.tinc", "outside the mesh subnet"],
    ["east.yaml", 10, 3, "nodes.east-3", "is not a valid tinc name"],
    ["east.yaml", 15, 3, "volumes.data.replica", "replica is required"],
    ["east.yaml", 16, 5, "volumes.data.replicas", "did you mean replica?"],
    ["east.yaml", 22, 28, "volumes.data.options.network.ping-timout", "did you mean network.ping-timeout?"],
    ["mesh.yaml", 5, 9, "mesh.port", "expected number"],
    ["west.yaml", 13, 13, "volumes.data.diskGb", ">=10"],
    ["west.yaml", 15, 9, "volumes.data.replicaSets[0]", SET_RULE],
  ],
};

function run(c: Case): Problem[] {
  const dir = c.base === "real" ? REAL_DIR : FIXTURE_DIR;
  const texts = c.base === "real" ? realTexts() : fixtureTexts();
  for (const e of c.edits) e(texts);
  const r = validateTexts(dir, texts);
  assert.equal(r.ok, false, `${c.name}: expected problems, the inventory validated`);
  return r.ok ? [] : r.problems;
}

function check(c: Case): void {
  const dir = c.base === "real" ? REAL_DIR : FIXTURE_DIR;
  const got = run(c);
  const show = got.map((p) => `${path.basename(p.file)}:${p.line}:${p.column} ${p.field}: ${p.message}`).join("\n");
  assert.deepEqual(got.map((p) => p.field), c.problems.map((e) => e[3]), `fields of ${c.name}; got:\n${show}`);
  c.problems.forEach(([file, line, column, field, message], i) => {
    const p = got[i];
    assert.deepEqual({ file: p.file, line: p.line, column: p.column, field: p.field }, { file: path.join(dir, file), line, column, field }, `problem ${i + 1} of ${c.name}; got:\n${show}`);
    assert.ok(p.message.includes(message), `problem ${i + 1} of ${c.name}: message ${JSON.stringify(p.message)} lacks ${JSON.stringify(message)}`);
  });
}

test("the bases are valid: fixture and real inventory", () => {
  validInventory(fixtureTexts());
  realInventory();
});

test(`at least 45 broken inventories (${cases.length})`, () => {
  assert.ok(cases.length >= 45);
  assert.equal(new Set(cases.map((c) => c.name)).size, cases.length, "case names are unique");
});

for (const c of cases) test(`broken: ${c.name}`, () => check(c));

test(`broken: ${MULTI.name}`, () => {
  check(MULTI);
  // Each edit alone yields a subset: the combined run lost none of them.
  const union = new Set<string>();
  for (const e of MULTI.edits) for (const p of run({ name: "one edit", edits: [e], problems: [] })) union.add(`${p.file}:${p.line}:${p.column}:${p.field}`);
  assert.deepEqual([...union].sort(), run(MULTI).map((p) => `${p.file}:${p.line}:${p.column}:${p.field}`).sort());
});

test("a few valid variants stay valid (the rules are not over-eager)", () => {
  const variants: Edit[][] = [
    [ed("east.yaml", "network.ping-timeout: 20", 'auth.allow: "10.9.*"')],
    // exactly the users: east's nodes, and west's data bricks (not the arbiter west3)
    [ed("east.yaml", "network.ping-timeout: 20", 'auth.allow: "10.9.1.1,10.9.1.2,10.9.1.3,10.9.2.1,10.9.2.2"')],
    [ed("east.yaml", "network.ping-timeout: 20", "nfs.disable: on")],
    [ed("east.yaml", "sync: { every: 5min }", "sync: false")],
    [del("east.yaml"), put("east.yml", EAST)],
    [ed("east.yaml", "    roles: [compute]", "    roles: [compute]\n    ssh: { port: 2222, hostKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB+x/y=' }")],
    [addEast4, ed("east.yaml", "- [east1, east2]", '- [east1, east2]\n      - [east4, "east1:/srv/gluster/data2"]')],
    // option values in every form gluster takes
    [ed("east.yaml", "network.ping-timeout: 20", 'auth.allow: "*"\n      auth.reject: "192.0.2.*, 198.51.100.7,10.8.0.0/16"')],
    [ed("east.yaml", "network.ping-timeout: 20", 'auth.allow: "10.9.0.0/16"\n      quick-read: "yes"\n      features.shard: true\n      cluster.eager-lock: 1\n      nfs.disable: enable\n      read-ahead: OFF')],
    [ed("east.yaml", "network.ping-timeout: 20", "features.shard-block-size: 64MB\n      performance.cache-size: 512KB\n      cluster.min-free-disk: 10%\n      cluster.server-quorum-ratio: 51%\n      diagnostics.brick-log-level: warning\n      storage.owner-uid: -1\n      network.ping-timeout: 0")],
    [ed("east.yaml", "address: 192.0.2.3", "address: east3.example.org")],
    // a gce node with bricks of two volumes, each with a parent folder (its disk's mount point) of its own
    [ed("west.yaml", "    sync: { every: 30s }\n", "    sync: { every: 30s }\n  logs:\n    replica: 3\n    arbiter: 1\n    brickPath: /srv/gluster/logs/brick\n    replicaSets:\n      - [west1, west2, west3]\n")],
  ];
  for (const v of variants) {
    const texts = fixtureTexts();
    for (const e of v) e(texts);
    validInventory(texts);
  }
});

test("--inventory FILE says it is a file and to pass the folder", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "glustermesh-inventory-"));
  try {
    const file = path.join(dir, "mesh.yaml");
    fs.writeFileSync(file, MESH);
    const r = loadInventory(file);
    assert.equal(r.ok, false);
    assert.deepEqual(r.ok ? [] : r.problems, [{ file, line: 0, column: 0, field: "", message: `${file} is a file, not a folder: --inventory takes the inventory folder, which holds mesh.yaml and one <dc>.yaml per data center (--inventory ${dir})` }]);
    const missing = loadInventory(path.join(dir, "nope"));
    assert.ok(!missing.ok && missing.problems[0].message.includes("does not exist"));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("every value the virt group sets has the form its key takes", () => {
  for (const [key, value] of VIRT_GROUP) assert.equal(optionValueProblem(key, value), undefined, key);
});

test("modelWarnings on the real inventory: replica 2 + quorum auto names the first-brick nodes; none for gce-europe-1", () => {
  const warnings = modelWarnings(buildModel(realInventory()));
  const quorum = (dc: string) => warnings.filter((w) => w.dc === dc && w.message.includes("cluster.quorum-type=auto"));
  const expectFirst: Record<string, string> = {
    padelford: "(cloud1, cloud2, cloud5, cloud7)",
    "4545": "(cloud10, cloud12, cloud14, cloud16, cloud18, cloud20)",
    "gce-central-1": "(gcecentral1, gcecentral3)",
  };
  for (const [dc, first] of Object.entries(expectFirst)) {
    const w = quorum(dc);
    assert.equal(w.length, 1, `${dc}: ${JSON.stringify(warnings)}`);
    assert.equal(w[0].volume, "projects");
    assert.ok(w[0].message.includes(`replica 2`), w[0].message);
    assert.ok(w[0].message.includes(first), `${dc}: ${w[0].message}`);
    assert.ok(w[0].message.includes("replica: 3 with arbiter: 1"), w[0].message);
  }
  assert.deepEqual(warnings.filter((w) => w.dc === "gce-europe-1"), []);
  // gce-central-1 has four storage nodes, so no server-quorum warning either: only the quorum ones.
  assert.deepEqual(warnings.map((w) => w.dc).sort(), ["4545", "gce-central-1", "padelford"]);
});

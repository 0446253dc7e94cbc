// Broken inventories, one small edit each from a valid base, and the exact problems each must
// produce: file, line, column, field and a distinctive part of the message.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as path from "node:path";
import { validateTexts, type Problem } from "../../model/load";
import { buildModel, modelWarnings } from "../../model/model";
import { EAST, FIXTURE_DIR, REAL_DIR, fixtureTexts, realInventory, realTexts, replaceOnce, validInventory } from "./fixtures";

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
  { name: "YAML errors in two files are all reported", edits: [ed("east.yaml", "  east3:", "  east1:"), ed("mesh.yaml", "  port: 655\n", "  port: 655\n  port: 656\n")], problems: [["east.yaml", 10, 3, "", "Map keys must be unique"], ["mesh.yaml", 6, 3, "", "Map keys must be unique"]] },
  // --- files
  { name: "mesh.yaml missing", edits: [del("mesh.yaml")], problems: [["mesh.yaml", 0, 0, "", "mesh.yaml is missing"]] },
  { name: "mesh.yaml is a list", edits: [put("mesh.yaml", "- subnet: 10.9.0.0/16\n")], problems: [["mesh.yaml", 1, 1, "", "mesh.yaml must be a mapping with a `mesh:` section"]] },
  { name: "mesh.yaml without mesh:", edits: [put("mesh.yaml", "# nothing yet\n")], problems: [["mesh.yaml", 1, 1, "mesh", "mesh is required"]] },
  { name: "unknown top-level key in mesh.yaml", edits: [ed("mesh.yaml", "mesh:\n", "meshes: 1\nmesh:\n")], problems: [["mesh.yaml", 2, 1, "meshes", 'unknown top-level key "meshes" in mesh.yaml: only mesh: and drift: belong here']] },
  { name: "empty DC file", edits: [put("east.yaml", "")], problems: [["east.yaml", 1, 1, "nodes", "nodes is required"]] },
  { name: "DC file is a list", edits: [put("east.yaml", "- east1\n")], problems: [["east.yaml", 1, 1, "", "expected object, received array"]] },
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
  { name: "same node name in two DCs", edits: [ed("west.yaml", "  west3:", "  east3: { tinc: 10.9.2.9, roles: [compute] }\n  west3:")], problems: [["west.yaml", 7, 3, "nodes.east3", 'node "east3" is already defined in data center east']] },
  // --- addresses
  { name: "tinc address outside the subnet", edits: [ed("east.yaml", "tinc: 10.9.1.3", "tinc: 10.8.1.3")], problems: [["east.yaml", 12, 11, "nodes.east3.tinc", "tinc address 10.8.1.3 is outside the mesh subnet 10.9.0.0/16"]] },
  { name: "tinc address used twice", edits: [ed("east.yaml", "tinc: 10.9.1.3", "tinc: 10.9.1.1")], problems: [["east.yaml", 12, 11, "nodes.east3.tinc", "tinc address 10.9.1.1 is already used by node east1"]] },
  { name: "tinc address used twice across DCs", edits: [ed("west.yaml", "tinc: 10.9.2.2", "tinc: 10.9.1.2")], problems: [["west.yaml", 6, 18, "nodes.west2.tinc", "tinc address 10.9.1.2 is already used by node east2"]] },
  { name: "tinc address is the network address", edits: [ed("east.yaml", "tinc: 10.9.1.3", "tinc: 10.9.0.0")], problems: [["east.yaml", 12, 11, "nodes.east3.tinc", "is the subnet's network or broadcast address"]] },
  { name: "tinc address is the broadcast address", edits: [ed("east.yaml", "tinc: 10.9.1.3", "tinc: 10.9.255.255")], problems: [["east.yaml", 12, 11, "nodes.east3.tinc", "is the subnet's network or broadcast address"]] },
  { name: "tinc address is not an address", edits: [ed("east.yaml", "tinc: 10.9.1.3", "tinc: 10.9.1.300")], problems: [["east.yaml", 12, 11, "nodes.east3.tinc", "must be an IPv4 address"]] },
  { name: "subnet with host bits", edits: [ed("mesh.yaml", "10.9.0.0/16", "10.9.0.1/16")], problems: [["mesh.yaml", 4, 11, "mesh.subnet", "must be an IPv4 subnet in CIDR form"]] },
  { name: "subnet without prefix", edits: [ed("mesh.yaml", "10.9.0.0/16", "10.9.0.0")], problems: [["mesh.yaml", 4, 11, "mesh.subnet", "must be an IPv4 subnet in CIDR form"]] },
  { name: "metal node without address (points at the node)", edits: [ed("east.yaml", "    address: 192.0.2.3\n", "")], problems: [["east.yaml", 10, 3, "nodes.east3.address", "a metal node needs its public `address`"]] },
  { name: "public address with a space", edits: [ed("east.yaml", "address: 192.0.2.3", "address: 'bad host'")], problems: [["east.yaml", 11, 14, "nodes.east3.address", "must be an IPv4 address or a DNS name"]] },
  // --- roles
  { name: "roles empty", edits: [ed("east.yaml", "    roles: [compute]", "    roles: []")], problems: [["east.yaml", 13, 12, "nodes.east3.roles", "give at least one role"]] },
  { name: "unknown role", edits: [ed("east.yaml", "    roles: [compute]", "    roles: [compute, gpu]")], problems: [["east.yaml", 13, 22, "nodes.east3.roles[1]", "a role is one of: storage, compute"]] },
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
  ];
  for (const v of variants) {
    const texts = fixtureTexts();
    for (const e of v) e(texts);
    validInventory(texts);
  }
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

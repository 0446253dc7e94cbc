// The inventory's cross-field rules: what spans fields, nodes, volumes or data centers, each
// with its own message saying what to do. They run in the schema's one superRefine, also when
// some fields failed (to report everything at once), so they guard against malformed parts.
import type { z } from "zod";
import { addressMatches, cidrContains, ipv4ToInt, parseCidr, type Cidr } from "./net";
import { fullOptionKey, normaliseOptionValue, optionValueProblem, suggestOptionKey } from "./options";
import { brickMountPoint, DC_NAME, gceNamePart, isInside, isSafePath, NODE_NAME, parseBrickRef, PATH_RULE, systemFolderOf, VOLUME_NAME } from "./names";
import type { DcInventory, Inventory, MeshInventory, NodeInventory, VolumeInventory } from "./schema";

type Path = (string | number)[];
/** `key`: the problem is the name at `path`, not its value; `also`: where the other party of a
 * clash is (the loader adds its file and line); `control`: a control character, which makes
 * every other message about the same value noise. */
type Report = (path: Path, message: string, opts?: { key?: boolean; also?: Path; control?: boolean }) => void;

/** Every node gluster must admit (auth.allow): the nodes that mount the volume, and the
 * volume's own brick nodes, whose self-heal daemon and rebalance connect as clients. */
export function clientNodes(inv: Inventory, dcName: string, volumeName: string): string[] {
  const out = new Set<string>();
  const vol = inv.dcs[dcName]?.volumes[volumeName];
  if (vol) for (const set of vol.replicaSets) for (const ref of set) out.add(parseBrickRef(ref, vol.brickPath).node);
  collectMountingNodes(inv, dcName, volumeName, out);
  return [...out].sort();
}

/** Every node that mounts a DC's volume: compute nodes everywhere, and the data-brick nodes of
 * the same-named volume in the other DCs (their sync timers copy into it). */
function collectMountingNodes(inv: Inventory, dcName: string, volumeName: string, out: Set<string>): void {
  for (const [otherDc, dc] of Object.entries(inv.dcs)) {
    for (const [name, node] of Object.entries(dc.nodes)) if (node.roles.includes("compute")) out.add(name);
    const vol = dc.volumes[volumeName];
    const target = inv.dcs[dcName]?.volumes[volumeName];
    if (otherDc !== dcName && vol && vol.sync !== false && target && target.sync !== false) {
      // Data bricks only: an arbiter holds no file data and runs no sync (model.ts syncJobs).
      for (const set of vol.replicaSets) {
        set.forEach((ref, j) => {
          if (!(vol.arbiter === 1 && j === set.length - 1)) out.add(parseBrickRef(ref, vol.brickPath).node);
        });
      }
    }
  }
}

interface NodeEntry {
  dc: string;
  name: string;
  node: NodeInventory;
  at: Path;
}

/** What the rules of one DC need to know about the whole mesh. */
interface Mesh {
  inv: { mesh: MeshInventory; dcs: Record<string, DcInventory> };
  dcs: Array<[string, DcInventory]>;
  nodes: NodeEntry[];
  subnet: Cidr | undefined;
}

export function crossFieldRules(inv: { mesh: MeshInventory; dcs: Record<string, DcInventory> }, ctx: z.RefinementCtx): void {
  const report: Report = (path, message, opts = {}) => {
    const params = { ...(opts.key ? { at: "key" } : {}), ...(opts.also ? { also: opts.also } : {}), ...(opts.control ? { control: true } : {}) };
    ctx.addIssue({ code: "custom", path, message, input: undefined, ...(Object.keys(params).length ? { params } : {}) });
  };
  controlCharacters(inv, [], report);
  if (!isObject(inv) || !isObject(inv.dcs)) return;
  // Parts that failed their own field rules are skipped here: they already have a message.
  const dcs = Object.entries(inv.dcs).filter(([, dc]) => isObject(dc) && isObject(dc.nodes));
  const nodes = dcs.flatMap(([dc, d]) =>
    Object.entries(d.nodes)
      .filter(([, node]) => isObject(node) && typeof node.tinc === "string" && Array.isArray(node.roles))
      .map(([name, node]): NodeEntry => ({ dc, name, node, at: ["dcs", dc, "nodes", name] })),
  );
  const subnet = isObject(inv.mesh) && typeof inv.mesh.subnet === "string" ? parseCidr(inv.mesh.subnet) : undefined;
  const mesh: Mesh = { inv, dcs, nodes, subnet };
  for (const [dcName, dc] of dcs) dcRules(dcName, dc, report);
  for (const n of nodes) nodeRules(mesh, n, report);
  meshWideNodeRules(nodes, report);
  for (const [dcName, dc] of dcs) volumeRules(mesh, dcName, dc, report);
}

/** Control characters in a value or a name: a newline ends a line of a script or a file, so
 * none may reach a host. One walk over everything, so that no new field can forget it. */
function controlCharacters(value: unknown, path: Path, report: Report): void {
  if (typeof value === "string") {
    const what = controlCharacterIn(value);
    if (what) report(path, `${shown(value)} contains a control character (${what}): a value is one line of printable text, remove it`, { control: true });
  } else if (Array.isArray(value)) {
    value.forEach((v, i) => controlCharacters(v, [...path, i], report));
  } else if (isObject(value)) {
    for (const [k, v] of Object.entries(value)) {
      const what = controlCharacterIn(k);
      if (what) report([...path, k], `the name ${shown(k)} contains a control character (${what}): a name is printable text, remove it`, { key: true, control: true });
      controlCharacters(v, [...path, k], report);
    }
  }
}

const CONTROL = /[\x00-\x1f\x7f]/;
const CONTROL_NAMES: Record<string, string> = { "\n": "a newline", "\r": "a carriage return", "\t": "a tab", "\0": "a NUL byte" };

function controlCharacterIn(s: string): string | undefined {
  const m = CONTROL.exec(s);
  if (!m) return undefined;
  const code = m[0].charCodeAt(0).toString(16).padStart(2, "0");
  return `${CONTROL_NAMES[m[0]] ?? `byte 0x${code}`} at character ${m.index + 1}`;
}

/** A value quoted for a message, escapes visible, long ones cut. */
function shown(s: string): string {
  const q = JSON.stringify(s).replace(/\x7f/g, "\\u007f");
  return q.length > 60 ? `${q.slice(0, 50)}..." (${s.length} characters)` : q;
}

function dcRules(dcName: string, dc: DcInventory, report: Report): void {
  if (!DC_NAME.test(dcName)) {
    report(["dcs", dcName], `data center name "${dcName}" must be lower-case letters, digits and dashes (it names the stack Pulumi.${dcName}.yaml)`);
  }
  if (dc.provider === "gce" && !dc.gce) report(["dcs", dcName, "provider"], "a gce data center needs a `gce:` block (machineType, image)");
  if (dc.provider === "metal" && dc.gce) report(["dcs", dcName, "gce"], "`gce:` only belongs to a data center with `provider: gce`");
  if (Object.keys(dc.nodes).length === 0) report(["dcs", dcName, "nodes"], "a data center needs at least one node");
}

function nodeRules(mesh: Mesh, { dc, name, node, at }: NodeEntry, report: Report): void {
  const provider = mesh.inv.dcs[dc].provider;
  if (!NODE_NAME.test(name)) {
    report(at, `node name "${name}" is not a valid tinc name: use lower-case letters, digits and underscores, starting with a letter (tinc forbids dashes)`, { key: true });
  }
  if (provider === "metal" && node.address === undefined) {
    report([...at, "address"], "a metal node needs its public `address` (tinc peers and SSH connect to it)");
  }
  if (provider === "gce" && node.address !== undefined) {
    report([...at, "address"], "a gce node gets its public address from its stack (a static address the stack reserves): remove `address`");
  }
  if (node.address !== undefined && node.address === node.tinc) {
    report([...at, "address"], `public address ${node.address} is this node's tinc address: \`address\` is where tinc peers and SSH reach the node from outside the mesh, \`tinc\` its address inside the mesh; give its public address`);
  }
  const ip = ipv4ToInt(node.tinc);
  if (mesh.subnet && ip !== undefined) {
    if (!cidrContains(mesh.subnet, ip)) report([...at, "tinc"], `tinc address ${node.tinc} is outside the mesh subnet ${mesh.inv.mesh.subnet} (mesh.yaml)`);
    else if (ip === mesh.subnet.network || ip === mesh.subnet.broadcast) report([...at, "tinc"], `tinc address ${node.tinc} is the subnet's network or broadcast address: pick a host address`);
  }
}

/** Names, tinc addresses and public addresses are each unique across the whole mesh. */
function meshWideNodeRules(nodes: NodeEntry[], report: Report): void {
  const byName = new Map<string, NodeEntry>();
  const byTinc = new Map<string, NodeEntry>();
  const byAddress = new Map<string, NodeEntry>();
  for (const n of nodes) {
    const sameName = byName.get(n.name);
    if (sameName) {
      report(n.at, `node "${n.name}" is already defined in data center ${sameName.dc}: node names are unique across the whole mesh, rename one of them`, { key: true, also: sameName.at });
    } else byName.set(n.name, n);
    const sameTinc = byTinc.get(n.node.tinc);
    if (sameTinc) report([...n.at, "tinc"], `tinc address ${n.node.tinc} is already used by node ${sameTinc.name}: every node needs its own`, { also: [...sameTinc.at, "tinc"] });
    else byTinc.set(n.node.tinc, n);
    const address = n.node.address?.toLowerCase();
    if (address === undefined) continue;
    const sameAddress = byAddress.get(address);
    if (sameAddress) {
      report([...n.at, "address"], `public address ${n.node.address} is already used by node ${sameAddress.name}: every node needs its own, tinc peers tell nodes apart by it`, { also: [...sameAddress.at, "address"] });
    } else byAddress.set(address, n);
  }
}

/** Where each brick of a DC is, to find clashes between bricks of the same node. */
interface BrickSeen {
  node: string;
  path: string;
  volume: string;
  set: number;
  at: Path;
}

function volumeRules(mesh: Mesh, dcName: string, dc: DcInventory, report: Report): void {
  const bricks: BrickSeen[] = [];
  const volumes = Object.entries(isObject(dc.volumes) ? dc.volumes : {});
  for (const [volName, vol] of volumes) {
    if (!isObject(vol) || !Array.isArray(vol.replicaSets) || !vol.replicaSets.every(Array.isArray)) continue;
    const at = ["dcs", dcName, "volumes", volName];
    if (!VOLUME_NAME.test(volName)) report(at, `volume name "${volName}" must start with a letter and use only letters, digits and underscores`, { key: true });
    if (vol.arbiter !== undefined && vol.replica !== 3) report([...at, "arbiter"], "an arbiter needs `replica: 3` (replica 3 arbiter 1: two data copies and one arbiter)");
    if (dc.provider === "gce") {
      const twin = volumes.find(([other]) => other !== volName && gceNamePart(other) === gceNamePart(volName));
      if (twin && volumes.indexOf(twin) < volumes.findIndex(([n]) => n === volName)) {
        report(at, `volumes "${twin[0]}" and "${volName}" would share their disks' names on gce (names there are lower-case: gm-${gceNamePart(volName)}-set1): rename one of them`, { key: true, also: ["dcs", dcName, "volumes", twin[0]] });
      }
    }
    replicaSetRules(mesh, dcName, dc, volName, vol, bricks, report);
    optionRules(mesh, dcName, volName, vol, report);
  }
}

function replicaSetRules(mesh: Mesh, dcName: string, dc: DcInventory, volName: string, vol: VolumeInventory, bricks: BrickSeen[], report: Report): void {
  const at = ["dcs", dcName, "volumes", volName];
  // An invalid replica has its own message; sizing sets by it would only mislead.
  const setSize = vol.replica === 2 || vol.replica === 3 ? vol.replica : undefined;
  vol.replicaSets.forEach((set, i) => {
    if (setSize !== undefined && set.length !== setSize) {
      report([...at, "replicaSets", i], `replica set ${i + 1} has ${set.length} brick${set.length === 1 ? "" : "s"}, but volume ${volName} is replica ${setSize}: the brick count must be a multiple of the replica count, and gluster adds bricks a whole replica set at a time — give each set exactly ${setSize}`);
    }
    const seen = new Set<string>();
    set.forEach((ref, j) => {
      if (typeof ref !== "string") return;
      const { node, path } = parseBrickRef(ref, vol.brickPath);
      const brickAt = [...at, "replicaSets", i, j];
      brickNodeRules(mesh, dcName, dc, node, brickAt, report);
      if (path === undefined) report(brickAt, `brick "${ref}" has no path: write ${node}:/path or set brickPath on volume ${volName}`);
      else if (!isSafePath(path) && !controlCharacterIn(path)) report(brickAt, `brick path "${path}" ${PATH_RULE}`);
      if (seen.has(node)) {
        // A second brick on the same node of one set: one message is enough.
        report(brickAt, `replica set ${i + 1} has two bricks on node ${node}: the copies of a replica set must be on different nodes (gluster's own check, which glustermesh never overrides with force)`);
        return;
      }
      seen.add(node);
      if (path === undefined || !isSafePath(path)) return;
      const brick: BrickSeen = { node, path, volume: volName, set: i + 1, at: brickAt };
      if (brickPlaceRules(brick, dc.provider === "gce", bricks, report)) bricks.push(brick);
    });
  });
}

function brickNodeRules(mesh: Mesh, dcName: string, dc: DcInventory, node: string, brickAt: Path, report: Report): void {
  const nodeEntry = dc.nodes[node] as NodeInventory | undefined;
  if (nodeEntry && !Array.isArray(nodeEntry.roles)) return;
  if (!nodeEntry) {
    const elsewhere = mesh.nodes.find((n) => n.name === node)?.dc ?? mesh.dcs.find(([, d]) => node in d.nodes)?.[0];
    report(brickAt, elsewhere ? `brick node "${node}" belongs to data center ${elsewhere}, not ${dcName}: a volume's bricks live in its own data center` : `brick node "${node}" is not a node of ${dcName}: add it under nodes or fix the name`);
  } else if (!nodeEntry.roles.includes("storage")) {
    report(brickAt, `node "${node}" holds a brick but lacks the storage role: add storage to its roles`);
  }
}

/**
 * Where a brick may be: not a system folder, not the same folder as, inside, or around
 * another brick of its node; on gce, its disk's mount point (its parent) is its own and not
 * `/` or a system folder. Returns whether the brick is fine, to compare later ones with it.
 */
function brickPlaceRules(b: BrickSeen, gce: boolean, bricks: BrickSeen[], report: Report): boolean {
  const id = `${b.node}:${b.path}`;
  const system = systemFolderOf(b.path);
  if (system) {
    report(b.at, system.why
      ? `brick path ${b.path} is ${b.path === system.folder ? "" : "inside "}the folder ${system.folder}, ${system.why}: give the brick a folder of its own, such as /srv/gluster/${b.volume}`
      : `brick path ${b.path} is the folder ${system.folder} itself, which holds other things and which gluster would take over: put the brick in a folder of its own below it, such as ${system.folder === "/" ? "/srv" : system.folder}/gluster/${b.volume}`);
    return false;
  }
  for (const o of bricks.filter((x) => x.node === b.node)) {
    const other = `${o.node}:${o.path} (volume ${o.volume}, replica set ${o.set})`;
    if (o.path === b.path) report(b.at, `brick ${id} is already used by volume ${o.volume}, replica set ${o.set}: every brick needs its own directory`);
    else if (isInside(b.path, o.path)) report(b.at, `brick ${id} is inside brick ${other}: gluster refuses a brick inside another, put them side by side`, { also: o.at });
    else if (isInside(o.path, b.path)) report(b.at, `brick ${id} contains brick ${other}: gluster refuses a brick inside another, put them side by side`, { also: o.at });
    else continue;
    return false;
  }
  return gce ? gceBrickRules(b, bricks, report) : true;
}

/** A gce brick gets a disk of its own, mounted at the brick's parent (render/disk.ts). */
function gceBrickRules(b: BrickSeen, bricks: BrickSeen[], report: Report): boolean {
  const mountPoint = brickMountPoint(b.path);
  const deeper = `/srv/gluster/${b.volume}/brick`;
  if (mountPoint === "/" || systemFolderOf(mountPoint)) {
    report(b.at, `brick ${b.node}:${b.path} is on gce, where its own disk is mounted at its parent folder, here ${mountPoint}: put the brick one level deeper in a folder of its own, such as ${deeper}`);
    return false;
  }
  const shared = bricks.find((o) => o.node === b.node && brickMountPoint(o.path) === mountPoint);
  if (shared) {
    report(b.at, `bricks ${b.node}:${shared.path} (volume ${shared.volume}) and ${b.node}:${b.path} share the folder ${mountPoint}, where each one's own disk is mounted on gce: give every brick of a node its own parent folder, such as ${deeper}`, { also: shared.at });
    return false;
  }
  return true;
}

function optionRules(mesh: Mesh, dcName: string, volName: string, vol: VolumeInventory, report: Report): void {
  const at = ["dcs", dcName, "volumes", volName];
  for (const [key, value] of Object.entries(isObject(vol.options) ? vol.options : {})) {
    const optAt = [...at, "options", key];
    if (key === "group") {
      if (value !== "virt") report(optAt, `unknown option group "${String(value)}": the only group is virt`);
      continue;
    }
    const full = fullOptionKey(key);
    if (!full) {
      const hint = suggestOptionKey(key);
      report(optAt, `unknown gluster option "${key}"${hint ? `: did you mean ${hint}?` : ": see `gluster volume set help` and model/options.ts for the options glustermesh manages"}`);
      continue;
    }
    if (typeof value === "object") continue; // not a string, number or boolean: the field's own message says so
    const wrongForm = optionValueProblem(full, value);
    if (wrongForm) {
      report(optAt, wrongForm);
      continue;
    }
    const v = normaliseOptionValue(full, String(value));
    if (full === "nfs.disable" && v !== "on") report(optAt, "NFS must stay off (it ignores auth.allow): remove nfs.disable, glustermesh always sets it on");
    if (full === "auth.allow" && mesh.dcs.length === Object.keys(mesh.inv.dcs).length) authAllowCovers(mesh, dcName, volName, v, optAt, report);
  }
}

function authAllowCovers(mesh: Mesh, dcName: string, volName: string, value: string, optAt: Path, report: Report): void {
  const patterns = value.split(",");
  const uncovered: string[] = [];
  for (const name of clientNodes(mesh.inv as Inventory, dcName, volName)) {
    const ip = mesh.nodes.find((n) => n.name === name)?.node.tinc;
    if (ip && !patterns.some((p) => addressMatches(p, ip))) uncovered.push(`${name} (${ip})`);
  }
  if (uncovered.length > 0) {
    report(optAt, `auth.allow does not cover ${uncovered.length === 1 ? "node" : "nodes"} ${uncovered.join(", ")}, which use${uncovered.length === 1 ? "s" : ""} this volume: remove auth.allow to have it derived from the inventory, or widen it`);
  }
}

function isObject(x: unknown): x is Record<string, any> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

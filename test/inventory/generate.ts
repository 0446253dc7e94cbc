// Random valid inventories, from a seed: the shapes the rules allow (metal and gce DCs,
// replica 2, replica 3 with or without an arbiter, several bricks per node, every option in
// every form gluster takes), as the files an operator would write.
import { stringify } from "yaml";
import { ipv4ToInt } from "../../model/net";
import { KNOWN_OPTIONS, GLUSTER_BOOLEANS, OPTION_TYPES, type OptionKey, type OptionType } from "../../model/options";

/** mulberry32: small, fast, and the same sequence for a seed on every machine. */
export class Random {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(0, xs.length - 1)];
  }
  /** `n` distinct items, in random order. */
  sample<T>(xs: readonly T[], n: number): T[] {
    const copy = xs.slice();
    for (let i = copy.length - 1; i > 0; i--) {
      const j = this.int(0, i);
      [copy[i], copy[j]] = [copy[j], copy[i]];
    }
    return copy.slice(0, n);
  }
}

type Obj = Record<string, unknown>;
const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
/** Printable ASCII a key comment may hold, quotes and shell characters included. */
const COMMENT_CHARS = ` !"#$%&'()*+,-./09:;<=>?@AZ[\\]^_\`az{|}~`;

function base64(r: Random, n: number): string {
  return Array.from({ length: n }, () => r.pick([...B64])).join("");
}

function comment(r: Random): string {
  return Array.from({ length: r.int(1, 24) }, () => r.pick([...COMMENT_CHARS])).join("").trim() || "ci";
}

/** A value of the form gluster takes for a key. */
export function optionValue(r: Random, key: OptionKey, t: OptionType = OPTION_TYPES[key]): string | number | boolean {
  switch (t.kind) {
    case "boolean": {
      // nfs.disable must stay on
      const words = key === "nfs.disable" ? ["on", "yes", "true", "enable", "1", "ON"] : [...GLUSTER_BOOLEANS, "On", "OFF"];
      const w = r.pick(words);
      return w === "true" && r.chance(0.5) ? true : w === "1" && r.chance(0.5) ? 1 : w;
    }
    case "integer": {
      const n = r.int(t.min, t.max ?? t.min + 1000);
      return r.chance(0.5) ? n : String(n);
    }
    case "size": {
      const [unit, scale] = r.pick([["KB", 1024], ["MB", 1024 ** 2], ["GB", 1024 ** 3], ["mb", 1024 ** 2]] as const);
      const min = Math.ceil((t.min ?? 1) / scale);
      const max = Math.max(min, Math.floor((t.max ?? 512 * scale) / scale));
      return `${r.int(min, Math.min(max, min + 500))}${unit}`;
    }
    case "percent":
      return `${r.int(0, 100)}${r.chance(0.7) ? "%" : ""}`;
    case "percent-or-size":
      return r.chance(0.5) ? `${r.int(1, 50)}%` : `${r.int(1, 100)}GB`;
    case "choice":
      return r.pick(t.values);
    case "addresses":
      // auth.allow must cover every user: only patterns that admit the whole mesh
      return key === "auth.allow" ? r.pick(["*", "10.*", "10.*.*.*"]) : r.pick(["192.0.2.*", "198.51.100.7", "203.0.113.0/24", "192.0.2.1, 192.0.2.2", "172.16.*"]);
  }
}

function options(r: Random): Obj {
  const out: Obj = {};
  if (r.chance(0.5)) out.group = "virt";
  for (const key of r.sample(KNOWN_OPTIONS, r.int(0, 6))) {
    // short names too, where they are unambiguous
    const name = r.chance(0.3) ? key.slice(key.indexOf(".") + 1) : key;
    out[name] = optionValue(r, key);
  }
  return out;
}

interface Ctx {
  r: Random;
  /** Hosts left in the subnet, handed out in order. */
  nextTinc: () => string;
  nextAddress: () => string;
  nodeCount: number;
}

function node(c: Ctx, gce: boolean, roles: string[]): Obj {
  const { r } = c;
  const n: Obj = { tinc: c.nextTinc(), roles };
  if (!gce) n.address = c.nextAddress();
  if (r.chance(0.3)) {
    const ssh: Obj = {};
    if (!gce && r.chance(0.5)) ssh.host = `ssh${c.nodeCount}.example.org`;
    if (r.chance(0.5)) ssh.port = r.int(1, 65535);
    if (r.chance(0.5)) ssh.hostKey = `ssh-ed25519 ${base64(r, 68)}`;
    n.ssh = ssh;
  }
  return n;
}

const VOLUME_NAMES = ["projects", "scratch", "datasets", "Logs", "v_1", "home", "x"];
const METAL_ROOTS = ["/srv/gluster", "/data/gluster", "/home/salvus/vm/images/gluster", "/bricks", "/srv/gluster-bricks/a.b"];
const GCE_ROOTS = ["/srv/gluster", "/bricks", "/data/gm"];
/** Brick folders drawn at random for `loose` inventories: shared parents, nesting, `/`, system folders. */
const LOOSE_PATHS = ["/bricks", "/b", "/srv/a", "/srv/gluster/a", "/srv/gluster/b", "/srv/gluster/a/b", "/srv/gluster/c/brick", "/srv/gluster/d/brick", "/etc/x", "/mnt/gluster/x", "/var/lib/glusterd", "/data/gm/e/brick"];
const EVERY = ["30s", "1min", "2min", "5min", "15min", "1h", "6h", "12h"];

/** One volume over `storage`: each set on distinct nodes; a node's k-th brick of the volume in a folder of its own. */
function volume(r: Random, name: string, storage: string[], gce: boolean, loose: boolean): Obj | undefined {
  const replica = storage.length >= 3 && r.chance(0.5) ? 3 : 2;
  if (storage.length < replica) return undefined;
  const root = r.pick(gce ? GCE_ROOTS : METAL_ROOTS);
  // on gce a brick's parent is its disk's mount point: one parent per brick
  const pathOf = (k: number) => `${root}/${name}${k > 1 ? `-${k}` : ""}${gce ? "/brick" : ""}`;
  const useDefault = r.chance(0.8);
  const uses = new Map<string, number>();
  const replicaSets = Array.from({ length: r.int(1, 4) }, () =>
    r.sample(storage, replica).map((n) => {
      const k = (uses.get(n) ?? 0) + 1;
      uses.set(n, k);
      if (loose) return `${n}:${r.pick(LOOSE_PATHS)}`;
      return k === 1 && useDefault ? n : `${n}:${pathOf(k)}`;
    }),
  );
  const v: Obj = { replica, ...(replica === 3 && r.chance(0.7) ? { arbiter: 1 } : {}), ...(useDefault ? { brickPath: pathOf(1) } : {}), replicaSets };
  if (r.chance(0.7)) v.options = options(r);
  if (r.chance(0.8)) v.sync = r.chance(0.2) ? false : { every: r.pick(EVERY) };
  if (gce && r.chance(0.5)) v.diskGb = r.int(10, 500);
  return v;
}

function dataCenter(c: Ctx, gce: boolean, loose: boolean): Obj {
  const { r } = c;
  const nodes: Obj = {};
  const storage: string[] = [];
  for (let i = r.int(1, 6); i > 0; i--) {
    const name = `${r.pick(["cloud", "n", "gce_node", "x"])}${++c.nodeCount}`;
    const roles = r.pick([["storage", "compute"], ["storage"], ["compute"], ["compute", "storage"]]);
    nodes[name] = node(c, gce, roles);
    if (roles.includes("storage")) storage.push(name);
  }
  const volumes: Obj = {};
  for (const name of r.sample(VOLUME_NAMES, r.int(0, 3))) {
    const v = volume(r, name, storage, gce, loose);
    if (v) volumes[name] = v;
  }
  const dc: Obj = gce ? { provider: "gce", gce: gceBlock(r) } : r.chance(0.3) ? { provider: "metal" } : {};
  return { ...dc, nodes, ...(Object.keys(volumes).length > 0 || r.chance(0.5) ? { volumes } : {}) };
}

function gceBlock(r: Random): Obj {
  const g: Obj = { machineType: r.pick(["e2-standard-2", "n2-highmem-8", "e2-small"]) };
  if (r.chance(0.5)) g.image = r.pick(["debian-cloud/debian-12", "projects/x/global/images/it's \"mine\""]);
  if (r.chance(0.3)) g.bootDiskGb = r.int(10, 100);
  if (r.chance(0.3)) g.labels = { team: "storage", "cost-center": r.pick(["a1", "", "b_2"]) };
  return g;
}

/**
 * A random valid inventory as its files: mesh.yaml and one <dc>.yaml (sometimes .yml) per DC.
 * `loose`: brick folders drawn from a pool of clashing ones instead, valid or not.
 */
export function randomInventory(seed: number, loose = false): Record<string, string> {
  const r = new Random(seed);
  const prefix = r.pick([16, 20, 24]);
  const b = r.int(0, 255);
  const network = ipv4ToInt(`10.${b}.0.0`)!;
  let host = r.int(1, 50);
  const int2ip = (n: number) => [24, 16, 8, 0].map((s) => (n >>> s) & 255).join(".");
  let address = 0;
  const c: Ctx = {
    r,
    nextTinc: () => int2ip(network + host++),
    // documentation ranges and DNS names, never inside 10/8 (the mesh's)
    nextAddress: () => (r.chance(0.2) ? `host${address++}.dc.example.org` : int2ip(ipv4ToInt("198.51.100.0")! + address++)),
    nodeCount: 0,
  };
  const mesh: Obj = { subnet: `10.${b}.0.0/${prefix}` };
  if (r.chance(0.5)) mesh.name = r.pick(["glustermesh", "gm", "mesh_2"]);
  if (r.chance(0.5)) mesh.port = r.int(1, 65535);
  if (r.chance(0.5)) mesh.connectToPerDc = r.int(1, 16);
  const files: Record<string, string> = {};
  const drift = r.chance(0.5) ? { drift: { keys: Array.from({ length: r.int(0, 2) }, () => `ssh-ed25519 ${base64(r, 68)} ${comment(r)}`) } } : {};
  files["mesh.yaml"] = stringify({ mesh, ...drift });
  const names = r.sample(["east", "west", "4545", "gce-europe-1", "padelford", "a", "lab-b"], r.int(1, 3));
  for (const name of names) files[`${name}.${r.chance(0.1) ? "yml" : "yaml"}`] = stringify(dataCenter(c, r.chance(0.4), loose), { lineWidth: 0 });
  return files;
}

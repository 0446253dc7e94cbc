// The typed model every renderer, component and command works from: the inventory with its
// consequences spelled out (replica sets, peers, who mounts what, who syncs where, the
// options gluster must end up with). Pure: no I/O, no Pulumi.
import { clientNodes, parseBrickRef, type Inventory, type Role } from "./schema";
import { normaliseOptionValue, fullOptionKey, VIRT_GROUP, type OptionKey } from "./options";
import { parseCidr } from "./net";
import { MOUNT_ROOT } from "./names";

/** Every sync service and timer is named `glustermesh-sync-<volume>-set<k>-to-<dc>`. */
export const SYNC_UNIT_PREFIX = "glustermesh-sync-";

export interface MeshNode {
  name: string;
  dc: string;
  /** Public address from the inventory; undefined for machines a gce stack creates. */
  address: string | undefined;
  sshHost: string | undefined;
  sshPort: number;
  hostKey: string | undefined;
  tinc: string;
  roles: Role[];
  storage: boolean;
  compute: boolean;
}

export interface Brick {
  node: string;
  path: string;
  /** As gluster names it: the node's tinc address and the path. */
  spec: string;
  arbiter: boolean;
}

export interface ReplicaSet {
  /** 1-based, in gluster's order. */
  index: number;
  /** `cloud1+cloud3`: readable, and part of resource names. */
  name: string;
  bricks: Brick[];
}

export interface Volume {
  dc: string;
  name: string;
  replica: 2 | 3;
  arbiter: boolean;
  replicaSets: ReplicaSet[];
  /** Node whose glusterd runs volume-level commands: the first brick's node. */
  lead: string;
  /** Whether the virt group applies (its options are part of `options` too). */
  virtGroup: boolean;
  /** Every option gluster must report, full keys, normalised values, sorted by key. */
  options: Array<[OptionKey, string]>;
  /** auth.allow: tinc addresses of every node that uses the volume. */
  authAllow: string;
  sync: { every: string } | false;
  diskGb: number | undefined;
}

export interface Mount {
  /** The node that mounts. */
  node: string;
  /** The volume's data center and name. */
  dc: string;
  volume: string;
  where: string;
  /** Volfile server and backups: the volume's storage nodes, by tinc address. */
  server: string;
  backupServers: string[];
  unit: string;
}

export interface SyncJob {
  node: string;
  dc: string;
  volume: string;
  replicaSet: string;
  source: string;
  targetDc: string;
  target: string;
  /** Name shared by the .service and .timer units. */
  unit: string;
  /** The first data brick of its replica set runs on time; the others half an interval later (30 min later for hour intervals). */
  primary: boolean;
  every: string;
  mountUnit: string;
}

export interface DataCenter {
  name: string;
  provider: "metal" | "gce";
  gce: Inventory["dcs"][string]["gce"];
  nodes: MeshNode[];
  storageNodes: MeshNode[];
  volumes: Volume[];
  /** Mounts on this DC's nodes (of every DC's volumes). */
  mounts: Mount[];
  /** Sync jobs on this DC's nodes. */
  syncJobs: SyncJob[];
}

/** The read-only account `glustermesh drift` logs in as on every node. */
export const DRIFT_ACCOUNT = "glustermesh-drift";

export interface Model {
  mesh: { name: string; subnet: string; prefix: number; port: number; connectToPerDc: number; interface: string };
  /** The keys that may log in as DRIFT_ACCOUNT. */
  drift: { keys: string[] };
  dcs: DataCenter[];
  nodes: MeshNode[];
}

export { MOUNT_ROOT };

export function buildModel(inv: Inventory): Model {
  const nodes: MeshNode[] = [];
  for (const [dc, d] of Object.entries(inv.dcs).sort(([a], [b]) => a.localeCompare(b))) {
    for (const [name, n] of Object.entries(d.nodes)) {
      nodes.push({
        name,
        dc,
        address: n.address,
        sshHost: n.ssh?.host ?? n.address,
        sshPort: n.ssh?.port ?? 22,
        hostKey: n.ssh?.hostKey,
        tinc: n.tinc,
        roles: n.roles,
        storage: n.roles.includes("storage"),
        compute: n.roles.includes("compute"),
      });
    }
  }
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const tincOf = (name: string) => byName.get(name)!.tinc;

  const volumes: Volume[] = [];
  for (const [dc, d] of Object.entries(inv.dcs)) {
    for (const [name, v] of Object.entries(d.volumes)) {
      const arbiter = v.arbiter === 1;
      const replicaSets = v.replicaSets.map((set, i) => {
        const bricks = set.map((ref, j) => {
          const { node, path } = parseBrickRef(ref, v.brickPath);
          return { node, path: path!, spec: `${tincOf(node)}:${path}`, arbiter: arbiter && j === set.length - 1 };
        });
        return { index: i + 1, name: bricks.map((b) => b.node).join("+"), bricks };
      });
      const options = new Map<OptionKey, string>();
      const virtGroup = v.options.group === "virt";
      if (virtGroup) for (const [k, val] of VIRT_GROUP) options.set(k, normaliseOptionValue(k, val));
      for (const [key, value] of Object.entries(v.options)) {
        const full = key === "group" ? undefined : fullOptionKey(key);
        if (full) options.set(full, normaliseOptionValue(full, String(value)));
      }
      const clients = clientNodes(inv, dc, name).map(tincOf);
      const authAllow = options.get("auth.allow") ?? normaliseOptionValue("auth.allow", clients.join(","));
      options.set("auth.allow", authAllow);
      options.set("nfs.disable", "on");
      volumes.push({
        dc,
        name,
        replica: v.replica,
        arbiter,
        replicaSets,
        lead: replicaSets[0].bricks[0].node,
        virtGroup,
        options: [...options.entries()].sort(([a], [b]) => a.localeCompare(b)),
        authAllow,
        sync: v.sync,
        diskGb: v.diskGb,
      });
    }
  }

  const dcs: DataCenter[] = Object.entries(inv.dcs)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, d]) => {
      const dcNodes = nodes.filter((n) => n.dc === name);
      return {
        name,
        provider: d.provider,
        gce: d.gce,
        nodes: dcNodes,
        storageNodes: dcNodes.filter((n) => n.storage),
        volumes: volumes.filter((v) => v.dc === name),
        mounts: [],
        syncJobs: [],
      };
    });

  for (const dc of dcs) {
    // Compute nodes mount every DC's volumes.
    for (const node of dc.nodes.filter((n) => n.compute)) {
      for (const v of volumes) dc.mounts.push(mountOf(node.name, v, tincOf));
    }
    // Brick nodes mount the same-named volume of every other DC, and sync into it.
    for (const v of dc.volumes) {
      if (v.sync === false) continue;
      for (const target of volumes) {
        if (target.dc === dc.name || target.name !== v.name || target.sync === false) continue;
        for (const set of v.replicaSets) {
          const dataBricks = set.bricks.filter((b) => !b.arbiter);
          dataBricks.forEach((b, i) => {
            if (!dc.mounts.some((m) => m.node === b.node && m.dc === target.dc && m.volume === target.name)) {
              dc.mounts.push(mountOf(b.node, target, tincOf));
            }
            const mount = mountOf(b.node, target, tincOf);
            dc.syncJobs.push({
              node: b.node,
              dc: dc.name,
              volume: v.name,
              replicaSet: set.name,
              source: b.path,
              targetDc: target.dc,
              target: mount.where,
              unit: `${SYNC_UNIT_PREFIX}${v.name}-set${set.index}-to-${target.dc}`,
              primary: i === 0,
              every: (v.sync as { every: string }).every,
              mountUnit: mount.unit,
            });
          });
        }
      }
    }
    dc.mounts.sort((a, b) => a.node.localeCompare(b.node) || a.where.localeCompare(b.where));
  }

  const subnet = parseCidr(inv.mesh.subnet)!;
  return {
    mesh: {
      name: inv.mesh.name,
      subnet: inv.mesh.subnet,
      prefix: subnet.prefix,
      port: inv.mesh.port,
      connectToPerDc: inv.mesh.connectToPerDc,
      interface: inv.mesh.name,
    },
    drift: { keys: [...inv.drift.keys] },
    dcs,
    nodes,
  };
}

function mountOf(node: string, v: Volume, tincOf: (n: string) => string): Mount {
  const servers = [...new Set(v.replicaSets.flatMap((s) => s.bricks.map((b) => b.node)))].map(tincOf);
  const where = `${MOUNT_ROOT}/${v.dc}/${v.name}`;
  return { node, dc: v.dc, volume: v.name, where, server: servers[0], backupServers: servers.slice(1), unit: `${systemdEscapePath(where)}.mount` };
}

/** `systemd-escape --path`: the unit name systemd requires for a mount point. */
export function systemdEscapePath(p: string): string {
  const trimmed = p.replace(/^\/+|\/+$/g, "");
  if (trimmed === "") return "-";
  return trimmed
    .split("/")
    .map((part, k) =>
      [...part]
        // Only a dot that starts the whole name is escaped (systemd-escape: `/srv/.x` -> `srv-.x`).
        .map((ch, i) => (/[A-Za-z0-9:_]/.test(ch) || (ch === "." && (k > 0 || i > 0)) ? ch : `\\x${ch.charCodeAt(0).toString(16).padStart(2, "0")}`))
        .join(""),
    )
    .join("-");
}

export function dcOf(model: Model, name: string): DataCenter {
  const dc = model.dcs.find((d) => d.name === name);
  if (!dc) throw new Error(`no data center "${name}" in the inventory (known: ${model.dcs.map((d) => d.name).join(", ")})`);
  return dc;
}

/** Which nodes a node keeps tinc connections to: the first few of every DC, never itself. */
export function connectTo(model: Model, node: MeshNode): string[] {
  const out: string[] = [];
  for (const dc of model.dcs) {
    const candidates = dc.nodes.filter((n) => n.name !== node.name).map((n) => n.name).sort(naturalCompare);
    out.push(...candidates.slice(0, model.mesh.connectToPerDc));
  }
  return out;
}

export function naturalCompare(a: string, b: string): number {
  return a.localeCompare(b, "en", { numeric: true });
}

export interface Warning {
  dc: string;
  volume?: string;
  message: string;
}

/** What is allowed but contradicts "no single point of failure". */
export function modelWarnings(model: Model): Warning[] {
  const out: Warning[] = [];
  for (const v of model.dcs.flatMap((d) => d.volumes)) {
    const quorum = v.options.find(([k]) => k === "cluster.quorum-type")?.[1];
    if (v.replica === 2 && quorum === "auto") {
      out.push({
        dc: v.dc,
        volume: v.name,
        message:
          `volume ${v.name} is replica 2 with cluster.quorum-type=auto (part of the virt group): when the FIRST brick of a pair ` +
          `(${v.replicaSets.map((s) => s.bricks[0].node).join(", ")}) is down, that pair refuses writes — a single point of failure. ` +
          `Use replica: 3 with arbiter: 1 (two copies and a small arbiter brick on a third node), gluster's answer for replica without split-brain.`,
      });
    }
    if (v.replica === 2 && quorum === "none") {
      out.push({ dc: v.dc, volume: v.name, message: `volume ${v.name} is replica 2 with cluster.quorum-type=none: writes go on with one brick down, at the risk of split-brain. Prefer replica: 3 with arbiter: 1.` });
    }
    const serverQuorum = v.options.find(([k]) => k === "cluster.server-quorum-type")?.[1];
    const storage = model.dcs.find((d) => d.name === v.dc)!.storageNodes.length;
    if (serverQuorum === "server" && storage < 3) {
      out.push({ dc: v.dc, volume: v.name, message: `volume ${v.name} uses server quorum with only ${storage} storage node${storage === 1 ? "" : "s"} in ${v.dc}: losing one stops every brick. Add a third storage node (it may hold only an arbiter brick).` });
    }
  }
  return out;
}


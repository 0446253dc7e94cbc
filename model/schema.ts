// The inventory schema: the single source of the inventory's types (z.infer) and of every
// rule a human-edited inventory must satisfy. Field rules live on the fields; rules that
// span fields, volumes or data centers live in one superRefine, each with its own message.
import { z } from "zod";
import { fullOptionKey, normaliseOptionValue, suggestOptionKey } from "./options";
import { ipv4ToInt, parseCidr, cidrContains, addressMatches } from "./net";

/** tinc host names: letters, digits and underscores only (tinc forbids dashes). */
export const NODE_NAME = /^[a-z][a-z0-9_]{0,62}$/;
/** Data center names: they name stacks, files and mount folders. */
export const DC_NAME = /^[a-z0-9][a-z0-9-]{0,30}$/;
/** Gluster volume names. */
export const VOLUME_NAME = /^[A-Za-z][A-Za-z0-9_]{0,62}$/;
/** Absolute, normalised paths with no shell metacharacters. */
const SAFE_PATH = /^(\/[A-Za-z0-9._][A-Za-z0-9._-]*)+$/;
const HOST_NAME = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const DURATION = /^[1-9][0-9]*(s|min|h)$/;
/** A sync interval becomes an OnCalendar repetition (render/units.ts calendarFor): it must divide
 * a minute, an hour or a day, or systemd rejects the timer (45s, 90min, 36h) or fires unevenly. */
const syncEvery = (s: string): boolean => {
  const m = /^([1-9][0-9]*)(s|min|h)$/.exec(s);
  if (!m) return true; // DURATION's own message covers it
  const n = Number(m[1]);
  return m[2] === "h" ? n < 24 && 24 % n === 0 : n < 60 && 60 % n === 0;
};

const ipv4 = z
  .string({ error: "must be an IPv4 address such as 10.1.1.1" })
  .refine((s) => ipv4ToInt(s) !== undefined, { error: "must be an IPv4 address such as 10.1.1.1" });

const cidr = z
  .string()
  .refine((s) => parseCidr(s) !== undefined, { error: "must be an IPv4 subnet in CIDR form, such as 10.1.0.0/16" });

const absolutePath = z
  .string()
  .refine((p) => SAFE_PATH.test(p) && !p.split("/").some((part) => part === "." || part === ".."), {
    error:
      "must be an absolute, normalised path of letters, digits, '.', '_', '-' and '/' (no trailing slash, no '..', no spaces or shell characters)",
  });

const publicAddress = z.string().refine((s) => ipv4ToInt(s) !== undefined || HOST_NAME.test(s), {
  error: "must be an IPv4 address or a DNS name (the address tinc peers and SSH reach this node at)",
});

export const ROLES = ["storage", "compute"] as const;
export type Role = (typeof ROLES)[number];

const NodeSchema = z.strictObject({
  /** Public address: tinc peers connect here and the deploy's SSH goes here. */
  address: publicAddress.optional(),
  /** The node's address inside the tinc mesh; gluster and mounts use only this. */
  tinc: ipv4,
  roles: z
    .array(z.enum(ROLES, { error: `a role is one of: ${ROLES.join(", ")}` }))
    .min(1, { error: "give at least one role: storage (holds bricks) or compute (mounts volumes)" }),
  ssh: z
    .strictObject({
      /** Where SSH connects when that differs from `address`. */
      host: publicAddress.optional(),
      port: z.number().int().min(1).max(65535).optional(),
      /** The node's SSH host key (`ssh-ed25519 AAAA...`), pinned: connections verify it. */
      hostKey: z
        .string()
        .regex(/^(ssh-ed25519|ecdsa-sha2-nistp256|ssh-rsa) [A-Za-z0-9+/=]+$/, {
          error: "must be one public key line as `ssh-keyscan -t ed25519 HOST` prints it, without the host name",
        })
        .optional(),
    })
    .optional(),
});

const brickRef = z.string().regex(/^[a-z][a-z0-9_]*(:\/.*)?$/, {
  error: "a brick is NODE or NODE:/absolute/path, e.g. cloud1 or cloud3:/srv/gluster/projects2",
});

const VolumeSchema = z.strictObject({
  /** Copies of every file: 2 (a pair), or 3 with `arbiter: 1` (two copies and a metadata-only arbiter). */
  replica: z.union([z.literal(2), z.literal(3)], { error: "replica must be 2, or 3 (with arbiter: 1)" }),
  arbiter: z.literal(1, { error: "arbiter can only be 1 (replica 3 arbiter 1)" }).optional(),
  /** Default brick directory for bricks given as a bare node name. */
  brickPath: absolutePath.optional(),
  /** In gluster's order: each entry is one replica set, its bricks on different nodes. */
  replicaSets: z
    .array(z.array(brickRef), { error: "replicaSets is a list of replica sets, each a list of bricks: - [cloud1, cloud3]" })
    .min(1, { error: "a volume needs at least one replica set" }),
  options: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).default({}),
  /** Copy this volume's new images to the same-named volume of every other DC, and how often. */
  sync: z
    .union([z.literal(false), z.strictObject({
        every: z
          .string()
          .regex(DURATION, { error: "every is a time span such as 30s, 2min or 1h" })
          .refine(syncEvery, { error: "every must divide a minute, an hour or a day evenly (systemd timers repeat within those): 1-30s or 1-30min dividing 60 (30s, 2min, 5min, 15min), or 1, 2, 3, 4, 6, 8 or 12h" }),
      })], {
      error: "sync is false, or { every: 2min } (a time span such as 30s, 2min or 1h)",
    })
    .default({ every: "2min" }),
  /** gce DCs: size of each brick's persistent disk. */
  diskGb: z.number().int().min(10).max(65536).optional(),
});

const GceSchema = z.strictObject({
  machineType: z.string().regex(/^[a-z0-9-]+$/).default("e2-standard-2"),
  image: z.string().min(1).default("debian-cloud/debian-12"),
  bootDiskGb: z.number().int().min(10).default(20),
  /** Extra labels for every machine and disk. */
  labels: z.record(z.string().regex(/^[a-z][a-z0-9_-]{0,62}$/), z.string().regex(/^[a-z0-9_-]{0,63}$/)).default({}),
});

export const DcSchema = z.strictObject({
  /** metal: machines that exist; gce: machines this stack creates in Google Cloud. */
  provider: z.enum(["metal", "gce"]).default("metal"),
  gce: GceSchema.optional(),
  nodes: z.record(z.string(), NodeSchema),
  volumes: z.record(z.string(), VolumeSchema).default({}),
});

export const MeshSchema = z.strictObject({
  /** tinc network name: /etc/tinc/<name>, tinc@<name>.service. */
  name: z.string().regex(/^[a-z][a-z0-9_]{0,15}$/, { error: "a tinc network name: lower-case letters, digits, underscores" }).default("glustermesh"),
  /** Every node's tinc address lies in this subnet. */
  subnet: cidr,
  port: z.number().int().min(1).max(65535).default(655),
  /** How many nodes of each DC every node keeps a tinc connection to (more = more redundancy). */
  connectToPerDc: z.number().int().min(1).max(16).default(3),
});

/** An OpenSSH public key line without options: type, base64 key, optional comment. */
export const SSH_PUBLIC_KEY = /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com) [A-Za-z0-9+/]+={0,3}( [\x20-\x7e]*)?$/;

export const DriftSchema = z.strictObject({
  /** Public keys that may log in as the read-only drift account on every node (CI's drift job). */
  keys: z
    .array(z.string().regex(SSH_PUBLIC_KEY, { error: "must be one OpenSSH public key line: TYPE BASE64 [comment], e.g. the contents of id_ed25519.pub, without options" }))
    .default([]),
});

export const InventorySchema = z
  .strictObject({
    mesh: MeshSchema,
    drift: DriftSchema.default({ keys: [] }),
    dcs: z.record(z.string(), DcSchema),
  })
  // `when`: run the cross-field rules even when some fields failed, so that every problem is
  // reported at once; the rules guard against malformed parts themselves.
  .superRefine((inv, ctx) => crossFieldRules(inv, ctx), { when: () => true });

export type InventoryInput = z.input<typeof InventorySchema>;
export type Inventory = z.infer<typeof InventorySchema>;
export type DcInventory = z.infer<typeof DcSchema>;
export type NodeInventory = z.infer<typeof NodeSchema>;
export type VolumeInventory = z.infer<typeof VolumeSchema>;

/** `cloud3:/x/y` -> {node, path}; a bare node takes the volume's brickPath. */
export function parseBrickRef(ref: string, defaultPath: string | undefined): { node: string; path: string | undefined } {
  const colon = ref.indexOf(":");
  return colon < 0 ? { node: ref, path: defaultPath } : { node: ref.slice(0, colon), path: ref.slice(colon + 1) };
}

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

function crossFieldRules(inv: { mesh: z.infer<typeof MeshSchema>; dcs: Record<string, DcInventory> }, ctx: z.RefinementCtx): void {
  const problem = (path: (string | number)[], message: string, at?: "key") => ctx.addIssue({ code: "custom", path, message, input: undefined, ...(at ? { params: { at } } : {}) });
  if (!isObject(inv) || !isObject(inv.dcs)) return;
  const subnet = isObject(inv.mesh) && typeof inv.mesh.subnet === "string" ? parseCidr(inv.mesh.subnet) : undefined;
  // Parts that failed their own field rules are skipped here: they already have a message.
  const dcs = Object.entries(inv.dcs).filter(([, dc]) => isObject(dc) && isObject(dc.nodes));
  const nodeDc = new Map<string, string>();
  const tincOwner = new Map<string, string>();

  for (const [dcName, dc] of dcs) {
    if (!DC_NAME.test(dcName)) {
      problem(["dcs", dcName], `data center name "${dcName}" must be lower-case letters, digits and dashes (it names the stack Pulumi.${dcName}.yaml)`);
    }
    if (dc.provider === "gce" && !dc.gce) problem(["dcs", dcName, "provider"], "a gce data center needs a `gce:` block (machineType, image)");
    if (dc.provider === "metal" && dc.gce) problem(["dcs", dcName, "gce"], "`gce:` only belongs to a data center with `provider: gce`");
    if (Object.keys(dc.nodes).length === 0) problem(["dcs", dcName, "nodes"], "a data center needs at least one node");

    for (const [name, node] of Object.entries(dc.nodes)) {
      if (!isObject(node) || typeof node.tinc !== "string" || !Array.isArray(node.roles)) continue;
      const at = ["dcs", dcName, "nodes", name];
      if (!NODE_NAME.test(name)) {
        problem(at, `node name "${name}" is not a valid tinc name: use lower-case letters, digits and underscores, starting with a letter (tinc forbids dashes)`, "key");
      }
      const other = nodeDc.get(name);
      if (other !== undefined) problem(at, `node "${name}" is already defined in data center ${other}: node names are unique across the whole mesh`, "key");
      else nodeDc.set(name, dcName);
      if (dc.provider === "metal" && node.address === undefined) {
        problem([...at, "address"], "a metal node needs its public `address` (tinc peers and SSH connect to it)");
      }
      const ip = ipv4ToInt(node.tinc);
      if (subnet && ip !== undefined) {
        if (!cidrContains(subnet, ip)) problem([...at, "tinc"], `tinc address ${node.tinc} is outside the mesh subnet ${inv.mesh.subnet} (mesh.yaml)`);
        else if (ip === subnet.network || ip === subnet.broadcast) problem([...at, "tinc"], `tinc address ${node.tinc} is the subnet's network or broadcast address: pick a host address`);
      }
      const owner = tincOwner.get(node.tinc);
      if (owner !== undefined) problem([...at, "tinc"], `tinc address ${node.tinc} is already used by node ${owner}: every node needs its own`);
      else tincOwner.set(node.tinc, name);
    }

    const brickOwner = new Map<string, string>();
    for (const [volName, vol] of Object.entries(isObject(dc.volumes) ? dc.volumes : {})) {
      if (!isObject(vol) || !Array.isArray(vol.replicaSets) || !vol.replicaSets.every(Array.isArray)) continue;
      const at = ["dcs", dcName, "volumes", volName];
      if (!VOLUME_NAME.test(volName)) problem(at, `volume name "${volName}" must start with a letter and use only letters, digits and underscores`, "key");
      if (vol.arbiter !== undefined && vol.replica !== 3) problem([...at, "arbiter"], "an arbiter needs `replica: 3` (replica 3 arbiter 1: two data copies and one arbiter)");
      // An invalid replica has its own message; sizing sets by it would only mislead.
      const setSize = vol.replica === 2 || vol.replica === 3 ? vol.replica : undefined;
      vol.replicaSets.forEach((set, i) => {
        if (setSize !== undefined && set.length !== setSize) {
          problem([...at, "replicaSets", i], `replica set ${i + 1} has ${set.length} brick${set.length === 1 ? "" : "s"}, but volume ${volName} is replica ${setSize}: the brick count must be a multiple of the replica count, and gluster adds bricks a whole replica set at a time — give each set exactly ${setSize}`);
        }
        const seen = new Map<string, number>();
        set.forEach((ref, j) => {
          const { node, path } = parseBrickRef(ref, vol.brickPath);
          const brickAt = [...at, "replicaSets", i, j];
          const nodeEntry = dc.nodes[node] as NodeInventory | undefined;
          if (!nodeEntry || !Array.isArray(nodeEntry.roles)) {
            if (nodeEntry) return;
            const elsewhere = nodeDc.get(node) ?? dcs.find(([, d]) => node in d.nodes)?.[0];
            problem(brickAt, elsewhere ? `brick node "${node}" belongs to data center ${elsewhere}, not ${dcName}: a volume's bricks live in its own data center` : `brick node "${node}" is not a node of ${dcName}: add it under nodes or fix the name`);
          } else if (!nodeEntry.roles.includes("storage")) {
            problem(brickAt, `node "${node}" holds a brick but lacks the storage role: add storage to its roles`);
          }
          if (path === undefined) problem(brickAt, `brick "${ref}" has no path: write ${node}:/path or set brickPath on volume ${volName}`);
          else if (!absolutePath.safeParse(path).success) problem(brickAt, `brick path "${path}" must be an absolute, normalised path of letters, digits, '.', '_', '-' and '/' (no trailing slash, no '..', no spaces or shell characters)`);
          const first = seen.get(node);
          if (first !== undefined) {
            problem(brickAt, `replica set ${i + 1} has two bricks on node ${node}: the copies of a replica set must be on different nodes (gluster's own check, which glustermesh never overrides with force)`);
          } else seen.set(node, j);
          // (A second brick on the same node of one set was just reported; one message is enough.)
          if (path !== undefined && first === undefined) {
            const id = `${node}:${path}`;
            const user = brickOwner.get(id);
            if (user !== undefined) problem(brickAt, `brick ${id} is already used by ${user}: every brick needs its own directory`);
            else brickOwner.set(id, `volume ${volName}, replica set ${i + 1}`);
          }
        });
      });

      for (const [key, value] of Object.entries(isObject(vol.options) ? vol.options : {})) {
        const optAt = [...at, "options", key];
        if (key === "group") {
          if (value !== "virt") problem(optAt, `unknown option group "${String(value)}": the only group is virt`);
          continue;
        }
        const full = fullOptionKey(key);
        if (!full) {
          const hint = suggestOptionKey(key);
          problem(optAt, `unknown gluster option "${key}"${hint ? `: did you mean ${hint}?` : ": see `gluster volume set help` and model/options.ts for the options glustermesh manages"}`);
          continue;
        }
        const v = normaliseOptionValue(full, String(value));
        if (full === "nfs.disable" && v !== "on") problem(optAt, "NFS must stay off (it ignores auth.allow): remove nfs.disable, glustermesh always sets it on");
        if (full === "auth.allow" && dcs.length === Object.keys(inv.dcs).length) {
          const patterns = v.split(",");
          const uncovered: string[] = [];
          for (const name of clientNodes(inv as Inventory, dcName, volName)) {
            const ip = dcs.find(([, d]) => name in d.nodes)?.[1].nodes[name]?.tinc;
            if (ip && !patterns.some((p) => addressMatches(p, ip))) uncovered.push(`${name} (${ip})`);
          }
          if (uncovered.length > 0) {
            problem(optAt, `auth.allow does not cover ${uncovered.length === 1 ? "node" : "nodes"} ${uncovered.join(", ")}, which use${uncovered.length === 1 ? "s" : ""} this volume: remove auth.allow to have it derived from the inventory, or widen it`);
          }
        }
      }
    }
  }
}

function isObject(x: unknown): x is Record<string, any> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

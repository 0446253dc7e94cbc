// The inventory schema: the single source of the inventory's types (z.infer) and of every
// rule a human-edited inventory must satisfy. Field rules live on the fields; rules that
// span fields, volumes or data centers (and the control-character check of every string)
// live in one superRefine (rules.ts), each with its own message.
import { z } from "zod";
import { ipv4ToInt, parseCidr } from "./net";
import { isSafePath, PATH_RULE } from "./names";
import { crossFieldRules } from "./rules";

export { DC_NAME, NODE_NAME, VOLUME_NAME, parseBrickRef } from "./names";
export { clientNodes } from "./rules";

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

const absolutePath = z.string().refine(isSafePath, { error: PATH_RULE });

/** An address that ends in a number is meant as IPv4 (no DNS name has a numeric last label):
 * `999.1.1.1` must not pass as a host name. */
const publicAddress = z.string().superRefine((s, ctx) => {
  if (ipv4ToInt(s) !== undefined) return;
  if (/(^|\.)[0-9]+$/.test(s)) {
    ctx.addIssue({ code: "custom", input: s, message: `${s} is not an IPv4 address (four numbers 0-255, no leading zeros), and a DNS name does not end in a number: fix the address` });
  } else if (!HOST_NAME.test(s)) {
    ctx.addIssue({ code: "custom", input: s, message: "must be an IPv4 address or a DNS name (the address tinc peers and SSH reach this node at)" });
  }
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
    .min(1, { error: "give at least one role: storage (holds bricks) or compute (mounts volumes)" })
    .superRefine((roles, ctx) => {
      roles.forEach((r, i) => {
        if (roles.indexOf(r) < i) ctx.addIssue({ code: "custom", path: [i], input: r, message: `${r} is listed twice in roles: list each role once` });
      });
    }),
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
export type MeshInventory = z.infer<typeof MeshSchema>;

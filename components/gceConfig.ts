// The stack config a gce DC needs (GCP project, region, zones, admin ranges, the deploy's
// public key), read and checked before any resource is declared. Every problem stops the
// program with a message naming the key and the `pulumi config set` that fixes it.
import * as pulumi from "@pulumi/pulumi";
import type { DataCenter, Model } from "../model/model";
import { ipv4ToInt, parseCidr } from "../model/net";
import { fail } from "./fail";

export interface GceSettings {
  project: string;
  region: string;
  /** Zones nodes are spread over, in order (node i goes to zones[i % n]). */
  zones: string[];
  zoneOf: Record<string, string>;
  /** Where SSH (port 22) is allowed from, as CIDRs. */
  adminRanges: string[];
  sshUser: string;
  sshPublicKey: string;
  machineType: string;
  image: string;
  bootDiskGb: number;
  diskType: string;
  subnetCidr: string;
  deletionProtection: boolean;
  /** Host keys pinned by the operator (`glustermesh:hostKeys.<node>`): used instead of the guest attribute. */
  hostKeys: Record<string, string>;
  /** How long to wait for a new machine to publish its SSH host key. */
  hostKeyWaitSeconds: number;
  stackPrefix: string;
  peerStacks: Record<string, string>;
}

const PROJECT = /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/;
const REGION = /^[a-z]+-[a-z]+[0-9]+$/;
const ZONE = /^([a-z]+-[a-z]+[0-9]+)-[a-z]$/;
const PUBLIC_KEY = /^(ssh-ed25519|ecdsa-sha2-nistp256|ecdsa-sha2-nistp384|ecdsa-sha2-nistp521|ssh-rsa) [A-Za-z0-9+/]+={0,3}( [^\n]*)?$/;
export const HOST_KEY = /^ssh-ed25519 [A-Za-z0-9+/]+={0,3}$/;

/** `a.b.c.d/n` (0..32, no host bits) or a bare address (-> /32); undefined when invalid. */
export function normaliseRange(s: string): string | undefined {
  const [ip, bits, ...rest] = s.trim().split("/");
  if (rest.length > 0 || ipv4ToInt(ip) === undefined) return undefined;
  if (bits === undefined) return `${ip}/32`;
  if (!/^\d{1,2}$/.test(bits) || Number(bits) > 32) return undefined;
  const prefix = Number(bits);
  const mask = prefix === 0 ? 0 : (~0 << (32 - prefix)) >>> 0;
  if (((ipv4ToInt(ip)! & mask) >>> 0) !== ipv4ToInt(ip)) return undefined;
  return `${ip}/${prefix}`;
}

export function isWorldOpen(range: string): boolean {
  return range.endsWith("/0");
}

function rangesOverlap(a: string, b: string): boolean {
  const ca = parseCidr(a);
  const cb = parseCidr(b);
  return ca !== undefined && cb !== undefined && ca.network <= cb.broadcast && cb.network <= ca.broadcast;
}

/** Config.getObject, with a clear message when the value is not the JSON it should be. */
function getObject<T>(config: pulumi.Config, key: string, how: string): T | undefined {
  try {
    return config.getObject<T>(key);
  } catch {
    fail(`glustermesh:${key} is not valid: ${how}`);
  }
}

export function readGceSettings(model: Model, dc: DataCenter): GceSettings {
  const gcp = new pulumi.Config("gcp");
  const config = new pulumi.Config("glustermesh");
  const stack = pulumi.getStack();

  const project = gcp.get("project");
  if (!project) fail(`stack ${stack} creates machines in Google Cloud but has no GCP project: run\n  pulumi config set gcp:project YOUR-PROJECT-ID`);
  if (!PROJECT.test(project)) fail(`gcp:project "${project}" is not a GCP project ID (6-30 lower-case letters, digits and dashes): pulumi config set gcp:project YOUR-PROJECT-ID`);
  const region = gcp.get("region");
  if (!region) fail(`stack ${stack} has no GCP region: run\n  pulumi config set gcp:region us-central1`);
  if (!REGION.test(region)) fail(`gcp:region "${region}" is not a GCP region such as us-central1 or europe-west1: pulumi config set gcp:region REGION`);
  const zone = gcp.get("zone");
  const zoneList = getObject<string[]>(config, "zones", `give a list of zones: pulumi config set --path 'glustermesh:zones[0]' ${region}-b`);
  const zones = zoneList && zoneList.length > 0 ? zoneList : zone ? [zone] : [];
  if (zones.length === 0) fail(`stack ${stack} has no GCP zone: run\n  pulumi config set gcp:zone ${region}-b\n(or spread the nodes over zones: pulumi config set --path 'glustermesh:zones[0]' ${region}-b, [1] ${region}-c, ...)`);
  for (const z of zones) {
    const m = typeof z === "string" ? ZONE.exec(z) : null;
    if (!m) fail(`zone "${String(z)}" is not a GCP zone such as ${region}-b: pulumi config set gcp:zone ${region}-b`);
    if (m[1] !== region) fail(`zone ${z} is not in the stack's region ${region} (gcp:region): pulumi config set gcp:zone ${region}-b`);
  }
  const nodes = dc.nodes.map((n) => n.name).sort((a, b) => a.localeCompare(b, "en", { numeric: true }));
  const zoneOf = Object.fromEntries(nodes.map((n, i) => [n, zones[i % zones.length]]));

  const rawRanges = getObject<unknown>(config, "adminRanges", `give a list of CIDRs: pulumi config set --path 'glustermesh:adminRanges[0]' 203.0.113.0/24`);
  if (rawRanges === undefined || (Array.isArray(rawRanges) && rawRanges.length === 0)) {
    fail(
      `stack ${stack} has no glustermesh:adminRanges: SSH to the machines it creates is allowed only from the address ranges listed there. Run\n` +
        `  pulumi config set --path 'glustermesh:adminRanges[0]' YOUR.PUBLIC.IP/32\n` +
        `(the deploy's own address must be among them)`,
    );
  }
  if (!Array.isArray(rawRanges) || !rawRanges.every((r) => typeof r === "string")) {
    fail(`glustermesh:adminRanges must be a list of CIDRs: pulumi config set --path 'glustermesh:adminRanges[0]' 203.0.113.0/24`);
  }
  const adminRanges = (rawRanges as string[]).map((r) => normaliseRange(r) ?? fail(`glustermesh:adminRanges: "${r}" is not an IPv4 CIDR such as 203.0.113.0/24 (no host bits set)`));
  if (adminRanges.some(isWorldOpen)) {
    void pulumi.log.warn(`glustermesh:adminRanges contains ${adminRanges.filter(isWorldOpen).join(", ")}: SSH on the machines of ${dc.name} is open to the whole internet. Narrow it unless that is really meant.`);
  }

  const sshUser = config.get("sshUser") ?? "root";
  if (sshUser !== "root") {
    fail(`glustermesh:sshUser is "${sshUser}", but the host scripts need root and run without sudo: for a gce stack run\n  pulumi config set glustermesh:sshUser root\n(the machines allow root to log in with the deploy key only)`);
  }
  const sshPublicKey = config.get("sshPublicKey")?.trim();
  if (!sshPublicKey) fail(`stack ${stack} has no glustermesh:sshPublicKey (the public half of the deploy key, put on the machines it creates): run\n  pulumi config set glustermesh:sshPublicKey "$(cat ~/.ssh/id_ed25519.pub)"`);
  if (!PUBLIC_KEY.test(sshPublicKey)) fail(`glustermesh:sshPublicKey is not one OpenSSH public key line (ssh-ed25519 AAAA... comment): pulumi config set glustermesh:sshPublicKey "$(cat ~/.ssh/id_ed25519.pub)"`);

  const hostKeys = getObject<Record<string, string>>(config, "hostKeys", `pulumi config set --path 'glustermesh:hostKeys.NODE' "ssh-ed25519 AAAA..."`) ?? {};
  for (const n of dc.nodes) {
    const k = hostKeys[n.name] ?? n.hostKey;
    if (k !== undefined && !HOST_KEY.test(k)) fail(`the pinned host key of ${n.name} is not an ssh-ed25519 key line ("ssh-ed25519 AAAA..."): pulumi config set --path 'glustermesh:hostKeys.${n.name}' "ssh-ed25519 AAAA..."`);
    if (k !== undefined) hostKeys[n.name] = k;
  }

  const subnetCidr = config.get("subnetCidr") ?? "10.240.0.0/24";
  const sub = parseCidr(subnetCidr);
  if (!sub || sub.prefix > 29) fail(`glustermesh:subnetCidr "${subnetCidr}" is not an IPv4 subnet of /8 to /29 such as 10.240.0.0/24: pulumi config set glustermesh:subnetCidr 10.240.0.0/24`);
  if (rangesOverlap(subnetCidr, model.mesh.subnet)) fail(`glustermesh:subnetCidr ${subnetCidr} overlaps the tinc mesh subnet ${model.mesh.subnet}: pick another, e.g. pulumi config set glustermesh:subnetCidr 10.240.0.0/24`);

  const wait = config.getNumber("hostKeyWaitSeconds") ?? 600;
  if (!(wait > 0)) fail(`glustermesh:hostKeyWaitSeconds must be a positive number of seconds`);

  const deletionProtection = config.getBoolean("deletionProtection") ?? true;
  if (!deletionProtection) void pulumi.log.warn(`glustermesh:deletionProtection is false: the instances of ${dc.name} can be deleted by a pulumi up or destroy (their brick disks stay protected).`);

  for (const v of dc.volumes) {
    if (v.diskGb === undefined) fail(`volume ${v.name} of ${dc.name} has no diskGb: a gce DC gives every brick a persistent disk of that size. Set diskGb: 200 (GB) on the volume in the inventory.`);
  }

  const gce = dc.gce!;
  return {
    project,
    region,
    zones,
    zoneOf,
    adminRanges: [...new Set(adminRanges)].sort(),
    sshUser,
    sshPublicKey,
    machineType: config.get("machineType") ?? gce.machineType,
    image: config.get("image") ?? gce.image,
    bootDiskGb: gce.bootDiskGb,
    diskType: config.get("diskType") ?? "pd-balanced",
    subnetCidr,
    deletionProtection,
    hostKeys,
    hostKeyWaitSeconds: wait,
    stackPrefix: config.get("stackPrefix") ?? `organization/${pulumi.getProject()}`,
    peerStacks: getObject<Record<string, string>>(config, "peerStacks", `pulumi config set --path 'glustermesh:peerStacks.DC' ORG/PROJECT/STACK`) ?? {},
  };
}

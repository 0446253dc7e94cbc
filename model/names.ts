// Names and paths an inventory may use: tinc and gluster names, brick references, and the
// folders a brick must never be (system folders, glusterd's state, glustermesh's own mounts).
import * as path from "node:path";

/** tinc host names: letters, digits and underscores only (tinc forbids dashes). */
export const NODE_NAME = /^[a-z][a-z0-9_]{0,62}$/;
/** Data center names: they name stacks, files and mount folders. */
export const DC_NAME = /^[a-z0-9][a-z0-9-]{0,30}$/;
/** Gluster volume names. */
export const VOLUME_NAME = /^[A-Za-z][A-Za-z0-9_]{0,62}$/;
/** Absolute, normalised paths with no shell metacharacters. */
const SAFE_PATH = /^(\/[A-Za-z0-9._][A-Za-z0-9._-]*)+$/;

export const PATH_RULE =
  "must be an absolute, normalised path of letters, digits, '.', '_', '-' and '/' (no trailing slash, no '..', no spaces or shell characters)";

export function isSafePath(p: string): boolean {
  return SAFE_PATH.test(p) && !p.split("/").some((part) => part === "." || part === "..");
}

/** Where glustermesh mounts every volume: /mnt/gluster/<dc>/<volume>. */
export const MOUNT_ROOT = "/mnt/gluster";

/**
 * Trees a brick may not be in at all, and why: a brick there would mix gluster's data with
 * files something else writes, makes up at boot or cleans away.
 */
export const SYSTEM_TREES: Readonly<Record<string, string>> = {
  ...Object.fromEntries(["/bin", "/boot", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/sbin", "/usr", "/var/lib/dpkg", "/var/lib/apt", "/var/cache", "/var/log"].map((f) => [f, "the system's own files"])),
  ...Object.fromEntries(["/dev", "/proc", "/sys", "/run", "/var/run", "/var/lock"].map((f) => [f, "made up by the kernel and systemd at every boot"])),
  ...Object.fromEntries(["/tmp", "/var/tmp"].map((f) => [f, "cleaned by the system"])),
  "/var/lib/glusterd": "glusterd's own state",
  [MOUNT_ROOT]: "where glustermesh mounts the volumes",
};

/** Folders that hold other things: a brick may live below them, never be one (gluster takes over its brick's whole folder). */
export const SHARED_FOLDERS = ["/", "/home", "/srv", "/mnt", "/media", "/opt", "/root", "/var", "/var/lib"];

/** Is `inner` strictly below `outer` (by path components: /a/bc is not below /a/b)? */
export function isInside(inner: string, outer: string): boolean {
  return outer === "/" ? inner !== "/" : inner.startsWith(`${outer}/`);
}

/** Why a path cannot be a brick (or a brick disk's mount point), or undefined. */
export function systemFolderOf(p: string): { folder: string; why: string | undefined } | undefined {
  const tree = Object.keys(SYSTEM_TREES).find((t) => p === t || isInside(p, t));
  if (tree) return { folder: tree, why: SYSTEM_TREES[tree] };
  return SHARED_FOLDERS.includes(p) ? { folder: p, why: undefined } : undefined;
}

/** `cloud3:/x/y` -> {node, path}; a bare node takes the volume's brickPath. */
export function parseBrickRef(ref: string, defaultPath: string | undefined): { node: string; path: string | undefined } {
  const colon = ref.indexOf(":");
  return colon < 0 ? { node: ref, path: defaultPath } : { node: ref.slice(0, colon), path: ref.slice(colon + 1) };
}

/** The folder a gce brick's own disk is mounted at: the brick's parent (render/disk.ts). */
export function brickMountPoint(brick: string): string {
  return path.posix.dirname(brick);
}

/** A GCE name part: lower-case letters, digits and dashes. */
export function gceNamePart(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9-]/g, "-");
}

/** GCE device name of a brick's disk: it shows up as /dev/disk/by-id/google-<deviceName>. */
export function deviceNameOf(volume: string, set: number): string {
  return `gm-${gceNamePart(volume)}-set${set}`;
}

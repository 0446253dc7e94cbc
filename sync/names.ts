import * as os from "node:os";

// Names the sync tool must never copy from a brick.
export const SKIP_DIRS = new Set([".glusterfs", ".trashcan"]);

const TMP_TAG = "glustermesh-tmp-";

export function hostTag(): string {
  return os.hostname().replace(/[^A-Za-z0-9_-]/g, "_").slice(0, 40) || "host";
}

// Temporary name for a copy of `name`, in the same directory as the final file.
// Shape: `.<name>.glustermesh-tmp-<host>-<pid>-<seq>`. Gluster's DHT hashes names matching
// its default rsync-hash-regex `^\.(.+)\.[^.]+$` as `<name>`, so the temporary file lands on
// the same subvolume as the final name and the rename creates no DHT link file.
let seq = 0;
export function tmpName(name: string, host = hostTag(), pid = process.pid): string {
  const base = name.length > 180 ? name.slice(0, 180) : name;
  return `.${base}.${TMP_TAG}${host}-${pid}-${(seq++).toString(36)}`;
}

// Staging directory for a batch of copies: `.glustermesh-tmp-<host>-<pid>-<seq>`.
export function tmpDirName(host = hostTag(), pid = process.pid): string {
  return `.${TMP_TAG}${host}-${pid}-${(seq++).toString(36)}`;
}

const TMP_RE = /^\..+\.glustermesh-tmp-[A-Za-z0-9_-]*$/;
const TMP_DIR_RE = /^\.glustermesh-tmp-[A-Za-z0-9_-]*$/;
export function isOurTmp(name: string): boolean {
  return TMP_RE.test(name);
}
export function isOurTmpDir(name: string): boolean {
  return TMP_DIR_RE.test(name);
}

// Gluster DHT link file: a regular file whose permission bits are exactly the sticky bit.
export function isDhtLinkMode(mode: number): boolean {
  return (mode & 0o7777) === 0o1000;
}

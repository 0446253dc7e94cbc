import * as fs from "node:fs";
import * as path from "node:path";

/** A path as /proc/mounts and mountinfo print it, octal escapes (`\\040` for a space) decoded. */
export function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

// Is `dir` itself a mount point? Reads /proc/self/mountinfo only: never touches `dir`,
// so a hung or disconnected FUSE mount cannot block this check.
export function isMountPoint(dir: string, mountinfo = "/proc/self/mountinfo"): boolean {
  const want = path.resolve(dir).replace(/\/+$/, "") || "/";
  const text = fs.readFileSync(mountinfo, "utf8");
  for (const line of text.split("\n")) {
    const f = line.split(" ");
    if (f.length > 4 && unescapeMount(f[4]) === want) return true;
  }
  return false;
}

// Errors meaning the target filesystem is gone (FUSE daemon dead, network down, ...) or cannot
// take any more writes (full, read-only): the pass stops instead of failing every file.
export const UNREACHABLE = new Set(["ENOTCONN", "ESTALE", "EIO", "EHOSTDOWN", "EHOSTUNREACH", "ECONNABORTED", "ENODEV", "ETIMEDOUT", "ENOSPC", "EDQUOT", "EROFS"]);

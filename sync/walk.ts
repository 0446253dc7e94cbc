import * as fs from "node:fs";
import * as path from "node:path";
import { SKIP_DIRS, isDhtLinkMode, isOurTmp, isOurTmpDir } from "./names";

export interface FileEntry {
  rel: string; // relative path, "/"-separated
  size: number;
  blocks: number;
  mtimeMs: number;
  mode: number;
}

export interface WalkIssue {
  rel: string;
  reason: string;
  fatal: boolean; // counts as a failure (unreadable) vs only reported (odd entry)
}

export interface WalkResult {
  files: FileEntry[];
  issues: WalkIssue[];
  skippedLinkFiles: number;
  skippedInternal: number;
  async: boolean; // had to switch to parallel (asynchronous) calls: the cache was cold
}

function kindOf(d: fs.Dirent | fs.Stats): string {
  if (d.isSymbolicLink()) return "symlink";
  if (d.isSocket()) return "socket";
  if (d.isFIFO()) return "fifo";
  if (d.isBlockDevice()) return "block device";
  if (d.isCharacterDevice()) return "character device";
  return "unknown entry";
}

const msSince = (t: bigint) => Number(process.hrtime.bigint() - t) / 1e6;

// Walk `root` with readdir + lstat. Symlinks and special files are reported, never followed.
//
// A warm walk is fastest with plain synchronous calls (a few microseconds each, no thread
// pool round trip). As soon as calls are slow, meaning they wait for the disk, the rest of
// the walk switches to asynchronous calls with at most `limit` in flight, so that a cold
// brick is read with parallel I/O.
export async function walk(root: string, limit: number, forceAsync = false): Promise<WalkResult> {
  const res: WalkResult = { files: [], issues: [], skippedLinkFiles: 0, skippedInternal: 0, async: false };
  const dirs: string[] = [""];
  const stats: string[] = [];
  const join = (dir: string, name: string) => (dir === "" ? name : dir + "/" + name);
  const abs = (rel: string) => (rel === "" ? root : path.join(root, rel));

  const onStat = (rel: string, err: NodeJS.ErrnoException | null, st?: fs.Stats) => {
    if (err || !st) {
      if (err?.code !== "ENOENT") res.issues.push({ rel, reason: `${err?.code ?? ""} ${err?.message ?? "lstat failed"}`.trim(), fatal: true });
    } else if (st.isFile()) {
      if (isDhtLinkMode(st.mode)) res.skippedLinkFiles++;
      else res.files.push({ rel, size: st.size, blocks: st.blocks, mtimeMs: st.mtimeMs, mode: st.mode & 0o7777 });
    } else if (st.isDirectory()) dirs.push(rel);
    else res.issues.push({ rel, reason: `${kindOf(st)} not copied`, fatal: false });
  };
  const onDir = (rel: string, err: NodeJS.ErrnoException | null, ents?: fs.Dirent[]) => {
    if (err || !ents) {
      if (rel === "" || err?.code !== "ENOENT") res.issues.push({ rel: rel || ".", reason: `cannot read directory: ${err?.code ?? ""} ${err?.message ?? ""}`.trim(), fatal: true });
      return;
    }
    for (const d of ents) {
      const name = d.name;
      const r = join(rel, name);
      if (d.isDirectory()) {
        if (SKIP_DIRS.has(name) || isOurTmpDir(name)) res.skippedInternal++;
        else dirs.push(r);
      } else if (d.isFile()) {
        if (isOurTmp(name)) res.skippedInternal++;
        else stats.push(r);
      } else if (d.isSymbolicLink() || d.isSocket() || d.isFIFO() || d.isBlockDevice() || d.isCharacterDevice()) {
        res.issues.push({ rel: r, reason: `${kindOf(d)} not copied`, fatal: false });
      } else if (SKIP_DIRS.has(name) || isOurTmp(name) || isOurTmpDir(name)) res.skippedInternal++;
      else stats.push(r); // DT_UNKNOWN: lstat decides
    }
  };

  // Synchronous while the cache is warm. Three slow calls (a single one may just be the
  // process being preempted) switch to parallel calls.
  let slow = 0;
  while (!forceAsync && (dirs.length > 0 || stats.length > 0)) {
    const t = process.hrtime.bigint();
    if (stats.length > 0) {
      const rel = stats.pop()!;
      try {
        onStat(rel, null, fs.lstatSync(abs(rel)));
      } catch (e) {
        onStat(rel, e as NodeJS.ErrnoException);
      }
      if (msSince(t) > 2 && ++slow >= 3) break;
    } else {
      const rel = dirs.pop()!;
      let n = 0;
      try {
        const ents = fs.readdirSync(abs(rel), { withFileTypes: true });
        n = ents.length;
        onDir(rel, null, ents);
      } catch (e) {
        onDir(rel, e as NodeJS.ErrnoException);
      }
      if (msSince(t) > 2 + n * 0.005 && ++slow >= 3) break;
    }
  }
  if (dirs.length === 0 && stats.length === 0) return res;

  // Cold: parallel asynchronous calls, callback API (cheapest per call).
  res.async = true;
  return new Promise((resolve) => {
    let active = 0;
    const pump = () => {
      while (active < limit && (stats.length > 0 || dirs.length > 0)) {
        active++;
        if (stats.length > 0) {
          const rel = stats.pop()!;
          fs.lstat(abs(rel), (err, st) => {
            onStat(rel, err, st);
            active--;
            pump();
          });
        } else {
          const rel = dirs.pop()!;
          fs.readdir(abs(rel), { withFileTypes: true }, (err, ents) => {
            onDir(rel, err, ents);
            active--;
            pump();
          });
        }
      }
      if (active === 0) resolve(res);
    };
    pump();
  });
}

import * as fs from "node:fs";
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

// What a readdir of a directory found, kept in the state file and reused while the directory
// is unchanged: [inode, mtime ms, ctime ms, names to lstat (files, odd entries), subdirectory
// names, internal entries skipped].
export type DirListing = [number, number, number, string[], string[], number];

export interface WalkOptions {
  limit: number; // asynchronous calls in flight once the walk goes parallel
  known?: Record<string, DirListing>; // listings of the last pass, by relative directory path
  settleMs?: number; // a listing is recorded only for a directory unchanged this long (default 2000)
  forceAsync?: boolean; // tests: start with the parallel walk
  // Called for every regular file found; a file it accepts (returns true) is counted in
  // `seen` but not listed in `files`: a pass keeps no entry for an unchanged file.
  unchanged?: (rel: string, st: fs.Stats) => boolean;
}

export interface WalkResult {
  seen: number; // regular files found (DHT link files and our temporary files not counted)
  files: FileEntry[]; // those of them not accepted by `unchanged`
  issues: WalkIssue[];
  skippedLinkFiles: number;
  skippedInternal: number;
  async: boolean; // had to switch to parallel (asynchronous) calls: the cache was cold
  listings: Record<string, DirListing>; // for the next pass
  reused: number; // directories not read because their listing was still valid
}

// A directory's entries change only with its mtime and ctime (create, unlink, rename, link,
// mkdir, rmdir all set both; utimes can set mtime back, nothing sets ctime back), so while
// inode, mtime and ctime are those of the recorded listing, the listing is still the
// directory's content, and the walk lstats the listed names without reading the directory.
// Racy timestamps: the kernel stamps with a coarse clock, so a change in the same tick as the
// one before it may leave ctime unchanged. A listing is therefore recorded only when the
// directory's mtime and ctime are older than `settleMs` before the walk began: any later
// change gets a newer ctime. (Same rule as git's racy-clean index entries.)
export const SETTLE_MS = 2000;

// Milliseconds on a monotonic clock. Not `performance.now()`: its first use loads perf_hooks,
// a millisecond of every pass's start-up.
function now(): number {
  const [s, ns] = process.hrtime();
  return s * 1e3 + ns / 1e6;
}

// Counts a walk's calls and notes the slow ones: slow() says whether the last three slow calls
// fell within `window` calls (see walk()).
export class SlowCalls {
  private calls = 0;
  private recent: number[] = []; // call numbers of the last three slow calls
  constructor(private window = 256) {}
  call(): void {
    this.calls++;
  }
  slow(): boolean {
    this.recent.push(this.calls);
    if (this.recent.length > 3) this.recent.shift();
    return this.recent.length === 3 && this.calls - this.recent[0] < this.window;
  }
}

function kindOf(d: fs.Dirent | fs.Stats): string {
  if (d.isSymbolicLink()) return "symlink";
  if (d.isSocket()) return "socket";
  if (d.isFIFO()) return "fifo";
  if (d.isBlockDevice()) return "block device";
  if (d.isCharacterDevice()) return "character device";
  return "unknown entry";
}

const goodName = (n: unknown) => typeof n === "string" && n !== "" && n !== "." && n !== ".." && !n.includes("/") && !n.includes("\0");

// A listing from the state file is used only if it has the right shape and holds only names
// a readdir could have listed (the state file is ours, but a damaged one must never send the
// walk outside SOURCE or into what it skips).
const goodFile = (n: unknown) => goodName(n) && !isOurTmp(n as string);
const goodDir = (n: unknown) => goodName(n) && !SKIP_DIRS.has(n as string) && !isOurTmpDir(n as string);
function validListing(k: unknown): k is DirListing {
  if (!Array.isArray(k) || k.length !== 6) return false;
  const [ino, m, c, names, subdirs, skipped] = k as unknown[];
  return (
    typeof ino === "number" && typeof m === "number" && typeof c === "number" && typeof skipped === "number" &&
    Array.isArray(names) && names.every(goodFile) && Array.isArray(subdirs) && subdirs.every(goodDir)
  );
}

// Walk `root` with readdir + lstat. Symlinks and special files are reported, never followed.
//
// A warm walk is fastest with plain synchronous calls (a few microseconds each, no thread
// pool round trip). As soon as calls are slow, meaning they wait for the disk, the rest of
// the walk switches to asynchronous calls with at most `limit` in flight, so that a cold
// brick is read with parallel I/O.
//
// Every directory is lstat'ed; one whose listing from the last pass is still valid (see
// SETTLE_MS) is not read: its listed names are lstat'ed as if readdir had returned them.
export async function walk(root: string, opts: WalkOptions): Promise<WalkResult> {
  const { limit, known, settleMs = SETTLE_MS, forceAsync = false, unchanged } = opts;
  const settledBefore = Date.now() - settleMs;
  const res: WalkResult = { seen: 0, files: [], issues: [], skippedLinkFiles: 0, skippedInternal: 0, async: false, listings: Object.create(null), reused: 0 };
  const dirs: string[] = [""];
  const stats: string[] = [];
  const join = (dir: string, name: string) => (dir === "" ? name : dir + "/" + name);
  const base = root.endsWith("/") ? root : root + "/";
  const abs = (rel: string) => (rel === "" ? root : base + rel); // rel is normalized: no path.join

  const onStat = (rel: string, err: NodeJS.ErrnoException | null, st?: fs.Stats) => {
    if (err || !st) {
      if (err?.code !== "ENOENT") res.issues.push({ rel, reason: `${err?.code ?? ""} ${err?.message ?? "lstat failed"}`.trim(), fatal: true });
    } else if (st.isFile()) {
      if (isDhtLinkMode(st.mode)) res.skippedLinkFiles++;
      else {
        res.seen++;
        if (!unchanged?.(rel, st)) res.files.push({ rel, size: st.size, blocks: st.blocks, mtimeMs: st.mtimeMs, mode: st.mode & 0o7777 });
      }
    } else if (st.isDirectory()) dirs.push(rel);
    else res.issues.push({ rel, reason: `${kindOf(st)} not copied`, fatal: false });
  };
  const dirFailed = (rel: string, err: NodeJS.ErrnoException | null) => {
    if (rel === "" || err?.code !== "ENOENT") res.issues.push({ rel: rel || ".", reason: `cannot read directory: ${err?.code ?? ""} ${err?.message ?? ""}`.trim(), fatal: true });
  };
  // The directory's lstat: reuse its listing (true) or read it (false)?
  const reuse = (rel: string, st: fs.Stats): boolean => {
    if (!st.isDirectory()) {
      onStat(rel, null, st); // replaced by something else since its parent was listed
      return true;
    }
    const k = known?.[rel];
    if (k === undefined || !validListing(k) || k[0] !== st.ino || k[1] !== st.mtimeMs || k[2] !== st.ctimeMs) return false;
    for (const n of k[3]) stats.push(join(rel, n));
    for (const n of k[4]) dirs.push(join(rel, n));
    res.skippedInternal += k[5];
    res.listings[rel] = k;
    res.reused++;
    return true;
  };
  const onDir = (rel: string, st: fs.Stats, ents: fs.Dirent[]) => {
    const names: string[] = [];
    const subdirs: string[] = [];
    let skipped = 0;
    for (const d of ents) {
      const name = d.name;
      const r = join(rel, name);
      if (d.isDirectory()) {
        if (SKIP_DIRS.has(name) || isOurTmpDir(name)) skipped++;
        else {
          subdirs.push(name);
          dirs.push(r);
        }
      } else if (d.isFile()) {
        if (isOurTmp(name)) skipped++;
        else {
          names.push(name);
          stats.push(r);
        }
      } else if (d.isSymbolicLink() || d.isSocket() || d.isFIFO() || d.isBlockDevice() || d.isCharacterDevice()) {
        names.push(name); // reported again by its lstat when the listing is reused
        res.issues.push({ rel: r, reason: `${kindOf(d)} not copied`, fatal: false });
      } else if (SKIP_DIRS.has(name) || isOurTmp(name) || isOurTmpDir(name)) skipped++;
      else {
        names.push(name);
        stats.push(r); // DT_UNKNOWN: lstat decides
      }
    }
    res.skippedInternal += skipped;
    if (st.mtimeMs < settledBefore && st.ctimeMs < settledBefore) res.listings[rel] = [st.ino, st.mtimeMs, st.ctimeMs, names, subdirs, skipped];
  };

  // Synchronous while the cache is warm. Three slow calls close together (within 256 calls)
  // switch to parallel calls. A slow call alone is the process being preempted, a garbage
  // collection, or a page fault of the growing heap, about one in thousands of calls: on the
  // 2-CPU VM, 3 of 30 warm passes over 2000 projects counted three such calls in all and took
  // the parallel walk, 3x slower (2026-11-26). A cold cache makes every call that reads an inode
  // table block or a directory slow (one in 16 inodes, on a disk that seeks).
  const slowCalls = new SlowCalls();
  while (!forceAsync && (dirs.length > 0 || stats.length > 0)) {
    slowCalls.call();
    const t = now();
    if (stats.length > 0) {
      const rel = stats.pop()!;
      try {
        onStat(rel, null, fs.lstatSync(abs(rel)));
      } catch (e) {
        onStat(rel, e as NodeJS.ErrnoException);
      }
      if (now() - t > 2 && slowCalls.slow()) break;
    } else {
      const rel = dirs.pop()!;
      let n = 0;
      try {
        const st = fs.lstatSync(abs(rel));
        if (!reuse(rel, st)) {
          const ents = fs.readdirSync(abs(rel), { withFileTypes: true });
          n = ents.length;
          onDir(rel, st, ents);
        }
      } catch (e) {
        dirFailed(rel, e as NodeJS.ErrnoException);
      }
      if (now() - t > 2 + n * 0.005 && slowCalls.slow()) break;
    }
  }
  if (dirs.length === 0 && stats.length === 0) return res;

  // Cold: parallel asynchronous calls, callback API (cheapest per call).
  res.async = true;
  return new Promise((resolve) => {
    let active = 0;
    const done = () => {
      active--;
      pump();
    };
    const pump = () => {
      while (active < limit && (stats.length > 0 || dirs.length > 0)) {
        active++;
        if (stats.length > 0) {
          const rel = stats.pop()!;
          fs.lstat(abs(rel), (err, st) => {
            onStat(rel, err, st);
            done();
          });
        } else {
          const rel = dirs.pop()!;
          fs.lstat(abs(rel), (err, st) => {
            if (err) {
              dirFailed(rel, err);
              return done();
            }
            if (reuse(rel, st)) return done();
            fs.readdir(abs(rel), { withFileTypes: true }, (err2, ents) => {
              if (err2) dirFailed(rel, err2);
              else onDir(rel, st, ents);
              done();
            });
          });
        }
      }
      if (active === 0) resolve(res);
    };
    pump();
  });
}

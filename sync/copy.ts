import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { Semaphore } from "./pool";
import { tmpName } from "./names";
import { UNREACHABLE } from "./mount";
import type { FileEntry } from "./walk";

const fsp = fs.promises;

export type CopyOutcome =
  | { kind: "copied"; tsec: number; tsize: number; bytes: number }
  | { kind: "uptodate"; tsec: number; tsize: number } // target already has this version
  | { kind: "targetNewer" } // target is newer than source: never overwritten
  | { kind: "wouldCopy"; why: "missing" | "newer" } // dry run
  | { kind: "changed" } // source changed while copied: not installed, retried next pass
  | { kind: "failed"; reason: string };

export class TargetUnreachable extends Error {}

export interface CopyContext {
  source: string;
  target: string;
  dryRun: boolean;
  fsync: boolean;
  preserve: string; // for cp --preserve=
  cpSlots: Semaphore;
  journal: (tmpPath: string) => void; // records a temporary file before it is created
  dirs: Map<string, Promise<void>>; // target dirs known to exist / being created
}

export const sec = (ms: number) => Math.floor(ms / 1000);

function errText(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  return err && err.message ? err.message : String(e);
}

function checkUnreachable(e: unknown): void {
  const code = (e as NodeJS.ErrnoException)?.code;
  if (code && UNREACHABLE.has(code)) throw new TargetUnreachable(`${code}: ${errText(e)}`);
}

async function lstatOrNull(p: string): Promise<fs.Stats | null> {
  try {
    return await fsp.lstat(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw e;
  }
}

function kind(st: fs.Stats): string {
  return st.isDirectory() ? "directory" : st.isSymbolicLink() ? "symlink" : "special file";
}

// Create target directory `rel` (and missing parents) with the source directory's mode.
function ensureDir(ctx: CopyContext, rel: string): Promise<void> {
  if (rel === "" || rel === ".") return Promise.resolve();
  let p = ctx.dirs.get(rel);
  if (!p) {
    p = (async () => {
      await ensureDir(ctx, path.posix.dirname(rel));
      const dst = path.join(ctx.target, rel);
      try {
        const st = await fsp.lstat(path.join(ctx.source, rel));
        await fsp.mkdir(dst, { mode: st.mode & 0o7777 });
        await fsp.chmod(dst, st.mode & 0o7777); // mkdir applies the umask
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      }
    })();
    p.catch(() => ctx.dirs.delete(rel));
    ctx.dirs.set(rel, p);
  }
  return p;
}

function runCp(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn("cp", args, { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr!.setEncoding("utf8");
    child.stderr!.on("data", (d: string) => {
      if (stderr.length < 4000) stderr += d;
    });
    child.on("error", (e) => resolve({ code: -1, stderr: `cannot run cp: ${e.message}` }));
    child.on("close", (code) => resolve({ code, stderr }));
  });
}

async function fsyncPath(p: string): Promise<void> {
  const fh = await fsp.open(p, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

// Compare a target stat with the source version: is the target at least as new?
function targetVerdict(t: fs.Stats, srcSec: number): CopyOutcome | null {
  if (!t.isFile()) return { kind: "failed", reason: `target is a ${kind(t)}, not a regular file` };
  const tsec = sec(t.mtimeMs);
  if (tsec > srcSec) return { kind: "targetNewer" };
  if (tsec === srcSec) return { kind: "uptodate", tsec, tsize: t.size };
  return null;
}

// Sync one file: stat the target, copy to a temporary name next to it with GNU cp (which
// skips holes with SEEK_DATA/SEEK_HOLE), fsync, check that the source did not change and that
// the target is still older, then rename over. Throws TargetUnreachable only.
export async function syncFile(ctx: CopyContext, e: FileEntry): Promise<CopyOutcome> {
  const srcSec = sec(e.mtimeMs);
  const src = path.join(ctx.source, e.rel);
  const dst = path.join(ctx.target, e.rel);
  const relDir = path.posix.dirname(e.rel);
  let before: fs.Stats | null;
  try {
    before = await lstatOrNull(dst);
  } catch (err) {
    checkUnreachable(err);
    return { kind: "failed", reason: `cannot stat target: ${errText(err)}` };
  }
  if (before) {
    const v = targetVerdict(before, srcSec);
    if (v) return v;
  }
  if (ctx.dryRun) return { kind: "wouldCopy", why: before ? "newer" : "missing" };
  if (!before) {
    try {
      await ensureDir(ctx, relDir);
    } catch (err) {
      checkUnreachable(err);
      return { kind: "failed", reason: `cannot create target directory: ${errText(err)}` };
    }
  }
  const tmp = path.join(path.dirname(dst), tmpName(path.basename(dst)));
  let tmpExists = false;
  const dropTmp = async () => {
    if (tmpExists) await fsp.rm(tmp, { force: true }).catch(() => undefined);
  };
  try {
    ctx.journal(tmp);
    tmpExists = true;
    const r = await ctx.cpSlots.run(() => runCp(["--sparse=always", `--preserve=${ctx.preserve}`, "--", src, tmp]));
    if (r.code !== 0) {
      await dropTmp();
      const msg = r.stderr.trim().split("\n")[0]?.replace(/^cp: /, "") || `cp exited with code ${r.code}`;
      if (/Transport endpoint is not connected|Stale file handle/.test(msg)) throw new TargetUnreachable(msg);
      return { kind: "failed", reason: msg };
    }
    if (ctx.fsync) await fsyncPath(tmp);
    // Did the source change while we copied it?
    const after = await lstatOrNull(src);
    if (!after || after.size !== e.size || after.mtimeMs !== e.mtimeMs) {
      await dropTmp();
      return { kind: "changed" };
    }
    const t = await fsp.lstat(tmp);
    if (t.size !== e.size || sec(t.mtimeMs) !== srcSec) {
      await dropTmp();
      return { kind: "failed", reason: `copy check failed (size ${t.size} vs ${e.size}, mtime ${sec(t.mtimeMs)} vs ${srcSec})` };
    }
    // The target may have changed while we copied (another host, a user): look again.
    const now = await lstatOrNull(dst);
    if (now) {
      const v = targetVerdict(now, srcSec);
      if (v) {
        await dropTmp();
        return v;
      }
    }
    await fsp.rename(tmp, dst);
    tmpExists = false;
    if (ctx.fsync) await fsyncDir(path.dirname(dst));
    return { kind: "copied", tsec: sec(t.mtimeMs), tsize: t.size, bytes: t.blocks * 512 };
  } catch (err) {
    await dropTmp();
    if (err instanceof TargetUnreachable) throw err;
    checkUnreachable(err);
    return { kind: "failed", reason: errText(err) };
  }
}

async function fsyncDir(dir: string): Promise<void> {
  try {
    await fsyncPath(dir);
  } catch (e) {
    checkUnreachable(e);
    // some filesystems refuse fsync on a directory: best effort
  }
}

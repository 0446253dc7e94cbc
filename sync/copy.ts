import type * as childProcess from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { Semaphore } from "./pool";
import { tmpName } from "./names";
import { UNREACHABLE } from "./mount";
import type { FileEntry } from "./walk";
import { AlignedBuffers, copyDirect, DirectUnsupported, extentMaps, mapCoversAllocation } from "./direct";

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
  direct: DirectCopies | null; // copies with direct I/O (sync/direct.ts); null: cp only
  journal: (tmpPaths: string) => void; // records temporary paths (one per line) before they are created
  linkDir: () => string; // a new empty private directory on local tmpfs, for a batch's symlinks
  mark: (what: string) => void; // phase timings (GLUSTERMESH_SYNC_TIMING=1)
  dirs: Map<string, Promise<void>>; // target dirs known to exist / being created
  renamedIn: Set<string>; // target dirs with renames not yet fsync'ed
}

export interface DirectCopies {
  buffers: AlignedBuffers; // as many as copies at once
  off: string; // why direct I/O was turned off for the rest of the pass ("" while on)
}

// Make the renames durable: fsync every directory that got one, before
// the state file records them. Until then a crash can only lose renames, never data: the
// target keeps its old complete version and the file is copied again.
export async function syncRenames(ctx: CopyContext): Promise<void> {
  const dirs = [...ctx.renamedIn];
  ctx.renamedIn.clear();
  await syncDirs(dirs);
}

async function syncDirs(dirs: string[]): Promise<void> {
  await Promise.all(dirs.map((d) => fsyncDir(d)));
}

export const sec = (ms: number) => Math.floor(ms / 1000);

function errText(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  return err && err.message ? err.message : String(e);
}

// The error as TargetUnreachable when it means the target is gone or cannot take writes.
function asUnreachable(e: unknown): TargetUnreachable | undefined {
  const code = (e as NodeJS.ErrnoException)?.code;
  if (!code || !UNREACHABLE.has(code)) return undefined;
  const text = errText(e);
  return new TargetUnreachable(text.startsWith(`${code}: `) ? text : `${code}: ${text}`);
}

function checkUnreachable(e: unknown): void {
  const u = asUnreachable(e);
  if (u) throw u;
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

// Loaded on first use: a pass with nothing to copy (the usual one) never pays for it.
let cpModule: typeof childProcess | undefined;

function runCp(args: string[], cwd?: string): Promise<{ code: number | null; stderr: string }> {
  cpModule ??= require("node:child_process") as typeof childProcess;
  const { spawn } = cpModule;
  return new Promise((resolve) => {
    const child = spawn("cp", args, { cwd, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr!.setEncoding("utf8");
    child.stderr!.on("data", (d: string) => {
      if (stderr.length < 4000) stderr += d;
    });
    child.on("error", (e) => resolve({ code: -1, stderr: `cannot run cp: ${e.message}` }));
    child.on("close", (code) => resolve({ code, stderr }));
  });
}

// fsync `p`; returns its stat, taken on the same open file (one lookup less than an lstat).
async function fsyncPath(p: string): Promise<fs.Stats>;
async function fsyncPath(p: string, stat: false): Promise<void>;
async function fsyncPath(p: string, stat = true): Promise<fs.Stats | void> {
  const fh = await fsp.open(p, "r");
  try {
    await fh.sync();
    if (stat) return await fh.stat();
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

// Look at the target: does `e` need copying? null = yes (target missing or older).
export async function checkTarget(ctx: CopyContext, e: FileEntry): Promise<CopyOutcome | null> {
  try {
    const before = await lstatOrNull(path.join(ctx.target, e.rel));
    if (!before) return ctx.dryRun ? { kind: "wouldCopy", why: "missing" } : null;
    const v = targetVerdict(before, sec(e.mtimeMs));
    if (v) return v;
    return ctx.dryRun ? { kind: "wouldCopy", why: "newer" } : null;
  } catch (err) {
    checkUnreachable(err);
    return { kind: "failed", reason: `cannot stat target: ${errText(err)}` };
  }
}

// Install a finished copy `tmp` of `e`: make it durable, check that the source did not change
// while it was copied and that the target is still older, then rename it over the target.
// Removes `tmp` whenever it is not installed.
// `synced`: the copy's stat if the caller fsync'ed it already.
async function install(ctx: CopyContext, e: FileEntry, tmp: string, synced?: fs.Stats, renamedIn = ctx.renamedIn): Promise<CopyOutcome> {
  const srcSec = sec(e.mtimeMs);
  const dst = path.join(ctx.target, e.rel);
  let installed = false;
  try {
    const t = synced ?? (ctx.fsync ? await fsyncPath(tmp) : await fsp.lstat(tmp));
    const after = await lstatOrNull(path.join(ctx.source, e.rel));
    if (!after || after.size !== e.size || after.mtimeMs !== e.mtimeMs) return { kind: "changed" };
    if (t.size !== e.size || sec(t.mtimeMs) !== srcSec) {
      return { kind: "failed", reason: `copy check failed (size ${t.size} vs ${e.size}, mtime ${sec(t.mtimeMs)} vs ${srcSec})` };
    }
    // The target may have changed while we copied (another host, a user): look again.
    const now = await lstatOrNull(dst);
    if (now) {
      const v = targetVerdict(now, srcSec);
      if (v) return v;
    } else await ensureDir(ctx, path.posix.dirname(e.rel));
    await fsp.rename(tmp, dst);
    installed = true;
    if (ctx.fsync) renamedIn.add(path.dirname(dst)); // fsync'ed by the batch or syncRenames()
    return { kind: "copied", tsec: sec(t.mtimeMs), tsize: t.size, bytes: t.blocks * 512 };
  } catch (err) {
    if (err instanceof TargetUnreachable) throw err;
    checkUnreachable(err);
    return { kind: "failed", reason: errText(err) };
  } finally {
    if (!installed) await fsp.rm(tmp, { force: true }).catch(() => undefined);
  }
}

function cpError(r: { code: number | null; stderr: string }): string {
  const msg = r.stderr.trim().split("\n")[0]?.replace(/^cp: /, "") || `cp exited with code ${r.code}`;
  if (/Transport endpoint is not connected|Stale file handle|No space left on device|Disk quota exceeded|Read-only file system/.test(msg)) throw new TargetUnreachable(msg);
  return msg;
}

// Copy one file to a temporary name next to the final one (`.<name>.glustermesh-tmp-...`),
// with GNU cp, which skips holes with SEEK_DATA/SEEK_HOLE. Throws TargetUnreachable only.
// `--sparse=always`, not `auto`: cp makes a hole by seeking past it, and on XFS (the bricks)
// the speculative preallocation beyond the old end of file then stays inside the file. Through
// gluster to XFS bricks, `auto` allocated 1.8x the source (75 MB for 41 MB, 2026-11-25);
// `always` punches the holes explicitly, which frees it: allocation equal to the source.
export async function copyOne(ctx: CopyContext, e: FileEntry): Promise<CopyOutcome> {
  const dst = path.join(ctx.target, e.rel);
  try {
    await ensureDir(ctx, path.posix.dirname(e.rel));
  } catch (err) {
    checkUnreachable(err);
    return { kind: "failed", reason: `cannot create target directory: ${errText(err)}` };
  }
  const tmp = path.join(path.dirname(dst), tmpName(path.basename(dst)));
  ctx.journal(tmp);
  const r = await ctx.cpSlots.run(() => runCp(["--sparse=always", `--preserve=${ctx.preserve}`, "--", path.join(ctx.source, e.rel), tmp]));
  if (r.code !== 0) {
    await fsp.rm(tmp, { force: true }).catch(() => undefined);
    return { kind: "failed", reason: cpError(r) };
  }
  return install(ctx, e, tmp);
}

// Copy several files with one cp process, each straight to its temporary name next to its
// final one, then install each one. Starting a process costs about 2 ms here, as much as
// copying a 2 MB image: batching halves the CPU spent per file. cp names each copy after its
// source operand, so the operands are symbolic links in a private directory on the local
// tmpfs (from `ctx.linkDir()`), laid out as the target: `<dir>/.<name>.glustermesh-tmp-...` ->
// `SOURCE/<dir>/<name>`, copied with `cp -L --parents` into TARGET. No staging directory on
// TARGET: no extra directories to create, and every rename stays inside one directory (on
// gluster: the temporary name hashes like the final one, so no DHT link file).
// Files the batch did not copy cleanly are retried one by one, which reports the reason.
// With direct I/O on, the batch goes to copyBatchDirect() first, and cp gets what it leaves.
export async function copyBatch(ctx: CopyContext, batch: FileEntry[]): Promise<Map<FileEntry, CopyOutcome>> {
  const out = new Map<FileEntry, CopyOutcome>();
  const files = ctx.direct && !ctx.direct.off && !ctx.dryRun ? await copyBatchDirect(ctx, batch, out) : batch;
  if (files.length === 0) return out;
  if (files.length === 1) {
    out.set(files[0], await copyOne(ctx, files[0]));
    return out;
  }
  const retry: FileEntry[] = [];
  let staged = new Map<FileEntry, string>(); // file -> relative temporary name
  let links = "";
  try {
    staged = await stage(ctx, files, out);
    if (staged.size === 0) return out;
    links = ctx.linkDir();
    for (const [f, tmpRel] of staged) {
      fs.mkdirSync(path.join(links, path.posix.dirname(tmpRel)), { recursive: true });
      fs.symlinkSync(path.join(ctx.source, f.rel), path.join(links, tmpRel));
    }
    ctx.journal([...staged.values()].map((t) => path.join(ctx.target, t)).join("\n"));
    const tag = `batch ${path.basename(links)} (${staged.size} files)`;
    ctx.mark(`${tag}: linked`);
    const r = await ctx.cpSlots.run(() =>
      runCp(["-L", "--sparse=always", `--preserve=${ctx.preserve}`, "--parents", "--", ...staged.values(), ctx.target], links),
    );
    if (r.code !== 0) {
      await Promise.all([...staged.values()].map((t) => fsp.rm(path.join(ctx.target, t), { force: true }).catch(() => undefined)));
      cpError(r); // throws if the target went away
      retry.push(...staged.keys()); // one by one, for a clear reason per file
      staged.clear();
      return out;
    }
    ctx.mark(`${tag}: copied`);
    // fsync all copies at once (the thread pool runs 16 at a time; the filesystem commits them
    // together); a copy whose fsync failed is fsync'ed again by install(), which reports why.
    const tmps = [...staged.values()].map((t) => path.join(ctx.target, t));
    const synced = ctx.fsync ? await Promise.all(tmps.map((t) => fsyncPath(t).catch(() => undefined))) : tmps.map(() => undefined);
    ctx.mark(`${tag}: fsynced`);
    const renamedIn = new Set<string>();
    await Promise.all(
      [...staged].map(async ([f, tmpRel], i) => {
        out.set(f, await install(ctx, f, path.join(ctx.target, tmpRel), synced[i], renamedIn));
        staged.delete(f);
      }),
    );
    // The renames are durable before the batch reports them (while other batches copy).
    ctx.mark(`${tag}: renamed`);
    await syncDirs([...renamedIn]);
    ctx.mark(`${tag}: directories fsynced`);
  } catch (err) {
    if (err instanceof TargetUnreachable) throw err;
    for (const f of files) if (!out.has(f) && !retry.includes(f)) retry.push(f);
  } finally {
    if (links) fs.rmSync(links, { recursive: true, force: true });
    // install() removes what it does not rename; these were never handed to it
    await Promise.all([...staged.values()].map((t) => fsp.rm(path.join(ctx.target, t), { force: true }).catch(() => undefined)));
    for (const f of retry) out.set(f, await copyOne(ctx, f));
  }
  return out;
}

// Copy a batch with direct I/O (sync/direct.ts): one `filefrag` process maps the batch's
// sources, then each file is copied to its temporary name, fsync'ed and installed, as many at
// once as there are aligned buffers. Returns the files left for cp: no usable extent map, or
// direct I/O refused by the target (then it stays off for the rest of the pass).
async function copyBatchDirect(ctx: CopyContext, files: FileEntry[], out: Map<FileEntry, CopyOutcome>): Promise<FileEntry[]> {
  const d = ctx.direct!;
  const rest: FileEntry[] = [];
  const staged = await stage(ctx, files, out);
  if (staged.size === 0) return rest;
  let maps;
  try {
    maps = await extentMaps([...staged.keys()].map((f) => path.join(ctx.source, f.rel)));
  } catch (err) {
    d.off ||= `cannot run filefrag: ${errText(err)}`;
    return [...staged.keys()];
  }
  const tag = `direct batch of ${staged.size}`;
  ctx.mark(`${tag}: mapped`);
  const todo = [...staged].filter(([f]) => {
    const map = maps.get(path.join(ctx.source, f.rel));
    if (map && mapCoversAllocation(map, f.blocks * 512)) return true;
    rest.push(f);
    return false;
  });
  if (todo.length === 0) return rest;
  ctx.journal(todo.map(([, tmp]) => path.join(ctx.target, tmp)).join("\n"));
  const renamedIn = new Set<string>();
  const chown = ctx.preserve.includes("ownership");
  let lost: TargetUnreachable | undefined;
  await Promise.all(
    todo.map(async ([f, tmpRel]) => {
      const src = path.join(ctx.source, f.rel);
      const tmp = path.join(ctx.target, tmpRel);
      let st: fs.Stats;
      try {
        st = await d.buffers.with((buf) => {
          if (lost || d.off) throw new DirectUnsupported(d.off); // decided while this one waited
          return copyDirect(src, tmp, maps.get(src)!, buf, { chown, fsync: ctx.fsync });
        });
      } catch (err) {
        await fsp.rm(tmp, { force: true }).catch(() => undefined);
        if (err instanceof DirectUnsupported) {
          d.off ||= err.message;
          if (!lost) rest.push(f);
          return;
        }
        const u = asUnreachable(err);
        if (u) lost ??= u;
        else out.set(f, { kind: "failed", reason: errText(err) });
        return;
      }
      try {
        out.set(f, await install(ctx, f, tmp, st, renamedIn));
      } catch (e) {
        lost ??= e as TargetUnreachable; // install() throws nothing else
      }
    }),
  );
  ctx.mark(`${tag}: copied and renamed`);
  await syncDirs([...renamedIn]);
  ctx.mark(`${tag}: directories fsynced`);
  if (lost) throw lost;
  return rest;
}

// Make the target directories of `files` and give each a temporary name beside its final one
// (relative to TARGET); a file whose directory cannot be made is recorded as failed in `out`.
async function stage(ctx: CopyContext, files: FileEntry[], out: Map<FileEntry, CopyOutcome>): Promise<Map<FileEntry, string>> {
  const staged = new Map<FileEntry, string>();
  await Promise.all(
    files.map(async (f) => {
      try {
        await ensureDir(ctx, path.posix.dirname(f.rel));
        staged.set(f, path.posix.join(path.posix.dirname(f.rel), tmpName(path.posix.basename(f.rel))));
      } catch (err) {
        checkUnreachable(err);
        out.set(f, { kind: "failed", reason: `cannot create target directory: ${errText(err)}` });
      }
    }),
  );
  return staged;
}

async function fsyncDir(dir: string): Promise<void> {
  try {
    await fsyncPath(dir, false);
  } catch (e) {
    checkUnreachable(e);
    // some filesystems refuse fsync on a directory: best effort
  }
}

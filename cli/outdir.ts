// The folder `glustermesh render --out DIR` writes, and the only things it ever removes there.
// DIR must be new, empty, or made by an earlier render: that one holds a marker file listing
// every folder and file render wrote, and a re-run removes only those (files unlinked, folders
// removed only when empty), then writes anew. A path render would write that is there but not
// listed is in the way, and stops it. Every failure is an OutputError: one line naming the path
// and the cause. Folders are made one at a time: Node's recursive mkdir loops forever, in native
// code that no signal handler can interrupt, where mkdir fails with ENOENT under a parent that
// exists (`--out /proc/x` spun at full CPU and ignored SIGTERM).
import * as fs from "node:fs";
import * as path from "node:path";

export const MARKER = ".glustermesh-render";
const HEADER = "# glustermesh render: made by `glustermesh render`; a re-run removes only the paths listed below (JSON strings; folders end in /), then writes anew";

/** A problem with the output folder, already worded for the user. */
export class OutputError extends Error {
  override name = "OutputError";
}

export interface OutFile {
  /** Path inside the output folder, `/`-separated, normalised. */
  rel: string;
  content: string;
  mode: number;
}

/** Write `files` into `outDir` as the header of this file says. */
export function writeOutput(outDir: string, files: readonly OutFile[]): void {
  const prior = claim(outDir);
  const entries = entriesOf(files);
  checkNotInTheWay(outDir, entries, new Set(prior));
  removeListed(outDir, prior);
  const planned = new Set(entries);
  const kept = prior.filter((e) => !planned.has(e) && lstatOrMissing(at(outDir, e)));
  // Listed before anything is written: a run that fails half-way leaves a folder the next run can clean.
  writeMarker(outDir, [...kept, ...entries]);
  const byRel = new Map(files.map((f) => [f.rel, f]));
  for (const e of entries) {
    const p = at(outDir, e);
    const f = byRel.get(e);
    if (!f) makeFolderIn(p);
    else attempt("write", p, () => fs.writeFileSync(p, f.content, { mode: f.mode, flag: "wx" }));
  }
}

/** Make `outDir` or check that render may use it; returns what an earlier render listed. */
function claim(outDir: string): string[] {
  const st = statOrMissing(outDir);
  if (!st) {
    makeFolders(outDir);
    return [];
  }
  if (!st.isDirectory()) throw new OutputError(`cannot render into ${outDir}: it is a file, not a folder`);
  const marker = path.join(outDir, MARKER);
  if (lstatOrMissing(marker)) return readMarker(marker);
  const names = attempt("read", outDir, () => fs.readdirSync(outDir)).filter((n) => n !== `${MARKER}.new`);
  if (names.length > 0) {
    throw new OutputError(
      `${outDir} holds files that render did not write (it has no ${MARKER}), so nothing was changed there: ` +
        `give --out a new or empty folder, or one an earlier render made`,
    );
  }
  return [];
}

function readMarker(marker: string): string[] {
  const st = attempt("read", marker, () => fs.lstatSync(marker));
  const bad = (why: string) =>
    new OutputError(`${marker} is not a list render wrote (${why}), so nothing was changed: remove the folder yourself, or give --out another folder`);
  if (!st.isFile()) throw bad("not a file");
  const lines = attempt("read", marker, () => fs.readFileSync(marker, "utf8")).split("\n").filter((l) => l !== "");
  if (lines[0] !== HEADER) throw bad("its first line is not render's");
  return lines.slice(1).map((line, i) => {
    let rel: unknown;
    try {
      rel = JSON.parse(line);
    } catch {
      rel = undefined;
    }
    if (typeof rel !== "string" || !isSafeRel(rel)) throw bad(`line ${i + 2}`);
    return rel;
  });
}

function writeMarker(outDir: string, entries: readonly string[]): void {
  const marker = path.join(outDir, MARKER);
  const tmp = `${marker}.new`;
  const text = [HEADER, ...entries.map((e) => JSON.stringify(e))].join("\n") + "\n";
  attempt("write", tmp, () => fs.writeFileSync(tmp, text, { mode: 0o644 }));
  attempt("write", marker, () => fs.renameSync(tmp, marker));
}

/** Remove what the marker lists: files, then folders that are empty; never through a link. */
function removeListed(outDir: string, prior: readonly string[]): void {
  for (const e of [...prior].reverse()) {
    const p = at(outDir, e);
    if (!realFoldersUpTo(outDir, path.dirname(p))) continue;
    try {
      if (e.endsWith("/")) fs.rmdirSync(p);
      else if (!fs.lstatSync(p).isDirectory()) fs.unlinkSync(p);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== "ENOENT" && code !== "ENOTEMPTY" && code !== "EEXIST" && code !== "ENOTDIR") throw new OutputError(`cannot remove ${p}: ${cause(err)}`);
    }
  }
}

/** Every folder and file to write, parents first (`a/`, `a/b/`, `a/b/f`). */
function entriesOf(files: readonly OutFile[]): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const f of files) {
    if (!isSafeRel(f.rel) || f.rel.endsWith("/")) throw new Error(`render: not a path inside the output folder: ${JSON.stringify(f.rel)}`);
    const parts = f.rel.split("/");
    for (let i = 1; i <= parts.length; i++) {
      const e = parts.slice(0, i).join("/") + (i < parts.length ? "/" : "");
      if (seen.has(e)) {
        if (i === parts.length) throw new Error(`render: two files at ${f.rel}`);
        continue;
      }
      seen.add(e);
      out.push(e);
    }
  }
  return out;
}

/** Stop before any change if a path to write is there and is not render's. */
function checkNotInTheWay(outDir: string, entries: readonly string[], prior: ReadonlySet<string>): void {
  for (const e of entries) {
    const p = at(outDir, e);
    const st = lstatOrMissing(p);
    const ours = e.endsWith("/") ? st?.isDirectory() : prior.has(e) && !st?.isDirectory();
    if (st && !ours) throw new OutputError(`${p} is in the way: render did not write it (move it away, or give --out another folder); nothing was changed`);
  }
}

/** Where entry `e` is (without a folder's trailing /: lstat follows a link before one). */
function at(outDir: string, e: string): string {
  return path.join(outDir, e.endsWith("/") ? e.slice(0, -1) : e);
}

/** A relative path that stays inside the folder: no `..`, `.`, empty parts, or leading `/`. */
function isSafeRel(rel: string): boolean {
  const parts = (rel.endsWith("/") ? rel.slice(0, -1) : rel).split("/");
  return !rel.includes("\0") && parts.every((p) => p !== "" && p !== "." && p !== "..");
}

/** Whether every folder from `outDir` down to `dir` is a real folder (not a link). */
function realFoldersUpTo(outDir: string, dir: string): boolean {
  for (let d = dir; d.length > outDir.length; d = path.dirname(d)) {
    if (!lstatOrMissing(d)?.isDirectory()) return false;
  }
  return true;
}

/** `mkdir -p` for the user's path, one folder at a time (see the header). */
function makeFolders(dir: string): void {
  const missing: string[] = [];
  for (let d = dir; ; d = path.dirname(d)) {
    const st = statOrMissing(d);
    if (st?.isDirectory()) break;
    if (st) throw new OutputError(`cannot make ${dir}: ${d} is a file, not a folder`);
    missing.push(d);
    if (path.dirname(d) === d) break;
  }
  for (const d of missing.reverse()) makeFolderIn(d);
}

function makeFolderIn(p: string): void {
  try {
    fs.mkdirSync(p);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EEXIST" && lstatOrMissing(p)?.isDirectory()) return;
    // ENOENT under a parent that exists: a file system that takes no new folders (/proc, /sys)
    if (code === "ENOENT" && lstatOrMissing(path.dirname(p))) throw new OutputError(`cannot make folder ${p}: the file system there takes no new folders (ENOENT)`);
    throw new OutputError(`cannot make folder ${p}: ${cause(err)}`);
  }
}

/** stat or lstat; undefined when the path is not there. */
function statOrMissing(p: string, follow = true): fs.Stats | undefined {
  try {
    return follow ? fs.statSync(p) : fs.lstatSync(p);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return undefined;
    throw new OutputError(`cannot use ${p}: ${cause(err)}`);
  }
}

/** Inside the folder links are never followed; the user's own path (--out) may be one. */
const lstatOrMissing = (p: string) => statOrMissing(p, false);

/** Run one file operation; a system error becomes an OutputError naming the path. */
function attempt<T>(what: string, p: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof OutputError || (err as NodeJS.ErrnoException).code === undefined) throw err;
    throw new OutputError(`cannot ${what} ${p}: ${cause(err)}`);
  }
}

/** "no space left on device (ENOSPC)" from Node's "ENOSPC: no space left on device, write". */
export function cause(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const text = /^[A-Z0-9_]+: ([^,]+)/.exec(e?.message ?? "")?.[1] ?? e?.message ?? String(err);
  return e?.code ? `${text} (${e.code})` : text;
}

import type * as cryptoModule from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import type { DirListing } from "./walk";

export const DEFAULT_STATE_DIR = "/var/lib/glustermesh/sync";

// What a pass knows about a file it synced: [source mtime s, source size, target mtime s, target size].
export type StateEntry = [number, number, number, number];

export interface State {
  version: 1;
  source: string;
  target: string;
  files: Record<string, StateEntry>;
  // SOURCE directory listings (see walk.ts), checked entry by entry when used.
  dirs?: Record<string, DirListing>;
}

export function defaultStateFile(source: string, target: string): string {
  // loaded here only: the timers pass --state, and loading crypto is 3 ms of a pass's start-up
  const crypto = require("node:crypto") as typeof cryptoModule;
  const h = crypto.createHash("sha256").update(`${source}\0${target}`).digest("hex").slice(0, 16);
  return path.join(DEFAULT_STATE_DIR, `${h}.json`);
}

export function emptyState(source: string, target: string): State {
  return { version: 1, source, target, files: Object.create(null) };
}

// A missing state is an empty one. A state for another SOURCE/TARGET pair, or a damaged
// one, is ignored (the state only ever lets a pass skip work, so ignoring it is always safe).
export function loadState(file: string, source: string, target: string): { state: State; warning?: string } {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === "ENOENT") return { state: emptyState(source, target) };
    return { state: emptyState(source, target), warning: `cannot read state file ${file}: ${err.message}; checking every file` };
  }
  try {
    const s = JSON.parse(text) as State;
    if (s.version !== 1 || typeof s.files !== "object" || s.files === null) throw new Error("unknown format");
    if (s.source !== source || s.target !== target) {
      return { state: emptyState(source, target), warning: `state file ${file} belongs to ${s.source} -> ${s.target}; ignoring it` };
    }
    Object.setPrototypeOf(s.files, null);
    if (typeof s.dirs !== "object" || s.dirs === null || Array.isArray(s.dirs)) s.dirs = Object.create(null);
    else Object.setPrototypeOf(s.dirs, null);
    return { state: s };
  } catch (e) {
    return { state: emptyState(source, target), warning: `state file ${file} is damaged (${(e as Error).message}); checking every file` };
  }
}

// The temporary name saveState writes first. One name: only the holder of the lock writes
// it, and a pass killed while writing leaves it for the next pass to remove.
export const stateTmp = (file: string) => `${file}.tmp`;

// Atomic and durable: write a temporary file, fsync, rename, fsync the directory.
export function saveState(file: string, state: State): void {
  const dir = path.dirname(file);
  fs.mkdirSync(dir, { recursive: true });
  const tmp = stateTmp(file);
  const fd = fs.openSync(tmp, "w", 0o644);
  try {
    fs.writeSync(fd, JSON.stringify(state));
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
  fsyncDirSync(dir);
}

export function fsyncDirSync(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, "r");
    fs.fsyncSync(fd);
  } catch {
    // best effort: some filesystems refuse fsync on directories
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

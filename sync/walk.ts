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
}

function kindOf(d: fs.Dirent | fs.Stats): string {
  if (d.isSymbolicLink()) return "symlink";
  if (d.isSocket()) return "socket";
  if (d.isFIFO()) return "fifo";
  if (d.isBlockDevice()) return "block device";
  if (d.isCharacterDevice()) return "character device";
  return "unknown entry";
}

// Walk `root` with readdir + lstat (callback API: cheapest per call), at most `limit`
// filesystem calls in flight. Symlinks and special files are reported, never followed.
export function walk(root: string, limit: number): Promise<WalkResult> {
  const res: WalkResult = { files: [], issues: [], skippedLinkFiles: 0, skippedInternal: 0 };
  return new Promise((resolve) => {
    let active = 0;
    const queue: (() => void)[] = [];
    const schedule = (job: () => void) => {
      queue.push(job);
      pump();
    };
    const pump = () => {
      while (active < limit && queue.length > 0) {
        active++;
        queue.pop()!();
      }
      if (active === 0 && queue.length === 0) resolve(res);
    };
    const done = () => {
      active--;
      pump();
    };
    const join = (dir: string, name: string) => (dir === "" ? name : dir + "/" + name);

    const statFile = (rel: string) =>
      schedule(() =>
        fs.lstat(path.join(root, rel), (err, st) => {
          if (err) res.issues.push({ rel, reason: err.code ? `${err.code}: ${err.message}` : String(err), fatal: err.code !== "ENOENT" });
          else if (st.isFile()) {
            if (isDhtLinkMode(st.mode)) res.skippedLinkFiles++;
            else res.files.push({ rel, size: st.size, blocks: st.blocks, mtimeMs: st.mtimeMs, mode: st.mode & 0o7777 });
          } else if (st.isDirectory()) readDir(rel);
          else res.issues.push({ rel, reason: `${kindOf(st)} not copied`, fatal: false });
          done();
        }),
      );

    const readDir = (rel: string) => {
      schedule(() =>
        fs.readdir(rel === "" ? root : path.join(root, rel), { withFileTypes: true }, (err, ents) => {
          if (err) {
            res.issues.push({ rel: rel || ".", reason: `cannot read directory: ${err.code ?? ""} ${err.message}`.trim(), fatal: true });
          } else {
            for (const d of ents) {
              const name = d.name;
              const r = join(rel, name);
              if (d.isDirectory()) {
                if (SKIP_DIRS.has(name) || isOurTmpDir(name)) {
                  res.skippedInternal++;
                  continue;
                }
                readDir(r);
              } else if (d.isFile()) {
                if (isOurTmp(name)) {
                  res.skippedInternal++;
                  continue;
                }
                statFile(r);
              } else if (d.isSymbolicLink() || d.isSocket() || d.isFIFO() || d.isBlockDevice() || d.isCharacterDevice()) {
                res.issues.push({ rel: r, reason: `${kindOf(d)} not copied`, fatal: false });
              } else {
                if (SKIP_DIRS.has(name) || isOurTmp(name) || isOurTmpDir(name)) {
                  res.skippedInternal++;
                  continue;
                }
                statFile(r); // DT_UNKNOWN: lstat decides
              }
            }
          }
          done();
        }),
      );
    };

    readDir("");
  });
}

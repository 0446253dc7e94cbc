import type * as childProcess from "node:child_process";
import * as fs from "node:fs";

// Direct-I/O copies: the data is read from the source's page cache and written with O_DIRECT
// from page-aligned memory, so it goes from our buffer to the disk (or to the FUSE daemon)
// without passing through the target's page cache. Measured 2026-11-26: writing 4.2 GB into
// fresh page cache costs cp most of its time here (`perf`: 51% in copy_folio_from_iter_atomic),
// and through the lab's gluster FUSE mount direct writes took 0.84x the time of cp + fsync.
//
// Node has no lseek(SEEK_DATA), so where the data is comes from the extent map (FIEMAP, via
// `filefrag -s`, which flushes the file first so the map is complete). An extent only says
// where data may be: each 4 KiB block read is checked, and blocks of zeros are left as holes,
// as `cp --sparse=always` does (unwritten and zero-filled extents allocate nothing).

export const BLOCK = 4096; // write granularity and alignment: offsets, lengths and memory
export const CHUNK = 1024 * 1024; // bytes read and written per call

export interface ExtentMap {
  size: number;
  ranges: [number, number][]; // [start, end) byte ranges that may hold data, aligned to BLOCK, sorted, disjoint
}

// Byte ranges from `filefrag -e -b1`, widened to whole BLOCKs (cut at the file's last block),
// sorted and merged.
function widen(raw: [number, number][], size: number): [number, number][] {
  const limit = Math.ceil(size / BLOCK) * BLOCK;
  const out: [number, number][] = [];
  for (const [a, b] of raw.sort((x, y) => x[0] - y[0])) {
    const s = Math.floor(a / BLOCK) * BLOCK;
    const e = Math.min(Math.ceil(b / BLOCK) * BLOCK, limit);
    if (e <= s) continue;
    const last = out[out.length - 1];
    if (last && s <= last[1]) last[1] = Math.max(last[1], e);
    else out.push([s, e]);
  }
  return out;
}

// Parse the output of `filefrag -e -b1 -- files...`. A file gets a map only if its whole
// section was read: the header names it exactly, every extent line parses, and the closing
// "<name>: N extent(s) found" follows (N counts physically discontiguous runs, not lines).
// Anything else (an error for that file, an output format we do not know) leaves it out, and
// it is copied with cp instead.
export function parseFilefrag(out: string, files: readonly string[]): Map<string, ExtentMap> {
  const maps = new Map<string, ExtentMap>();
  const lines = out.split("\n");
  let i = 0;
  for (const name of files) {
    const head = `File size of ${name} is `;
    let j = i;
    while (j < lines.length && !lines[j].startsWith(head)) j++;
    if (j === lines.length) continue; // no section for this file: filefrag failed on it
    const m = /^(\d+) \(\d+ blocks? of 1 bytes?\)$/.exec(lines[j].slice(head.length));
    i = j + 1;
    if (!m) continue;
    const size = Number(m[1]);
    const raw: [number, number][] = [];
    let ok = true;
    let k = i;
    if (k < lines.length && /^ ext:\s+logical_offset:/.test(lines[k])) k++;
    for (; k < lines.length; k++) {
      const ext = /^\s*\d+:\s*(\d+)\.\.\s*(\d+):/.exec(lines[k]);
      if (!ext) break;
      const a = Number(ext[1]);
      const b = Number(ext[2]) + 1;
      if (!(b > a)) ok = false;
      raw.push([a, b]);
    }
    const tail = /^(\d+) extents? found$/.exec(k < lines.length && lines[k].startsWith(`${name}: `) ? lines[k].slice(name.length + 2) : "");
    if (!tail) ok = false;
    else i = k + 1;
    if (ok && Number.isSafeInteger(size)) maps.set(name, { size, ranges: widen(raw, size) });
  }
  return maps;
}

let cpModule: typeof childProcess | undefined;
let filefragPath: string | undefined;

// filefrag lives in /usr/sbin, which a user's PATH may not hold. GLUSTERMESH_SYNC_FILEFRAG
// names another one (tests use it to prove the fallback to cp).
function filefrag(): string {
  if (process.env.GLUSTERMESH_SYNC_FILEFRAG) return process.env.GLUSTERMESH_SYNC_FILEFRAG;
  if (filefragPath === undefined) {
    const dirs = [...(process.env.PATH ?? "").split(":").filter((d) => d.startsWith("/")), "/usr/sbin", "/sbin"];
    filefragPath = "filefrag"; // not found: spawn reports ENOENT
    for (const d of dirs) {
      try {
        fs.accessSync(`${d}/filefrag`, fs.constants.X_OK);
        filefragPath = `${d}/filefrag`;
        break;
      } catch {
        // not here
      }
    }
  }
  return filefragPath;
}

// Extent maps of `files` (absolute paths), from one `filefrag` process. Names holding a
// control character are left out (its output is line-based). Rejects if filefrag cannot run.
export function extentMaps(files: readonly string[]): Promise<Map<string, ExtentMap>> {
  // eslint-disable-next-line no-control-regex
  const asked = files.filter((f) => !/[\x00-\x1f\x7f]/.test(f));
  if (asked.length === 0) return Promise.resolve(new Map());
  cpModule ??= require("node:child_process") as typeof childProcess;
  const { spawn } = cpModule;
  return new Promise((resolve, reject) => {
    const child = spawn(filefrag(), ["-s", "-e", "-b1", "--", ...asked], { stdio: ["ignore", "pipe", "ignore"] });
    let out = "";
    child.stdout!.setEncoding("utf8");
    child.stdout!.on("data", (d: string) => (out += d));
    child.on("error", reject);
    child.on("close", () => resolve(parseFilefrag(out, asked)));
  });
}

// Do the ranges account for the blocks the file has? A map that misses data would make a
// copy with holes where the data was: when the ranges cover less than the allocation (less
// a little for extent-tree blocks), the file is copied with cp instead.
export function mapCoversAllocation(map: ExtentMap, allocatedBytes: number): boolean {
  const covered = map.ranges.reduce((n, [a, b]) => n + (b - a), 0);
  return covered + Math.max(64 * 1024, allocatedBytes / 100) >= allocatedBytes;
}

// The one part of WebAssembly used here (the project's lib is ES2022 without the DOM's types).
declare const WebAssembly: { Memory: new (d: { initial: number; maximum?: number }) => { buffer: ArrayBuffer } };

// Page-aligned buffers of CHUNK bytes. A WebAssembly memory is mapped at a page boundary, which
// a Buffer is not (glibc puts a 16-byte header before large allocations): O_DIRECT needs
// aligned memory on local disks, and gluster's FUSE mount refused unaligned direct writes too.
export class AlignedBuffers {
  private free: Buffer[] = [];
  private waiters: ((b: Buffer) => void)[] = [];
  constructor(count: number) {
    const pages = Math.ceil((count * CHUNK) / 65536);
    const mem = Buffer.from(new WebAssembly.Memory({ initial: pages, maximum: pages }).buffer);
    for (let k = 0; k < count; k++) this.free.push(mem.subarray(k * CHUNK, (k + 1) * CHUNK));
  }
  async with<R>(fn: (b: Buffer) => Promise<R>): Promise<R> {
    const b = this.free.pop() ?? (await new Promise<Buffer>((r) => this.waiters.push(r)));
    try {
      return await fn(b);
    } finally {
      const w = this.waiters.shift();
      if (w) w(b);
      else this.free.push(b);
    }
  }
}

// Direct I/O is not possible on this target (or with this alignment): copy with cp instead.
export class DirectUnsupported extends Error {}

const ZERO = Buffer.alloc(BLOCK);

function isZeroBlock(buf: Buffer, off: number): boolean {
  // most data blocks differ from zero in their first or last byte: no native call for them
  if (buf[off] !== 0 || buf[off + BLOCK - 1] !== 0) return false;
  return buf.compare(ZERO, 0, BLOCK, off, off + BLOCK) === 0;
}

async function writeAll(fh: fs.promises.FileHandle, buf: Buffer, off: number, len: number, pos: number): Promise<void> {
  while (len > 0) {
    let n: number;
    try {
      n = (await fh.write(buf, off, len, pos)).bytesWritten;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "EINVAL") throw new DirectUnsupported(`direct write refused: ${(e as Error).message}`);
      throw e;
    }
    if (n <= 0 || n % BLOCK !== 0) throw new Error(`short direct write (${n} of ${len} bytes)`);
    off += n;
    pos += n;
    len -= n;
  }
}

export interface DirectCopyOptions {
  chown: boolean; // preserve owner and group (as root)
  fsync: boolean;
}

// Copy `src` (whose data lies in `map.ranges`) to the new file `tmp`, made with O_EXCL: data
// blocks that are not all zeros, then size, owner, mode and times; fsync'ed if asked. Returns
// the copy's stat. Throws DirectUnsupported when the target refuses direct I/O (and leaves
// `tmp` for the caller to remove), or the error of the first call that failed.
export async function copyDirect(src: string, tmp: string, map: ExtentMap, buf: Buffer, o: DirectCopyOptions): Promise<fs.Stats> {
  const fsp = fs.promises;
  const { O_WRONLY, O_CREAT, O_EXCL, O_DIRECT } = fs.constants;
  const sfh = await fsp.open(src, "r");
  try {
    let tfh: fs.promises.FileHandle;
    try {
      tfh = await fsp.open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_DIRECT, 0o600);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "EINVAL") throw new DirectUnsupported(`direct I/O refused: ${(e as Error).message}`);
      throw e;
    }
    try {
      // The final size first, so that every write lands inside the file: on XFS (the bricks,
      // behind gluster's FUSE mount) a write that extends a file gets speculative preallocation
      // beyond its end, which the next write further out leaves inside the file (lab: 3404 KiB
      // allocated for an image of 2056 KiB, 2026-11-26).
      await tfh.truncate(map.size);
      let end = map.size;
      for (const [a, b] of map.ranges) {
        for (let pos = a; pos < b; pos += CHUNK) {
          const len = Math.min(CHUNK, b - pos);
          const { bytesRead } = await sfh.read(buf, 0, len, pos);
          if (bytesRead < len) buf.fill(0, bytesRead, len); // end of file: the last block is padded, then truncated
          // write each run of blocks that are not all zeros
          let run = -1;
          for (let off = 0; off <= len; off += BLOCK) {
            const data = off < len && !isZeroBlock(buf, off);
            if (data && run < 0) run = off;
            else if (!data && run >= 0) {
              await writeAll(tfh, buf, run, off - run, pos + run);
              end = Math.max(end, pos + off);
              run = -1;
            }
          }
        }
      }
      if (end > map.size) await tfh.truncate(map.size); // the last block was written whole
      const st = await sfh.stat();
      if (o.chown) await tfh.chown(st.uid, st.gid);
      await tfh.chmod(st.mode & 0o7777); // after chown, which clears set-id bits
      await tfh.utimes(st.atimeMs / 1000, st.mtimeMs / 1000);
      if (o.fsync) await tfh.sync();
      return await tfh.stat();
    } finally {
      await tfh.close();
    }
  } finally {
    await sfh.close();
  }
}

// Shared helpers for the sync tests: real files under /tmp, no mocks.
import { spawnSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Writable } from "node:stream";
import { main } from "../../sync/main";

export const repo = path.resolve(__dirname, "../..");

const made: string[] = [];
process.on("exit", () => {
  for (const d of made) {
    try {
      fs.rmSync(d, { recursive: true, force: true });
    } catch {
      // best effort
    }
  }
});

// A fresh directory under /tmp, removed when the test process exits.
export function tmpdir(tag: string): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), `gm-sync-${tag}-`));
  made.push(d);
  return d;
}

export function write(file: string, data: string | Buffer, mtimeSec?: number, mode?: number): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, data);
  if (mode !== undefined) fs.chmodSync(file, mode);
  if (mtimeSec !== undefined) fs.utimesSync(file, mtimeSec, mtimeSec);
}

export function setMtime(file: string, sec: number): void {
  fs.utimesSync(file, sec, sec);
}

export function sha(file: string): string {
  return crypto.createHash("sha256").update(fs.readFileSync(file)).digest("hex");
}

// Every path under `dir` with type, size, mode, mtime and content hash: equal snapshots = untouched.
export function snapshot(dir: string): string {
  const out: string[] = [];
  const rec = (d: string) => {
    for (const n of fs.readdirSync(d).sort()) {
      const p = path.join(d, n);
      const st = fs.lstatSync(p);
      const base = `${path.relative(dir, p)} ${st.mode.toString(8)} ${st.mtimeMs}`;
      if (st.isDirectory()) {
        out.push(base);
        rec(p);
      } else if (st.isFile()) out.push(`${base} ${st.size} ${sha(p)}`);
      else out.push(`${base} other`);
    }
  };
  rec(dir);
  return out.join("\n");
}

export function allNames(dir: string): string[] {
  const out: string[] = [];
  const rec = (d: string) => {
    for (const n of fs.readdirSync(d)) {
      const p = path.join(d, n);
      out.push(path.relative(dir, p));
      if (fs.lstatSync(p).isDirectory()) rec(p);
    }
  };
  rec(dir);
  return out;
}

class Capture extends Writable {
  text = "";
  _write(chunk: Buffer | string, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
  summary: Record<string, number>;
}

// Run the tool in-process with captured output (not a terminal: the JSON line is printed).
export async function run(args: string[], opts: { tty?: boolean } = {}): Promise<Run> {
  const stdout = new Capture();
  const stderr = new Capture() as Capture & { isTTY?: boolean };
  if (opts.tty) stderr.isTTY = true;
  const code = await main(args, { stdout, stderr });
  const last = stdout.text.trim().split("\n").pop() ?? "";
  let summary: Record<string, number> = {};
  try {
    summary = JSON.parse(last);
  } catch {
    // no summary (usage error, lock, ...)
  }
  return { code, stdout: stdout.text, stderr: stderr.text, summary };
}

// A sparse image made like the original: dd seek to 1 GiB, then a few MB of random data.
export function makeImage(file: string, apparent = "1G", chunksMiB: number[] = [0, 100, 500, 900], chunkKiB = 1024): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const r = spawnSync("dd", ["if=/dev/zero", `of=${file}`, `seek=${apparent}`, "bs=1", "count=0"], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(r.stderr);
  const fd = fs.openSync(file, "r+");
  for (const off of chunksMiB) fs.writeSync(fd, crypto.randomBytes(chunkKiB * 1024), 0, chunkKiB * 1024, off * 1024 * 1024);
  fs.closeSync(fd);
}

export const allocated = (file: string) => fs.statSync(file).blocks * 512;

let bundlePath: string | undefined;
// Build the host bundle exactly like `npm run build:sync`, into a temporary file.
export function bundle(): string {
  if (bundlePath) return bundlePath;
  const out = path.join(tmpdir("bundle"), "glustermesh-sync.js");
  const r = spawnSync(path.join(repo, "node_modules/.bin/esbuild"), ["sync/main.ts", "--bundle", "--platform=node", "--target=node18", `--outfile=${out}`, "--log-level=warning"], {
    cwd: repo,
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(`esbuild failed: ${r.stderr}`);
  bundlePath = out;
  return out;
}

// Small process helpers for the lab: run a program without a shell, quote for a shell.
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  input?: string;
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

/** Run argv (no shell). Never rejects: a spawn error or timeout gives a non-zero code (124 on timeout). */
export function run(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(argv[0], argv.slice(1), {
      stdio: ["pipe", "pipe", "pipe"],
      env: opts.env ?? process.env,
    });
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    let done = false;
    const timer =
      opts.timeoutMs !== undefined
        ? setTimeout(() => {
            timedOut = true;
            child.kill("SIGKILL");
          }, opts.timeoutMs)
        : undefined;
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.stdin.on("error", () => undefined); // EPIPE when the program does not read its input
    child.stdin.end(opts.input ?? "");
    const finish = (code: number, extra = "") => {
      if (done) return;
      done = true;
      if (timer) clearTimeout(timer);
      resolve({ code, stdout, stderr: stderr + extra });
    };
    child.on("error", (e) => finish(127, `${argv[0]}: ${e.message}\n`));
    child.on("close", (code, signal) => {
      if (timedOut) finish(124, `\n[timed out after ${opts.timeoutMs} ms]\n`);
      else finish(code ?? (signal ? 128 : 1), signal ? `\n[killed by ${signal}]\n` : "");
    });
  });
}

/** Run argv and throw with its stderr when it fails. Returns stdout. */
export async function must(argv: string[], opts: RunOptions = {}): Promise<string> {
  const r = await run(argv, opts);
  if (r.code !== 0) {
    throw new Error(`command failed (rc=${r.code}): ${argv.map(q).join(" ")}\n${r.stderr.trim()}`);
  }
  return r.stdout;
}

/** Quote one word for a POSIX shell. */
export function q(s: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(s)) return s;
  return "'" + s.replace(/'/g, "'\\''") + "'";
}

/** Find a program in PATH or the usual sbin dirs; undefined when missing. */
export function which(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? "").split(":"), "/usr/local/sbin", "/usr/sbin", "/sbin", "/usr/bin", "/bin"];
  for (const d of dirs) {
    if (!d) continue;
    const p = path.join(d, name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return undefined;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

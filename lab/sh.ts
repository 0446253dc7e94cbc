// Small process helpers for the lab: run a program without a shell, quote for a shell.
import * as fs from "node:fs";
import * as path from "node:path";
import { runProgram } from "../cli/run";
import { shq } from "../render/shell";

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
export async function run(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
  const r = await runProgram(argv, opts);
  if (r.spawnError !== undefined) return { code: 127, stdout: "", stderr: `${argv[0]}: ${r.spawnError}\n` };
  if (r.timedOut) return { code: 124, stdout: r.stdout, stderr: `${r.stderr}\n[timed out after ${opts.timeoutMs} ms]\n` };
  return { code: r.code ?? (r.signal ? 128 : 1), stdout: r.stdout, stderr: r.stderr + (r.signal ? `\n[killed by ${r.signal}]\n` : "") };
}

/** Run argv and throw with its stderr when it fails. Returns stdout. */
export async function must(argv: string[], opts: RunOptions = {}): Promise<string> {
  const r = await run(argv, opts);
  if (r.code !== 0) {
    throw new Error(`command failed (rc=${r.code}): ${argv.map(q).join(" ")}\n${r.stderr.trim()}`);
  }
  return r.stdout;
}

/** Quote one word for a POSIX shell: the one quoting function of the rendered scripts. */
export const q = (s: string): string => shq(s);

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

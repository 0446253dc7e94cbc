// Run a program without a shell, with its input, a time limit and captured output: the one
// copy that drift (ssh) and the lab (its commands, the pulumi CLI) use.
import { spawn, type ChildProcess } from "node:child_process";

export interface RunOptions {
  /** Written to the program's stdin, which is then closed. */
  input?: string;
  /** After this long the program gets `killSignal`. */
  timeoutMs?: number;
  /** Default SIGKILL; SIGTERM for a program that must clean up (pulumi). */
  killSignal?: NodeJS.Signals;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export interface RunOutcome {
  /** The exit code; null when the program was killed by a signal or never started. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  /** Why the program could not be started (ENOENT...); it did not run. */
  spawnError?: string;
}

/** Never rejects: a program that cannot start or runs too long says so in the outcome. */
export function runProgram(argv: readonly string[], opts: RunOptions = {}): Promise<RunOutcome> {
  return new Promise((resolve) => {
    let child: ChildProcess;
    const base = { code: null, signal: null, stdout: "", stderr: "", timedOut: false };
    try {
      child = spawn(argv[0], argv.slice(1), { stdio: ["pipe", "pipe", "pipe"], env: opts.env ?? process.env, ...(opts.cwd ? { cwd: opts.cwd } : {}) });
    } catch (err) {
      resolve({ ...base, spawnError: err instanceof Error ? err.message : String(err) });
      return;
    }
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    let done = false;
    const timer =
      opts.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            child.kill(opts.killSignal ?? "SIGKILL");
          }, opts.timeoutMs);
    const finish = (r: RunOutcome) => {
      if (done) return;
      done = true;
      if (timer) clearTimeout(timer);
      resolve(r);
    };
    child.stdout!.on("data", (b: Buffer) => out.push(b));
    child.stderr!.on("data", (b: Buffer) => err.push(b));
    child.stdin!.on("error", () => undefined); // EPIPE when the program does not read its input
    child.on("error", (e) => finish({ ...base, spawnError: e.message }));
    child.on("close", (code, signal) => finish({ code, signal, stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8"), timedOut }));
    child.stdin!.end(opts.input ?? "");
  });
}

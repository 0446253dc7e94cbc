// Runs planCommand / driftCommand in a child process (their output goes to the process's own
// stdout and stderr, which the test runner also uses), returning exit code and output.
import { spawn } from "node:child_process";
import * as path from "node:path";

export function runCommand(which: "plan" | "drift", argv: string[], opts: { cwd?: string } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const mod = path.resolve(__dirname, "../../cli", which);
  const code = `require(${JSON.stringify(mod)}).${which}Command(process.argv.slice(1)).then((c) => process.exit(c), (e) => { console.error("THREW", e); process.exit(99); })`;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", "-e", code, "--", ...argv], { cwd: opts.cwd ?? path.resolve(__dirname, "../.."), stdio: ["ignore", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    child.on("close", (c) => resolve({ code: c ?? -1, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }));
  });
}

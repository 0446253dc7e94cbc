// Run a test scenario in a node process of its own (a Pulumi program's top level runs once per
// process) and collect everything it printed.
import { spawn } from "node:child_process";

export async function runChild(file: string, cwd: string, extraEnv: Record<string, string>, timeoutMs: number): Promise<{ code: number | null; log: string }> {
  // The scenario sets its own Pulumi settings: none leak in from the caller's environment.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("PULUMI_"))) as NodeJS.ProcessEnv;
  Object.assign(env, extraEnv);
  const child = spawn(process.execPath, ["--import", "tsx", file], { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  child.stdout.on("data", (d) => (log += d));
  child.stderr.on("data", (d) => (log += d));
  const code = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("exit", (c) => {
      clearTimeout(timer);
      resolve(c);
    });
  });
  return { code, log };
}

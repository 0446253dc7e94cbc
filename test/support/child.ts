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

/**
 * In a scenario's process: collect `pulumi.log.warn` messages (printed as `warning: [runtime] …`
 * without an engine) and anything else that should not happen (other console warnings,
 * unhandled rejections).
 */
export function captureWarnings(): { warnings: string[]; unhandled: string[]; restore: () => void } {
  const warnings: string[] = [];
  const unhandled: string[] = [];
  const onRejection = (e: unknown) => unhandled.push(`unhandled rejection: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  const consoleWarn = console.warn;
  process.on("unhandledRejection", onRejection);
  console.warn = (...args: unknown[]) => {
    const text = args.map(String).join(" ");
    const m = /^warning: \[runtime\] ([\s\S]*)$/.exec(text);
    if (m) warnings.push(m[1]);
    else unhandled.push(`console.warn: ${text}`);
  };
  const restore = () => {
    console.warn = consoleWarn;
    process.off("unhandledRejection", onRejection);
  };
  return { warnings, unhandled, restore };
}

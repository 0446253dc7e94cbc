// The lab deploys with the real Pulumi CLI (engine/build.sh builds or finds it): a file backend
// and a passphrase in the lab's state, one stack per lab DC in this project (its settings in
// Pulumi.<dc>.yaml beside Pulumi.yaml, written by `pulumi config set`), and every `pulumi`
// command run inside the lab's driver network namespace, where the lab hosts are reachable.
import { spawnSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import type { ExecResult, Lab } from "./hosts";
import { STATE_DIR } from "./hosts";
import { CHANGED_MARK } from "../render/shell";
import { runProgram } from "../cli/run";

export const REPO = path.resolve(__dirname, "..");
export const PULUMI_DIR = path.join(STATE_DIR, "pulumi");
export const BACKEND_DIR = path.join(PULUMI_DIR, "backend");
const PASSPHRASE_FILE = path.join(PULUMI_DIR, "passphrase");
const EVENTS_DIR = path.join(PULUMI_DIR, "events");
/** A lab stack's checkpoint in the file backend. */
const checkpointFile = (dc: string) => path.join(BACKEND_DIR, ".pulumi", "stacks", "glustermesh", `${dc}.json`);

/** The stack settings file of a lab DC: beside Pulumi.yaml, as for every stack (git ignores it). */
export const stackFile = (dc: string) => path.join(REPO, `Pulumi.${dc}.yaml`);

let binDir: string | undefined;
/** The folder of `pulumi` and its plugins: built on first use (progress on stderr), then cached. */
export function engineBinDir(): string {
  if (binDir) return binDir;
  const r = spawnSync("bash", [path.join(REPO, "engine", "build.sh")], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  if (r.status !== 0) throw new Error(`engine/build.sh failed (exit ${r.status ?? r.signal}): see the lines above`);
  binDir = r.stdout.trim();
  return binDir;
}

const PULUMI_HOME = path.join(PULUMI_DIR, "home");
const COMMAND_VERSION = (JSON.parse(fs.readFileSync(path.join(REPO, "node_modules", "@pulumi", "command", "package.json"), "utf8")) as { version: string }).version;

/**
 * The command provider, installed in the lab's PULUMI_HOME as `@pulumi/command`'s install script
 * does for a user (`pulumi plugin install resource command VERSION`): the engine's own build, or
 * the one a user's Pulumi installation has.
 */
function installCommandPlugin(bin: string): void {
  const plugin = `pulumi-resource-command`;
  const installed = path.join(PULUMI_HOME, "plugins", `resource-command-v${COMMAND_VERSION}`, plugin);
  const candidates = [path.join(bin, plugin), path.join(process.env.HOME ?? "/root", ".pulumi", "plugins", `resource-command-v${COMMAND_VERSION}`, plugin)];
  const source = candidates.find((f) => fs.existsSync(f));
  if (!source) throw new Error(`no ${plugin} ${COMMAND_VERSION}: run pulumi plugin install resource command ${COMMAND_VERSION}, or unset the pulumi on PATH so that engine/build.sh builds one`);
  const sum = (f: string) => crypto.createHash("sha256").update(fs.readFileSync(f)).digest("hex");
  if (fs.existsSync(installed) && sum(installed) === sum(source)) return;
  const r = spawnSync(path.join(bin, "pulumi"), ["plugin", "install", "resource", "command", COMMAND_VERSION, "--file", source, "--reinstall"], {
    encoding: "utf8",
    env: { ...process.env, PULUMI_HOME, PULUMI_SKIP_UPDATE_CHECK: "true" },
  });
  if (r.status !== 0) throw new Error(`pulumi plugin install resource command failed: ${r.stderr}`);
}

let prepared = false;
/** The environment every lab `pulumi` command runs with. */
export function pulumiEnv(): NodeJS.ProcessEnv {
  const bin = engineBinDir();
  if (!prepared || !fs.existsSync(PASSPHRASE_FILE)) {
    fs.mkdirSync(BACKEND_DIR, { recursive: true, mode: 0o700 });
    if (!fs.existsSync(PASSPHRASE_FILE)) fs.writeFileSync(PASSPHRASE_FILE, crypto.randomBytes(24).toString("base64url") + "\n", { mode: 0o600 });
    installCommandPlugin(bin);
    prepared = true;
  }
  return {
    ...process.env,
    PATH: `${bin}:${process.env.PATH ?? "/usr/bin:/bin"}`,
    PULUMI_HOME,
    // plugins come from PULUMI_HOME, as on a user's machine, not from PATH
    PULUMI_IGNORE_AMBIENT_PLUGINS: "true",
    PULUMI_BACKEND_URL: `file://${BACKEND_DIR}`,
    PULUMI_CONFIG_PASSPHRASE_FILE: PASSPHRASE_FILE,
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    PULUMI_SKIP_CONFIRMATIONS: "true",
    // --event-log, the engine events the reports are read from (as the Automation API does)
    PULUMI_DEBUG_COMMANDS: "true",
    // `npm test` type-checks the program with tsc; the deploy need not do it again.
    PULUMI_NODEJS_TRANSPILE_ONLY: "true",
    NO_COLOR: "1",
  };
}

/** argv of `pulumi ARGS` inside the driver namespace. */
export const pulumiArgv = (lab: Lab, args: string[]) => lab.driverArgv(["pulumi", ...args]);

/** Run `pulumi ARGS` in the driver namespace from the project folder; output is captured. */
export async function pulumi(lab: Lab, args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<ExecResult> {
  // SIGTERM on timeout: pulumi then cancels the update cleanly
  const r = await runProgram(pulumiArgv(lab, args), { cwd: REPO, env: pulumiEnv(), input: opts.input, timeoutMs: opts.timeoutMs ?? 900_000, killSignal: "SIGTERM" });
  return { code: r.code ?? 1, stdout: r.stdout, stderr: r.spawnError ? `${r.stderr}${r.spawnError}\n` : r.stderr };
}

async function pulumiOk(lab: Lab, args: string[], opts: { input?: string } = {}): Promise<string> {
  const r = await pulumi(lab, args, opts);
  if (r.code !== 0) throw new Error(`pulumi ${args.join(" ")} failed (exit ${r.code}):\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

/**
 * The stack of a lab DC, made once and configured as a user would: the inventory folder, and the
 * SSH key with --secret (given on stdin, so it is on no command line).
 */
export async function ensureStack(lab: Lab, dc: string, inventoryDir: string): Promise<void> {
  const state = checkpointFile(dc);
  const settings = fs.existsSync(stackFile(dc)) ? fs.readFileSync(stackFile(dc), "utf8") : "";
  if (fs.existsSync(state) && settings.includes(`glustermesh:inventory: ${inventoryDir}\n`) && settings.includes("glustermesh:sshPrivateKey:")) return;
  const list = JSON.parse(await pulumiOk(lab, ["stack", "ls", "--json"])) as { name: string }[];
  if (!list.some((s) => s.name === dc || s.name.endsWith(`/${dc}`))) {
    // settings of an earlier lab hold that lab's encryption salt: they go with it
    fs.rmSync(stackFile(dc), { force: true });
    await pulumiOk(lab, ["stack", "init", dc, "--non-interactive"]);
  }
  await pulumiOk(lab, ["config", "set", "--stack", dc, "glustermesh:inventory", inventoryDir]);
  await pulumiOk(lab, ["config", "set", "--stack", dc, "--secret", "glustermesh:sshPrivateKey"], { input: fs.readFileSync(lab.sshKeyPath, "utf8") });
}

/** Remove the lab stacks' settings files (the backend goes with the lab's state). */
export function removeStackFiles(dcs: string[]): void {
  for (const dc of dcs) {
    const f = stackFile(dc);
    // only a file the lab wrote: it names the lab's inventory folder
    if (fs.existsSync(f) && fs.readFileSync(f, "utf8").includes(STATE_DIR)) fs.rmSync(f);
  }
}

/** What one step did in a `pulumi up`, read from the engine's event log. */
export interface ResourceRecord {
  name: string;
  type: string;
  /** the engine's operation: create, update, replace, same, delete, ... */
  op: string;
  host?: string;
  ok: boolean;
  /** the script's "glustermesh: changed:" lines (stdout) */
  changed: string[];
  /** the script's "warning: ..." lines (stderr) */
  warnings: string[];
}

export interface Failure {
  name: string;
  type: string;
  host?: string;
  exitCode?: number;
  message: string;
}

export interface DeployReport {
  dc: string;
  ok: boolean;
  exitCode: number;
  seconds: number;
  /** every step the engine ran (not those it left as they were) */
  resources: ResourceRecord[];
  failures: Failure[];
  /** the resource changes by operation, from the engine's summary */
  summary: Record<string, number>;
  warnings: string[];
  output: string;
}

interface EngineEvent {
  diagnosticEvent?: { urn?: string; message: string; severity: string };
  resOutputsEvent?: { metadata: StepMeta; planning?: boolean };
  resOpFailedEvent?: { metadata: StepMeta; status: number };
  summaryEvent?: { resourceChanges: Record<string, number> };
}
interface StepMeta {
  op: string;
  urn: string;
  type: string;
  new?: { outputs?: Record<string, unknown> };
}

/** The resource name of a URN (the part after the last "::"). */
export const urnName = (urn: string) => urn.slice(urn.lastIndexOf("::") + 2);

/** The lab host a step runs on: the first part of its name that is a lab host. */
function hostOf(lab: Lab, name: string, message = ""): string | undefined {
  const names = new Set(lab.hosts.map((h) => h.name));
  const byName = name.split("/").find((p) => names.has(p));
  if (byName) return byName;
  const addr = /@([0-9.]+):\d+/.exec(message)?.[1];
  return lab.hosts.find((h) => h.address === addr)?.name;
}

const markedLines = (text: unknown, mark: string) =>
  typeof text === "string" ? text.split("\n").filter((l) => l.startsWith(mark)).map((l) => l.slice(mark.length).trim()) : [];

/** A deploy report from the engine's event log (`--event-log`): one JSON event per line. */
export function reportFromEvents(lab: Lab, dc: string, eventsText: string): Omit<DeployReport, "ok" | "exitCode" | "seconds" | "output"> {
  const resources: ResourceRecord[] = [];
  const failures: Failure[] = [];
  const warnings: string[] = [];
  const programErrors: Failure[] = [];
  let summary: Record<string, number> = {};
  for (const line of eventsText.split("\n")) {
    if (!line.trim()) continue;
    const e = JSON.parse(line) as EngineEvent;
    if (e.resOutputsEvent) {
      const m = e.resOutputsEvent.metadata;
      if (e.resOutputsEvent.planning) continue; // the preview before the update
      if (!m.type.startsWith("command:") || m.op === "same" || m.op === "read") continue;
      const out = m.new?.outputs ?? {};
      const name = urnName(m.urn);
      resources.push({ name, type: m.type, op: m.op, host: hostOf(lab, name), ok: true, changed: markedLines(out.stdout, CHANGED_MARK), warnings: markedLines(out.stderr, "warning: ") });
    } else if (e.diagnosticEvent && e.diagnosticEvent.severity === "error" && e.diagnosticEvent.urn) {
      const d = e.diagnosticEvent;
      const name = urnName(d.urn!);
      if (d.urn!.includes("::pulumi:pulumi:Stack::")) {
        programErrors.push({ name: "program", type: "pulumi:pulumi:Stack", message: d.message.trim() });
        continue;
      }
      const type = /::([^:]+:[^:]+:[^:]+)::[^:]*$/.exec(d.urn!)?.[1] ?? "";
      const exit = /Process exited with status (\d+)/.exec(d.message);
      failures.push({ name, type, host: hostOf(lab, name, d.message), exitCode: exit ? Number(exit[1]) : undefined, message: d.message.trim() });
      resources.push({ name, type, op: "failed", host: hostOf(lab, name, d.message), ok: false, changed: [], warnings: [] });
    } else if (e.diagnosticEvent?.severity === "warning") {
      warnings.push(e.diagnosticEvent.message.trim());
    } else if (e.summaryEvent) {
      summary = e.summaryEvent.resourceChanges ?? {};
    }
  }
  // the stack's own errors ("update failed") count only when no step failed
  const unique = (fs: Failure[]) => fs.filter((f, i) => fs.findIndex((g) => g.name === f.name && g.message === f.message) === i);
  return { dc, resources, failures: unique(failures.length ? failures : programErrors), warnings: [...new Set(warnings)], summary };
}

/** Whether a lab stack holds resources yet. */
export function stackIsEmpty(dc: string): boolean {
  const f = checkpointFile(dc);
  if (!fs.existsSync(f)) return true;
  const state = JSON.parse(fs.readFileSync(f, "utf8")) as { checkpoint?: { latest?: { resources?: unknown[] } } };
  return (state.checkpoint?.latest?.resources ?? []).length === 0;
}

/**
 * `pulumi up --yes` of one lab DC, as a user runs it: the preview first (a protected resource the
 * program dropped fails it before any step runs), then the update; a report from its event log.
 * A stack's first deploy skips the preview: nothing exists that it could protect, and the DCs of
 * the first wave then read each other's stacks at the same moment (both not deployed yet).
 */
export async function upStack(lab: Lab, dc: string): Promise<DeployReport> {
  const t0 = Date.now();
  fs.mkdirSync(EVENTS_DIR, { recursive: true });
  const events = path.join(EVENTS_DIR, `up-${dc}-${Date.now()}.jsonl`);
  const first = stackIsEmpty(dc) ? ["--skip-preview"] : [];
  const r = await pulumi(lab, ["up", "--stack", dc, "--yes", "--non-interactive", ...first, "--event-log", events]);
  const parsed = reportFromEvents(lab, dc, fs.existsSync(events) ? fs.readFileSync(events, "utf8") : "");
  if (r.code !== 0 && parsed.failures.length === 0) {
    parsed.failures.push({ name: "pulumi up", type: "pulumi:cli", message: `exit ${r.code}: ${(r.stderr || r.stdout).trim().split("\n").slice(-15).join("\n")}` });
  }
  return { ...parsed, ok: r.code === 0, exitCode: r.code, seconds: (Date.now() - t0) / 1000, output: r.stdout + r.stderr };
}

/** Every `changed:` line of a report, as "resource: line". */
export function changedLines(r: DeployReport): string[] {
  return r.resources.flatMap((x) => x.changed.map((c) => `${x.name}: ${c}`));
}

/** `pulumi config set` on a lab stack (a value on stdin when secret). */
export async function setConfig(lab: Lab, dc: string, key: string, value: string): Promise<void> {
  await pulumiOk(lab, ["config", "set", "--stack", dc, key, value]);
}

/** A step of `pulumi preview --json`. */
export interface PreviewStep {
  op: string;
  urn: string;
}

/** `pulumi preview --json` of a lab stack: its steps (and the exit code). */
export async function previewSteps(lab: Lab, dc: string, args: string[] = []): Promise<{ code: number; steps: PreviewStep[]; output: string }> {
  const r = await pulumi(lab, ["preview", "--stack", dc, "--non-interactive", "--json", ...args]);
  let steps: PreviewStep[] = [];
  try {
    steps = (JSON.parse(r.stdout) as { steps?: PreviewStep[] }).steps ?? [];
  } catch {
    /* no JSON: the exit code and output say why */
  }
  return { code: r.code, steps, output: r.stdout + r.stderr };
}

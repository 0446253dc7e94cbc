// A small deploy engine for the lab: the Pulumi program runs with `setMocks`, and the mocks
// EXECUTE what the real providers would: every `command:remote:Command`'s `create` over real
// SSH (host key verified against the pinned key, as the real provider does), every
// `command:remote:CopyToRemote` by scp, and `StackReference`s answered from the outputs the
// earlier deploys of the other DCs recorded. One process per DC deploy (a Pulumi program's
// top level runs once per process): `deployDc()` spawns `engine-runner.ts` inside the lab's
// driver network namespace and reads its JSON report.
import { spawn } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import type { Lab } from "./hosts";

export const REPO = path.resolve(__dirname, "..");
export const CHANGED_MARK = "glustermesh: changed:";
const SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

/** What the parent tells the runner. */
export interface EngineConfig {
  repo: string;
  dc: string;
  inventoryDir: string;
  sshPrivateKey: string; // path; its contents become the secret config value
  knownHosts: Record<string, string>; // lab host -> pinned "ssh-ed25519 AAAA"
  hostsByAddress: Record<string, string>; // bridge IP -> lab host
  outputsDir: string; // <dc>.json: each deployed DC's exported outputs
  reportPath: string;
  workDir: string;
  resourceTimeoutMs: number;
  globalTimeoutMs: number;
  perHostConcurrency: number;
}

export interface ResourceRecord {
  name: string;
  type: string;
  host?: string;
  ok: boolean;
  startedAt: number; // seconds after the deploy of this DC started
  seconds: number;
  changed: string[];
  warnings: string[]; // the script's "warning: ..." lines (stderr)
}

export interface Failure {
  name: string;
  type: string;
  host?: string;
  exitCode?: number;
  message: string;
  output: string; // stdout+stderr tail
}

export interface DeployReport {
  dc: string;
  ok: boolean;
  seconds: number;
  resources: ResourceRecord[];
  failures: Failure[];
  warnings: string[];
  outputs: Record<string, unknown>;
}

// ---------------------------------------------------------------------------------------------
// Runner side (inside the driver namespace)

/** Deep-unwrap Pulumi's secret envelopes. */
export function unwrapSecrets(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(unwrapSecrets);
  if (v && typeof v === "object") {
    const o = v as Record<string, unknown>;
    if (o[SECRET_SIG_KEY] === SECRET_SIG) return unwrapSecrets(o.value);
    return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, unwrapSecrets(x)]));
  }
  return v;
}

class Semaphore {
  private queue: (() => void)[] = [];
  private active = 0;
  constructor(private readonly limit: number) {}
  async take<T>(f: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((r) => this.queue.push(r));
    this.active++;
    try {
      return await f();
    } finally {
      this.active--;
      this.queue.shift()?.();
    }
  }
}

interface ProcResult {
  code: number;
  stdout: string;
  stderr: string;
}

function runProc(argv: string[], timeoutMs: number): Promise<ProcResult> {
  return new Promise((resolve) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", (e) => {
      clearTimeout(timer);
      resolve({ code: 127, stdout, stderr: stderr + e.message });
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code: timedOut ? 124 : (code ?? 1), stdout, stderr: stderr + (timedOut ? `\n[timed out after ${timeoutMs} ms]` : "") });
    });
  });
}

const tail = (s: string, n = 40) => s.trimEnd().split("\n").slice(-n).join("\n");

interface Conn {
  host: string;
  port: number;
  user: string;
  privateKey: string;
  hostKey?: string;
}

export async function runEngine(cfg: EngineConfig): Promise<DeployReport> {
  const t0 = Date.now();
  const resources: ResourceRecord[] = [];
  const failures: Failure[] = [];
  const warnings: string[] = [];
  const emit = (event: object) => process.stdout.write(JSON.stringify(event) + "\n");
  fs.mkdirSync(cfg.workDir, { recursive: true, mode: 0o700 });
  const semaphores = new Map<string, Semaphore>();
  const sem = (h: string) => {
    let s = semaphores.get(h);
    if (!s) semaphores.set(h, (s = new Semaphore(cfg.perHostConcurrency)));
    return s;
  };
  let pending = 0;
  let lastActivity = Date.now();
  let started = 0;

  // ssh material: the key the program was configured with, and a known_hosts made from the
  // host key the program declared for the connection (what the real provider verifies).
  const keyFiles = new Map<string, string>();
  const keyFile = (pem: string) => {
    const h = crypto.createHash("sha256").update(pem).digest("hex").slice(0, 16);
    let f = keyFiles.get(h);
    if (!f) {
      f = path.join(cfg.workDir, `key-${h}`);
      fs.writeFileSync(f, pem.endsWith("\n") ? pem : pem + "\n", { mode: 0o600 });
      keyFiles.set(h, f);
    }
    return f;
  };
  const sshOpts = (c: Conn): string[] => {
    if (!c.hostKey) throw new Error(`connection to ${c.host} has no hostKey: glustermesh never connects to an unverified host`);
    const labHost = cfg.hostsByAddress[c.host] ?? c.host;
    const pinned = cfg.knownHosts[labHost];
    const norm = (k: string) => k.trim().split(/\s+/).slice(0, 2).join(" ");
    if (!pinned) throw new Error(`${c.host} is not a lab host`);
    if (norm(pinned) !== norm(c.hostKey)) {
      throw new Error(`host key mismatch for ${labHost} (${c.host}): the program pins "${norm(c.hostKey)}", the host has "${norm(pinned)}"`);
    }
    const kh = path.join(cfg.workDir, `known_hosts-${labHost}`);
    const line = `${c.port === 22 ? c.host : `[${c.host}]:${c.port}`} ${norm(c.hostKey)}\n`;
    if (!fs.existsSync(kh) || fs.readFileSync(kh, "utf8") !== line) fs.writeFileSync(kh, line);
    return [
      "-i", keyFile(c.privateKey), "-o", "IdentitiesOnly=yes", "-o", `UserKnownHostsFile=${kh}`,
      "-o", "GlobalKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes",
      "-o", "ConnectTimeout=15", "-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=6", "-o", "LogLevel=ERROR",
      "-F", "/dev/null",
      // one authenticated connection per host, shared by its commands (see masterFor)
      "-o", "ControlMaster=no", "-o", `ControlPath=${path.join(cfg.workDir, `cm-${labHost}`)}`,
    ];
  };
  // A master connection per host (`ssh -MNf`, stdio detached), which every command of that host
  // shares: saves a login per resource on a 2-core lab. Without it, commands connect directly.
  const masters = new Map<string, Promise<void>>();
  const masterFor = (c: Conn, opts: string[]) => {
    const key = `${c.host}:${c.port}`;
    let m = masters.get(key);
    if (!m) {
      const argv = ["ssh", ...opts.map((o) => (o === "ControlMaster=no" ? "ControlMaster=yes" : o)), "-o", "ControlPersist=yes", "-N", "-f", "-p", String(c.port), "-l", c.user, c.host];
      m = new Promise<void>((resolve) => {
        const child = spawn(argv[0], argv.slice(1), { stdio: "ignore" });
        const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
        child.on("error", () => resolve());
        child.on("exit", () => (clearTimeout(timer), resolve()));
      });
      masters.set(key, m);
    }
    return m;
  };
  const closeMasters = async () => {
    for (const f of fs.existsSync(cfg.workDir) ? fs.readdirSync(cfg.workDir) : []) {
      if (f.startsWith("cm-")) await runProc(["ssh", "-o", `ControlPath=${path.join(cfg.workDir, f)}`, "-O", "exit", "x"], 5000);
    }
  };
  const connOf = (inputs: Record<string, unknown>): Conn => {
    const c = unwrapSecrets(inputs.connection) as Record<string, unknown> | undefined;
    if (!c || typeof c.host !== "string") throw new Error("resource has no connection");
    if (c.proxy) throw new Error("the lab engine does not support a bastion (proxy) connection");
    return {
      host: c.host,
      port: typeof c.port === "number" ? c.port : 22,
      user: typeof c.user === "string" ? c.user : "root",
      privateKey: String(c.privateKey ?? ""),
      hostKey: typeof c.hostKey === "string" ? c.hostKey : undefined,
    };
  };

  async function execute(type: string, name: string, inputs: Record<string, unknown>): Promise<Record<string, unknown>> {
    const conn = connOf(inputs);
    const host = cfg.hostsByAddress[conn.host] ?? conn.host;
    const start = Date.now();
    const rec: ResourceRecord = { name, type, host, ok: false, startedAt: (start - t0) / 1000, seconds: 0, changed: [], warnings: [] };
    const failed = (message: string, r?: ProcResult): never => {
      rec.seconds = (Date.now() - start) / 1000;
      resources.push(rec);
      const f: Failure = { name, type, host, exitCode: r?.code, message, output: r ? tail(`${r.stdout}\n${r.stderr}`) : "" };
      failures.push(f);
      emit({ event: "failed", ...f, seconds: rec.seconds });
      throw new Error(`${name} on ${host}: ${message}`);
    };
    return sem(host).take(async () => {
      let opts: string[];
      try {
        opts = sshOpts(conn);
      } catch (e) {
        return failed((e as Error).message);
      }
      await masterFor(conn, opts);
      emit({ event: "start", name, host });
      if (type === "command:remote:Command") {
        const create = String(inputs.create ?? "");
        // As the provider does: the command text is the remote command, run by the login shell.
        const r = await runProc(["ssh", ...opts, "-p", String(conn.port), "-l", conn.user, conn.host, create], cfg.resourceTimeoutMs);
        rec.changed = r.stdout.split("\n").filter((l) => l.startsWith(CHANGED_MARK)).map((l) => l.slice(CHANGED_MARK.length).trim());
        rec.warnings = r.stderr.split("\n").filter((l) => l.startsWith("warning: ")).map((l) => l.slice("warning: ".length).trim());
        if (r.code !== 0) return failed(`exit code ${r.code}`, r);
        rec.ok = true;
        rec.seconds = (Date.now() - start) / 1000;
        resources.push(rec);
        emit({ event: "done", name, host, seconds: rec.seconds, changed: rec.changed, warnings: rec.warnings });
        return { ...inputs, stdout: r.stdout, stderr: r.stderr };
      }
      // CopyToRemote: the FileAsset's path
      const src = inputs.source as { path?: unknown } | undefined;
      const srcPath = src && (await Promise.resolve(src.path));
      if (typeof srcPath !== "string") return failed("CopyToRemote without a FileAsset source");
      const remotePath = String(inputs.remotePath);
      const localSum = crypto.createHash("sha256").update(fs.readFileSync(srcPath)).digest("hex");
      const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
      const sum = await runProc(["ssh", ...opts, "-p", String(conn.port), "-l", conn.user, conn.host, `sha256sum ${q(remotePath)} 2>/dev/null || true`], cfg.resourceTimeoutMs);
      if (sum.code !== 0) return failed(`reading the remote checksum failed (exit ${sum.code})`, sum);
      if (sum.stdout.split(/\s+/)[0] !== localSum) {
        const r = await runProc(["scp", ...opts, "-q", "-P", String(conn.port), srcPath, `${conn.user}@${conn.host}:${remotePath}`], cfg.resourceTimeoutMs);
        if (r.code !== 0) return failed(`scp exit code ${r.code}`, r);
        rec.changed = [`copied ${path.basename(srcPath)} (sha256 ${localSum}) to ${remotePath}`];
      }
      rec.ok = true;
      rec.seconds = (Date.now() - start) / 1000;
      resources.push(rec);
      emit({ event: "done", name, host, seconds: rec.seconds, changed: rec.changed });
      return { ...inputs };
    });
  }

  const pulumi = await import("@pulumi/pulumi");
  const mocks = {
    async newResource(args: { type: string; name: string; inputs: Record<string, unknown>; custom?: boolean }) {
      started++;
      pending++;
      lastActivity = Date.now();
      try {
        const { type, name, inputs } = args;
        if (type === "pulumi:pulumi:StackReference") {
          const ref = String(inputs.name ?? name);
          const dc = ref.split("/").pop()!;
          const f = path.join(cfg.outputsDir, `${dc}.json`);
          const outputs = fs.existsSync(f) ? (JSON.parse(fs.readFileSync(f, "utf8")) as Record<string, unknown>) : {};
          return { id: ref, state: { ...inputs, outputs } };
        }
        if (type === "command:remote:Command" || type === "command:remote:CopyToRemote") {
          return { id: `${name}-id`, state: await execute(type, name, inputs) };
        }
        if (args.custom) throw new Error(`the lab engine cannot run resources of type ${type} (${name})`);
        return { id: undefined, state: inputs };
      } finally {
        pending--;
        lastActivity = Date.now();
      }
    },
    call(args: { token: string; inputs: Record<string, unknown> }) {
      return args.inputs;
    },
  };
  const unhandled: string[] = [];
  process.on("unhandledRejection", (e) => unhandled.push(e instanceof Error ? e.message : String(e)));
  const origWarn = console.warn;
  console.warn = (...a: unknown[]) => {
    warnings.push(a.map(String).join(" "));
    origWarn(...a);
  };
  pulumi.runtime.setMocks(mocks as never, "glustermesh", cfg.dc, false);
  pulumi.runtime.setAllConfig(
    {
      "glustermesh:inventory": cfg.inventoryDir,
      "glustermesh:sshPrivateKey": fs.readFileSync(cfg.sshPrivateKey, "utf8"),
    },
    ["glustermesh:sshPrivateKey"],
  );

  const outputs: Record<string, unknown> = {};
  const finish = (): DeployReport => {
    const report: DeployReport = {
      dc: cfg.dc,
      ok: failures.length === 0,
      seconds: (Date.now() - t0) / 1000,
      resources,
      failures,
      warnings,
      outputs,
    };
    fs.writeFileSync(cfg.reportPath, JSON.stringify(report, null, 2));
    return report;
  };
  const deadline = t0 + cfg.globalTimeoutMs;
  let mod: Record<string, unknown>;
  try {
    mod = (await import(path.join(cfg.repo, "index.ts"))) as Record<string, unknown>;
  } catch (e) {
    failures.push({ name: "program", type: "pulumi:program", message: e instanceof Error ? e.message : String(e), output: "" });
    return finish();
  }
  // The exports, once their values are known (a failed resource leaves some never known).
  const exportsDone = (async () => {
    for (const [k, v] of Object.entries(mod)) {
      if (k === "default" || k === "__esModule") continue;
      outputs[k] = pulumi.Output.isInstance(v)
        ? unwrapSecrets(await new Promise((res) => (v as import("@pulumi/pulumi").Output<unknown>).apply((x) => (res(x), x))))
        : v;
    }
    return true;
  })();
  let exported = false;
  void exportsDone.then(() => (exported = true));
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  for (;;) {
    await sleep(100);
    const quiet = pending === 0 && Date.now() - lastActivity > 1500;
    if (quiet && (exported || failures.length > 0)) break; // done, or nothing runs but dependants of a failure
    if (quiet && started > 0 && Date.now() - lastActivity > 20_000) {
      failures.push({ name: "program", type: "pulumi:program", message: `nothing ran for 20 s and the exports are not known${unhandled.length ? `: ${unhandled[0]}` : ""}`, output: unhandled.join("\n") });
      break;
    }
    if (Date.now() > deadline) {
      failures.push({ name: "program", type: "pulumi:program", message: `global timeout of ${cfg.globalTimeoutMs} ms (${pending} resources still running)`, output: "" });
      break;
    }
  }
  await closeMasters();
  if (failures.length === 0) {
    fs.mkdirSync(cfg.outputsDir, { recursive: true });
    // written whole, then renamed: a DC deploying at the same time reads the old or the new outputs
    const f = path.join(cfg.outputsDir, `${cfg.dc}.json`);
    fs.writeFileSync(`${f}.tmp`, JSON.stringify(outputs, null, 2));
    fs.renameSync(`${f}.tmp`, f);
  }
  return finish();
}

// ---------------------------------------------------------------------------------------------
// Parent side

export const ENGINE_DIR = "engine";

export interface DeployDcOptions {
  log?: (line: string) => void;
  inventoryDir: string;
  resourceTimeoutMs?: number;
  globalTimeoutMs?: number;
}

/** Deploy one DC of the lab: the program with the mock engine, in the driver namespace. */
export async function deployDc(lab: Lab, dc: string, opts: DeployDcOptions): Promise<DeployReport> {
  const log = opts.log ?? (() => undefined);
  const dir = path.join(lab.stateDir, ENGINE_DIR);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const stamp = `${dc}-${Date.now()}`;
  const cfg: EngineConfig = {
    repo: REPO,
    dc,
    inventoryDir: opts.inventoryDir,
    sshPrivateKey: lab.sshKeyPath,
    knownHosts: lab.knownHosts,
    hostsByAddress: Object.fromEntries(lab.hosts.map((h) => [h.address, h.name])),
    outputsDir: path.join(dir, "outputs"),
    reportPath: path.join(dir, `report-${stamp}.json`),
    workDir: path.join(dir, `work-${stamp}`),
    resourceTimeoutMs: opts.resourceTimeoutMs ?? 180_000,
    globalTimeoutMs: opts.globalTimeoutMs ?? 600_000,
    perHostConcurrency: 4,
  };
  const cfgPath = path.join(dir, `config-${stamp}.json`);
  fs.writeFileSync(cfgPath, JSON.stringify(cfg, null, 2), { mode: 0o600 });
  const argv = lab.driverArgv(["node", "--import", "tsx", path.join(REPO, "lab", "engine-runner.ts"), cfgPath]);
  const child = spawn(argv[0], argv.slice(1), { cwd: REPO, stdio: ["ignore", "pipe", "pipe"] });
  let buf = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => {
    buf += d;
    let i;
    while ((i = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      let ev: { event?: string; name?: string; host?: string; seconds?: number; changed?: string[]; warnings?: string[]; message?: string; output?: string };
      try {
        ev = JSON.parse(line);
      } catch {
        log(`  ${line}`);
        continue;
      }
      if (ev.event === "done") {
        log(`  ✓ ${ev.name}  ${ev.seconds!.toFixed(1)}s${ev.changed!.length ? `  (${ev.changed!.length} changed)` : ""}`);
        for (const w of ev.warnings ?? []) log(`      warning: ${w}`);
      } else if (ev.event === "failed") {
        log(`  ✗ ${ev.name} on ${ev.host}: ${ev.message}\n${(ev.output ?? "").replace(/^/gm, "      | ")}`);
      }
    }
  });
  child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  const code: number = await new Promise((res) => child.on("close", (c) => res(c ?? 1)));
  fs.rmSync(cfgPath, { force: true });
  fs.rmSync(cfg.workDir, { recursive: true, force: true });
  if (!fs.existsSync(cfg.reportPath)) {
    throw new Error(`the deploy engine of ${dc} exited with ${code} and no report:\n${tail(stderr)}`);
  }
  const report = JSON.parse(fs.readFileSync(cfg.reportPath, "utf8")) as DeployReport;
  for (const w of report.warnings) log(`  warning: ${w.split("\n")[0].replace(/^warning: /, "")}`);
  return report;
}

/** Every `changed:` line of a report, as "resource: line". */
export function changedLines(r: DeployReport): string[] {
  return r.resources.flatMap((x) => x.changed.map((c) => `${x.name}: ${c}`));
}

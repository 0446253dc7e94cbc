// Runs the real Pulumi program (index.ts) of one stack against `pulumi.runtime.setMocks`, and
// records what the engine would receive: every resource with its type, name, parent, inputs
// (secrets unwrapped, and also as marked), dependencies, protect/retainOnDelete; the stack's
// outputs; the warnings logged; the error the program stopped with.
//
// The program has top-level side effects, so it runs once per process: `runScenario` spawns
// `child.ts` for one scenario and reads its result back. `runProgram` is what the child runs.
import { captureWarnings, runChild } from "../support/child";
import { ResourceGraph } from "../support/resources";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export const REPO = path.resolve(__dirname, "../..");
export const PROJECT = "glustermesh";
export const UNKNOWN = "<<unknown>>";
/** The deploy's SSH key in every scenario: a marker that must never show up in plain text. */
export const SSH_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAAtestonly5f3a9c2e\n-----END OPENSSH PRIVATE KEY-----\n";

export interface Scenario {
  stack: string;
  preview?: boolean;
  /** Inventory folder (absolute); default: the repository's inventory/. */
  inventoryDir?: string;
  /** undefined: SSH_KEY; null: not set. */
  sshPrivateKey?: string | null;
  /** undefined: a pinned key for every node of the stack's DC; null: not set. */
  hostKeys?: Record<string, string> | null;
  /** More config, by full key (`glustermesh:peerStacks`); objects are JSON-encoded. */
  config?: Record<string, unknown>;
  /** `outputs` of the peer stacks, by DC name or full stack name. */
  peers?: Record<string, Record<string, unknown>>;
  /** Extra text the mocked tinc key commands print around the public key. */
  keyStdoutNoise?: string;
}

export interface RecordedResource {
  type: string;
  name: string;
  urn: string;
  custom: boolean;
  /** Parent URN ("" for none). */
  parent: string;
  /** URNs this resource depends on (the engine orders by these). */
  dependencies: string[];
  protect: boolean;
  retainOnDelete: boolean;
  /** Inputs with secrets unwrapped and unknowns as UNKNOWN. */
  inputs: Record<string, unknown>;
  /** Inputs with secrets as `{ $secret: value }`. */
  rawInputs: Record<string, unknown>;
  /** `registerResource` (false: `readResource`, e.g. a StackReference). */
  registered: boolean;
}

export interface StackOutput {
  known: boolean;
  secret: boolean;
  value: unknown;
}

export interface ProgramResult {
  ok: boolean;
  error?: { name: string; message: string; runError: boolean };
  resources: RecordedResource[];
  outputs: Record<string, StackOutput>;
  warnings: string[];
  /** Loading the program's modules (first import, transpiling). */
  loadMs: number;
  /** Running the program until every resource is registered. */
  runMs: number;
  /** Anything else the program printed or rejected with. */
  unhandled: string[];
}

/** A fake tinc public key, unique per node, that `parsePublicKey` accepts. */
export function fakePublicKey(node: string): string {
  return `-----BEGIN RSA PUBLIC KEY-----\n${Buffer.from(`tinc public key of ${node} `.padEnd(48, "x")).toString("base64")}\n-----END RSA PUBLIC KEY-----`;
}

export function fakeHostKey(node: string): string {
  return `ssh-ed25519 ${Buffer.from(`host key of ${node}`).toString("base64")}`;
}

const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
const SIG_KEY = "4dabf18193072939515e22adb298388d";

function convert(v: unknown, unwrapSecrets: boolean, isUnknown: (x: unknown) => boolean): unknown {
  if (isUnknown(v)) return UNKNOWN;
  if (Array.isArray(v)) return v.map((x) => convert(x, unwrapSecrets, isUnknown));
  if (v && typeof v === "object") {
    const o = v as Record<string, unknown>;
    if (o[SIG_KEY] === SECRET_SIG) {
      const inner = convert(o.value, unwrapSecrets, isUnknown);
      return unwrapSecrets ? inner : { $secret: inner };
    }
    if (SIG_KEY in o) return { $special: o[SIG_KEY] };
    return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, convert(x, unwrapSecrets, isUnknown)]));
  }
  return v;
}

/** Every string in a value outside `{ $secret }` wrappers, with its path. */
export function plainStrings(v: unknown, at = ""): { path: string; value: string }[] {
  if (typeof v === "string") return [{ path: at, value: v }];
  if (Array.isArray(v)) return v.flatMap((x, i) => plainStrings(x, `${at}[${i}]`));
  if (v && typeof v === "object") {
    if ("$secret" in v) return [];
    return Object.entries(v).flatMap(([k, x]) => plainStrings(x, at ? `${at}.${k}` : k));
  }
  return [];
}

/** Run the program once in this process. Call at most once per process. */
export async function runProgram(s: Scenario): Promise<ProgramResult> {
  const { warnings, unhandled, restore } = captureWarnings();

  const pulumi = await import("@pulumi/pulumi");
  const isUnknown = (x: unknown) => pulumi.Output.isInstance(x) || (typeof x === "object" && x !== null && x.constructor?.name === "Unknown");
  const inventoryDir = s.inventoryDir ?? path.join(REPO, "inventory");
  const recorded = new Map<string, RecordedResource>();
  const keyOf = (type: string, name: string) => `${type}::${name}`;
  const record = (type: string, name: string): RecordedResource => {
    let r = recorded.get(keyOf(type, name));
    if (!r) {
      r = { type, name, urn: "", custom: true, parent: "", dependencies: [], protect: false, retainOnDelete: false, inputs: {}, rawInputs: {}, registered: false };
      recorded.set(keyOf(type, name), r);
    }
    return r;
  };

  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        const r = record(args.type, args.name);
        r.custom = args.custom ?? true;
        r.inputs = convert(args.inputs, true, isUnknown) as Record<string, unknown>;
        r.rawInputs = convert(args.inputs, false, isUnknown) as Record<string, unknown>;
        if (args.type === "pulumi:pulumi:StackReference") {
          const stackName = String(args.inputs.name);
          const dc = args.name.replace(/^peer-/, "");
          const outputs = s.peers?.[stackName] ?? s.peers?.[dc] ?? {};
          return { id: stackName, state: { ...args.inputs, outputs } };
        }
        if (args.type === "command:remote:Command") {
          if (s.preview) return { id: `${args.name}-id`, state: {} }; // the engine knows no stdout before the command runs
          const key = /\/mesh\/([^/]+)\/key$/.exec(args.name);
          const stdout = key ? `${s.keyStdoutNoise ?? ""}${fakePublicKey(key[1])}\n${s.keyStdoutNoise ?? ""}` : "";
          return { id: `${args.name}-id`, state: { stdout, stderr: "" } };
        }
        return { id: args.custom ? `${args.name}-id` : "", state: {} };
      },
      call(args) {
        throw new Error(`unexpected invoke ${args.token}`);
      },
    },
    PROJECT,
    s.stack,
    s.preview ?? false,
  );

  const monitor = pulumi.runtime.getMonitor() as unknown as {
    newUrn(parent: string, type: string, name: string): string;
    registerResource(req: RegisterRequest, cb: unknown): unknown;
    readResource(req: ReadRequest, cb: unknown): unknown;
  };
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req, cb) => {
    const r = record(req.getType(), req.getName());
    r.registered = true;
    r.urn = monitor.newUrn(req.getParent(), req.getType(), req.getName());
    r.parent = req.getParent();
    r.dependencies = req.getDependenciesList();
    r.protect = req.getProtect();
    r.retainOnDelete = req.getRetainondelete();
    return register(req, cb);
  };
  const read = monitor.readResource.bind(monitor);
  monitor.readResource = (req, cb) => {
    const r = record(req.getType(), req.getName());
    r.urn = monitor.newUrn(req.getParent(), req.getType(), req.getName());
    r.parent = req.getParent();
    r.dependencies = req.getDependenciesList();
    return read(req, cb);
  };

  const config: Record<string, string> = {};
  const secretKeys: string[] = [];
  if (s.sshPrivateKey !== null) {
    config["glustermesh:sshPrivateKey"] = s.sshPrivateKey ?? SSH_KEY;
    secretKeys.push("glustermesh:sshPrivateKey");
  }
  if (s.hostKeys !== null) {
    config["glustermesh:hostKeys"] = JSON.stringify(s.hostKeys ?? (await defaultHostKeys(inventoryDir, s.stack)));
  }
  if (s.inventoryDir) config["glustermesh:inventory"] = s.inventoryDir;
  for (const [k, v] of Object.entries(s.config ?? {})) config[k] = typeof v === "string" ? v : JSON.stringify(v);
  pulumi.runtime.setAllConfig(config, secretKeys);

  const result: ProgramResult = { ok: true, resources: [], outputs: {}, warnings, loadMs: 0, runMs: 0, unhandled };
  let t = performance.now();
  try {
    // The program's modules, without running it (only index.ts has side effects).
    await import("../../components/stack");
    result.loadMs = performance.now() - t;
    t = performance.now();
    const program = (await import("../../index")) as Record<string, unknown>;
    for (const [name, value] of Object.entries(program)) {
      if (name === "default" || name === "__esModule") continue;
      result.outputs[name] = await resolveOutput(pulumi, value, isUnknown);
    }
  } catch (e) {
    result.ok = false;
    const err = e as Error;
    result.error = { name: err?.name ?? "Error", message: err?.message ?? String(e), runError: pulumi.RunError.isInstance(e) };
  }
  await withTimeout((pulumi.runtime as unknown as { waitForRPCs(): Promise<void> }).waitForRPCs(), 120_000, "waiting for the program's resources");
  result.runMs = performance.now() - t;
  await new Promise((r) => setImmediate(r));
  restore();
  result.resources = [...recorded.values()];
  return result;
}

interface RegisterRequest {
  getType(): string;
  getName(): string;
  getParent(): string;
  getDependenciesList(): string[];
  getProtect(): boolean;
  getRetainondelete(): boolean;
}
type ReadRequest = Pick<RegisterRequest, "getType" | "getName" | "getParent" | "getDependenciesList">;

async function resolveOutput(pulumi: typeof import("@pulumi/pulumi"), value: unknown, isUnknown: (x: unknown) => boolean): Promise<StackOutput> {
  if (pulumi.Output.isInstance(value)) {
    const o = value as unknown as { isKnown: Promise<boolean>; isSecret: Promise<boolean>; promise(withUnknowns?: boolean): Promise<unknown> };
    const [known, secret, inner] = await Promise.all([o.isKnown, o.isSecret, o.promise(true)]);
    return { known, secret, value: known ? convert(inner, true, isUnknown) : UNKNOWN };
  }
  return { known: true, secret: false, value: convert(value, true, isUnknown) };
}

async function defaultHostKeys(inventoryDir: string, stack: string): Promise<Record<string, string>> {
  const { loadInventory } = await import("../../model/load");
  const loaded = loadInventory(inventoryDir);
  if (!loaded.ok) return {};
  const dc = (loaded.inventory.dcs as Record<string, { nodes: Record<string, unknown> }>)[stack];
  return Object.fromEntries(Object.keys(dc?.nodes ?? {}).map((n) => [n, fakeHostKey(n)]));
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([p, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out ${what}`)), ms)))]).finally(() => clearTimeout(timer));
}

/** Run one scenario in its own node process (the program runs once per process). */
export async function runScenario(s: Scenario, timeoutMs = 120_000): Promise<ProgramResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "glustermesh-program-"));
  const out = path.join(dir, "result.json");
  const { code, log } = await runChild(path.join(__dirname, "child.ts"), REPO, { GLUSTERMESH_SCENARIO: JSON.stringify(s), GLUSTERMESH_SCENARIO_OUT: out }, timeoutMs);
  try {
    if (code !== 0 || !fs.existsSync(out)) throw new Error(`scenario ${JSON.stringify({ stack: s.stack, preview: s.preview })} exited with ${code}:\n${log}`);
    return JSON.parse(fs.readFileSync(out, "utf8")) as ProgramResult;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// ---- Looking at a result ----

export class Resources extends ResourceGraph<RecordedResource> {}

/** The `create` script of a command (with the remote wrapper). */
export function createOf(r: RecordedResource): string {
  const c = r.inputs.create;
  if (typeof c !== "string") throw new Error(`${r.name} has no known create script (${JSON.stringify(c)})`);
  return c;
}

/** A temporary copy of the repository's inventory, for scenarios that change it. */
export function copyInventory(edit?: (files: Record<string, string>) => void): string {
  const src = path.join(REPO, "inventory");
  const files: Record<string, string> = {};
  for (const f of fs.readdirSync(src)) files[f] = fs.readFileSync(path.join(src, f), "utf8");
  edit?.(files);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "glustermesh-inventory-"));
  for (const [f, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, f), text);
  return dir;
}

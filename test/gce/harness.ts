// Runs the real program (index.ts) of a gce stack under `pulumi.runtime.setMocks`, one scenario
// per child process (the program has top-level side effects), and records every resource:
// type, name, inputs (secrets unwrapped), dependencies, protect, ignoreChanges; the stack's
// outputs; the warnings; the error the program stopped with. GCP is mocked: static addresses
// get fixed IPs, and the guest attribute with the host key answers as the scenario says.
import { captureWarnings, runChild } from "../support/child";
import { ResourceGraph } from "../support/resources";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export const REPO = path.resolve(__dirname, "../..");
export const UNKNOWN = "<<unknown>>";
export const SSH_PRIVATE_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\ntestonly\n-----END OPENSSH PRIVATE KEY-----\n";
export const SSH_PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDeployKeyForTestsOnly0000000000000000000 deploy@test";
export const ADMIN_RANGE = "192.0.2.0/28";

export interface Scenario {
  stack: string;
  preview?: boolean;
  /** Config by full key; objects are JSON-encoded; null removes a default. */
  config?: Record<string, unknown>;
  /** `meshHosts` of the peer stacks, by DC name. */
  peers?: Record<string, Record<string, { address?: string; tinc: string; publicKey: string }>>;
  /** What the guest attribute `glustermesh/ssh-ed25519` holds ("" = not published). */
  guestHostKey?: "published" | "empty";
}

export interface Rec {
  type: string;
  name: string;
  urn: string;
  parent: string;
  dependencies: string[];
  protect: boolean;
  ignoreChanges: string[];
  inputs: Record<string, any>;
}

export interface Result {
  ok: boolean;
  error?: { message: string; runError: boolean };
  resources: Rec[];
  outputs: Record<string, unknown>;
  warnings: string[];
  unhandled: string[];
  invokes: string[];
  /** The child process ended on its own (exit code and everything it printed). */
  crashed?: { code: number | null; log: string };
}

/** The static IP the mocks give a node's address: 34.10.0.N in central, 34.20.0.N in europe. */
export function staticIp(node: string): string {
  const m = /^gce(central|europe)(\d+)$/.exec(node);
  if (!m) throw new Error(`no static IP for ${node}`);
  return `34.${m[1] === "central" ? 10 : 20}.0.${m[2]}`;
}

export function fakeTincKey(node: string): string {
  return `-----BEGIN RSA PUBLIC KEY-----\n${Buffer.from(`tinc public key of ${node} `.padEnd(48, "x")).toString("base64")}\n-----END RSA PUBLIC KEY-----`;
}

export const hostKeyB64 = (instance: string) => Buffer.from(`host key of ${instance}`).toString("base64");

const SIG_KEY = "4dabf18193072939515e22adb298388d";

function convert(v: unknown, isUnknown: (x: unknown) => boolean): any {
  if (isUnknown(v)) return UNKNOWN;
  if (Array.isArray(v)) return v.map((x) => convert(x, isUnknown));
  if (v && typeof v === "object") {
    const o = v as Record<string, unknown>;
    if (SIG_KEY in o && "value" in o) return convert(o.value, isUnknown);
    return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, convert(x, isUnknown)]));
  }
  return v;
}

/** The config every scenario starts from (a scenario's `config` overrides; null removes). */
export function baseConfig(stack: string): Record<string, unknown> {
  const europe = stack === "gce-europe-1";
  return {
    "gcp:project": "glustermesh-test",
    "gcp:region": europe ? "europe-west1" : "us-central1",
    "gcp:zone": europe ? "europe-west1-b" : "us-central1-b",
    "glustermesh:sshUser": "root",
    "glustermesh:sshPrivateKey": SSH_PRIVATE_KEY,
    "glustermesh:sshPublicKey": SSH_PUBLIC_KEY,
    "glustermesh:adminRanges": [ADMIN_RANGE],
  };
}

/** Run in this process (the child). */
export async function runProgram(s: Scenario): Promise<Result> {
  const { warnings, unhandled } = captureWarnings();
  const invokes: string[] = [];
  const pulumi = await import("@pulumi/pulumi");
  const isUnknown = (x: unknown) => pulumi.Output.isInstance(x) || (typeof x === "object" && x !== null && x.constructor?.name === "Unknown");
  const recs = new Map<string, Rec>();
  const rec = (type: string, name: string) => {
    const key = `${type}::${name}`;
    if (!recs.has(key)) recs.set(key, { type, name, urn: "", parent: "", dependencies: [], protect: false, ignoreChanges: [], inputs: {} });
    return recs.get(key)!;
  };

  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        const r = rec(args.type, args.name);
        r.inputs = convert(args.inputs, isUnknown);
        const id = `${args.name}-id`;
        switch (args.type) {
          case "pulumi:pulumi:StackReference": {
            const dc = String(args.inputs.name).split("/").pop()!;
            const hosts = s.peers?.[dc];
            return { id: String(args.inputs.name), state: { ...args.inputs, outputs: hosts ? { meshHosts: hosts } : {} } };
          }
          // In a preview the engine knows no computed output of a resource it has yet to create.
          case "gcp:compute/address:Address":
            return { id, state: { ...args.inputs, ...(s.preview ? {} : { address: staticIp(args.name.split("/").pop()!) }) } };
          case "gcp:compute/instance:Instance":
            return { id: `projects/p/zones/${args.inputs.zone}/instances/${args.inputs.name}`, state: { ...args.inputs, ...(s.preview ? {} : { instanceId: `4242${args.inputs.name}` }) } };
          case "command:remote:Command": {
            if (s.preview) return { id, state: {} };
            const key = /\/mesh\/([^/]+)\/key$/.exec(args.name);
            return { id, state: { stdout: key ? `${fakeTincKey(key[1])}\n` : "", stderr: "" } };
          }
          default:
            return { id, state: { ...args.inputs } };
        }
      },
      call(args) {
        invokes.push(`${args.token} ${JSON.stringify(args.inputs)}`);
        if (args.token === "gcp:compute/getInstanceGuestAttributes:getInstanceGuestAttributes") {
          const name = String(args.inputs.name);
          return { ...args.inputs, id: name, queryValues: [], variableValue: s.guestHostKey === "empty" ? "" : hostKeyB64(name) };
        }
        throw new Error(`unexpected invoke ${args.token}`);
      },
    },
    "glustermesh",
    s.stack,
    s.preview ?? false,
  );

  const monitor = pulumi.runtime.getMonitor() as any;
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req: any, cb: unknown) => {
    const r = rec(req.getType(), req.getName());
    r.urn = monitor.newUrn(req.getParent(), req.getType(), req.getName());
    r.parent = req.getParent();
    r.dependencies = req.getDependenciesList();
    r.protect = !!req.getProtect();
    r.ignoreChanges = req.getIgnorechangesList();
    return register(req, cb);
  };
  const read = monitor.readResource.bind(monitor);
  monitor.readResource = (req: any, cb: unknown) => {
    const r = rec(req.getType(), req.getName());
    r.urn = monitor.newUrn(req.getParent(), req.getType(), req.getName());
    r.parent = req.getParent();
    return read(req, cb);
  };

  const merged: Record<string, unknown> = { ...baseConfig(s.stack), ...(s.config ?? {}) };
  const config: Record<string, string> = {};
  for (const [k, v] of Object.entries(merged)) if (v !== null && v !== undefined) config[k] = typeof v === "string" ? v : JSON.stringify(v);
  pulumi.runtime.setAllConfig(config, ["glustermesh:sshPrivateKey"]);

  const result: Result = { ok: true, resources: [], outputs: {}, warnings, unhandled, invokes };
  try {
    const program = (await import("../../index")) as Record<string, unknown>;
    for (const [name, value] of Object.entries(program)) {
      if (name === "default" || name === "__esModule") continue;
      const o = value as any;
      // An output that waits on a failed resource never settles: give up on it after a while.
      const resolved = pulumi.Output.isInstance(value) ? within(Promise.all([o.isKnown, o.promise(true)]), 8_000) : Promise.resolve([true, value]);
      const settled = await resolved;
      result.outputs[name] = settled === TIMED_OUT ? TIMED_OUT : settled[0] ? convert(settled[1], isUnknown) : UNKNOWN;
    }
  } catch (e) {
    result.ok = false;
    result.error = { message: (e as Error)?.message ?? String(e), runError: pulumi.RunError.isInstance(e) };
  }
  await within((pulumi.runtime as any).waitForRPCs(), 8_000);
  await new Promise((r) => setImmediate(r));
  result.resources = [...recs.values()];
  return result;
}

export const TIMED_OUT = "<<never settled>>";

/** The promise's value, or TIMED_OUT; a timer keeps the process alive meanwhile. */
function within<T>(p: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT> {
  let timer: NodeJS.Timeout;
  return Promise.race([p, new Promise<typeof TIMED_OUT>((r) => (timer = setTimeout(() => r(TIMED_OUT), ms)))]).finally(() => clearTimeout(timer));
}

/** Run one scenario in its own process. */
export async function runScenario(s: Scenario, timeoutMs = 120_000): Promise<Result> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "glustermesh-gce-"));
  const out = path.join(dir, "result.json");
  const { code, log } = await runChild(path.join(__dirname, "child.ts"), REPO, { GM_GCE_SCENARIO: JSON.stringify(s), GM_GCE_OUT: out }, timeoutMs);
  try {
    // With outputs that never settle (a failed resource), Pulumi's exit check sets exit code 1
    // after the result is written: the result file is what counts.
    if (!fs.existsSync(out)) return { ok: false, crashed: { code, log }, resources: [], outputs: {}, warnings: [], unhandled: [], invokes: [] };
    return JSON.parse(fs.readFileSync(out, "utf8")) as Result;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export class Resources extends ResourceGraph<Rec> {}

/** Every string anywhere in a value. */
export function allStrings(v: unknown): string[] {
  if (typeof v === "string") return [v];
  if (Array.isArray(v)) return v.flatMap(allStrings);
  if (v && typeof v === "object") return Object.values(v).flatMap(allStrings);
  return [];
}

/** meshHosts of a DC as its stack would publish them. */
export function peerHostsOf(nodes: Record<string, { address?: string; tinc: string }>): Record<string, { address?: string; tinc: string; publicKey: string }> {
  return Object.fromEntries(Object.entries(nodes).map(([n, h]) => [n, { ...h, publicKey: fakeTincKey(n) }]));
}

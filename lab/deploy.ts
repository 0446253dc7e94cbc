// The deploy step of `npm run lab`: write a lab inventory from the running lab's hosts and
// pinned host keys, deploy every DC with the real Pulumi engine (`pulumi up` per DC stack, see
// lab/pulumi.ts), then print a status of the mesh and the storage.
//
// The first rollout is two waves, each deploying laba and labb at the same time (one
// `pulumi up` each). tinc keys are made on the hosts, so a DC learns another DC's keys only from
// that DC's stack outputs (its `meshHosts`), which exist only after that DC was deployed once:
//   1. laba + labb: keys, the mesh inside each DC, clusters, volumes. Neither knows the other
//      yet (a warning each); their mounts of the other's volume are installed, not attempted.
//   2. laba + labb again: each learns the other's keys (host files, ConnectTo, HUP). The mesh
//      links as soon as the later of the two has written its host files; the mounts of the
//      other DC's volume wait for that (up to PEER_MOUNT_WAIT s) and come up.
// Later deploys need one round per DC; a second full rollout changes nothing.
import * as fs from "node:fs";
import * as path from "node:path";
import { stringify } from "yaml";
import { changedLines, ensureStack, setConfig, upStack, type DeployReport } from "./pulumi";
import type { Lab } from "./hosts";
import { SPARE_HOSTS } from "./layout";

export interface DeployOptions {
  log: (line: string) => void;
}

export const INVENTORY_DIR = "/run/glustermesh-lab/inventory";
export const MESH_SUBNET = "10.250.0.0/16";
/** A rollout: waves one after another; the DCs of a wave deploy at the same time. */
export type Rollout = Array<string | string[]>;
export const FIRST_ROLLOUT: Rollout = [["laba", "labb"], ["laba", "labb"]];

/** "laba + labb, then laba + labb" */
export function describeRollout(order: Rollout): string {
  return order.map((w) => (Array.isArray(w) ? w.join(" + ") : w)).join(", then ");
}
export const SYNC_EVERY = "30s";
/**
 * A killed lab host dies with its tincd, so its sockets never send a FIN: clients notice only
 * after network.ping-timeout (gluster's default 42 s). The lab uses 10 s so fault tests are short.
 */
export const PING_TIMEOUT = 10;

/** tinc address of a lab host: laba3 -> 10.250.1.3, labb2 -> 10.250.2.2. */
export function tincAddress(host: string): string {
  const m = /^lab([a-z])(\d+)$/.exec(host);
  if (!m) throw new Error(`lab host ${host} has no tinc address rule`);
  return `10.250.${m[1].charCodeAt(0) - 96}.${m[2]}`;
}

export interface LabInventoryOptions {
  /** Add the spare hosts laba6, laba7 to laba and a second replica set of projects on them. */
  grow?: boolean;
  dir?: string;
}

/**
 * The lab inventory:
 * - laba/projects: replica 3 arbiter 1 (the layout glustermesh recommends: any one node may go);
 *   [laba1, laba2, laba3]; grown: + [laba6, laba7, laba4] (laba4 holds that set's arbiter).
 * - laba/scratch: replica 2 with the virt group, [laba4, laba3]: shows the replica-2 +
 *   quorum-type=auto warning (laba4, the first brick, is a single point of failure).
 * - labb/projects: replica 2 on [labb1, labb2] with cluster.quorum-type none and no server
 *   quorum: two nodes cannot keep a majority, so any quorum would stop the volume when one
 *   node goes; the price is split-brain risk, which the model warns about.
 * Sync of projects both ways every 30 s so tests need not wait long; network.ping-timeout 10 s.
 */
export function labInventory(lab: Lab, opts: LabInventoryOptions = {}): Record<string, unknown> {
  const hostKey = (h: string) => {
    const k = lab.knownHosts[h];
    if (!k) throw new Error(`no pinned host key for lab host ${h}`);
    return k.split(/\s+/).slice(0, 2).join(" ");
  };
  const node = (h: string, roles: string[]) => ({ address: lab.hosts.find((x) => x.name === h)!.address, tinc: tincAddress(h), roles, ssh: { hostKey: hostKey(h) } });
  const labaStorage = ["laba1", "laba2", "laba3", "laba4", ...(opts.grow ? SPARE_HOSTS : [])];
  const laba = {
    nodes: { ...Object.fromEntries(labaStorage.map((h) => [h, node(h, ["storage"])])), laba5: node("laba5", ["compute"]) },
    volumes: {
      projects: {
        replica: 3,
        arbiter: 1,
        brickPath: "/bricks/projects",
        replicaSets: [["laba1", "laba2", "laba3"], ...(opts.grow ? [["laba6", "laba7", "laba4"]] : [])],
        options: { group: "virt", "network.ping-timeout": PING_TIMEOUT },
        sync: { every: SYNC_EVERY },
      },
      scratch: {
        replica: 2,
        brickPath: "/bricks/scratch",
        replicaSets: [["laba4", "laba3"]],
        // a pattern with a wildcard, which reaches gluster exactly as written (no quotes added)
        options: { group: "virt", "network.ping-timeout": PING_TIMEOUT, "auth.reject": "192.0.2.*" },
        sync: false,
      },
    },
  };
  const labb = {
    nodes: { labb1: node("labb1", ["storage"]), labb2: node("labb2", ["storage"]) },
    volumes: {
      projects: {
        replica: 2,
        brickPath: "/bricks/projects",
        replicaSets: [["labb1", "labb2"]],
        options: { "cluster.quorum-type": "none", "network.ping-timeout": PING_TIMEOUT },
        sync: { every: SYNC_EVERY },
      },
    },
  };
  const driftKey = fs.readFileSync(`${lab.driftKeyPath}.pub`, "utf8").trim();
  return { mesh: { name: "glustermesh", subnet: MESH_SUBNET, port: 655, connectToPerDc: 3 }, drift: { keys: [driftKey] }, laba, labb };
}

export function writeLabInventory(lab: Lab, opts: LabInventoryOptions = {}): string {
  const dir = opts.dir ?? INVENTORY_DIR;
  const inv = labInventory(lab, opts) as { mesh: unknown; drift: unknown } & Record<string, unknown>;
  fs.mkdirSync(dir, { recursive: true });
  for (const f of fs.readdirSync(dir)) if (f.endsWith(".yaml")) fs.rmSync(path.join(dir, f));
  const head = "# glustermesh lab inventory, written by lab/deploy.ts\n";
  fs.writeFileSync(path.join(dir, "mesh.yaml"), head + stringify({ mesh: inv.mesh, drift: inv.drift }));
  for (const [dc, body] of Object.entries(inv)) {
    if (dc === "mesh" || dc === "drift") continue;
    fs.writeFileSync(path.join(dir, `${dc}.yaml`), head + stringify(body, { lineWidth: 0 }));
  }
  return dir;
}

export interface RolloutResult {
  ok: boolean;
  seconds: number;
  reports: DeployReport[];
  changed: string[];
}

export interface RolloutOptions {
  log?: (l: string) => void;
  inventoryDir?: string;
  /** set `glustermesh:reapply` to this value first: every step that is not protected runs again */
  reapply?: string;
}

/** Deploy the waves in order (the DCs of a wave at the same time), stopping after the first failed wave. */
export async function rollout(lab: Lab, order: Rollout, opts: RolloutOptions = {}): Promise<RolloutResult> {
  const log = opts.log ?? (() => undefined);
  const t0 = Date.now();
  const reports: DeployReport[] = [];
  for (const [i, wave] of order.entries()) {
    const dcs = Array.isArray(wave) ? wave : [wave];
    if (new Set(dcs).size !== dcs.length) throw new Error(`rollout wave ${i + 1} deploys a DC twice: ${dcs.join(", ")}`);
    log(`deploy: wave ${i + 1}/${order.length}: ${dcs.join(" + ")}`);
    for (const dc of dcs) {
      await ensureStack(lab, dc, opts.inventoryDir ?? INVENTORY_DIR);
      if (opts.reapply !== undefined) await setConfig(lab, dc, "glustermesh:reapply", opts.reapply);
    }
    const wr = await Promise.all(dcs.map((dc) => upStack(lab, dc)));
    for (const r of wr) {
      reports.push(r);
      const ops = Object.entries(r.summary).filter(([op]) => op !== "same").map(([op, n]) => `${n} ${op}`);
      log(`deploy: ${r.dc} ${r.ok ? "done" : "FAILED"} in ${r.seconds.toFixed(1)}s: ${r.resources.length} steps ran (${ops.join(", ") || "no change"}), ${changedLines(r).length} changes on hosts`);
      for (const f of r.failures) log(`deploy: FAILED ${f.name} on ${f.host ?? "-"}${f.exitCode !== undefined ? ` (exit ${f.exitCode})` : ""}:\n${f.message.replace(/^/gm, "    | ")}`);
    }
    if (!wr.every((r) => r.ok)) break;
  }
  return { ok: reports.every((r) => r.ok), seconds: (Date.now() - t0) / 1000, reports, changed: reports.flatMap(changedLines) };
}

export async function deploy(lab: Lab, opts: DeployOptions): Promise<void> {
  const t0 = Date.now();
  writeLabInventory(lab);
  const r = await rollout(lab, FIRST_ROLLOUT, { log: opts.log });
  opts.log(`deploy: ${r.ok ? "complete" : "FAILED"} in ${r.seconds.toFixed(1)}s (${r.changed.length} changes)`);
  const s = Date.now();
  opts.log(await labStatus(lab));
  opts.log(`deploy: status in ${((Date.now() - s) / 1000).toFixed(1)}s; deploy + status ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  if (!r.ok) throw new Error("deploy failed");
}

/** The lab hosts that are part of the current inventory. */
export function inventoryHosts(dir = INVENTORY_DIR): { name: string; dc: string; tinc: string }[] {
  const out: { name: string; dc: string; tinc: string }[] = [];
  for (const f of fs.readdirSync(dir).sort()) {
    if (!f.endsWith(".yaml") || f === "mesh.yaml") continue;
    const text = fs.readFileSync(path.join(dir, f), "utf8");
    for (const m of text.matchAll(/^ {2}(lab[a-z]\d+):\s*$/gm)) out.push({ name: m[1], dc: f.replace(/\.yaml$/, ""), tinc: tincAddress(m[1]) });
  }
  return out;
}

/** Text status: tinc reachability, gluster peers and volumes, mounts, timers. */
export async function labStatus(lab: Lab): Promise<string> {
  const hosts = inventoryHosts().filter((h) => lab.isRunning(h.name));
  const reachTask = Promise.all(
    hosts.map(async (h) => {
      const targets = hosts.filter((x) => x.name !== h.name);
      const script = targets.map((t) => `(timeout 3 bash -c '</dev/tcp/${t.tinc}/22' 2>/dev/null && echo "${t.name} ok" || echo "${t.name} FAIL") &`).join("\n") + "\nwait\n";
      const r = await lab.exec(h.name, script, { timeoutMs: 20_000 });
      const bad = r.stdout.split("\n").filter((l) => l.endsWith("FAIL")).map((l) => l.split(" ")[0]);
      return `  ${h.name.padEnd(6)} ${h.tinc.padEnd(11)} reaches ${targets.length - bad.length}/${targets.length}${bad.length ? ` (not: ${bad.join(",")})` : ""}`;
    }),
  );
  const glusterTask = Promise.all(
    [...new Set(hosts.map((h) => h.dc))].map(async (dc) => {
      const lead = hosts.find((h) => h.dc === dc && h.name !== "laba5");
      if (!lead) return [];
      const r = await lab.exec(
        lead.name,
        `gluster --mode=script pool list 2>&1 | tail -n +2 | awk '{print "  " $2 " " $3}'
for v in $(gluster --mode=script volume list 2>/dev/null); do
  gluster --mode=script volume info "$v" | awk -v v="$v" '/^(Type|Status|Number of Bricks):/ { printf "  %s %s", v, $0; print "" } /^Brick[0-9]+:/ { print "    " $0 }'
  gluster --mode=script volume get "$v" all 2>/dev/null | awk '$1 ~ /^(cluster.quorum-type|cluster.server-quorum-type|auth.allow|nfs.disable)$/ { print "    " $1 " " $2 }'
done`,
        { timeoutMs: 30_000 },
      );
      return [`gluster ${dc} (from ${lead.name}): peers`, r.stdout.trimEnd() || `  ${r.stderr.trim()}`];
    }),
  );
  const unitsTask = Promise.all(
    hosts.map(async (h) => {
      const r = await lab.exec(
        h.name,
        `echo "$(findmnt -rn -t fuse.glusterfs -o TARGET | tr '\\n' ' ')|$(systemctl list-timers --plain --no-legend 'glustermesh-*' | awk '{for(i=1;i<=NF;i++) if ($i ~ /\\.timer$/) print $i}' | tr '\\n' ' ')|$(systemctl is-active tinc@glustermesh)|$(systemctl --failed --plain --no-legend | awk '{print $1}' | tr '\\n' ' ')"`,
        { timeoutMs: 20_000 },
      );
      const [mounts, timers, tinc, failed] = r.stdout.trim().split("|");
      return `  ${h.name.padEnd(6)} tinc ${tinc ?? "?"}; mounts: ${mounts?.trim() || "-"}; timers: ${timers?.trim() || "-"}${failed?.trim() ? `; FAILED UNITS: ${failed.trim()}` : ""}`;
    }),
  );
  // the three views are asked for at the same time
  const [reach, gluster, units] = await Promise.all([reachTask, glusterTask, unitsTask]);
  return ["tinc mesh (ssh port over tinc addresses):", ...reach, ...gluster.flat(), "hosts:", ...units].join("\n");
}

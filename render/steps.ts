// Everything one DC's stack does to its hosts, as a pure list of steps: the resource name
// (as `pulumi preview` shows it), the node it runs on, the script, and the steps it waits
// for. Components turn steps into remote commands; `render`, `plan` and the lab read the
// same list, so what an operator reviews is what runs.
import { driftAccountScript } from "./access";
import { connectTo, dcOf, DRIFT_ACCOUNT, naturalCompare, type DataCenter, type MeshNode, type Model } from "../model/model";
import * as gluster from "./gluster";
import { REBALANCE_CHECK_MINUTES, REBALANCE_CHECK_UNIT, rebalanceScript } from "./rebalance";
import { parsePublicKey, tincConfigScript, tincKeyScript, tincService, type TincHost } from "./tinc";
import { firewallScript, mountScript, retiredUnitsScript, SYNC_BUNDLE, syncTimersScript, timeSyncScript } from "./units";
import { diskSteps } from "./disk";
import { CHANGED_MARK } from "./shell";

/** What only exists once hosts answer: tinc public keys, and the addresses of created machines. */
export interface Facts {
  publicKeys: Record<string, string>;
  addresses: Record<string, string | undefined>;
}

export type Component = "host" | "mesh" | "cluster" | "mounts" | "sync" | "retired" | `volume:${string}`;

interface StepBase {
  name: string;
  component: Component;
  node: string;
  after: string[];
  /** Never deleted with the stack; removal needs an explicit opt-in (pulumi state unprotect). */
  protect?: boolean;
  /** What the step does, in gluster and tinc terms, for `plan`. */
  summary: string;
}

export interface CommandStep extends StepBase {
  kind: "command";
  /** The script; a function of facts for steps that need keys or addresses. */
  script: string | ((facts: Facts) => string);
  /** The step's stdout carries the node's tinc public key. */
  yieldsPublicKey?: boolean;
}

export interface CopyStep extends StepBase {
  kind: "copy";
  /** Local file. */
  source: string;
  remotePath: string;
}

export type Step = CommandStep | CopyStep;

/** The lead of a DC: the node that probes peers (the first volume's lead, else the first storage node). */
export function dcLead(dc: DataCenter): MeshNode | undefined {
  const lead = dc.volumes[0]?.lead;
  return dc.nodes.find((n) => n.name === lead) ?? dc.storageNodes.slice().sort((a, b) => naturalCompare(a.name, b.name))[0];
}

/** What a storage node's glusterd waits for before it starts: its own address on the mesh. */
export function glusterdMeshArgs(model: Model, n: MeshNode): gluster.GlusterdMeshArgs {
  return {
    node: n.name,
    tinc: n.tinc,
    interface: model.mesh.interface,
    port: model.mesh.port,
    tincService: tincService(model.mesh.name),
  };
}

/** The bricks a node holds, with their volumes: what its brick check watches. */
export function nodeBricks(dc: DataCenter, n: MeshNode): gluster.BrickCheckArgs["bricks"] {
  return dc.volumes.flatMap((v) => v.replicaSets.flatMap((s) => s.bricks).filter((b) => b.node === n.name).map((brick) => ({ volume: v.name, brick })));
}

export function dcSteps(model: Model, dcName: string, syncBundle = "dist/glustermesh-sync.js"): Step[] {
  const dc = dcOf(model, dcName);
  const d = dc.name;
  const steps: Step[] = [];
  const mesh = model.mesh;
  const tinc = tincService(mesh.name);
  const add = (s: Step) => steps.push(s);

  // Hosts and mesh.
  for (const n of dc.nodes) {
    add({ kind: "command", name: `${d}/host/${n.name}/time`, component: "host", node: n.name, after: [], script: timeSyncScript(n.name), summary: `keep ${n.name}'s clock in step (chrony)` });
    add({ kind: "command", name: `${d}/host/${n.name}/drift-account`, component: "host", node: n.name, after: [], script: driftAccountScript(n.name, model.drift.keys), summary: `the read-only account ${DRIFT_ACCOUNT} on ${n.name}, for glustermesh drift (${model.drift.keys.length} key(s))` });
    add({ kind: "command", name: `${d}/mesh/${n.name}/key`, component: "mesh", node: n.name, after: [], script: tincKeyScript(mesh.name, n.name), yieldsPublicKey: true, summary: `make ${n.name}'s tinc key on the host if it has none` });
  }
  const keySteps = dc.nodes.map((n) => `${d}/mesh/${n.name}/key`);
  for (const n of dc.nodes) {
    add({
      kind: "command",
      name: `${d}/mesh/${n.name}/config`,
      component: "mesh",
      node: n.name,
      after: keySteps,
      script: (facts) =>
        tincConfigScript({
          network: mesh.name,
          interface: mesh.interface,
          port: mesh.port,
          prefix: mesh.prefix,
          name: n.name,
          tinc: n.tinc,
          connectTo: connectTo(model, n).filter((peer) => peer in facts.publicKeys),
          hosts: meshHosts(model, facts),
        }),
      summary: `write tinc.conf, tinc-up and the host files of every known node on ${n.name}; run tincd`,
    });
  }

  // Gluster servers and the trusted pool.
  for (const n of dc.storageNodes) {
    add({ kind: "command", name: `${d}/host/${n.name}/firewall`, component: "host", node: n.name, after: [], script: firewallScript(n.name, mesh.interface), summary: `let gluster's ports answer only on the tinc interface of ${n.name}` });
    add({
      kind: "command",
      name: `${d}/gluster/${n.name}/glusterd`,
      component: "cluster",
      node: n.name,
      // glusterd starts once the mesh is up (its drop-in waits for it): after this node's mesh step
      after: [`${d}/host/${n.name}/firewall`, `${d}/mesh/${n.name}/config`],
      script: gluster.glusterdScript({ ...glusterdMeshArgs(model, n), bricks: nodeBricks(dc, n) }),
      summary: `install and run glusterd on ${n.name}, started only once the mesh reaches its pool`,
    });
  }
  const lead = dcLead(dc);
  const probeOf = (node: string) => (lead && node !== lead.name ? [`${d}/cluster/probe/${node}`] : []);
  if (lead) {
    for (const n of dc.storageNodes) {
      if (n.name === lead.name) continue;
      add({
        kind: "command",
        name: `${d}/cluster/probe/${n.name}`,
        component: "cluster",
        node: lead.name,
        // glusterd starts while the mesh comes up; the probe goes over the mesh
        after: [`${d}/gluster/${lead.name}/glusterd`, `${d}/gluster/${n.name}/glusterd`, `${d}/mesh/${lead.name}/config`, `${d}/mesh/${n.name}/config`],
        script: gluster.peerProbeScript({ lead: lead.name, peer: n.name, peerTinc: n.tinc, tincService: tinc }),
        summary: `gluster peer probe ${n.tinc} (${n.name}) from ${lead.name}`,
      });
    }
  }
  // Every peer must see every other before a volume command: gluster stages create and
  // add-brick on all peers, and a create that fails half way marks the bricks as used.
  // The lead's pool step waits for every other node's, so volume steps need only the lead's.
  const probes = steps.filter((s) => s.name.startsWith(`${d}/cluster/probe/`)).map((s) => s.name);
  const poolOf = (node: string) => `${d}/gluster/${node}/pool`;
  const storage = [...dc.storageNodes.filter((n) => n.name !== lead?.name), ...dc.storageNodes.filter((n) => n.name === lead?.name)];
  for (const n of storage) {
    const name = poolOf(n.name);
    add({
      kind: "command",
      name,
      component: "cluster",
      node: n.name,
      after: [`${d}/gluster/${n.name}/glusterd`, `${d}/mesh/${n.name}/config`, ...probes, ...(n.name === lead?.name ? storage.filter((o) => o.name !== n.name).map((o) => poolOf(o.name)) : [])],
      script: gluster.poolReadyScript(n.name, dc.storageNodes.length),
      summary: `wait until ${n.name} sees all ${dc.storageNodes.length - 1} other peers of ${d} connected`,
    });
    const bricks = dc.volumes.flatMap((v) => v.replicaSets.flatMap((s) => s.bricks)).filter((b) => b.node === n.name);
    if (bricks.length > 0) {
      add({ kind: "command", name: `${d}/gluster/${n.name}/bricks`, component: "cluster", node: n.name, after: [name], script: gluster.brickDirScript(n.name, bricks), summary: `make brick directories ${bricks.map((b) => b.path).join(", ")} on ${n.name}` });
    }
  }

  // Volumes.
  for (const v of dc.volumes) {
    const comp: Component = `volume:${v.name}`;
    let previous = "";
    v.replicaSets.forEach((set, i) => {
      const nodes = [...new Set(set.bricks.map((b) => b.node))];
      const after = [...(previous ? [previous] : []), ...nodes.flatMap(probeOf), ...nodes.map((x) => `${d}/gluster/${x}/bricks`), ...(lead ? [poolOf(lead.name)] : [])];
      if (v.lead !== lead?.name) after.push(...probeOf(v.lead));
      const name = i === 0 ? `${d}/${v.name}/create/${set.name}` : `${d}/${v.name}/add-brick/${set.name}`;
      const bricks = set.bricks.map((b) => b.spec).join(" ");
      add({
        kind: "command",
        name,
        component: comp,
        node: v.lead,
        after,
        protect: true,
        script: i === 0 ? gluster.volumeCreateScript(v) : gluster.addBrickScript(v, set),
        summary: i === 0 ? `gluster volume create ${v.name} ${v.arbiter ? "replica 3 arbiter 1" : `replica ${v.replica}`} ${bricks}` : `gluster volume add-brick ${v.name} ${v.arbiter ? "replica 3 arbiter 1" : `replica ${v.replica}`} ${bricks}`,
      });
      previous = name;
    });
    add({ kind: "command", name: `${d}/${v.name}/start`, component: comp, node: v.lead, after: [previous], script: gluster.volumeStartScript(v), summary: `gluster volume start ${v.name}` });
    add({ kind: "command", name: `${d}/${v.name}/options`, component: comp, node: v.lead, after: [`${d}/${v.name}/start`], script: gluster.volumeOptionsScript(v), summary: `set ${v.options.length} options of ${v.name}${v.virtGroup ? " (virt group)" : ""}, auth.allow ${v.authAllow}, nfs.disable on` });
    add({ kind: "command", name: `${d}/${v.name}/rebalance`, component: comp, node: v.lead, after: [`${d}/${v.name}/options`], script: rebalanceScript(v), summary: `gluster volume rebalance ${v.name} start, when its replica sets changed; ${REBALANCE_CHECK_UNIT}.timer on ${v.lead} starts it again within ${REBALANCE_CHECK_MINUTES} minutes if it fails or is stopped` });
  }

  // Mounts.
  for (const m of dc.mounts) {
    const own = m.dc === d;
    add({
      kind: "command",
      name: `${d}/mount/${m.node}/${m.dc}/${m.volume}`,
      component: "mounts",
      node: m.node,
      after: [`${d}/mesh/${m.node}/config`, ...(own ? [`${d}/${m.volume}/options`] : [])],
      // Another DC's volume: whether that DC was deployed shows in the facts (its nodes' keys).
      script: own ? mountScript(m, tinc, "own") : (facts) => mountScript(m, tinc, peerDeployed(model, m.dc, facts) ? "peer" : "peer-not-deployed"),
      summary: `mount ${m.dc}/${m.volume} at ${m.where} on ${m.node} (backup volfile servers ${m.backupServers.join(", ") || "none"})`,
    });
  }

  // Sync timers.
  const syncNodes = [...new Set(dc.syncJobs.map((j) => j.node))].sort(naturalCompare);
  for (const node of syncNodes) {
    const jobs = dc.syncJobs.filter((j) => j.node === node);
    add({ kind: "command", name: `${d}/sync/${node}/prepare`, component: "sync", node, after: [], script: syncPrepareScript(node), summary: `make ${SYNC_DIR} on ${node}` });
    add({ kind: "copy", name: `${d}/sync/${node}/tool`, component: "sync", node, after: [`${d}/sync/${node}/prepare`], source: syncBundle, remotePath: SYNC_BUNDLE, summary: `copy the sync tool to ${node}:${SYNC_BUNDLE}` });
    const mounts = [...new Set(jobs.map((j) => `${d}/mount/${node}/${j.targetDc}/${j.volume}`))];
    add({
      kind: "command",
      name: `${d}/sync/${node}/timers`,
      component: "sync",
      node,
      after: [`${d}/sync/${node}/tool`, ...mounts],
      script: syncTimersScript(node, jobs),
      summary: `enable ${jobs.length} sync timer${jobs.length === 1 ? "" : "s"} on ${node}: ${jobs.map((j) => `${j.volume} set ${j.replicaSet} -> ${j.targetDc}`).join(", ")}`,
    });
  }

  // What the inventory no longer declares on a node: its sync timers, then its mounts.
  for (const n of dc.nodes) {
    const jobs = dc.syncJobs.filter((j) => j.node === n.name);
    const mounts = dc.mounts.filter((m) => m.node === n.name);
    add({
      kind: "command",
      name: `${d}/retired/${n.name}`,
      component: "retired",
      node: n.name,
      after: [...(jobs.length ? [`${d}/sync/${n.name}/timers`] : []), ...mounts.map((m) => `${d}/mount/${n.name}/${m.dc}/${m.volume}`)],
      script: retiredUnitsScript(n.name, jobs, mounts),
      summary: `stop and remove the sync timers and gluster mounts on ${n.name} that the inventory no longer declares (a mount in use stays, with a warning)`,
    });
  }

  const names = new Set(steps.map((s) => s.name));
  for (const s of steps) for (const a of s.after) if (!names.has(a)) throw new Error(`step ${s.name} waits for unknown step ${a}`);
  return steps;
}

const SYNC_DIR = SYNC_BUNDLE.slice(0, SYNC_BUNDLE.lastIndexOf("/"));

function syncPrepareScript(node: string): string {
  return `#!/bin/bash
# glustermesh: folder of the sync tool on ${node}
set -euo pipefail
if [[ ! -d ${SYNC_DIR} ]]; then
  mkdir -p ${SYNC_DIR}
  echo "${CHANGED_MARK} made ${SYNC_DIR}"
fi
`;
}

/** Whether another DC was deployed: this stack knows the tinc key of one of its nodes. */
export function peerDeployed(model: Model, dc: string, facts: Facts): boolean {
  return model.nodes.some((n) => n.dc === dc && facts.publicKeys[n.name] !== undefined);
}

/** Host files for every node whose public key is known (nodes of not-yet-deployed DCs are left out). */
export function meshHosts(model: Model, facts: Facts): TincHost[] {
  return model.nodes
    .filter((n) => facts.publicKeys[n.name] !== undefined)
    .map((n) => ({ name: n.name, address: facts.addresses[n.name] ?? n.address, tinc: n.tinc, publicKey: facts.publicKeys[n.name] }));
}

export { parsePublicKey };

/**
 * Every remote step a DC's stack runs, as `render` and `plan` show them: on a gce data center
 * the brick disks' steps first (the GCE component runs them over its own access, before the
 * node's other steps), then `dcSteps`.
 */
export function stackSteps(model: Model, dcName: string): Step[] {
  const dc = dcOf(model, dcName);
  return [...(dc.provider === "gce" ? diskSteps(dc) : []), ...dcSteps(model, dcName)];
}

/** Steps in an order that respects `after` (stable: the listed order where free). */
export function orderSteps(steps: Step[]): Step[] {
  const done = new Set<string>();
  const out: Step[] = [];
  let pending = steps.slice();
  while (pending.length > 0) {
    const ready = pending.filter((s) => s.after.every((a) => done.has(a)));
    if (ready.length === 0) throw new Error(`steps wait for each other in a cycle: ${pending.map((s) => s.name).join(", ")}`);
    for (const s of ready) {
      out.push(s);
      done.add(s.name);
    }
    pending = pending.filter((s) => !done.has(s.name));
  }
  return out;
}

// `glustermesh plan --stack DC [--base GITREF] [--inventory DIR]`: what deploying an inventory
// change to one DC will do, in gluster and tinc terms, resource by resource as `pulumi preview`
// names them, with the dangerous changes flagged. The core (`planChanges`) is pure: inventory
// texts in, operations out; the git part only reads the base revision's files.
import { inventoryFlag, runCommand, UsageError, type CommandSpec, type ParsedArgs } from "./args";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { formatProblems, validateTexts } from "../model/load";
import { buildModel, modelWarnings, type DataCenter, type Model, type Volume } from "../model/model";
import { REBALANCE_CHECK_MINUTES, REBALANCE_CHECK_UNIT } from "../render/rebalance";
import { stackSteps, type Step } from "../render/steps";
import { tincDir } from "../render/tinc";
import { filesWrittenBy, placeholderFacts } from "./render";

export type Action = "create" | "update" | "delete";

/** One change `pulumi preview` will show, explained. */
export interface PlanOp {
  /** Deploy-order section: nodes, mesh, cluster, volume NAME, mounts, sync. */
  section: string;
  action: Action;
  /** The resource name (a `dcSteps` name). */
  resource: string;
  /** What it does on the hosts; several lines for several effects. */
  details: string[];
}

export interface Danger {
  /** What changed. */
  what: string;
  /** What to do instead. */
  instead: string;
}

export interface PlanResult {
  /** 0: safe to deploy; 3: dangerous changes; 1: an inventory is invalid or the DC is unknown. */
  code: 0 | 1 | 3;
  ops: PlanOp[];
  dangers: Danger[];
  /** Things to know that are not dangerous (other DCs to redeploy, nothing undone on hosts...). */
  notes: string[];
  /** Model warnings of the DC in the new inventory. */
  warnings: string[];
  /** Problems that stopped the plan (code 1), already formatted. */
  errors: string[];
  /** Set when code 1 is because no inventory has the DC: the command's usage error. */
  unknownDc?: true;
}

export interface PlanLabels {
  /** Folder named in problems of the working tree (default "inventory"). */
  headDir?: string;
  /** Label of the base in problems, e.g. "HEAD:inventory". */
  baseDir?: string;
  baseName?: string;
}

const SIGN: Record<Action, string> = { create: "+", update: "~", delete: "-" };

/**
 * Compare two inventories (file name -> YAML text) for one DC. An empty `baseTexts` means no
 * inventory at the base: everything is new.
 */
export function planChanges(baseTexts: Record<string, string>, headTexts: Record<string, string>, dc: string, labels: PlanLabels = {}): PlanResult {
  const result: PlanResult = { code: 0, ops: [], dangers: [], notes: [], warnings: [], errors: [] };
  const head = validateTexts(labels.headDir ?? "inventory", headTexts);
  if (!head.ok) {
    result.code = 1;
    result.errors.push(formatProblems(head.problems), `the inventory is invalid (${head.problems.length} problem${head.problems.length === 1 ? "" : "s"}); nothing to plan.`);
    return result;
  }
  let baseModel: Model | undefined;
  if (Object.keys(baseTexts).length > 0) {
    const base = validateTexts(labels.baseDir ?? "base", baseTexts);
    if (!base.ok) {
      result.code = 1;
      result.errors.push(
        formatProblems(base.problems),
        `the base inventory (${labels.baseName ?? "base"}) is invalid, so there is nothing sound to compare with: plan against another revision with --base GITREF.`,
      );
      return result;
    }
    baseModel = buildModel(base.inventory);
  }
  const headModel = buildModel(head.inventory);
  const headDc = headModel.dcs.find((d) => d.name === dc);
  const baseDc = baseModel?.dcs.find((d) => d.name === dc);
  if (!headDc && !baseDc) {
    result.code = 1;
    result.unknownDc = true;
    result.errors.push(`no data center "${dc}" in the inventory (known: ${headModel.dcs.map((d) => d.name).join(", ")})`);
    return result;
  }
  result.warnings = modelWarnings(headModel)
    .filter((w) => w.dc === dc)
    .map((w) => `${w.dc}${w.volume ? `/${w.volume}` : ""}: ${w.message}`);

  const baseSteps = baseModel && baseDc ? stackSteps(baseModel, dc) : [];
  const headSteps = headDc ? stackSteps(headModel, dc) : [];
  const baseScripts = baseModel ? scriptsOf(baseModel, baseSteps) : new Map<string, string>();
  const headScripts = scriptsOf(headModel, headSteps);
  const baseByName = new Map(baseSteps.map((s) => [s.name, s]));
  const headNames = new Set(headSteps.map((s) => s.name));
  const ctx: Ctx = { dc, base: baseModel, head: headModel, baseDc, headDc, baseScripts, headScripts };

  for (const s of headSteps) {
    const before = baseByName.get(s.name);
    if (!before) result.ops.push({ section: sectionOf(s, dc), action: "create", resource: s.name, details: explain(ctx, s, "create") });
    else if (baseScripts.get(s.name) !== headScripts.get(s.name)) result.ops.push({ section: sectionOf(s, dc), action: "update", resource: s.name, details: explain(ctx, s, "update") });
  }
  const removed = baseSteps.filter((s) => !headNames.has(s.name));
  for (const s of removed) result.ops.push({ section: "removed", action: "delete", resource: s.name, details: explain(ctx, s, "delete") });

  dangers(ctx, result);
  notes(ctx, result, removed);
  result.code = result.dangers.length > 0 ? 3 : 0;
  return result;
}

interface Ctx {
  dc: string;
  base: Model | undefined;
  head: Model;
  baseDc: DataCenter | undefined;
  headDc: DataCenter | undefined;
  baseScripts: Map<string, string>;
  headScripts: Map<string, string>;
}

/** Every step's text as the stack sends it (keys and cloud addresses as stand-ins; they are the same on both sides). */
function scriptsOf(model: Model, steps: Step[]): Map<string, string> {
  const facts = placeholderFacts(model);
  return new Map(steps.map((s) => [s.name, s.kind === "copy" ? `copy ${s.source} ${s.remotePath}` : typeof s.script === "string" ? s.script : s.script(facts)]));
}

function sectionOf(s: Step, dc: string): string {
  const rest = s.name.slice(dc.length + 1);
  if (rest.startsWith("disk/")) return "brick disks";
  if (/^host\/[^/]+\/time$/.test(rest) || /^mesh\/[^/]+\/key$/.test(rest)) return "nodes";
  if (s.component === "mesh") return "tinc mesh";
  if (s.component === "host" || s.component === "cluster") return "gluster servers and peers";
  if (s.component.startsWith("volume:")) return `volume ${s.component.slice("volume:".length)}`;
  if (s.component === "mounts") return "mounts";
  if (s.component === "retired") return "no longer declared";
  return "sync timers";
}

function volumeOf(dc: DataCenter | undefined, name: string): Volume | undefined {
  return dc?.volumes.find((v) => v.name === name);
}

const brickIds = (v: Volume) => v.replicaSets.map((s) => s.bricks.map((b) => `${b.node}:${b.path}`));
const setKey = (bricks: string[]) => bricks.join(" ");

/** The effects of one changed resource, in gluster and tinc terms. */
function explain(ctx: Ctx, s: Step, action: Action): string[] {
  const rest = s.name.slice(ctx.dc.length + 1).split("/");
  const head = ctx.head;
  if (action === "delete") {
    if ((rest[0] === "mount" || rest[0] === "sync") && ctx.headDc?.nodes.some((n) => n.name === s.node)) {
      return [`pulumi forgets: ${s.summary}. The step that removes what ${s.node} no longer declares stops and removes its units`];
    }
    return [`pulumi forgets: ${s.summary}. Nothing on ${s.node} is undone (remote commands have no delete step)${s.protect ? "; the resource is protected: pulumi up refuses to delete it" : ""}`];
  }
  if (rest[0] === "retired") {
    if (action === "create") return [s.summary];
    const headTimers = new Set(ctx.headDc?.syncJobs.filter((j) => j.node === s.node).map((j) => j.unit));
    const headMounts = new Set(ctx.headDc?.mounts.filter((m) => m.node === s.node).map((m) => m.unit));
    const gone = [
      ...(ctx.baseDc?.syncJobs ?? []).filter((j) => j.node === s.node && !headTimers.has(j.unit)).map((j) => `sync timer ${j.unit}.timer`),
      ...(ctx.baseDc?.mounts ?? []).filter((m) => m.node === s.node && !headMounts.has(m.unit)).map((m) => `mount ${m.where} (${m.dc}/${m.volume})`),
    ];
    return gone.length
      ? [`stop and remove on ${s.node}: ${gone.join(", ")} (timers first; a mount in use stays mounted, disabled, with a warning; nothing on the volumes is deleted)`]
      : [`the sync timers and mounts ${s.node} declares changed; it removes nothing declared before`];
  }
  if (rest[0] === "mesh" && rest[2] === "key") return [`make ${s.node}'s tinc key pair on ${s.node} (the private key never leaves the host; an existing key is kept)`];
  if (rest[0] === "host" && rest[2] === "time") return [`new node ${s.node}: ${s.summary}`];
  if (rest[0] === "mesh" && rest[2] === "config") {
    const before = ctx.baseScripts.get(s.name);
    const after = ctx.headScripts.get(s.name)!;
    if (before === undefined) {
      const hosts = filesWrittenBy(after).filter((f) => f.path.startsWith(`${tincDir(head.mesh.name)}/hosts/`));
      return [`write tinc.conf (${connectLines(after).join(", ") || "no ConnectTo"}), tinc-up, and ${hosts.length} host files on ${s.node}; start tinc@${head.mesh.name}`];
    }
    return meshConfigChanges(before, after, head.mesh.name, s.node);
  }
  if (rest[0] === "cluster" && rest[1] === "probe") return [s.summary + "; waits until the peer is 'Peer in Cluster (Connected)'"];
  if (rest[0] === "host" && rest[2] === "firewall") return [s.summary];
  if (rest[0] === "disk") return [action === "create" ? `${s.summary}; a disk that holds anything (a filesystem, a partition table) is never formatted` : `the disk script changed: ${s.summary}`];
  if (rest[0] === "gluster") return [s.summary];
  if (rest[0] === "mount") return [action === "create" ? s.summary : `rewrite the mount unit: ${s.summary}`];
  if (rest[0] === "sync") return [action === "create" ? s.summary : `rewrite the sync units: ${s.summary}`];
  // Volume steps: `<vol>/create|add-brick/<set>`, `<vol>/start|options|rebalance`.
  const vol = rest[0];
  const hv = volumeOf(ctx.headDc, vol);
  const bv = volumeOf(ctx.baseDc, vol);
  if (rest[1] === "create") return [action === "create" ? `${s.summary}, replica set ${rest[2]}` : `the create command changed (${s.summary}): it checks first and does nothing to an existing volume`];
  if (rest[1] === "add-brick") {
    const set = hv?.replicaSets.find((x) => x.name === rest[2]);
    return [action === "create" ? `${s.summary} (replica set ${set?.index ?? "?"}: ${rest[2].split("+").join(" and ")} hold copies of the same files)` : `the add-brick command changed: ${s.summary}`];
  }
  if (rest[1] === "start") return [s.summary];
  if (rest[1] === "rebalance") {
    const sets = [bv?.replicaSets.length ?? 0, hv?.replicaSets.length ?? 0];
    const check = `${REBALANCE_CHECK_UNIT}.timer on ${s.node} checks it every ${REBALANCE_CHECK_MINUTES} minutes: starts it again if it failed or was stopped, and records it once completed`;
    if (sets[1] < 2) return [`nothing to rebalance: ${vol} has one replica set`];
    if (action === "create") return [`gluster volume rebalance ${vol} start over its ${sets[1]} replica sets (started, not awaited; ${check})`];
    if (sets[0] === sets[1]) return [`the rebalance step changed, not the ${sets[1]} replica sets: it installs the rebalance check again and runs it (no start when a rebalance completed for these sets, or one runs); ${check}`];
    return [`gluster volume rebalance ${vol} start: replica sets ${sets[0]} -> ${sets[1]}; spreads existing files over the new sets (runs in the background; ${check}; watch gluster volume rebalance ${vol} status)`];
  }
  if (rest[1] === "options") {
    if (!bv || action === "create") return [s.summary];
    return optionChanges(bv, hv!);
  }
  return [s.summary];
}

function connectLines(script: string): string[] {
  return [...script.matchAll(/^ConnectTo = (\S+)$/gm)].map((m) => m[1]);
}

function meshConfigChanges(before: string, after: string, network: string, node: string): string[] {
  const dir = tincDir(network);
  const files = (t: string) => new Map(filesWrittenBy(t).map((f) => [f.path, f.content]));
  const b = files(before);
  const a = files(after);
  const out: string[] = [];
  const added: string[] = [];
  const rewritten: string[] = [];
  for (const [p, content] of a) {
    const host = p.startsWith(`${dir}/hosts/`) ? p.slice(dir.length + 7) : undefined;
    if (!b.has(p)) {
      if (host) added.push(host);
      else out.push(`write ${p}`);
    } else if (b.get(p) !== content) {
      if (host) rewritten.push(host);
      else if (p === `${dir}/tinc.conf`) {
        const was = connectLines(b.get(p)!);
        const now = connectLines(content);
        out.push(`tinc.conf: ConnectTo ${was.join(", ") || "none"} -> ${now.join(", ") || "none"} (tincd reloads: SIGHUP)`);
      } else out.push(`rewrite ${p}${p.endsWith("tinc-up") || p.endsWith("tinc-down") ? " (tincd restarts)" : ""}`);
    }
  }
  if (added.length) out.unshift(`write host file${added.length > 1 ? "s" : ""} ${added.map((h) => `hosts/${h}`).join(", ")} on ${node} (new node${added.length > 1 ? "s" : ""}: picked up without a restart)`);
  if (rewritten.length) out.push(`rewrite host file${rewritten.length > 1 ? "s" : ""} ${rewritten.map((h) => `hosts/${h}`).join(", ")} on ${node} (address or subnet changed)`);
  const stale = [...b.keys()].filter((p) => p.startsWith(`${dir}/hosts/`) && !a.has(p)).map((p) => p.slice(dir.length + 7));
  if (stale.length) out.push(`no longer writes hosts/${stale.join(", hosts/")}: the file stays on ${node} until removed by hand`);
  return out.length ? out : [`the tinc configuration script of ${node} changed`];
}

function optionChanges(bv: Volume, hv: Volume): string[] {
  const b = new Map(bv.options);
  const h = new Map(hv.options);
  const out: string[] = [];
  if (bv.virtGroup !== hv.virtGroup) out.push(hv.virtGroup ? `apply the virt option group (gluster volume set ${hv.name} group glustermesh-virt)` : `the virt group is no longer asked for: its options stay set on the volume until reset by hand`);
  for (const key of [...new Set([...b.keys(), ...h.keys()])].sort()) {
    const was = b.get(key);
    const now = h.get(key);
    if (was === now) continue;
    if (now === undefined) out.push(`option ${key}: ${was} -> (no longer managed: stays ${was} on the volume; gluster volume reset ${hv.name} ${key} to return to gluster's default)`);
    else out.push(`option ${key}: ${was ?? "(gluster's default)"} -> ${now}  (gluster volume set ${hv.name} ${key} ${now})`);
  }
  return out.length ? out : [`the options script of ${hv.name} changed`];
}

function dangers(ctx: Ctx, r: PlanResult): void {
  const { baseDc, headDc, dc } = ctx;
  if (!baseDc) return;
  const add = (what: string, instead: string) => r.dangers.push({ what, instead });
  if (!headDc) {
    add(`data center ${dc} is no longer in the inventory`, `keep it in the inventory; to retire a data center, move its data first, then destroy its stack deliberately (pulumi destroy --stack ${dc}, with its protected volumes unprotected).`);
    return;
  }
  // Nodes removed, or whose tinc address changed while they hold bricks.
  const headNodes = new Map(headDc.nodes.map((n) => [n.name, n]));
  const brickNodes = new Set(baseDc.volumes.flatMap((v) => v.replicaSets.flatMap((s) => s.bricks.map((b) => b.node))));
  for (const n of baseDc.nodes) {
    const now = headNodes.get(n.name);
    if (!now && brickNodes.has(n.name)) {
      add(`node ${n.name} is removed but holds bricks (${baseDc.volumes.filter((v) => v.replicaSets.some((s) => s.bricks.some((b) => b.node === n.name))).map((v) => v.name).join(", ")})`, `keep the node until its bricks are moved: gluster volume replace-brick (or remove-brick start/status/commit of whole replica sets) by hand, then remove it from the inventory.`);
    } else if (now && now.tinc !== n.tinc && n.storage) {
      add(`node ${n.name}'s tinc address changes ${n.tinc} -> ${now.tinc}: gluster knows its peer and bricks by that address`, `keep the address; a new address needs a planned gluster peer/brick migration (replace-brick to the new address), done by hand.`);
    }
  }
  for (const bv of baseDc.volumes) {
    const hv = volumeOf(headDc, bv.name);
    if (!hv) {
      const renamedTo = headDc.volumes.find((v) => !volumeOf(baseDc, v.name) && JSON.stringify(brickIds(v)) === JSON.stringify(brickIds(bv)));
      if (renamedTo) {
        add(
          `volume ${bv.name} is renamed to ${renamedTo.name} (same replica sets): gluster cannot rename a volume, and creating ${renamedTo.name} on bricks ${bv.name} still uses fails`,
          `keep the name ${bv.name} in the inventory. For another name, create a new volume on new bricks and copy the data.`,
        );
      } else {
        add(
          `volume ${bv.name} is removed from the inventory: its resources are protected, so pulumi up stops with an error; the volume and its data stay on the hosts`,
          `keep it in the inventory. To really delete it: gluster volume stop/delete by hand, then pulumi state unprotect its resources and deploy.`,
        );
      }
      continue;
    }
    if (bv.replica !== hv.replica || bv.arbiter !== hv.arbiter) {
      const label = (v: Volume) => (v.arbiter ? "replica 3 arbiter 1" : `replica ${v.replica}`);
      add(
        `volume ${bv.name}: ${label(bv)} -> ${label(hv)}: the replica count of an existing volume changes only through add-brick/remove-brick with a new count on every replica set`,
        `revert the replica change. To change it, plan a migration by hand (gluster volume add-brick ${bv.name} replica N ... one brick per set, wait for heal) and then update the inventory to match.`,
      );
      continue;
    }
    const b = brickIds(bv);
    const h = brickIds(hv);
    const headSetAt = new Map(h.map((s, i) => [setKey(s), i]));
    const baseBricks = new Set(b.flat());
    const headBricks = new Set(h.flat());
    const gone = [...baseBricks].filter((x) => !headBricks.has(x));
    if (gone.length) {
      add(`volume ${bv.name}: brick${gone.length > 1 ? "s" : ""} ${gone.join(", ")} removed: glustermesh never removes bricks, and the inventory would no longer describe the volume`, `keep the bricks in the inventory. Removing a replica set is an explicit, slow operation: gluster volume remove-brick ${bv.name} BRICKS start, watch status until completed, then commit; update the inventory after.`);
    }
    for (let i = 0; i < Math.min(b.length, h.length); i++) {
      if (setKey(b[i]) === setKey(h[i])) continue;
      const moved = headSetAt.get(setKey(b[i]));
      const sameBricks = [...b[i]].sort().join(" ") === [...h[i]].sort().join(" ");
      let what: string;
      if (moved !== undefined) what = `replica set ${i + 1} (${bv.replicaSets[i].name}) moves to position ${moved + 1}: replica sets are in gluster's order and cannot be reordered`;
      else if (sameBricks) what = `the bricks of replica set ${i + 1} are reordered (${bv.replicaSets[i].name} -> ${hv.replicaSets[i].name})${bv.arbiter ? ": the last brick is the arbiter" : ""}${i === 0 ? `; the first brick's node runs the volume's commands` : ""}`;
      else what = `replica set ${i + 1} changes from ${bv.replicaSets[i].bricks.map((x) => `${x.node}:${x.path}`).join(" + ")} to ${hv.replicaSets[i].bricks.map((x) => `${x.node}:${x.path}`).join(" + ")} (re-paired): the add-brick command would refuse a half-present set, and the inventory no longer matches the volume`;
      add(`volume ${bv.name}: ${what}`, `keep the existing replica sets as they are, in order, and add new sets at the end. Moving a brick is gluster volume replace-brick, done by hand.`);
    }
  }
}

function notes(ctx: Ctx, r: PlanResult, removed: Step[]): void {
  const { base, head, baseDc, headDc, dc } = ctx;
  if (!headDc) return;
  const others = head.dcs.filter((d) => d.name !== dc).map((d) => d.name);
  const newHere = headDc.nodes.filter((n) => !baseDc?.nodes.some((b) => b.name === n.name));
  if (newHere.length && others.length) {
    r.notes.push(
      `new node${newHere.length > 1 ? "s" : ""} ${newHere.map((n) => n.name).join(", ")}: the other data centers (${others.join(", ")}) write ${newHere.length > 1 ? "their" : "its"} tinc host file${newHere.length > 1 ? "s" : ""} only at their own deploy after this one: ${others.map((o) => `pulumi up --stack ${o}`).join("; ")}`,
    );
  }
  if (base) {
    const baseNames = new Set(base.nodes.map((n) => n.name));
    for (const other of head.dcs.filter((d) => d.name !== dc)) {
      const fresh = other.nodes.filter((n) => !baseNames.has(n.name));
      if (fresh.length) {
        r.notes.push(
          `new node${fresh.length > 1 ? "s" : ""} ${fresh.map((n) => n.name).join(", ")} in ${other.name}: deploy ${other.name} first (pulumi up --stack ${other.name}; its keys are made there and published by its stack), then this stack writes ${fresh.length > 1 ? "their" : "its"} host file${fresh.length > 1 ? "s" : ""} on every node of ${dc}. Deployed before, this stack skips ${fresh.length > 1 ? "them" : "it"} until the next pulumi up.`,
        );
      }
    }
  }
  const removedUnits = removed.filter((s) => /\/(mount|sync)\//.test(s.name) && headDc.nodes.some((n) => n.name === s.node));
  if (removedUnits.length) {
    r.notes.push(
      `removed mounts and sync timers are stopped and removed by the "no longer declared" step of their node, timers first; a mount in use (an image open on it) stays mounted, disabled, with a warning, until the step runs again and finds it free (a new glustermesh:reapply runs it again). Nothing on the volumes is deleted.`,
    );
  }
  const removedNodes = baseDc?.nodes.filter((n) => !headDc.nodes.some((h) => h.name === n.name)) ?? [];
  for (const n of removedNodes) {
    if (n.storage) r.notes.push(`node ${n.name} leaves the inventory: glustermesh does not detach it from the trusted pool; run gluster peer detach ${n.tinc} by hand once it holds no bricks.`);
  }
}

/** The plan as the command prints it. */
export function formatPlan(r: PlanResult, dc: string, baseName: string): string {
  const out: string[] = [];
  if (r.code === 1) return r.errors.join("\n") + "\n";
  out.push(`plan for ${dc}: inventory at ${baseName} -> working tree`);
  for (const w of r.warnings) out.push(`warning: ${w}`);
  if (r.ops.length === 0 && r.dangers.length === 0) {
    out.push("no changes: pulumi up --stack " + dc + " has nothing to do for this inventory change");
    return out.join("\n") + "\n";
  }
  if (r.dangers.length) {
    out.push("", "DANGER " + "=".repeat(70));
    for (const d of r.dangers) out.push(`DANGER: ${d.what}`, `        instead: ${d.instead}`);
    out.push("=".repeat(77));
  }
  const width = Math.min(60, Math.max(0, ...r.ops.map((o) => o.resource.length)));
  let section = "";
  for (const op of r.ops) {
    if (op.section !== section) {
      section = op.section;
      out.push("", `${section}:`);
    }
    const [first, ...more] = op.details;
    out.push(`  ${SIGN[op.action]} ${op.resource.padEnd(width)}  ${first ?? ""}`);
    for (const m of more) out.push(`    ${" ".repeat(width)}  ${m}`);
  }
  if (r.notes.length) {
    out.push("", "notes:");
    for (const n of r.notes) out.push(`  - ${n}`);
  }
  const count = (a: Action) => r.ops.filter((o) => o.action === a).length;
  out.push("", `${count("create")} to create, ${count("update")} to update, ${count("delete")} to delete (as pulumi preview --stack ${dc} will show)${r.dangers.length ? `; ${r.dangers.length} DANGEROUS change${r.dangers.length > 1 ? "s" : ""}: do not deploy without a review` : ""}`);
  return out.join("\n") + "\n";
}

export interface GitTexts {
  ok: true;
  texts: Record<string, string>;
  label: string;
}

/** The inventory files of a git revision: every .yaml/.yml in that revision's copy of `dir`. */
export function inventoryAtRevision(dir: string, ref: string): GitTexts | { ok: false; message: string } {
  const git = (args: string[], cwd: string) => spawnSync("git", args, { cwd, encoding: "utf8", maxBuffer: 64 << 20 });
  if (!fs.existsSync(dir)) return { ok: false, message: `inventory folder ${dir} does not exist` };
  const top = git(["rev-parse", "--show-toplevel"], dir);
  if (top.error || top.status !== 0) return { ok: false, message: `${dir} is not inside a git repository (${(top.stderr || String(top.error ?? "")).trim()}): plan compares with a git revision` };
  const root = top.stdout.trim();
  const relDir = path.relative(fs.realpathSync(root), fs.realpathSync(dir)).split(path.sep).join("/");
  const commit = git(["rev-parse", "--verify", "--quiet", `${ref}^{commit}`], root);
  if (commit.status !== 0) return { ok: false, message: `unknown git revision "${ref}" (for a pull request base, fetch it first: git fetch origin main)` };
  const sha = commit.stdout.trim();
  const ls = git(["ls-tree", "--name-only", "-z", sha, "--", relDir ? `${relDir}/` : "."], root);
  if (ls.status !== 0) return { ok: false, message: `git ls-tree ${ref} failed: ${ls.stderr.trim()}` };
  const texts: Record<string, string> = {};
  for (const p of ls.stdout.split("\0").filter(Boolean)) {
    const name = p.slice(p.lastIndexOf("/") + 1);
    if (!name.endsWith(".yaml") && !name.endsWith(".yml")) continue;
    const show = git(["show", `${sha}:${p}`], root);
    if (show.status !== 0) return { ok: false, message: `git show ${ref}:${p} failed: ${show.stderr.trim()}` };
    texts[name] = show.stdout;
  }
  return { ok: true, texts, label: `${ref}:${relDir || "."}` };
}

/** The working tree's inventory files. */
export function inventoryTexts(dir: string): Record<string, string> | undefined {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) return undefined;
  const texts: Record<string, string> = {};
  for (const name of fs.readdirSync(dir).sort()) {
    if (name.endsWith(".yaml") || name.endsWith(".yml")) texts[name] = fs.readFileSync(path.join(dir, name), "utf8");
  }
  return texts;
}


const PLAN: CommandSpec = {
  name: "plan",
  usage: `usage: glustermesh plan --stack DC [--base GITREF] [--inventory DIR]
  Shows what deploying the working tree's inventory to DC changes, compared with the inventory
  of GITREF (default HEAD). Exit 0: safe; 3: dangerous changes (review needed); 1: invalid
  inventory or unknown GITREF; 2: usage error.`,
  values: { stack: "DC", base: "GITREF", inventory: "DIR" },
  required: ["stack"],
};

export function planCommand(argv: string[]): Promise<number> {
  return runCommand(PLAN, argv, plan);
}

function plan(args: ParsedArgs): number {
  const dc = args.values.stack!;
  const ref = args.values.base ?? "HEAD";
  const dir = path.resolve(inventoryFlag(args));
  const headTexts = inventoryTexts(dir);
  if (!headTexts) {
    process.stderr.write(`glustermesh plan: inventory folder ${dir} does not exist: pass --inventory DIR\n`);
    return 1;
  }
  const base = inventoryAtRevision(dir, ref);
  if (!base.ok) {
    process.stderr.write(`glustermesh plan: ${base.message}\n`);
    return 1;
  }
  let r: PlanResult;
  try {
    r = planChanges(base.texts, headTexts, dc, { headDir: dir, baseDir: base.label, baseName: ref });
  } catch (err) {
    process.stderr.write(`glustermesh plan: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
  if (r.unknownDc) throw new UsageError(r.errors.join("\n"));
  if (Object.keys(base.texts).length === 0) r.notes.unshift(`there is no inventory at ${ref}: everything is new`);
  (r.code === 1 ? process.stderr : process.stdout).write(formatPlan(r, dc, ref));
  if (r.code === 3) process.stderr.write(`glustermesh plan: ${r.dangers.length} dangerous change${r.dangers.length > 1 ? "s" : ""} to ${dc}: exit 3 (needs an explicit review)\n`);
  return r.code;
}

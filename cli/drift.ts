// `glustermesh drift --stack DC [--json]`: compare the live hosts of a DC with what its stack
// deploys. Remote commands have no read, so `pulumi refresh` cannot see a changed host: this
// reads each node once over SSH (one read-only script, cli/live.ts) and compares with the
// model and the same renderers the stack uses. Pure part: `compareDc` (recorded outputs in,
// drift list out); SSH part: `checkDrift`; command: `driftCommand`.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse as parseYaml } from "yaml";
import { formatProblems, loadInventory } from "../model/load";
import { buildModel, connectTo, DRIFT_ACCOUNT, type DataCenter, type MeshNode, type Model } from "../model/model";
import { normaliseOptionValue } from "../model/options";
import { BRICK_CHECK, BRICK_CHECK_UNIT, brickCheckScript, brickCheckService, brickCheckTimer, GLUSTERD_DROP_IN, GLUSTERD_MESH_WAIT, GLUSTERD_MESH_WAIT_UNIT, glusterdDropIn, glusterdMeshWaitScript, glusterdMeshWaitService } from "../render/gluster";
import { DRIFT_KEYS_FILE, DRIFT_READ, DRIFT_SSHD_CONFIG, driftAuthorizedKeys, driftRead, driftSshdConfig } from "../render/access";
import { REBALANCE_CHECK, REBALANCE_CHECK_MINUTES, REBALANCE_CHECK_UNIT, rebalanceCheckScript, rebalanceCheckService, rebalanceCheckTimer, rebalancedVolumes, rebalanceLayout, rebalanceLayoutFile } from "../render/rebalance";
import { dcLead, glusterdMeshArgs, nodeBricks } from "../render/steps";
import { hostFile, tincConf, tincDir, tincService, tincUp } from "../render/tinc";
import { FIREWALL_RULES, UNIT_DIR, firewallRules, mountUnit, syncService, syncTimer } from "../render/units";
import { liveScript, parseKeyValues, parseLiveOutput, parsePeerStatus, parseProcMounts, parseRebalanceStatus, parseVolumeGet, parseVolumeInfo, parseVolumeStatus, xmlStatus, type LiveOutput, type Section } from "./live";
import { inventoryFlag, knownDc, runCommand, UsageError, type CommandSpec, type ParsedArgs } from "./args";
import { runProgram } from "./run";

export interface DriftItem {
  node: string;
  item: string;
  expected: string;
  found: string;
}

/** What one node answered (or why it did not). */
export interface NodeCapture {
  node: string;
  /** The live script's stdout; undefined when the node could not be read. */
  output?: string;
  /** Why it could not be read (unreachable, timed out, ssh failed). */
  error?: string;
  /** Local clock (epoch seconds) just before connecting and just after the answer. */
  sentAt?: number;
  receivedAt?: number;
  address?: string;
}

export interface NodeReport {
  reachable: boolean;
  address?: string;
  /** Node clock minus local clock, beyond the round trip (0 when inside it). */
  clockSkewSeconds?: number;
}

export interface DriftReport {
  dc: string;
  checkedAt: string;
  nodes: Record<string, NodeReport>;
  drift: DriftItem[];
  /** What could not be checked: never a silent "no drift". */
  errors: string[];
}

export interface CompareOptions {
  /** Largest clock difference that is not drift (seconds). Default 2: sync compares whole seconds. */
  maxClockSkew?: number;
}

const PEM = /-----BEGIN RSA PUBLIC KEY-----\n[A-Za-z0-9+/=\n]+-----END RSA PUBLIC KEY-----/;

/** The pure comparison: the model's desired state against what each node reported. */
export function compareDc(model: Model, dcName: string, captures: NodeCapture[], opts: CompareOptions = {}): DriftReport {
  const dc = model.dcs.find((d) => d.name === dcName);
  const report: DriftReport = { dc: dcName, checkedAt: new Date().toISOString(), nodes: {}, drift: [], errors: [] };
  if (!dc) {
    report.errors.push(`no data center "${dcName}" in the inventory`);
    return report;
  }
  const maxSkew = opts.maxClockSkew ?? 2;
  const byNode = new Map(captures.map((c) => [c.node, c]));
  const lives = new Map<string, LiveOutput>();
  for (const n of dc.nodes) {
    const c = byNode.get(n.name);
    if (!c || c.output === undefined) {
      report.nodes[n.name] = { reachable: false, ...(c?.address ? { address: c.address } : {}) };
      report.errors.push(`${n.name}: not checked: ${c?.error ?? "no answer"}`);
      continue;
    }
    report.nodes[n.name] = { reachable: true, ...(c.address ? { address: c.address } : {}) };
    const live = parseLiveOutput(c.output);
    if (!live.complete) report.errors.push(`${n.name}: the report ended early (${live.sections.size} sections read): some checks are missing`);
    lives.set(n.name, live);
  }
  // Keys of this DC's nodes, read from their own rsa_key.pub: their host files must carry them.
  const ownKeys = new Map<string, string>();
  for (const [name, live] of lives) {
    const k = PEM.exec(live.sections.get("tinc-key")?.stdout ?? "");
    if (k) ownKeys.set(name, k[0]);
  }
  const foreignKeys = new Map<string, Map<string, string>>(); // host -> node -> key seen there
  for (const n of dc.nodes) {
    const live = lives.get(n.name);
    if (!live) continue;
    const c = byNode.get(n.name)!;
    const ctx: NodeCtx = { model, dc, node: n, live, report, drift: (item, expected, found) => report.drift.push({ node: n.name, item, expected, found }) };
    checkClock(ctx, c, maxSkew);
    checkTinc(ctx, ownKeys, foreignKeys);
    if (n.storage) {
      checkGluster(ctx);
      checkRebalance(ctx);
    }
    checkMountsAndTimers(ctx);
    checkDriftAccount(ctx);
  }
  // A peer DC's node whose host file carries different keys on different nodes of this DC.
  for (const [host, seen] of foreignKeys) {
    const counts = new Map<string, number>();
    for (const k of seen.values()) counts.set(k, (counts.get(k) ?? 0) + 1);
    if (counts.size < 2) continue;
    const ranked = [...counts.entries()].sort((a, b) => b[1] - a[1]);
    const majority = ranked[0][1] > ranked[1][1] ? ranked[0][0] : undefined;
    const agree = [...seen.entries()].filter(([, k]) => k === majority).map(([n]) => n);
    for (const [node, k] of seen) {
      if (majority === undefined) report.drift.push({ node, item: `tinc host file hosts/${host} key`, expected: `the same key on every node of ${dcName}`, found: `keys differ (${[...seen.keys()].join(", ")})` });
      else if (k !== majority) report.drift.push({ node, item: `tinc host file hosts/${host} key`, expected: `the key ${agree.join(", ")} ${agree.length > 1 ? "have" : "has"}`, found: "a different key" });
    }
  }
  return report;
}

interface NodeCtx {
  model: Model;
  dc: DataCenter;
  node: MeshNode;
  live: LiveOutput;
  report: DriftReport;
  drift: (item: string, expected: string, found: string) => void;
}

/** A section the script must have printed; its absence is an error (not checked), not drift. */
function section(ctx: NodeCtx, name: string): Section | undefined {
  const s = ctx.live.sections.get(name);
  if (!s && ctx.live.complete) ctx.report.errors.push(`${ctx.node.name}: ${name} was not reported`);
  return s;
}

/** A file the stack writes: compare the rendered text with the live file, line by line. */
function checkFile(ctx: NodeCtx, item: string, sectionName: string, expected: string): void {
  const s = section(ctx, sectionName);
  if (!s) return;
  if (s.rc !== 0) {
    ctx.drift(item, "present", /No such file/i.test(s.stderr) ? "missing" : `unreadable (${s.stderr.trim() || `exit ${s.rc}`})`);
    return;
  }
  if (s.stdout === expected) return;
  const want = expected.split("\n");
  const have = s.stdout.split("\n");
  const missing = want.filter((l) => l !== "" && !have.includes(l));
  const extra = have.filter((l) => l !== "" && !want.includes(l));
  if (missing.length === 0 && extra.length === 0) ctx.drift(item, "the rendered text", "the same lines in another order or spacing");
  else ctx.drift(item, missing.length ? missing.join(" | ") : "(no more lines)", extra.length ? extra.join(" | ") : "(lines missing)");
}

/** The account drift logs in as: its helper, its keys, its sshd rules (sudoers is root's to read). */
function checkDriftAccount(ctx: NodeCtx): void {
  checkFile(ctx, `file ${DRIFT_READ}`, `file:${DRIFT_READ}`, driftRead());
  checkFile(ctx, `file ${DRIFT_KEYS_FILE}`, `file:${DRIFT_KEYS_FILE}`, driftAuthorizedKeys(ctx.model.drift.keys));
  checkFile(ctx, `file ${DRIFT_SSHD_CONFIG}`, `file:${DRIFT_SSHD_CONFIG}`, driftSshdConfig());
}

function checkClock(ctx: NodeCtx, c: NodeCapture, maxSkew: number): void {
  const s = section(ctx, "clock");
  const t = s ? Number(s.stdout.trim()) : NaN;
  if (!s) return;
  if (!Number.isFinite(t) || c.sentAt === undefined || c.receivedAt === undefined) {
    ctx.report.errors.push(`${ctx.node.name}: clock not checked (${s.stdout.trim() || "no answer"})`);
    return;
  }
  const skew = t < c.sentAt ? t - c.sentAt : t > c.receivedAt ? t - c.receivedAt : 0;
  ctx.report.nodes[ctx.node.name].clockSkewSeconds = Math.round(skew * 1000) / 1000;
  if (Math.abs(skew) > maxSkew) ctx.drift("clock", `within ${maxSkew}s of the checker's`, `${skew > 0 ? "ahead" : "behind"} by ${Math.abs(skew).toFixed(1)}s`);
}

function checkTinc(ctx: NodeCtx, ownKeys: Map<string, string>, foreignKeys: Map<string, Map<string, string>>): void {
  const { model, node } = ctx;
  const net = model.mesh.name;
  const dir = tincDir(net);
  const key = section(ctx, "tinc-key");
  if (key && !ownKeys.has(node.name)) ctx.drift(`tinc key ${dir}/rsa_key.pub`, "an RSA public key", key.rc !== 0 ? "missing" : "no key in the file");
  checkFile(
    ctx,
    `tinc ${dir}/tinc.conf`,
    "tinc-conf",
    tincConf({ network: net, interface: model.mesh.interface, port: model.mesh.port, prefix: model.mesh.prefix, name: node.name, tinc: node.tinc, connectTo: connectTo(model, node), hosts: [] }),
  );
  checkFile(ctx, `tinc ${dir}/tinc-up`, "tinc-up", tincUp({ tinc: node.tinc, prefix: model.mesh.prefix }));
  const listed = section(ctx, "tinc-hosts");
  const present = new Set((listed?.stdout ?? "").split("\n").filter(Boolean));
  for (const h of model.nodes) {
    const item = `tinc host file hosts/${h.name}`;
    const s = ctx.live.sections.get(`tinc-host:${h.name}`);
    if (!s) {
      if (listed) ctx.drift(item, "present", "missing");
      continue;
    }
    const liveKey = PEM.exec(s.stdout)?.[0];
    const liveAddress = /^Address = (\S+)/m.exec(s.stdout)?.[1];
    const own = ownKeys.get(h.name);
    if (h.dc !== ctx.dc.name && liveKey) {
      if (!foreignKeys.has(h.name)) foreignKeys.set(h.name, new Map());
      foreignKeys.get(h.name)!.set(node.name, liveKey);
    }
    // A node of this DC: its key is read from the node itself. A peer DC's node: the key is not
    // known here, so the live one stands in (and is compared across this DC's nodes above).
    const publicKey = own ?? liveKey ?? "(no key)";
    // gce machines get their public address from their stack: the live one stands in.
    const address = h.address ?? liveAddress;
    checkFile(ctx, item, `tinc-host:${h.name}`, hostFile({ name: h.name, address, tinc: h.tinc, publicKey }, model.mesh.port));
  }
  for (const f of present) {
    if (!model.nodes.some((n) => n.name === f)) ctx.drift(`tinc host file hosts/${f}`, "absent (not in the inventory)", "present");
  }
  const active = section(ctx, "tinc-active");
  if (active && active.stdout.trim() !== "active") ctx.drift(`service ${tincService(net)}`, "active", active.stdout.trim() || `unknown (exit ${active.rc})`);
}

function checkGluster(ctx: NodeCtx): void {
  const { dc, node } = ctx;
  const glusterd = section(ctx, "glusterd-active");
  const running = glusterd?.stdout.trim() === "active";
  if (glusterd && !running) ctx.drift("service glusterd", "active", glusterd.stdout.trim() || `unknown (exit ${glusterd.rc})`);
  const gluster = (name: string): string | undefined => {
    const s = section(ctx, name);
    if (!s) return undefined;
    const st = xmlStatus(s.stdout);
    if (s.rc !== 0 || !st.ok) {
      ctx.report.errors.push(`${node.name}: ${name.replace(":", " ")} not checked: ${!st.ok ? st.message : ""}${s.stderr.trim() ? ` ${s.stderr.trim()}` : ""}${running ? "" : " (glusterd is not running)"}`.replace(/: +/, ": "));
      return undefined;
    }
    return s.stdout;
  };
  // The trusted pool, as this node sees it.
  const peersXml = gluster("peer-status");
  if (peersXml !== undefined) {
    const peers = parsePeerStatus(peersXml);
    const storage = dc.storageNodes.filter((n) => n.name !== node.name);
    for (const p of storage) {
      const live = peers.find((x) => x.hostnames.includes(p.tinc));
      const item = `peer ${p.tinc} (${p.name})`;
      if (!live) ctx.drift(item, "Peer in Cluster (Connected)", "not in the pool");
      else if (live.state !== "Peer in Cluster" || !live.connected) ctx.drift(item, "Peer in Cluster (Connected)", `${live.state} (${live.connected ? "Connected" : "Disconnected"})`);
    }
    for (const p of peers) {
      if (!storage.some((s) => p.hostnames.includes(s.tinc))) ctx.drift(`peer ${p.hostnames.join("/")}`, "not in the pool (not a storage node of the inventory)", `${p.state} (${p.connected ? "Connected" : "Disconnected"})`);
    }
  }
  const leadsSome = dc.volumes.some((v) => v.lead === node.name);
  const isDcLead = dcLead(dc)?.name === node.name;
  if (!leadsSome && !isDcLead) {
    section(ctx, "volume-info");
  } else {
    const infoXml = gluster("volume-info");
    if (infoXml !== undefined) {
      const vols = parseVolumeInfo(infoXml);
      for (const v of dc.volumes.filter((x) => x.lead === node.name)) {
        const lv = vols.find((x) => x.name === v.name);
        if (!lv) {
          ctx.drift(`volume ${v.name}`, "present", "absent");
          continue;
        }
        if (lv.status !== "Started") ctx.drift(`volume ${v.name} status`, "Started", lv.status);
        const wantReplica = v.arbiter ? "replica 3 arbiter 1" : `replica ${v.replica}`;
        const haveReplica = lv.arbiterCount > 0 ? `replica ${lv.replicaCount} arbiter ${lv.arbiterCount}` : `replica ${lv.replicaCount}`;
        if (wantReplica !== haveReplica) ctx.drift(`volume ${v.name} replica`, wantReplica, haveReplica);
        const want = v.replicaSets.flatMap((s) => s.bricks.map((b) => b.spec));
        if (want.join(" ") !== lv.bricks.join(" ")) {
          const per = v.arbiter ? 3 : v.replica;
          const sets = (bricks: string[]) => Array.from({ length: Math.ceil(bricks.length / per) }, (_, i) => bricks.slice(i * per, i * per + per).join(" ")).join(" | ");
          ctx.drift(`volume ${v.name} bricks`, sets(want), sets(lv.bricks) || "(none)");
        }
        const getXml = gluster(`volume-get:${v.name}`);
        if (getXml === undefined) continue;
        const got = parseVolumeGet(getXml);
        for (const [key, value] of v.options) {
          const raw = got[key];
          const have = raw === undefined ? undefined : normaliseOptionValue(key, raw);
          if (have !== value) ctx.drift(`volume ${v.name} option ${key}`, value, have ?? "(not reported by gluster)");
        }
      }
      if (isDcLead) {
        for (const lv of vols) {
          if (!dc.volumes.some((v) => v.name === lv.name)) ctx.drift(`volume ${lv.name}`, "absent (not in the inventory)", `present (${lv.status})`);
        }
      }
    }
  }
  // Every brick of the DC serving, as the lead's glusterd sees it: online, with a port it hands
  // to clients. Seen with gluster 10.3 after server quorum came back: a brick process running
  // while glusterd shows it offline and without a port, so clients and heals that (re)connect
  // cannot find it.
  if (isDcLead) {
    const statusXml = gluster("volume-status");
    if (statusXml !== undefined) {
      const live = parseVolumeStatus(statusXml);
      for (const v of dc.volumes) {
        for (const b of v.replicaSets.flatMap((s) => s.bricks)) {
          const lb = live.find((x) => x.volume === v.name && x.spec === b.spec);
          const item = `brick ${b.spec} of ${v.name} (${b.node})`;
          if (!lb) {
            // a volume that is not started, or a brick not in it: named above already
            if (live.some((x) => x.volume === v.name)) ctx.drift(item, "online, with a port", "not in volume status (its node not connected to this one?)");
          } else if (!lb.online) ctx.drift(item, "online, with a port", "offline");
          else if (lb.port === undefined) ctx.drift(item, "online, with a port", "online without a port: glusterd lost track of the brick's process; clients and heals cannot reach it (restart glusterd on that node)");
        }
      }
    }
  }
  // glusterd starts once the mesh reaches its pool (a glusterd started before the mesh may
  // leave a brick in the state above).
  checkFile(ctx, `file ${GLUSTERD_DROP_IN}`, `file:${GLUSTERD_DROP_IN}`, glusterdDropIn(tincService(ctx.model.mesh.name)));
  checkFile(ctx, `file ${GLUSTERD_MESH_WAIT}`, `file:${GLUSTERD_MESH_WAIT}`, glusterdMeshWaitScript(glusterdMeshArgs(ctx.model, node)));
  const waitUnit = `${UNIT_DIR}/${GLUSTERD_MESH_WAIT_UNIT}`;
  checkFile(ctx, `file ${waitUnit}`, `file:${waitUnit}`, glusterdMeshWaitService(tincService(ctx.model.mesh.name)));
  // Host firewall: gluster's ports answer only on the mesh.
  const table = section(ctx, "firewall-table");
  if (table) {
    if (table.rc !== 0) ctx.drift("firewall table inet glustermesh", "present, gluster's ports dropped off the mesh", "missing");
    else {
      const rule = table.stdout.split("\n").find((l) => /tcp dport .*24007.* drop/.test(l));
      if (!rule) ctx.drift("firewall table inet glustermesh", "gluster's ports dropped off the mesh", "no drop rule for gluster's ports");
      // An old glustermesh dropped every packet to them: also the replies to this host's own
      // connections from ephemeral ports 49152-60999 (tinc's meta connections among them).
      // (nft 1.0 lists the match as "syn / fin,syn,rst,ack", older ones as we write it)
      else if (!/tcp flags (syn \/ fin,syn,rst,ack|& \(fin \| syn \| rst \| ack\) == syn) /.test(rule)) ctx.drift("firewall table inet glustermesh", "new connections to gluster's ports dropped off the mesh", "every packet to them dropped, also replies to this host's own connections");
    }
  }
  checkFile(ctx, `file ${FIREWALL_RULES}`, `file:${FIREWALL_RULES}`, firewallRules(ctx.model.mesh.interface));
}

/**
 * On a volume's lead, its rebalance as gluster reports it: in progress or completed. One that
 * failed, or shows as not started (never started, or stopped), is drift that the rebalance
 * check repairs by itself; a status gluster does not give is an error (not checked).
 */
function checkRebalance(ctx: NodeCtx): void {
  for (const v of rebalancedVolumes(ctx.dc, ctx.node.name)) {
    const s = section(ctx, `rebalance-status:${v.name}`);
    if (!s) continue;
    const st = parseRebalanceStatus(s.stdout);
    if (!st) {
      const x = xmlStatus(s.stdout);
      ctx.report.errors.push(`${ctx.node.name}: rebalance of ${v.name} not checked: ${!x.ok ? x.message : `no aggregate status (exit ${s.rc})`}${s.stderr.trim() ? ` ${s.stderr.trim()}` : ""}`);
      continue;
    }
    // 1 in progress, 3 completed, 5 a fix-layout in progress (the check waits for it to end)
    if (![1, 3, 5].includes(st.code)) {
      ctx.drift(`rebalance of ${v.name}`, "completed or in progress", `${st.status} (the rebalance check starts it again within ${REBALANCE_CHECK_MINUTES} minutes; see gluster volume rebalance ${v.name} status)`);
    }
  }
}

function checkMountsAndTimers(ctx: NodeCtx): void {
  const { dc, node, model } = ctx;
  const mountsSec = section(ctx, "mounts");
  const mounts = mountsSec ? parseProcMounts(mountsSec.stdout) : [];
  const unitState = (unit: string, wantActive: string) => {
    const s = section(ctx, `unit:${unit}`);
    if (!s) return;
    const kv = parseKeyValues(s.stdout);
    const enabled = kv.enabled || "not-found";
    const active = kv.active || "unknown";
    if (enabled !== "enabled") ctx.drift(`unit ${unit}`, "enabled", enabled);
    if (active !== wantActive) ctx.drift(`unit ${unit}`, wantActive, active);
  };
  for (const m of dc.mounts.filter((x) => x.node === node.name)) {
    checkFile(ctx, `unit file ${m.unit}`, `file:${UNIT_DIR}/${m.unit}`, mountUnit(m, tincService(model.mesh.name)));
    unitState(m.unit, "active");
    if (mountsSec) {
      const servers = [m.server, ...m.backupServers];
      const live = mounts.find((x) => x.target === m.where);
      if (!live) ctx.drift(`mount ${m.where}`, `mounted (${m.dc}/${m.volume} from ${m.server})`, "not mounted");
      else if (live.fstype !== "fuse.glusterfs" || !servers.some((s) => live.source === `${s}:/${m.volume}`)) ctx.drift(`mount ${m.where}`, `${m.server}:/${m.volume} (fuse.glusterfs)`, `${live.source} (${live.fstype})`);
    }
  }
  // the check that repairs a brick glusterd lost track of
  const bricks = node.storage ? nodeBricks(dc, node) : [];
  if (bricks.length) {
    checkFile(ctx, `file ${BRICK_CHECK}`, `file:${BRICK_CHECK}`, brickCheckScript({ node: node.name, bricks }));
    checkFile(ctx, `unit file ${BRICK_CHECK_UNIT}.service`, `file:${UNIT_DIR}/${BRICK_CHECK_UNIT}.service`, brickCheckService());
    checkFile(ctx, `unit file ${BRICK_CHECK_UNIT}.timer`, `file:${UNIT_DIR}/${BRICK_CHECK_UNIT}.timer`, brickCheckTimer());
    unitState(`${BRICK_CHECK_UNIT}.timer`, "active");
  }
  // the check that sees a rebalance through, on the lead of volumes of 2 or more replica sets
  const rebalanced = rebalancedVolumes(dc, node.name);
  if (rebalanced.length) {
    checkFile(ctx, `file ${REBALANCE_CHECK}`, `file:${REBALANCE_CHECK}`, rebalanceCheckScript());
    checkFile(ctx, `unit file ${REBALANCE_CHECK_UNIT}.service`, `file:${UNIT_DIR}/${REBALANCE_CHECK_UNIT}.service`, rebalanceCheckService());
    checkFile(ctx, `unit file ${REBALANCE_CHECK_UNIT}.timer`, `file:${UNIT_DIR}/${REBALANCE_CHECK_UNIT}.timer`, rebalanceCheckTimer());
    unitState(`${REBALANCE_CHECK_UNIT}.timer`, "active");
  }
  for (const v of rebalanced) checkFile(ctx, `file ${rebalanceLayoutFile(v.name)}`, `file:${rebalanceLayoutFile(v.name)}`, `${rebalanceLayout(v)}\n`);
  // Timers and mounts of ours the inventory no longer declares here: every node's "retired"
  // step removes them at the next deploy.
  const undeclared = (sec: string, what: string, declared: Set<string>) => {
    const s = section(ctx, sec);
    if (s && s.rc !== 0) ctx.report.errors.push(`${node.name}: ${what}s not listed: ${s.stderr.trim()}`);
    else if (s) {
      for (const u of s.stdout.split("\n").map((x) => x.trim()).filter((x) => x && !declared.has(x)).sort()) {
        ctx.drift(`${what} ${u}`, "absent (not in the inventory; the next deploy stops and removes it)", "installed");
      }
    }
  };
  undeclared("sync-timers", "sync timer", new Set(dc.syncJobs.filter((x) => x.node === node.name).map((j) => `${j.unit}.timer`)));
  undeclared("mount-units", "mount unit", new Set(dc.mounts.filter((x) => x.node === node.name).map((m) => m.unit)));
  for (const j of dc.syncJobs.filter((x) => x.node === node.name)) {
    checkFile(ctx, `unit file ${j.unit}.service`, `file:${UNIT_DIR}/${j.unit}.service`, syncService(j));
    checkFile(ctx, `unit file ${j.unit}.timer`, `file:${UNIT_DIR}/${j.unit}.timer`, syncTimer(j));
    unitState(`${j.unit}.timer`, "active");
    const r = section(ctx, `result:${j.unit}.service`);
    if (r) {
      const kv = parseKeyValues(r.stdout);
      if (r.rc !== 0 || !kv.Result) ctx.report.errors.push(`${node.name}: last result of ${j.unit}.service not read`);
      else if (kv.Result !== "success" || (kv.ExecMainStatus ?? "0") !== "0") ctx.drift(`sync ${j.unit} last run`, "success", `${kv.Result} (exit status ${kv.ExecMainStatus ?? "?"})`);
    }
  }
}

// ---- SSH -----------------------------------------------------------------------------------

export interface CheckOptions extends CompareOptions {
  /** The ssh program and its leading arguments (default ["ssh"]); e.g. the lab's nsenter prefix. */
  sshCommand?: string[];
  /** Extra ssh arguments (e.g. ["-F", config] or ["-o", "ProxyJump=bastion"]), before the host. */
  sshArgs?: string[];
  /** Where to reach a node (default: the inventory's ssh.host / address); undefined: cannot. */
  addressOf?: (node: MeshNode) => string | undefined;
  user?: string;
  keyFile?: string;
  /** Seconds for one node's whole answer (default 60). */
  timeoutSec?: number;
  /** ssh ConnectTimeout (default 10). */
  connectTimeoutSec?: number;
  /** Pinned host keys besides the inventory's ssh.hostKey (node -> "ssh-ed25519 AAAA..."). */
  hostKeys?: Record<string, string>;
}

/** Read every node of a DC in parallel over SSH, then compare. */
export async function checkDrift(model: Model, dcName: string, opts: CheckOptions = {}): Promise<DriftReport> {
  const dc = model.dcs.find((d) => d.name === dcName);
  if (!dc) return compareDc(model, dcName, [], opts);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "glustermesh-drift-"));
  try {
    const pinned = dc.nodes.filter((n) => n.hostKey ?? opts.hostKeys?.[n.name]);
    const knownHosts = path.join(tmp, "known_hosts");
    fs.writeFileSync(knownHosts, pinned.map((n) => `${hostAlias(n)} ${n.hostKey ?? opts.hostKeys![n.name]}\n`).join(""));
    const captures = await Promise.all(
      dc.nodes.map(async (n): Promise<NodeCapture> => {
        const address = (opts.addressOf ?? ((x: MeshNode) => x.sshHost ?? x.address))(n);
        if (!address) return { node: n.name, error: `no address to reach ${n.name} (a gce node: pass --address ${n.name}=HOST, or have the pulumi CLI and the stack's meshHosts output)` };
        const hostKey = n.hostKey ?? opts.hostKeys?.[n.name];
        const [prog, ...lead] = opts.sshCommand ?? ["ssh"];
        const argv = [
          ...lead,
          "-o", "BatchMode=yes",
          "-o", `ConnectTimeout=${opts.connectTimeoutSec ?? 10}`,
          "-o", "StrictHostKeyChecking=yes",
          ...(hostKey ? ["-o", `UserKnownHostsFile=${knownHosts}`, "-o", "GlobalKnownHostsFile=/dev/null", "-o", `HostKeyAlias=${hostAlias(n)}`] : []),
          ...(n.sshPort !== 22 ? ["-p", String(n.sshPort)] : []),
          ...(opts.user ? ["-l", opts.user] : []),
          ...(opts.keyFile ? ["-i", opts.keyFile, "-o", "IdentitiesOnly=yes"] : []),
          ...(opts.sshArgs ?? []),
          address,
          "bash -s",
        ];
        const sentAt = Date.now() / 1000;
        const timeoutSec = opts.timeoutSec ?? 60;
        const r = await runProgram([prog, ...argv], { input: liveScript(model, dc, n), timeoutMs: timeoutSec * 1000 });
        const receivedAt = Date.now() / 1000;
        if (r.spawnError) return { node: n.name, address, error: `cannot run ${prog}: ${r.spawnError}` };
        if (r.timedOut) return { node: n.name, address, error: `no complete answer within ${timeoutSec}s` };
        if (r.code !== 0 && !r.stdout.includes("@@glustermesh-live@@ begin")) {
          return { node: n.name, address, error: `ssh ${address} failed (exit ${r.code ?? -1}): ${r.stderr.trim().split("\n").slice(-2).join(" ") || "no message"}` };
        }
        return { node: n.name, address, output: r.stdout, sentAt, receivedAt };
      }),
    );
    return compareDc(model, dcName, captures, opts);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

function hostAlias(n: MeshNode): string {
  return `glustermesh-${n.name}`;
}

// ---- command -------------------------------------------------------------------------------

/** The drift report as text: one line per drift, then what could not be checked. */
export function formatReport(r: DriftReport): string {
  const out: string[] = [];
  const w = (f: (d: DriftItem) => string) => Math.max(0, ...r.drift.map((d) => f(d).length));
  const wn = w((d) => d.node);
  const wi = Math.min(60, w((d) => d.item));
  for (const d of r.drift) out.push(`${d.node.padEnd(wn)}  ${d.item.padEnd(wi)}  expected ${d.expected}  found ${d.found}`);
  for (const e of r.errors) out.push(`error: ${e}`);
  const reachable = Object.values(r.nodes).filter((n) => n.reachable).length;
  const total = Object.keys(r.nodes).length;
  out.push(
    r.errors.length
      ? `${r.dc}: NOT fully checked (${r.errors.length} problem${r.errors.length > 1 ? "s" : ""}, ${reachable}/${total} nodes read)${r.drift.length ? `; ${r.drift.length} drift${r.drift.length > 1 ? "s" : ""} found so far` : ""}`
      : r.drift.length
        ? `${r.dc}: ${r.drift.length} drift${r.drift.length > 1 ? "s" : ""} on ${new Set(r.drift.map((d) => d.node)).size} of ${total} nodes (pulumi up runs a step again only when the step changes; to run every step again: pulumi config set glustermesh:reapply "$(date +%s)" --stack ${r.dc} && pulumi up --stack ${r.dc}; anything else needs a look)`
        : `${r.dc}: no drift (${total} nodes checked)`,
  );
  return out.join("\n") + "\n";
}

/** Exit code of a report: 1 when something was not checked, 2 on drift, 0 otherwise. */
export function exitCode(r: DriftReport): 0 | 1 | 2 {
  return r.errors.length ? 1 : r.drift.length ? 2 : 0;
}

/** Host keys pinned in the stack's config file (Pulumi.<dc>.yaml, glustermesh:hostKeys). */
export function stackHostKeys(projectDir: string, dc: string): Record<string, string> {
  const file = path.join(projectDir, `Pulumi.${dc}.yaml`);
  if (!fs.existsSync(file)) return {};
  try {
    const doc = parseYaml(fs.readFileSync(file, "utf8")) as { config?: Record<string, unknown> } | null;
    const keys = doc?.config?.["glustermesh:hostKeys"];
    return keys && typeof keys === "object" ? Object.fromEntries(Object.entries(keys).filter(([, v]) => typeof v === "string")) as Record<string, string> : {};
  } catch {
    return {};
  }
}

/** Addresses of machines a stack created (gce), from `pulumi stack output meshHosts`, when the CLI is there. */
function stackAddresses(dc: string, cwd: string): Record<string, string> {
  const r = spawnSync("pulumi", ["stack", "output", "meshHosts", "--json", "--stack", dc], { cwd, encoding: "utf8", timeout: 60_000 });
  if (r.status !== 0) return {};
  try {
    const hosts = JSON.parse(r.stdout) as Record<string, { address?: string }>;
    return Object.fromEntries(Object.entries(hosts).filter(([, h]) => h.address).map(([n, h]) => [n, h.address!]));
  } catch {
    return {};
  }
}

const DRIFT: CommandSpec = {
  name: "drift",
  usage: `usage: glustermesh drift --stack DC [--json] [--inventory DIR] [--timeout S] [--max-clock-skew S]
                        [--ssh-user USER] [--ssh-key FILE] [--ssh-option OPT]... [--address NODE=HOST]...
  Reads every node of DC over SSH (read-only) and compares it with the inventory.
  Exit 0: no drift; 2: drift, or a usage error (then this text is on stderr);
  1: something could not be checked, or the inventory is invalid.
  It logs in as ${DRIFT_ACCOUNT}, the read-only account the stack makes on every node
  for the keys in the inventory's drift: section (--ssh-user root works too). The SSH
  key defaults to $GLUSTERMESH_SSH_KEY, else ssh's own; host keys pinned in the inventory
  (ssh.hostKey) or Pulumi.DC.yaml (glustermesh:hostKeys) are enforced.`,
  values: { stack: "DC", inventory: "DIR", timeout: "S", "max-clock-skew": "S", "ssh-user": "USER", "ssh-key": "FILE", "ssh-command": "PROGRAM" },
  lists: { "ssh-option": "OPT", address: "NODE=HOST" },
  switches: ["json"],
  required: ["stack"],
};

export function driftCommand(argv: string[]): Promise<number> {
  return runCommand(DRIFT, argv, drift);
}

/** A number of seconds from a flag; a bad one is a usage error. */
function seconds(args: ParsedArgs, flag: string, fallback: number, zeroAllowed: boolean): number {
  const given = args.values[flag];
  if (given === undefined) return fallback;
  const n = Number(given);
  if (given.trim() === "" || !Number.isFinite(n) || n < 0 || (n === 0 && !zeroAllowed)) {
    throw new UsageError(`--${flag} must be a number of seconds${zeroAllowed ? "" : " above 0"} (got ${given})`);
  }
  return n;
}

function addressFlags(args: ParsedArgs): Record<string, string> {
  const addresses: Record<string, string> = {};
  for (const a of args.lists.address ?? []) {
    const m = /^([a-z][a-z0-9_]*)=(\S+)$/.exec(a);
    if (!m) throw new UsageError(`--address takes NODE=HOST (got ${a})`);
    addresses[m[1]] = m[2];
  }
  return addresses;
}

async function drift(args: ParsedArgs): Promise<number> {
  const dcName = args.values.stack!;
  const timeout = seconds(args, "timeout", 60, false);
  const maxSkew = seconds(args, "max-clock-skew", 2, true);
  const addresses = addressFlags(args);
  const dir = path.resolve(inventoryFlag(args));
  const loaded = loadInventory(dir);
  if (!loaded.ok) {
    process.stderr.write(`${formatProblems(loaded.problems)}\nglustermesh drift: the inventory is invalid; nothing was checked.\n`);
    return 1;
  }
  const model = buildModel(loaded.inventory);
  const dc = knownDc(model, dcName);
  const projectDir = path.dirname(dir);
  if (dc.nodes.some((n) => !addresses[n.name] && !(n.sshHost ?? n.address))) Object.assign(addresses, { ...stackAddresses(dcName, projectDir), ...addresses });
  const sshCommand = args.values["ssh-command"];
  const keyFile = args.values["ssh-key"] ?? process.env.GLUSTERMESH_SSH_KEY;
  if (keyFile && !fs.existsSync(keyFile)) throw new UsageError(`SSH key ${keyFile} does not exist`);
  const report = await checkDrift(model, dcName, {
    ...(sshCommand ? { sshCommand: [sshCommand] } : {}),
    sshArgs: (args.lists["ssh-option"] ?? []).flatMap((o) => ["-o", o]),
    addressOf: (n) => addresses[n.name] ?? n.sshHost ?? n.address,
    user: args.values["ssh-user"] ?? DRIFT_ACCOUNT,
    ...(keyFile ? { keyFile } : {}),
    timeoutSec: timeout,
    connectTimeoutSec: Math.max(1, Math.min(10, Math.floor(timeout / 2))),
    hostKeys: stackHostKeys(projectDir, dcName),
    maxClockSkew: maxSkew,
  });
  if (args.switches.has("json")) process.stdout.write(JSON.stringify(report, null, 2) + "\n");
  else process.stdout.write(formatReport(report));
  return exitCode(report);
}

import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { validateTexts } from "../../model/load";
import { buildModel, type Model } from "../../model/model";
import { hostFile, tincConf, tincUp } from "../../render/tinc";
import { firewallRules, mountUnit, syncService, syncTimer } from "../../render/units";
import { connectTo } from "../../model/model";
import { checkDrift, compareDc, exitCode, formatReport, type NodeCapture } from "../../cli/drift";
import { MARK, liveScript, parseLiveOutput, parsePeerStatus, parseRebalanceStatus, parseVolumeGet, parseVolumeInfo, parseVolumeStatus } from "../../cli/live";
import { BRICK_CHECK, brickCheckScript, brickCheckService, brickCheckTimer, GLUSTERD_DROP_IN, GLUSTERD_MESH_WAIT, GLUSTERD_MESH_WAIT_UNIT, glusterdDropIn, glusterdMeshWaitScript, glusterdMeshWaitService } from "../../render/gluster";
import { DRIFT_KEYS_FILE, DRIFT_READ, DRIFT_SSHD_CONFIG, driftAuthorizedKeys, driftRead, driftSshdConfig } from "../../render/access";
import { glusterdMeshArgs, nodeBricks } from "../../render/steps";
import { REBALANCE_CHECK, rebalanceCheckScript, rebalanceCheckService, rebalanceCheckTimer, rebalanceLayout, rebalanceLayoutFile } from "../../render/rebalance";
import { baseTexts, sample } from "./fixtures";
import { runCommand } from "./cli";

function model(): Model {
  const r = validateTexts("/fixture", baseTexts());
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return buildModel(r.inventory);
}

const KEY = (n: string) => `-----BEGIN RSA PUBLIC KEY-----\nMIIBCgKCAQEA${n}key+/=\n-----END RSA PUBLIC KEY-----`;
const NOW = 1_750_000_000;

type Sections = Record<string, { stdout: string; rc?: number; stderr?: string } | null>;

/** A node's recorded answer in the live script's format: a healthy, deployed laba. */
function healthy(m: Model, node: string): Sections {
  const dc = m.dcs.find((d) => d.name === "laba")!;
  const n = m.nodes.find((x) => x.name === node)!;
  const s: Sections = {
    clock: { stdout: `${NOW}.250000000\n` },
    hostname: { stdout: `${node}\n` },
    "tinc-conf": { stdout: tincConf({ network: "glustermesh", interface: "glustermesh", port: 655, prefix: 16, name: node, tinc: n.tinc, connectTo: connectTo(m, n), hosts: [] }) },
    "tinc-up": { stdout: tincUp({ tinc: n.tinc, prefix: 16 }) },
    "tinc-key": { stdout: KEY(node) + "\n" },
    "tinc-hosts": { stdout: m.nodes.map((x) => x.name).join("\n") + "\n" },
    "tinc-active": { stdout: "active\n" },
    mounts: {
      stdout:
        "proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0\n" +
        dc.mounts.filter((x) => x.node === node).map((x) => `${x.server}:/${x.volume} ${x.where} fuse.glusterfs rw,relatime,user_id=0,group_id=0,default_permissions,allow_other,max_read=131072 0 0`).join("\n") +
        "\n",
    },
    "glusterd-active": { stdout: "active\n" },
    "peer-status": { stdout: sample(`peer-status-${node}.xml`) },
    "volume-info": { stdout: sample(`volume-info-${node}.xml`) },
    "firewall-table": { stdout: sample("nft-list-table.txt") },
    [`file:${GLUSTERD_DROP_IN}`]: { stdout: glusterdDropIn("tinc@glustermesh.service") },
    [`file:${GLUSTERD_MESH_WAIT}`]: { stdout: glusterdMeshWaitScript(glusterdMeshArgs(m, n)) },
    "file:/etc/glustermesh/firewall.nft": { stdout: firewallRules("glustermesh") },
    [`file:/etc/systemd/system/${GLUSTERD_MESH_WAIT_UNIT}`]: { stdout: glusterdMeshWaitService("tinc@glustermesh.service") },
    [`file:${DRIFT_READ}`]: { stdout: driftRead() },
    [`file:${DRIFT_KEYS_FILE}`]: { stdout: driftAuthorizedKeys(m.drift.keys) },
    [`file:${DRIFT_SSHD_CONFIG}`]: { stdout: driftSshdConfig() },
  };
  for (const x of m.nodes) s[`tinc-host:${x.name}`] = { stdout: hostFile({ name: x.name, address: x.address, tinc: x.tinc, publicKey: KEY(x.name) }, 655) };
  s[`file:${BRICK_CHECK}`] = { stdout: brickCheckScript({ node, bricks: nodeBricks(dc, n) }) };
  s["file:/etc/systemd/system/glustermesh-brick-check.service"] = { stdout: brickCheckService() };
  s["file:/etc/systemd/system/glustermesh-brick-check.timer"] = { stdout: brickCheckTimer() };
  s["unit:glustermesh-brick-check.timer"] = { stdout: "enabled=enabled\nactive=active\n" };
  if (node === "laba1") s["volume-status"] = { stdout: sample("volume-status-laba1.xml") };
  if (dc.volumes.some((v) => v.lead === node)) s["volume-get:projects"] = { stdout: sample("volume-get-projects.xml") };
  for (const mt of dc.mounts.filter((x) => x.node === node)) {
    s[`file:/etc/systemd/system/${mt.unit}`] = { stdout: mountUnit(mt, "tinc@glustermesh.service") };
    s[`unit:${mt.unit}`] = { stdout: "enabled=enabled\nactive=active\n" };
  }
  s["mount-units"] = { stdout: dc.mounts.filter((x) => x.node === node).map((mt) => `${mt.unit}\n`).join("") };
  s["sync-timers"] = { stdout: dc.syncJobs.filter((x) => x.node === node).map((j) => `${j.unit}.timer\n`).join("") };
  for (const j of dc.syncJobs.filter((x) => x.node === node)) {
    s[`file:/etc/systemd/system/${j.unit}.service`] = { stdout: syncService(j) };
    s[`file:/etc/systemd/system/${j.unit}.timer`] = { stdout: syncTimer(j) };
    s[`unit:${j.unit}.timer`] = { stdout: "enabled=enabled\nactive=active\n" };
    s[`result:${j.unit}.service`] = { stdout: "Result=success\nExecMainStatus=0\n" };
  }
  return s;
}

function render(s: Sections): string {
  let out = "";
  for (const [name, v] of Object.entries(s)) {
    if (!v) continue;
    out += `${MARK} begin ${name}\n${v.stdout}\n${MARK} stderr ${name}\n${v.stderr ?? ""}\n${MARK} end ${name} ${v.rc ?? 0}\n`;
  }
  return out + `${MARK} done\n`;
}

function capture(node: string, s: Sections): NodeCapture {
  return { node, output: render(s), sentAt: NOW, receivedAt: NOW + 0.5 };
}

/** Compare laba with laba1's and laba2's answers, after `edit` changed them. */
function check(edit: (m: Model, a1: Sections, a2: Sections) => void = () => undefined) {
  const m = model();
  const a1 = healthy(m, "laba1");
  const a2 = healthy(m, "laba2");
  edit(m, a1, a2);
  return compareDc(m, "laba", [capture("laba1", a1), capture("laba2", a2)]);
}

function liveScriptOf(node: string): string {
  const m = model();
  const dc = m.dcs.find((d) => d.name === "laba")!;
  return liveScript(m, dc, m.nodes.find((n) => n.name === node)!);
}

const lines = (r: ReturnType<typeof check>) => r.drift.map((d) => `${d.node} | ${d.item} | ${d.expected} | ${d.found}`);

test("parsers read real gluster 10.3 XML", () => {
  assert.deepEqual(parsePeerStatus(sample("peer-status-laba1.xml")), [{ hostnames: ["10.1.1.2"], connected: true, state: "Peer in Cluster" }]);
  assert.deepEqual(parsePeerStatus(sample("peer-status-laba1-laba2-down.xml"))[0].connected, false);
  const [v] = parseVolumeInfo(sample("volume-info-laba1.xml"));
  assert.equal(v.name, "projects");
  assert.equal(v.status, "Started");
  assert.equal(v.replicaCount, 2);
  assert.deepEqual(v.bricks, ["10.1.1.1:/mnt/bricks/projects", "10.1.1.2:/mnt/bricks/projects"]);
  assert.equal(v.options["auth.allow"], "10.1.1.1,10.1.1.2,10.1.2.1,10.1.2.2");
  const got = parseVolumeGet(sample("volume-get-projects.xml"));
  assert.equal(got["performance.quick-read"], "off");
  assert.equal(got["cluster.lookup-unhashed"], "on"); // " (DEFAULT)" dropped
  assert.equal(got["cluster.eager-lock"], "enable");
  assert.deepEqual(parseVolumeStatus(sample("volume-status-laba1.xml")), [
    { volume: "projects", spec: "10.1.1.1:/mnt/bricks/projects", online: true, port: 54503 },
    { volume: "projects", spec: "10.1.1.2:/mnt/bricks/projects", online: true, port: 57375 },
  ]);
  const live = parseLiveOutput(render({ a: { stdout: "x\n\n" }, b: { stdout: "no newline", rc: 3, stderr: "oops" } }));
  assert.equal(live.complete, true);
  assert.deepEqual(live.sections.get("a"), { name: "a", stdout: "x\n\n", stderr: "", rc: 0 });
  assert.deepEqual(live.sections.get("b"), { name: "b", stdout: "no newline", stderr: "oops", rc: 3 });
});

test("a live state matching the inventory: no drift, exit 0", () => {
  const r = check();
  assert.deepEqual(lines(r), []);
  assert.deepEqual(r.errors, []);
  assert.equal(exitCode(r), 0);
  assert.deepEqual(r.nodes.laba1, { reachable: true, clockSkewSeconds: 0 });
  assert.match(formatReport(r), /laba: no drift \(2 nodes checked\)/);
});

test("nfs.disable off, auth.allow widened, a virt option reset: each on the lead, exit 2", () => {
  const nfs = check((m, a1) => (a1["volume-get:projects"] = { stdout: sample("volume-get-projects-nfs-off.xml") }));
  assert.deepEqual(lines(nfs), ["laba1 | volume projects option nfs.disable | on | off"]);
  assert.equal(exitCode(nfs), 2);
  assert.match(formatReport(nfs), /^laba1 {2}volume projects option nfs\.disable {2}expected on {2}found off$/m);
  const auth = check((m, a1) => (a1["volume-get:projects"] = { stdout: sample("volume-get-projects-auth-wide.xml") }));
  assert.deepEqual(lines(auth), ["laba1 | volume projects option auth.allow | 10.1.1.1,10.1.1.2,10.1.2.1,10.1.2.2 | 10.1.*"]);
  const quick = check((m, a1) => (a1["volume-get:projects"] = { stdout: sample("volume-get-projects-quickread-reset.xml") }));
  assert.deepEqual(lines(quick), ["laba1 | volume projects option performance.quick-read | off | on"]);
});

test("a peer detached or disconnected", () => {
  const gone = check((m, a1) => (a1["peer-status"] = { stdout: sample("peer-status-laba1.xml").replace(/<peer>[\s\S]*<\/peer>\n/, "") }));
  assert.deepEqual(lines(gone), ["laba1 | peer 10.1.1.2 (laba2) | Peer in Cluster (Connected) | not in the pool"]);
  const down = check((m, a1) => (a1["peer-status"] = { stdout: sample("peer-status-laba1-laba2-down.xml") }));
  assert.deepEqual(lines(down), ["laba1 | peer 10.1.1.2 (laba2) | Peer in Cluster (Connected) | Peer in Cluster (Disconnected)"]);
});

test("a brick offline, a brick glusterd shows without a port, a brick missing: named by the DC's lead, exit 2", () => {
  const status = sample("volume-status-laba1.xml");
  const brick2 = /<node>\s*<hostname>10\.1\.1\.2<\/hostname>[\s\S]*?<\/node>/;
  const edit = (f: (node: string) => string) => status.replace(brick2, f);
  // gluster 10.3 after server quorum came back: the brick's process runs, glusterd has no port for it
  const portless = check((m, a1) => (a1["volume-status"] = { stdout: edit((n) => n.replace(/<port>57375<\/port>/, "<port>N/A</port>").replace(/<tcp>57375<\/tcp>/, "<tcp>N/A</tcp>")) }));
  assert.deepEqual(lines(portless), ["laba1 | brick 10.1.1.2:/mnt/bricks/projects of projects (laba2) | online, with a port | online without a port: glusterd lost track of the brick's process; clients and heals cannot reach it (restart glusterd on that node)"]);
  assert.equal(exitCode(portless), 2);
  const offline = check((m, a1) => (a1["volume-status"] = { stdout: edit((n) => n.replace("<status>1</status>", "<status>0</status>").replace(/<port>57375<\/port>/, "<port>N/A</port>")) }));
  assert.deepEqual(lines(offline), ["laba1 | brick 10.1.1.2:/mnt/bricks/projects of projects (laba2) | online, with a port | offline"]);
  const missing = check((m, a1) => (a1["volume-status"] = { stdout: edit(() => "") }));
  assert.deepEqual(lines(missing), ["laba1 | brick 10.1.1.2:/mnt/bricks/projects of projects (laba2) | online, with a port | not in volume status (its node not connected to this one?)"]);
  // a volume that is not started is not in `volume status all`: its status is the drift, not its bricks
  const stopped = check((m, a1) => {
    a1["volume-status"] = { stdout: status.replace(/<volumes>[\s\S]*<\/volumes>/, "<volumes/>") };
    a1["volume-info"] = { stdout: sample("volume-info-laba1.xml").replace("<statusStr>Started</statusStr>", "<statusStr>Stopped</statusStr>") };
  });
  assert.deepEqual(lines(stopped), ["laba1 | volume projects status | Started | Stopped"]);
  // only the lead asks (`volume status` takes a cluster-wide lock)
  assert.match(liveScriptOf("laba1"), /as_root volume-status/);
  assert.doesNotMatch(liveScriptOf("laba2"), /volume-status/);
});

test("glusterd's drop-in or its wait-for-the-mesh script missing or edited; the brick check timer disabled", () => {
  const gone = check((m, a1, a2) => (a2[`file:${GLUSTERD_DROP_IN}`] = { stdout: "", rc: 1, stderr: "cat: No such file or directory\n" }));
  assert.equal(lines(gone).length, 1);
  assert.match(lines(gone)[0], /^laba2 \| file \/etc\/systemd\/system\/glusterd\.service\.d\/glustermesh\.conf \| /);
  const timer = check((m, a1, a2) => (a2["unit:glustermesh-brick-check.timer"] = { stdout: "enabled=disabled\nactive=inactive\n" }));
  assert.deepEqual(lines(timer), ["laba2 | unit glustermesh-brick-check.timer | enabled | disabled", "laba2 | unit glustermesh-brick-check.timer | active | inactive"]);
  const edited = check((m, a1) => (a1[`file:${GLUSTERD_MESH_WAIT}`] = { stdout: a1[`file:${GLUSTERD_MESH_WAIT}`]!.stdout.replace("readonly WAIT_SECONDS=20\n", "readonly WAIT_SECONDS=0\n") }));
  assert.equal(lines(edited).length, 1);
  assert.match(lines(edited)[0], /^laba1 \| file \/usr\/local\/lib\/glustermesh\/glusterd-wait-for-mesh \| /);
});

test("tincd stopped, a host file edited, a stray host file", () => {
  const stopped = check((m, a1, a2) => (a2["tinc-active"] = { stdout: "inactive\n", rc: 3 }));
  assert.deepEqual(lines(stopped), ["laba2 | service tinc@glustermesh.service | active | inactive"]);
  const edited = check((m, a1) => (a1["tinc-host:labb1"] = { stdout: a1["tinc-host:labb1"]!.stdout.replace("Address = 192.0.2.21 655", "Address = 192.0.2.99 655") }));
  assert.deepEqual(lines(edited), ["laba1 | tinc host file hosts/labb1 | Address = 192.0.2.21 655 | Address = 192.0.2.99 655"]);
  const wrongKey = check((m, a1) => (a1["tinc-host:laba2"] = { stdout: hostFile({ name: "laba2", address: "192.0.2.12", tinc: "10.1.1.2", publicKey: KEY("stale") }, 655) }));
  assert.equal(wrongKey.drift.length, 1);
  assert.equal(wrongKey.drift[0].node, "laba1");
  assert.equal(wrongKey.drift[0].item, "tinc host file hosts/laba2");
  const foreignKey = check((m, a1) => (a1["tinc-host:labb2"] = { stdout: hostFile({ name: "labb2", address: "192.0.2.22", tinc: "10.1.2.2", publicKey: KEY("other") }, 655) }));
  // A peer DC's key is not known here: two nodes disagreeing is drift on both (no majority to trust).
  assert.deepEqual(lines(foreignKey), ["laba1 | tinc host file hosts/labb2 key | the same key on every node of laba | keys differ (laba1, laba2)", "laba2 | tinc host file hosts/labb2 key | the same key on every node of laba | keys differ (laba1, laba2)"]);
  const stray = check((m, a1) => {
    a1["tinc-hosts"] = { stdout: a1["tinc-hosts"]!.stdout + "oldnode\n" };
    a1["tinc-host:oldnode"] = { stdout: "Subnet = 10.1.9.9/32\n" };
  });
  assert.deepEqual(lines(stray), ["laba1 | tinc host file hosts/oldnode | absent (not in the inventory) | present"]);
  const missing = check((m, a1) => {
    a1["tinc-host:labb2"] = null;
    a1["tinc-hosts"] = { stdout: "laba1\nlaba2\nlabb1\n" };
  });
  assert.deepEqual(lines(missing), ["laba1 | tinc host file hosts/labb2 | present | missing"]);
});

test("a mount unmounted, a timer disabled, a failed sync", () => {
  const m = model();
  const dc = m.dcs.find((d) => d.name === "laba")!;
  const job = dc.syncJobs.find((j) => j.node === "laba2")!;
  const unmounted = check((mm, a1) => (a1.mounts = { stdout: a1.mounts!.stdout.split("\n").filter((l) => !l.includes(" /mnt/gluster/labb/projects ")).join("\n") }));
  assert.deepEqual(lines(unmounted), ["laba1 | mount /mnt/gluster/labb/projects | mounted (labb/projects from 10.1.2.1) | not mounted"]);
  const disabled = check((mm, a1, a2) => (a2[`unit:${job.unit}.timer`] = { stdout: "enabled=disabled\nactive=inactive\n" }));
  assert.deepEqual(lines(disabled), [`laba2 | unit ${job.unit}.timer | enabled | disabled`, `laba2 | unit ${job.unit}.timer | active | inactive`]);
  const failed = check((mm, a1, a2) => (a2[`result:${job.unit}.service`] = { stdout: "Result=exit-code\nExecMainStatus=1\n" }));
  assert.deepEqual(lines(failed), [`laba2 | sync ${job.unit} last run | success | exit-code (exit status 1)`]);
});

test("a sync timer or mount unit the inventory no longer declares is drift (every node's next deploy removes it); listing them failing is an error", () => {
  const GONE = "absent (not in the inventory; the next deploy stops and removes it)";
  const stale = check((mm, a1) => (a1["sync-timers"] = { stdout: a1["sync-timers"]!.stdout + "glustermesh-sync-projects-set1-to-labc.timer\n" }));
  assert.deepEqual(lines(stale), [`laba1 | sync timer glustermesh-sync-projects-set1-to-labc.timer | ${GONE} | installed`]);
  assert.equal(exitCode(stale), 2);
  // a node left with no sync job: its "retired" step still removes them
  const orphan = check((mm) => {
    const d = mm.dcs.find((x) => x.name === "laba")!;
    d.syncJobs = d.syncJobs.filter((j) => j.node !== "laba1");
  });
  const job1 = model().dcs.find((d) => d.name === "laba")!.syncJobs.find((j) => j.node === "laba1")!;
  assert.deepEqual(lines(orphan), [`laba1 | sync timer ${job1.unit}.timer | ${GONE} | installed`]);
  const mountGone = check((mm, a1) => (a1["mount-units"] = { stdout: a1["mount-units"]!.stdout + "mnt-gluster-labc-projects.mount\n" }));
  assert.deepEqual(lines(mountGone), [`laba1 | mount unit mnt-gluster-labc-projects.mount | ${GONE} | installed`]);
  assert.equal(exitCode(mountGone), 2);
  const broken = check((mm, a1) => {
    a1["sync-timers"] = { stdout: "", stderr: "find: '/etc/systemd/system': Permission denied", rc: 1 };
    a1["mount-units"] = { stdout: "", stderr: "find: '/etc/systemd/system': Permission denied", rc: 1 };
  });
  assert.deepEqual(lines(broken), []);
  assert.ok(broken.errors.some((e) => /laba1: sync timers not listed: find: .*Permission denied/.test(e)), broken.errors.join("\n"));
  assert.ok(broken.errors.some((e) => /laba1: mount units not listed: find: .*Permission denied/.test(e)), broken.errors.join("\n"));
  assert.equal(exitCode(broken), 1);
});

test("firewall table missing; clock off by 10 s", () => {
  const fw = check((m, a1, a2) => (a2["firewall-table"] = { stdout: "", rc: 1, stderr: "Error: No such file or directory\nlist table inet glustermesh\n" }));
  assert.deepEqual(lines(fw), ["laba2 | firewall table inet glustermesh | present, gluster's ports dropped off the mesh | missing"]);
  // the table of glustermesh before 2026-11-25, which dropped every packet to the bricks' ports
  const old = sample("nft-list-table.txt").replace("tcp flags syn / fin,syn,rst,ack ", "");
  const every = check((m, a1, a2) => (a2["firewall-table"] = { stdout: old }));
  assert.deepEqual(lines(every), ["laba2 | firewall table inet glustermesh | new connections to gluster's ports dropped off the mesh | every packet to them dropped, also replies to this host's own connections"]);
  // older nft lists the match as it is written
  const older = sample("nft-list-table.txt").replace("tcp flags syn / fin,syn,rst,ack ", "tcp flags & (fin | syn | rst | ack) == syn ");
  assert.deepEqual(lines(check((m, a1, a2) => (a2["firewall-table"] = { stdout: older }))), []);
  const clock = check((m, a1) => (a1.clock = { stdout: `${NOW + 10.5}\n` }));
  assert.deepEqual(lines(clock), ["laba1 | clock | within 2s of the checker's | ahead by 10.0s"]);
  assert.equal(clock.nodes.laba1.clockSkewSeconds, 10);
});

test("a gluster command that fails is an error (not checked), never silent", () => {
  const r = check((m, a1) => {
    a1["glusterd-active"] = { stdout: "inactive\n", rc: 3 };
    a1["peer-status"] = { stdout: "", rc: 1, stderr: "Connection failed. Please check if gluster daemon is operational.\n" };
    a1["volume-info"] = { stdout: "", rc: 1, stderr: "Connection failed. Please check if gluster daemon is operational.\n" };
    a1["volume-get:projects"] = { stdout: "", rc: 1 };
  });
  assert.deepEqual(lines(r), ["laba1 | service glusterd | active | inactive"]);
  assert.match(r.errors.join("\n"), /laba1: peer-status not checked: .*gluster daemon is operational/);
  assert.equal(exitCode(r), 1);
  const cut = compareDc(model(), "laba", [capture("laba1", healthy(model(), "laba1")), { node: "laba2", output: render(healthy(model(), "laba2")).replace(/@@glustermesh-live@@ done\n$/, "") , sentAt: NOW, receivedAt: NOW }]);
  assert.match(cut.errors.join("\n"), /laba2: the report ended early/);
});

// ---- the rebalance of a volume of 2 or more replica sets -------------------------------------

/**
 * `volume rebalance projects status --xml` as glusterd 10.3 answers: a rebalance in progress,
 * and after `rebalance projects stop` (recorded from a one-node glusterd; the aggregate's shape
 * is the pool's); other statuses are the recorded answer with another code.
 */
const REBALANCING = sample("rebalance-status-projects.xml");
const rebalanceStatus = (code: number, name: string) => REBALANCING.replace(/<status>1<\/status>/g, `<status>${code}</status>`).replace(/<statusStr>in progress<\/statusStr>/g, `<statusStr>${name}</statusStr>`);

/** laba's volume with a second replica set: its lead laba1 answers for the rebalance check and the rebalance. */
function secondSet(m: Model, a1: Sections, status = rebalanceStatus(3, "completed")): void {
  const v = m.dcs.find((d) => d.name === "laba")!.volumes[0];
  const at = "/mnt/bricks/projects2";
  v.replicaSets.push({ index: 2, name: "laba1+laba2", bricks: v.replicaSets[0].bricks.map((b) => ({ ...b, path: at, spec: b.spec.replace(b.path, at) })) });
  a1[`file:${REBALANCE_CHECK}`] = { stdout: rebalanceCheckScript() };
  a1["file:/etc/systemd/system/glustermesh-rebalance-check.service"] = { stdout: rebalanceCheckService() };
  a1["file:/etc/systemd/system/glustermesh-rebalance-check.timer"] = { stdout: rebalanceCheckTimer() };
  a1["unit:glustermesh-rebalance-check.timer"] = { stdout: "enabled=enabled\nactive=active\n" };
  a1[`file:${rebalanceLayoutFile("projects")}`] = { stdout: `${rebalanceLayout(v)}\n` };
  a1["rebalance-status:projects"] = { stdout: status, rc: /<opRet>0</.test(status) ? 0 : 1 };
}

// (the second set's bricks are not in the recorded volume info and status: only what concerns the rebalance is compared)
const rebalanceLines = (r: ReturnType<typeof check>) => lines(r).filter((l) => /rebalance/.test(l));
const rebalanceErrors = (r: ReturnType<typeof check>) => r.errors.filter((e) => /rebalance/.test(e));

test("a volume of 2 replica sets: its lead reads the rebalance check, its timer, the layout and the rebalance's status; completed or in progress is no drift", () => {
  assert.deepEqual(parseRebalanceStatus(REBALANCING), { code: 1, status: "in progress" });
  assert.deepEqual(parseRebalanceStatus(sample("rebalance-status-projects-stopped.xml")), { code: 0, status: "not started" });
  assert.equal(parseRebalanceStatus("Connection failed. Please check if gluster daemon is operational.\n"), undefined);
  for (const status of [rebalanceStatus(3, "completed"), REBALANCING, rebalanceStatus(5, "fix-layout in progress")]) {
    const r = check((m, a1) => secondSet(m, a1, status));
    assert.deepEqual(rebalanceLines(r), []);
    assert.deepEqual(rebalanceErrors(r), []);
  }
  const m = model();
  m.dcs.find((d) => d.name === "laba")!.volumes[0].replicaSets.push({ index: 2, name: "x", bricks: [] });
  const dc = m.dcs.find((d) => d.name === "laba")!;
  const lead = liveScript(m, dc, m.nodes.find((n) => n.name === "laba1")!);
  assert.match(lead, /^sec rebalance-status:projects as_root rebalance-status projects$/m);
  for (const f of ["/usr/local/lib/glustermesh/rebalance-check", "/etc/systemd/system/glustermesh-rebalance-check.timer", "/etc/glustermesh/rebalance/projects.layout"]) assert.ok(lead.includes(`sec file:${f} cat ${f}`), f);
  assert.match(lead, /^sec unit:glustermesh-rebalance-check\.timer unit_state glustermesh-rebalance-check\.timer$/m);
  assert.doesNotMatch(liveScript(m, dc, m.nodes.find((n) => n.name === "laba2")!), /rebalance/);
  // one replica set: nothing of it is read
  assert.doesNotMatch(liveScriptOf("laba1"), /rebalance/);
});

test("a rebalance that failed, or stopped (gluster then says not started): drift on the lead, naming what starts it again", () => {
  const failed = check((m, a1) => secondSet(m, a1, rebalanceStatus(4, "failed")));
  assert.deepEqual(rebalanceLines(failed), ["laba1 | rebalance of projects | completed or in progress | failed (the rebalance check starts it again within 5 minutes; see gluster volume rebalance projects status)"]);
  assert.equal(exitCode(failed), 2);
  assert.match(formatReport(failed), /^laba1 +rebalance of projects +expected completed or in progress +found failed \(the rebalance check/m);
  const stopped = check((m, a1) => secondSet(m, a1, sample("rebalance-status-projects-stopped.xml")));
  assert.deepEqual(rebalanceLines(stopped), ["laba1 | rebalance of projects | completed or in progress | not started (the rebalance check starts it again within 5 minutes; see gluster volume rebalance projects status)"]);
  assert.deepEqual(rebalanceErrors(stopped), []);
});

test("the rebalance check, its timer or a layout missing, disabled or edited; a status gluster does not give is an error", () => {
  const gone = check((m, a1) => {
    secondSet(m, a1);
    a1[`file:${REBALANCE_CHECK}`] = { stdout: "", rc: 1, stderr: "cat: /usr/local/lib/glustermesh/rebalance-check: No such file or directory\n" };
    a1["unit:glustermesh-rebalance-check.timer"] = { stdout: "enabled=disabled\nactive=inactive\n" };
    a1[`file:${rebalanceLayoutFile("projects")}`] = { stdout: `${a1[`file:${rebalanceLayoutFile("projects")}`]!.stdout.split("\n")[0]}\n` };
  });
  assert.deepEqual(rebalanceLines(gone), [
    "laba1 | file /usr/local/lib/glustermesh/rebalance-check | present | missing",
    "laba1 | unit glustermesh-rebalance-check.timer | enabled | disabled",
    "laba1 | unit glustermesh-rebalance-check.timer | active | inactive",
    "laba1 | file /etc/glustermesh/rebalance/projects.layout | 10.1.1.1:/mnt/bricks/projects2 10.1.1.2:/mnt/bricks/projects2 | (lines missing)",
  ]);
  const down = check((m, a1) => secondSet(m, a1, ""));
  assert.deepEqual(rebalanceLines(down), []);
  assert.deepEqual(rebalanceErrors(down), ["laba1: rebalance of projects not checked: no gluster XML answer"]);
  assert.equal(exitCode(down), 1);
  // not reported at all (an older live script): an error, never silence
  const missing = check((m, a1) => {
    secondSet(m, a1);
    a1["rebalance-status:projects"] = null;
  });
  assert.deepEqual(rebalanceErrors(missing), ["laba1: rebalance-status:projects was not reported"]);
});

// ---- the SSH part, with fake ssh programs ----------------------------------------------------

function fakeSsh(body: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gm-fake-ssh-"));
  const f = path.join(dir, "ssh");
  fs.writeFileSync(f, `#!/bin/bash\n${body}\n`, { mode: 0o755 });
  return f;
}

function inventoryDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gm-drift-inv-"));
  for (const [f, t] of Object.entries(baseTexts())) fs.writeFileSync(path.join(dir, f), t);
  return dir;
}

const run = (argv: string[]) => runCommand("drift", argv);

test("an unreachable node: exit 1, named, never 'no drift'", async () => {
  const ssh = fakeSsh(`for a; do last=$a; done; host=\${@: -2:1}; echo "ssh: connect to host $host port 22: Connection refused" >&2; exit 255`);
  const r = await run(["--stack", "laba", "--inventory", inventoryDir(), "--ssh-command", ssh, "--timeout", "5"]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stdout, /error: laba1: not checked: ssh 192\.0\.2\.11 failed \(exit 255\): ssh: connect to host 192\.0\.2\.11 port 22: Connection refused/);
  assert.match(r.stdout, /NOT fully checked/);
  assert.doesNotMatch(r.stdout, /no drift/);
  const j = await run(["--stack", "laba", "--inventory", inventoryDir(), "--ssh-command", ssh, "--json"]);
  assert.equal(j.code, 1);
  const report = JSON.parse(j.stdout);
  assert.equal(report.dc, "laba");
  assert.deepEqual(report.nodes.laba1, { reachable: false, address: "192.0.2.11" });
  assert.equal(report.errors.length, 2);
});

test("a node that does not answer in time: exit 1", async () => {
  const ssh = fakeSsh("exec sleep 30");
  const t = Date.now();
  const r = await run(["--stack", "laba", "--inventory", inventoryDir(), "--ssh-command", ssh, "--timeout", "1"]);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /laba1: not checked: no complete answer within 1s/);
  assert.ok(Date.now() - t < 10_000);
});

test("ssh gets BatchMode, pinned host keys, user, key and port; recorded answers give drift exit 2", async () => {
  const m = model();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gm-drift-rec-"));
  const a1 = healthy(m, "laba1");
  a1["volume-get:projects"] = { stdout: sample("volume-get-projects-nfs-off.xml") };
  a1.clock = { stdout: "@NOW@\n" };
  const a2 = healthy(m, "laba2");
  a2.clock = { stdout: "@NOW@\n" };
  fs.writeFileSync(path.join(dir, "laba1"), render(a1));
  fs.writeFileSync(path.join(dir, "laba2"), render(a2));
  const ssh = fakeSsh(
    `printf '%s\\n' "$@" > ${dir}/args.$$; host=\${@: -2:1}; cat > ${dir}/script.$$; ` +
      `case $host in 192.0.2.11) f=laba1;; 192.0.2.12) f=laba2;; *) exit 255;; esac; sed "s/@NOW@/$(date +%s.%N)/" ${dir}/$f`,
  );
  const key = path.join(dir, "id");
  fs.writeFileSync(key, "not a key");
  const inv = inventoryDir();
  fs.writeFileSync(path.join(inv, "laba.yaml"), baseTexts()["laba.yaml"].replace("roles: [storage, compute] }", "roles: [storage, compute], ssh: { port: 2222, hostKey: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOaaaa } }"));
  const r = await run(["--stack", "laba", "--inventory", inv, "--ssh-command", ssh, "--ssh-user", "admin", "--ssh-key", key, "--ssh-option", "ProxyJump=bastion"]);
  assert.equal(r.code, 2, r.stdout + r.stderr);
  assert.match(r.stdout, /^laba1 +volume projects option nfs\.disable +expected on +found off$/m);
  const argFiles = fs.readdirSync(dir).filter((f) => f.startsWith("args."));
  assert.equal(argFiles.length, 2);
  const all = argFiles.map((f) => fs.readFileSync(path.join(dir, f), "utf8"));
  const first = all.find((a) => a.includes("192.0.2.11"))!;
  for (const want of ["BatchMode=yes", "StrictHostKeyChecking=yes", "-l\nadmin", `-i\n${key}`, "-p\n2222", "HostKeyAlias=glustermesh-laba1", "ProxyJump=bastion", "192.0.2.11\nbash -s"]) assert.ok(first.includes(want), `${want} in\n${first}`);
  const second = all.find((a) => a.includes("192.0.2.12"))!;
  assert.ok(!second.includes("UserKnownHostsFile"), "no pinned key: ssh's own known_hosts, still strict");
  const script = fs.readFileSync(path.join(dir, fs.readdirSync(dir).find((f) => f.startsWith("script."))!), "utf8");
  assert.match(script, /as_root peer-status/);
  // without --ssh-user: the read-only drift account
  for (const f of fs.readdirSync(dir).filter((x) => x.startsWith("args."))) fs.rmSync(path.join(dir, f));
  await run(["--stack", "laba", "--inventory", inv, "--ssh-command", ssh, "--ssh-key", key]);
  const again = fs.readdirSync(dir).filter((f) => f.startsWith("args.")).map((f) => fs.readFileSync(path.join(dir, f), "utf8"));
  assert.equal(again.length, 2);
  for (const a of again) assert.ok(a.includes("-l\nglustermesh-drift"), a);
});

test("the drift account's files: keys edited by hand, the helper gone", () => {
  const r = check((m, a1, a2) => {
    a1[`file:${DRIFT_KEYS_FILE}`] = { stdout: "restrict ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHand added-by-hand\n" };
    a2[`file:${DRIFT_READ}`] = { stdout: "", rc: 1, stderr: "cat: /usr/local/lib/glustermesh/drift-read: No such file or directory\n" };
  });
  assert.deepEqual(r.drift.map((d) => `${d.node} | ${d.item} | ${d.found}`), [
    `laba1 | file ${DRIFT_KEYS_FILE} | restrict ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHand added-by-hand`,
    `laba2 | file ${DRIFT_READ} | missing`,
  ]);
  assert.equal(exitCode(r), 2);
});

test("the live script runs under bash and reports every section it promises (here: nothing deployed)", async () => {
  const m = model();
  const ssh = fakeSsh("exec bash -s");
  const r = await checkDrift(m, "laba", { sshCommand: [ssh], addressOf: (n) => n.name, timeoutSec: 30 });
  assert.equal(r.nodes.laba1.reachable, true);
  assert.ok(!r.errors.some((e) => /ended early|was not reported/.test(e)), r.errors.join("\n"));
  assert.ok(r.drift.some((d) => d.node === "laba1" && d.item === "tinc tinc.conf".replace("tinc ", "tinc /etc/tinc/glustermesh/") && d.found === "missing"), lines(r as never).join("\n"));
  assert.notEqual(exitCode(r), 0);
});

test("bad arguments: exit 2 with usage, no stack trace", async () => {
  for (const argv of [[], ["--stack"], ["--stack", "laba", "--bogus"], ["--stack", "nowhere", "--inventory", inventoryDir()], ["--stack", "laba", "--timeout", "x"], ["--stack", "laba", "--address", "bad"], ["--stack", "laba", "--stack", "labb"]]) {
    const r = await run(argv);
    assert.equal(r.code, 2, JSON.stringify(argv));
    assert.match(r.stderr, /^glustermesh drift: .*\nusage: glustermesh drift /);
    assert.doesNotMatch(r.stderr, /\n\s+at .*:\d+:\d+/);
  }
});

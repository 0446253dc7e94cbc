// End-to-end: `glustermesh drift` against the deployed lab. A fresh deploy shows no drift in
// either DC; then hand-made changes on the hosts (gluster options, a peer cut off, tinc, host
// files, mounts, timers, the firewall) are each reported with the node and item, exit 2; a
// re-deploy removes the drift; a node that is down gives exit 1 naming it. Prints how long a
// check of the lab's DCs takes. Leaves the lab deployed and healthy for the next file.
import assert from "node:assert/strict";
import * as path from "node:path";
import { after, before, test } from "node:test";
import { checkDrift, exitCode, formatReport, type DriftReport } from "../../cli/drift";
import { INVENTORY_DIR, rollout, tincAddress } from "../../lab/deploy";
import type { Lab } from "../../lab/hosts";
import { loadInventory } from "../../model/load";
import { buildModel, DRIFT_ACCOUNT, type Model } from "../../model/model";
import { dcLead } from "../../render/steps";
import { log, markDeployed, note, sharedLab, skip, unmarkDeployed, waitFor } from "./helpers";

let lab: Lab;
let model: Model;
let grown = false;
const ROOT = path.join(__dirname, "..", "..");

before(async () => {
  if (skip) return;
  const s = await sharedLab();
  lab = s.lab;
  grown = s.grown;
  const loaded = loadInventory(INVENTORY_DIR);
  if (!loaded.ok) throw new Error(`lab inventory invalid: ${JSON.stringify(loaded.problems)}`);
  model = buildModel(loaded.inventory);
});
after(() => {
  // the lab stays up (deployed, healthy) for the next e2e file
});

/** checkDrift from this process; ssh runs in the lab's driver namespace with the lab key. */
async function check(dc: string): Promise<{ r: DriftReport; seconds: number }> {
  const t0 = Date.now();
  const r = await checkDrift(model, dc, {
    sshCommand: ["nsenter", `--net=/run/netns/${lab.driverNetns}`, "--", "ssh"],
    keyFile: lab.driftKeyPath,
    user: DRIFT_ACCOUNT,
    timeoutSec: 30,
    connectTimeoutSec: 5,
  });
  return { r, seconds: (Date.now() - t0) / 1000 };
}

/** `glustermesh drift` as a user runs it, inside the driver namespace. */
async function driftCli(dc: string, ...extra: string[]) {
  const t0 = Date.now();
  const r = await lab.runInDriverNs(
    ["node", path.join(ROOT, "bin", "glustermesh"), "drift", "--stack", dc, "--inventory", INVENTORY_DIR, "--ssh-key", lab.driftKeyPath, "--timeout", "30", ...extra],
    { timeoutMs: 90_000 },
  );
  return { ...r, seconds: (Date.now() - t0) / 1000 };
}

const keys = (r: DriftReport) => [...new Set(r.drift.map((d) => `${d.node} | ${d.item}`))].sort();
const show = (r: DriftReport) => formatReport(r).trimEnd();

/** Poll the drift check until it reports exactly `want` (node | item) and nothing unchecked. */
async function waitDrift(dc: string, want: string[], what: string, timeoutMs = 60_000): Promise<DriftReport> {
  let last: DriftReport | undefined;
  try {
    return await waitFor(what, async () => {
      last = (await check(dc)).r;
      const ok = last.errors.length === 0 && JSON.stringify(keys(last)) === JSON.stringify([...want].sort());
      if (!ok) log(`${what}: not yet:\n${show(last)}`);
      return ok ? last : false;
    }, timeoutMs, 1000);
  } catch (e) {
    assert.fail(`${(e as Error).message.split(";")[0]}\nwanted:\n  ${[...want].sort().join("\n  ") || "(no drift)"}\nlast report:\n${last ? show(last) : "-"}`);
  }
}

const storage = (dc: string) => model.dcs.find((d) => d.name === dc)!.storageNodes.map((n) => n.name);
const dcNodes = (dc: string) => model.dcs.find((d) => d.name === dc)!.nodes.map((n) => n.name);
const exec = async (host: string, script: string) => {
  const r = await lab.exec(host, script, { timeoutMs: 60_000 });
  assert.equal(r.code, 0, `${host}: ${script}\n${r.stderr}${r.stdout}`);
  return r.stdout;
};
const timerOf = (node: string) => model.dcs.find((d) => d.name === "laba")!.syncJobs.find((j) => j.node === node)!.unit + ".timer";
const volumeOption = (dc: string, vol: string, key: string) => model.dcs.find((d) => d.name === dc)!.volumes.find((v) => v.name === vol)!.options.find(([k]) => k === key)![1];

test("a fresh deploy: `glustermesh drift` finds no drift in laba and labb (exit 0)", { skip }, async () => {
  for (const dc of ["laba", "labb"]) {
    const r = await driftCli(dc);
    note(`glustermesh drift --stack ${dc}: exit ${r.code} in ${r.seconds.toFixed(2)}s (command wall time, with node/tsx start-up): ${r.stdout.trim().split("\n").at(-1)}`);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`^${dc}: no drift \\(${dcNodes(dc).length} nodes checked\\)$`, "m"));
  }
  const j = await driftCli("laba", "--json");
  const report = JSON.parse(j.stdout) as DriftReport;
  assert.deepEqual(report.drift, []);
  assert.deepEqual(report.errors, []);
  for (const n of dcNodes("laba")) assert.equal(report.nodes[n].reachable, true, n);
});

test("drift check time: every node of a lab DC read in parallel, well under 5 s", { skip }, async () => {
  for (const dc of ["laba", "labb"]) {
    const times: number[] = [];
    for (let i = 0; i < 3; i++) {
      const { r, seconds } = await check(dc);
      assert.equal(exitCode(r), 0, show(r));
      times.push(seconds);
    }
    times.sort((a, b) => a - b);
    note(`drift check of ${dc} (${dcNodes(dc).length} nodes, real ssh, 2-core machine running all 9 lab hosts): ${times.map((t) => t.toFixed(2)).join(" / ")} s (min / median / max of 3)`);
    assert.ok(times[1] < 5, `median ${times[1]}s`);
  }
});

test("gluster option changes: nfs.disable off, auth.allow widened, a virt option reset; each named on its volume's lead, exit 2", { skip }, async () => {
  unmarkDeployed();
  const projects = "volume projects option";
  try {
    await exec("laba1", "gluster --mode=script volume set projects nfs.disable off");
    let r = await waitDrift("laba", [`laba1 | ${projects} nfs.disable`], "nfs.disable drift");
    assert.deepEqual(r.drift.map((d) => [d.expected, d.found]), [["on", "off"]]);
    assert.equal(exitCode(r), 2);
    await exec("laba1", "gluster --mode=script volume set projects nfs.disable on");

    await exec("laba1", "gluster --mode=script volume set projects auth.allow '10.250.*'");
    r = await waitDrift("laba", [`laba1 | ${projects} auth.allow`], "auth.allow drift");
    assert.deepEqual(r.drift.map((d) => [d.expected, d.found]), [[volumeOption("laba", "projects", "auth.allow"), "10.250.*"]]);
    assert.equal(exitCode(r), 2);
    await exec("laba1", `gluster --mode=script volume set projects auth.allow '${volumeOption("laba", "projects", "auth.allow")}'`);

    await exec("laba4", "gluster --mode=script volume reset scratch performance.quick-read");
    r = await waitDrift("laba", ["laba4 | volume scratch option performance.quick-read"], "quick-read drift");
    assert.deepEqual(r.drift.map((d) => [d.expected, d.found]), [["off", "on"]]);
    assert.equal(exitCode(r), 2);
  } finally {
    // set back whatever the test changed, also when it failed half way
    await exec("laba1", `gluster --mode=script volume set projects nfs.disable on && gluster --mode=script volume set projects auth.allow '${volumeOption("laba", "projects", "auth.allow")}'`);
    await exec("laba4", "gluster --mode=script volume set scratch performance.quick-read off");
  }
  await waitDrift("laba", [], "no drift after the options were set back");
  markDeployed(grown);
});

// `gluster peer detach` is refused for a peer that holds bricks, and every storage node of the
// lab inventory holds some; stopping glusterd on the peer makes that node's own checks
// impossible (exit 1, not drift). So the peer is cut off instead: a table of the test's own on
// laba3 rejects glusterd's management port (24007) both ways and glusterd restarts there; bricks
// keep serving. Every other storage node sees laba3 disconnected, laba3 sees all of them so.
test("a peer cut off from the pool (glusterd port 24007 rejected on laba3): named by every storage node, exit 2", { skip }, async () => {
  unmarkDeployed();
  const others = storage("laba").filter((n) => n !== "laba3");
  // and the DC's lead names laba3's bricks: laba3's glusterd, cut off, lost server quorum and
  // stopped them (it restarted without them), so the lead's `volume status` has none of them
  const laba = model.dcs.find((d) => d.name === "laba")!;
  const lead = dcLead(laba)!.name;
  const bricks = laba.volumes.flatMap((v) => v.replicaSets.flatMap((s) => s.bricks).filter((b) => b.node === "laba3").map((b) => `${lead} | brick ${b.spec} of ${v.name} (laba3)`));
  assert.ok(bricks.length >= 2, bricks.join(", "));
  const want = [
    ...others.map((n) => `${n} | peer ${tincAddress("laba3")} (laba3)`),
    ...others.map((n) => `laba3 | peer ${tincAddress(n)} (${n})`),
    ...bricks,
  ];
  await exec(
    "laba3",
    `set -e
nft add table inet gmdrifttest
nft add chain inet gmdrifttest in '{ type filter hook input priority -10; }'
nft add chain inet gmdrifttest out '{ type filter hook output priority -10; }'
nft add rule inet gmdrifttest in iifname != lo tcp dport 24007 reject with tcp reset
nft add rule inet gmdrifttest out oifname != lo tcp dport 24007 reject with tcp reset
systemctl restart glusterd`,
  );
  try {
    const r = await waitDrift("laba", want, "laba3 disconnected", 60_000);
    const peerDrift = r.drift.filter((d) => d.item.startsWith("peer "));
    assert.ok(peerDrift.length === others.length * 2 && peerDrift.every((d) => d.expected === "Peer in Cluster (Connected)" && d.found === "Peer in Cluster (Disconnected)"), show(r));
    assert.ok(r.drift.filter((d) => d.item.startsWith("brick ")).every((d) => d.expected === "online, with a port" && /^(offline|not in volume status)/.test(d.found)), show(r));
    assert.equal(exitCode(r), 2);
  } finally {
    await exec("laba3", "nft delete table inet gmdrifttest");
  }
  // quorum back on laba3, its bricks start again (should glusterd start one twice, gluster
  // issue 4080, the brick check repairs it within its minute: hence the longer wait)
  await waitDrift("laba", [], "laba3 connected again, its bricks online", 150_000);
  markDeployed(grown);
});

test("tincd stopped and a FUSE mount unmounted on laba5: exit 2, then started again", { skip }, async () => {
  unmarkDeployed();
  await exec("laba5", "systemctl stop tinc@glustermesh.service");
  try {
    const r = await waitDrift("laba", ["laba5 | service tinc@glustermesh.service"], "tinc stopped");
    assert.equal(r.drift[0].found, "inactive");
    assert.equal(exitCode(r), 2);
  } finally {
    await exec("laba5", "systemctl start tinc@glustermesh.service");
  }
  await waitDrift("laba", [], "tinc running again");

  await exec("laba5", "umount /mnt/gluster/laba/scratch");
  try {
    const r = await waitDrift("laba", ["laba5 | mount /mnt/gluster/laba/scratch", "laba5 | unit mnt-gluster-laba-scratch.mount"], "scratch unmounted");
    assert.deepEqual(r.drift.map((d) => `${d.item}: ${d.found}`).sort(), ["mount /mnt/gluster/laba/scratch: not mounted", "unit mnt-gluster-laba-scratch.mount: inactive"]);
    assert.equal(exitCode(r), 2);
  } finally {
    await exec("laba5", "systemctl start mnt-gluster-laba-scratch.mount");
  }
  await waitDrift("laba", [], "scratch mounted again");
  markDeployed(grown);
});

const STALE = "glustermesh-sync-retired-set1-to-labc";
const STALE_MOUNT = "/mnt/gluster/labc/projects";
const STALE_MOUNT_UNIT = "mnt-gluster-labc-projects.mount";

test("a host file edited, a sync timer disabled, nfs.disable off, the firewall table deleted, a sync timer and a mount the inventory dropped: each named; after re-deploying laba, drift is gone and the dropped timer and mount removed", { skip }, async () => {
  unmarkDeployed();
  const timer = timerOf("laba2");
  let redeployed = false;
  try {
    await exec("laba2", "sed -i 's/^Address = .*/Address = 10.252.0.99 655/' /etc/tinc/glustermesh/hosts/labb1");
    let r = await waitDrift("laba", ["laba2 | tinc host file hosts/labb1"], "host file drift");
    assert.match(r.drift[0].found, /^Address = 10\.252\.0\.99 655$/);
    await exec("laba2", `systemctl disable --now ${timer}`);
    r = await waitDrift("laba", ["laba2 | tinc host file hosts/labb1", `laba2 | unit ${timer}`], "timer drift");
    assert.deepEqual(r.drift.filter((d) => d.item === `unit ${timer}`).map((d) => `${d.expected}/${d.found}`), ["enabled/disabled", "active/inactive"]);
    await exec("laba1", "gluster --mode=script volume set projects nfs.disable off");
    await exec("laba3", "nft delete table inet glustermesh");
    // a sync timer left from a job the inventory dropped (here: to a DC labc that is gone)
    await exec(
      "laba1",
      `printf '[Service]\\nType=oneshot\\nExecStart=/bin/true\\n' > /etc/systemd/system/${STALE}.service
printf '[Timer]\\nOnCalendar=hourly\\n[Install]\\nWantedBy=timers.target\\n' > /etc/systemd/system/${STALE}.timer
systemctl daemon-reload && systemctl enable --now ${STALE}.timer`,
    );
    // and a mount left from a volume the inventory dropped, mounted (a tmpfs stands in for the volume)
    await exec(
      "laba1",
      `printf '[Unit]\\nDescription=glustermesh: gluster volume projects of labc\\n[Mount]\\nWhat=tmpfs\\nWhere=${STALE_MOUNT}\\nType=tmpfs\\n[Install]\\nWantedBy=remote-fs.target\\n' > /etc/systemd/system/${STALE_MOUNT_UNIT}
mkdir -p ${STALE_MOUNT} && systemctl daemon-reload && systemctl enable --now ${STALE_MOUNT_UNIT}`,
    );
    const all = ["laba2 | tinc host file hosts/labb1", `laba2 | unit ${timer}`, "laba1 | volume projects option nfs.disable", "laba3 | firewall table inet glustermesh", `laba1 | sync timer ${STALE}.timer`, `laba1 | mount unit ${STALE_MOUNT_UNIT}`];
    r = await waitDrift("laba", all, "six drifts");
    assert.equal(r.drift.find((d) => d.node === "laba3")!.found, "missing");
    assert.equal(exitCode(r), 2);
    note(`six hand-made changes:\n${show(r).replace(/^/gm, "  ")}`);

    redeployed = true;
    // pulumi up runs a step only when it changed: a new glustermesh:reapply runs them all again
    const d = await rollout(lab, ["laba"], { log, reapply: `drift-${Date.now()}` });
    assert.ok(d.ok, JSON.stringify(d.reports.flatMap((x) => x.failures), null, 2));
    note(`re-deploy of laba: ${d.seconds.toFixed(1)}s, ${d.changed.length} changes:\n${d.changed.map((c) => `  ${c}`).join("\n")}`);
    assert.ok(d.changed.some((c) => c.includes(`removed ${STALE}.timer`)), d.changed.join("\n"));
    assert.equal((await exec("laba1", `systemctl is-active ${STALE}.timer || true; ls /etc/systemd/system | grep -c '^${STALE}\\.' || true`)).trim(), "inactive\n0");
    assert.ok(d.changed.some((c) => c.includes(`removed ${STALE_MOUNT_UNIT} (${STALE_MOUNT})`)), d.changed.join("\n"));
    assert.equal((await exec("laba1", `ls /etc/systemd/system | grep -c '^${STALE_MOUNT_UNIT}$' || true; awk '$5 == "${STALE_MOUNT}"' /proc/self/mountinfo | wc -l`)).trim(), "0\n0");
    const { r: clean } = await check("laba");
    assert.deepEqual(keys(clean), [], show(clean));
    assert.equal(exitCode(clean), 0, show(clean));
  } finally {
    if (!redeployed) await rollout(lab, ["laba"], { log, reapply: `drift-${Date.now()}` }); // the changes stay otherwise
  }
  markDeployed(grown);
});

test("a node that is down: exit 1 naming it, never 'no drift'; back up, no drift", { skip }, async () => {
  unmarkDeployed();
  await lab.stop("laba5");
  try {
    const r = await driftCli("laba");
    note(`laba5 stopped: glustermesh drift --stack laba: exit ${r.code} in ${r.seconds.toFixed(2)}s:\n${r.stdout.trimEnd().replace(/^/gm, "  ")}`);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /^error: laba5: not checked: /m);
    assert.match(r.stdout, /laba: NOT fully checked \(1 problem, \d+\/\d+ nodes read\)/);
    assert.doesNotMatch(r.stdout, /no drift/);
    assert.equal(r.stdout.split("\n").filter((l) => l.startsWith("error: ")).length, 1, "only laba5 is named");
  } finally {
    await lab.start("laba5");
  }
  await waitDrift("laba", [], "laba5 back with its mounts", 120_000);
  markDeployed(grown);
});

// End-to-end: the real Pulumi program, run by the real Pulumi engine (`pulumi up` per lab DC
// stack), deploys both lab DCs on real systemd hosts; then the mesh, the cluster, volumes, options, mounts and units are
// checked on the hosts themselves, and re-deploy, failure, reboot and growth are exercised.
// One lab for the whole file; it is left deployed for the next e2e file.
import assert from "node:assert/strict";
import * as path from "node:path";
import { after, before, test } from "node:test";
import { describeRollout, FIRST_ROLLOUT, rollout, tincAddress, writeLabInventory } from "../../lab/deploy";
import { brickOnline, freshLab, healEntries, healthy, markDeployed, note, peers, sh, skip, sleep, unmarkDeployed, volumeGet, volumeInfo, waitFor, type Shared, log } from "./helpers";
import { previewSteps, pulumi, urnName } from "../../lab/pulumi";
import { inventoryTexts, planChanges } from "../../cli/plan";
import { INVENTORY_DIR } from "../../lab/deploy";
import type { Lab } from "../../lab/hosts";
import { SPARE_HOSTS } from "../../lab/layout";

let s: Shared | undefined;
let lab: Lab;
const LABA = ["laba1", "laba2", "laba3", "laba4", "laba5"];
const LABB = ["labb1", "labb2"];
const STORAGE_A = ["laba1", "laba2", "laba3", "laba4"];

before(async () => {
  if (skip) return;
  s = await freshLab();
  lab = s.lab;
});
after(() => {
  // the lab stays up (deployed, healthy) for the next e2e file; `npm run lab -- down` removes it
});

test("a fresh deploy of both lab DCs completes", { skip }, async () => {
  const d = s!.fresh!.deploy;
  note(`lab up ${s!.fresh!.upSeconds.toFixed(1)}s + first rollout (${describeRollout(FIRST_ROLLOUT)}) ${d.seconds.toFixed(1)}s = ${(s!.fresh!.upSeconds + d.seconds).toFixed(1)}s`);
  for (const r of d.reports) note(`  ${r.dc}: ${r.seconds.toFixed(1)}s, ${r.resources.length} resources`);
  assert.ok(d.ok, `deploy failed: ${JSON.stringify(d.reports.flatMap((r) => r.failures), null, 2)}`);
  assert.deepEqual(d.reports.map((r) => r.dc), ["laba", "labb", "laba", "labb"]);
  assert.ok(d.changed.length > 0, "a fresh deploy must report changes");
  const mount = (wave: number, dc: string, name: string) => {
    const r = d.reports.find((x, i) => x.dc === dc && Math.floor(i / 2) === wave)!.resources.find((x) => x.name === name);
    assert.ok(r, `wave ${wave + 1} of ${dc} has ${name}`);
    return r;
  };
  // Wave 1: neither DC knows the other. The mount of the other's volume is installed and
  // enabled but not attempted, so the wave does not wait on a mount that cannot come.
  assert.deepEqual(mount(0, "laba", "laba/mount/laba5/labb/projects").warnings, [
    "data center labb is not deployed yet; mnt-gluster-labb-projects.mount is enabled and mounts once it is and this DC is deployed again",
  ]);
  assert.deepEqual(mount(0, "labb", "labb/mount/labb1/laba/projects").warnings, [
    "data center laba is not deployed yet; mnt-gluster-laba-projects.mount is enabled and mounts once it is and this DC is deployed again",
  ]);
  // Wave 2: both learn each other's keys at the same time; each DC's mounts of the other's
  // volume wait for the mesh to link and come up in this wave (on a node with a sync timer, a
  // pass may have started the mount just before the step: then the step finds it mounted).
  for (const [dc, name] of [["laba", "laba/mount/laba5/labb/projects"], ["laba", "laba/mount/laba1/labb/projects"], ["labb", "labb/mount/labb1/laba/projects"], ["labb", "labb/mount/labb2/laba/projects"]]) {
    const r = mount(1, dc, name);
    assert.deepEqual(r.warnings, [], name);
    if (r.changed.some((c) => c.startsWith("mounted "))) continue;
    const [, , node, other, volume] = name.split("/");
    const m = await sh(lab, node, `awk '$5 == "/mnt/gluster/${other}/${volume}"' /proc/self/mountinfo`);
    assert.match(m.stdout, /fuse\.glusterfs/, `${name}: not mounted by the step (${r.changed.join("; ")}) nor before it`);
  }
});

test("every node reaches every other over tinc addresses, in and across DCs", { skip }, async () => {
  const all = [...LABA, ...LABB];
  const bad: string[] = [];
  await Promise.all(
    all.map(async (h) => {
      const script = all
        .filter((t) => t !== h)
        .map((t) => `timeout 5 bash -c '</dev/tcp/${tincAddress(t)}/22' 2>/dev/null || echo "${t}"`)
        .join("\n");
      const r = await sh(lab, h, script);
      for (const t of r.stdout.split("\n").filter(Boolean)) bad.push(`${h} -> ${t}`);
    }),
  );
  assert.deepEqual(bad, []);
});

test("gluster peers are connected in each DC", { skip }, async () => {
  await waitFor("laba peers connected", async () => {
    const p = await peers(lab, "laba1");
    return STORAGE_A.filter((h) => h !== "laba1").every((h) => p[tincAddress(h)] === true) ? p : false;
  }, 30_000);
  await waitFor("labb peers connected", async () => (await peers(lab, "labb1"))[tincAddress("labb2")] === true, 30_000);
});

test("each volume has the declared replica sets (gluster --xml volume info)", { skip }, async () => {
  const p = await volumeInfo(lab, "laba1", "projects");
  assert.equal(p.status, "Started");
  assert.equal(p.replicaCount, 3);
  assert.equal(p.arbiterCount, 1);
  assert.deepEqual(p.bricks, [
    { name: "10.250.1.1:/bricks/projects", arbiter: false },
    { name: "10.250.1.2:/bricks/projects", arbiter: false },
    { name: "10.250.1.3:/bricks/projects", arbiter: true },
  ]);
  const sc = await volumeInfo(lab, "laba1", "scratch");
  assert.equal(sc.status, "Started");
  assert.equal(sc.replicaCount, 2);
  assert.deepEqual(sc.bricks.map((b) => b.name), ["10.250.1.4:/bricks/scratch", "10.250.1.3:/bricks/scratch"]);
  const b = await volumeInfo(lab, "labb1", "projects");
  assert.equal(b.status, "Started");
  assert.equal(b.replicaCount, 2);
  assert.deepEqual(b.bricks.map((x) => x.name), ["10.250.2.1:/bricks/projects", "10.250.2.2:/bricks/projects"]);
});

test("virt options, auth.allow and nfs.disable are in effect (gluster volume get)", { skip }, async () => {
  for (const v of ["projects", "scratch"]) {
    assert.equal(await volumeGet(lab, "laba1", v, "performance.quick-read"), "off");
    assert.equal(await volumeGet(lab, "laba1", v, "network.remote-dio"), "enable");
    assert.equal(await volumeGet(lab, "laba1", v, "cluster.eager-lock"), "enable");
    assert.equal(await volumeGet(lab, "laba1", v, "cluster.quorum-type"), "auto");
    assert.equal(await volumeGet(lab, "laba1", v, "cluster.server-quorum-type"), "server");
    assert.equal(await volumeGet(lab, "laba1", v, "nfs.disable"), "on");
  }
  const sortCsv = (x: string) => x.split(",").sort().join(",");
  assert.equal(sortCsv(await volumeGet(lab, "laba1", "projects", "auth.allow")), "10.250.1.1,10.250.1.2,10.250.1.3,10.250.1.5,10.250.2.1,10.250.2.2");
  assert.equal(sortCsv(await volumeGet(lab, "laba1", "scratch", "auth.allow")), "10.250.1.3,10.250.1.4,10.250.1.5");
  assert.equal(await volumeGet(lab, "laba1", "scratch", "auth.reject"), "192.0.2.*", "the inventory's value, exactly as written");
  assert.equal(await volumeGet(lab, "labb1", "projects", "cluster.quorum-type"), "none");
  assert.equal(await volumeGet(lab, "labb1", "projects", "nfs.disable"), "on");
});

test("the compute node mounts both DCs' volumes: write and read back", { skip }, async () => {
  const r = await sh(
    lab,
    "laba5",
    `set -e
for m in /mnt/gluster/laba/projects /mnt/gluster/laba/scratch /mnt/gluster/labb/projects; do
  mountpoint -q $m
  echo "hello $m $$" > $m/e2e-hello.txt
  sync
  test "$(cat $m/e2e-hello.txt)" = "hello $m $$"
done
echo ok`,
  );
  assert.equal(r.code, 0, r.stderr + r.stdout);
  // and the data really is on the bricks of the volume's DC
  const brick = await sh(lab, "labb1", "cat /bricks/projects/e2e-hello.txt");
  assert.match(brick.stdout, /^hello \/mnt\/gluster\/labb\/projects/);
});

async function unitsHealthy(host: string): Promise<string[]> {
  const problems: string[] = [];
  const r = await sh(
    lab,
    host,
    `echo "sys=$(timeout 20 systemctl is-system-running --wait)"
echo "tinc=$(systemctl is-active tinc@glustermesh.service)"
systemctl is-enabled --quiet glusterd.service 2>/dev/null && echo "glusterd=$(systemctl is-active glusterd.service)"
for u in $(systemctl list-units --plain --no-legend --all 'mnt-gluster-*.mount' 'glustermesh-*.timer' | awk '{print $1}'); do echo "$u=$(systemctl is-active $u)"; done
echo "failed=$(systemctl --failed --plain --no-legend | awk '{print $1}' | tr '\\n' ' ')"`,
  );
  const kv = Object.fromEntries(r.stdout.trim().split("\n").map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
  if (kv.sys !== "running") problems.push(`${host}: system ${kv.sys}`);
  if (kv.tinc !== "active") problems.push(`${host}: tinc ${kv.tinc}`);
  if (STORAGE_A.includes(host) || LABB.includes(host)) if (kv.glusterd !== "active") problems.push(`${host}: glusterd ${kv.glusterd}`);
  const expectMounts: Record<string, string[]> = {
    laba5: ["mnt-gluster-laba-projects.mount", "mnt-gluster-laba-scratch.mount", "mnt-gluster-labb-projects.mount"],
    laba1: ["mnt-gluster-labb-projects.mount"],
    laba2: ["mnt-gluster-labb-projects.mount"],
    labb1: ["mnt-gluster-laba-projects.mount"],
    labb2: ["mnt-gluster-laba-projects.mount"],
  };
  for (const m of expectMounts[host] ?? []) if (kv[m] !== "active") problems.push(`${host}: ${m} ${kv[m] ?? "missing"}`);
  const timers = Object.keys(kv).filter((k) => k.endsWith(".timer"));
  if (["laba1", "laba2", "labb1", "labb2"].includes(host) && !timers.some((t) => t.startsWith("glustermesh-sync-"))) problems.push(`${host}: no sync timer`);
  // every storage node of the first rollout holds a brick: the brick check runs there
  if ((STORAGE_A.includes(host) || LABB.includes(host)) && !timers.includes("glustermesh-brick-check.timer")) problems.push(`${host}: no brick check timer`);
  for (const t of timers) if (kv[t] !== "active") problems.push(`${host}: ${t} ${kv[t]}`);
  if (kv.failed?.trim()) problems.push(`${host}: failed units ${kv.failed.trim()}`);
  return problems;
}

test("systemd on every host: tinc, glusterd, mounts and timers active, no failed unit", { skip }, async () => {
  // A sync pass that fired during the first rollout round, before the other DC existed, refused
  // to run ("not a mount point") and left its service failed until the timer's next pass (30 s
  // in the lab). So wait for one timer period at most; a unit that keeps failing still fails this.
  const deadline = Date.now() + 75_000;
  let problems: string[] = [];
  do {
    problems = (await Promise.all([...LABA, ...LABB].map(unitsHealthy))).flat();
    if (problems.length === 0) break;
    await new Promise((r) => setTimeout(r, 5_000));
  } while (Date.now() < deadline);
  assert.deepEqual(problems, []);
});

test("a second pulumi up changes nothing, and pulumi preview --expect-no-changes exits 0 on every lab stack", { skip }, async () => {
  for (const dc of ["laba", "labb"]) {
    const t0 = Date.now();
    const p = await pulumi(lab, ["preview", "--stack", dc, "--non-interactive", "--expect-no-changes"]);
    note(`pulumi preview --expect-no-changes --stack ${dc}: exit ${p.code} in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
    assert.equal(p.code, 0, p.stdout + p.stderr);
  }
  const r = await rollout(lab, FIRST_ROLLOUT, { log });
  note(`second full rollout (no change): ${r.seconds.toFixed(1)}s; per DC: ${r.reports.map((x) => `${x.dc} ${x.seconds.toFixed(1)}s`).join(", ")}`);
  assert.ok(r.ok, JSON.stringify(r.reports.flatMap((x) => x.failures), null, 2));
  for (const rep of r.reports) {
    assert.deepEqual(rep.resources.map((x) => `${x.op} ${x.name}`), [], `${rep.dc}: steps ran`);
    assert.deepEqual(Object.keys(rep.summary).filter((op) => op !== "same"), [], `${rep.dc}: ${JSON.stringify(rep.summary)}`);
  }
});

test("a rebooted host comes back with tinc, glusterd, mounts and timers", { skip }, async () => {
  for (const h of ["laba5", "laba1"]) {
    const t0 = Date.now();
    await lab.reboot(h);
    await waitFor(`${h} healthy after reboot`, async () => {
      const p = await unitsHealthy(h);
      return p.length === 0 ? true : (log(p.join("; ")), false);
    }, 90_000, 2000).catch(async (e: Error) => assert.fail(`${e.message}: ${(await unitsHealthy(h)).join("; ")}`));
    // and its bricks serve: online, with a port glusterd hands to clients (glusterd waited for
    // the mesh before it started; a brick it lost track of anyway is the brick check's to repair)
    if (STORAGE_A.includes(h)) {
      for (const v of ["projects", ...(h === "laba3" || h === "laba4" ? ["scratch"] : [])]) {
        await waitFor(`${h}'s brick of ${v} online with a port after reboot`, () => brickOnline(lab, "laba2", v, h), 150_000, 1000);
      }
      const waited = await sh(lab, h, "journalctl -b -u glustermesh-mesh-wait.service -o cat --no-pager | grep -m1 'the mesh reaches' || true");
      assert.match(waited.stdout, /the mesh reaches (every peer of the pool \(\d+\)|\d+ of \d+ peers of the pool) after \d+s/, `${h}: glusterd did not wait for the mesh (glustermesh-mesh-wait.service)`);
      note(`${h}: glusterd started after: ${waited.stdout.trim()}`);
    }
    note(`${h} rebooted and healthy in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  }
  // laba1's bricks are back and heal what laba5 wrote meanwhile
  await waitFor("projects heal info empty", async () => (await healEntries(lab, "laba2", "projects")) === 0, 90_000, 2000);
});

test("a host stopped mid-deploy fails pulumi up, naming the resource and the host; once it is back the next pulumi up completes", { skip }, async () => {
  unmarkDeployed();
  // every unprotected step of laba runs again (a new reapply value), and laba2 stops meanwhile
  const reapply = `failed-step-${Date.now()}`;
  const run = rollout(lab, ["laba"], { log, reapply });
  await sleep(4000);
  await lab.stop("laba2");
  let failed: Awaited<typeof run>;
  try {
    failed = await run;
  } finally {
    await lab.start("laba2");
  }
  assert.equal(failed.ok, false, "the deploy must fail");
  const rep = failed.reports[0];
  assert.notEqual(rep.exitCode, 0);
  const ours = rep.failures.filter((f) => f.host === "laba2");
  assert.ok(ours.length >= 1, `failures: ${JSON.stringify(rep.failures, null, 2)}`);
  for (const f of ours) {
    assert.match(f.name, /laba2/, JSON.stringify(f));
    assert.match(f.message, /10\.252\.0\.12/, "the message names laba2's address");
    assert.match(rep.output, new RegExp(`${f.name.replace(/[+]/g, "\\+")}`), "pulumi up's output names the resource");
  }
  note(`host stopped mid-deploy: pulumi up exit ${rep.exitCode} after ${rep.seconds.toFixed(1)}s; failed: ${rep.failures.map((f) => `${f.name} on ${f.host}`).join(", ")}`);
  await waitFor("laba2 connected again", async () => (await peers(lab, "laba1"))[tincAddress("laba2")] === true, 90_000);
  const ok = await rollout(lab, ["laba"], { log, reapply });
  assert.ok(ok.ok, JSON.stringify(ok.reports.flatMap((x) => x.failures), null, 2));
  assert.ok(ok.reports[0].resources.some((x) => x.host === "laba2"), "the steps of laba2 that failed ran again");
  const p = await pulumi(lab, ["preview", "--stack", "laba", "--non-interactive", "--expect-no-changes"]);
  assert.equal(p.code, 0, p.stdout + p.stderr);
  // and laba2 serves again: its brick online with a port (a brick glusterd lost track of when
  // quorum came back, gluster issue 4080, is the brick check's to repair) and nothing to heal
  await healthy(lab, "laba2", ["projects"], "laba1");
  markDeployed(false);
});

test("adding two nodes to laba probes them, adds a replica set, rebalances, keeps every file and the volume", { skip }, async () => {
  unmarkDeployed();
  const before = await volumeInfo(lab, "laba1", "projects");
  // files written before the growth, with their checksums
  const write = await sh(
    lab,
    "laba5",
    `set -e
d=/mnt/gluster/laba/projects/grow
mkdir -p $d
for i in $(seq 1 40); do head -c $((4096 + i * 997)) /dev/urandom > $d/f$i; done
sync
cd $d && sha256sum f* | sort`,
  );
  assert.equal(write.code, 0, write.stderr);
  const sums = write.stdout;
  const baseTexts = inventoryTexts(INVENTORY_DIR)!;
  writeLabInventory(lab, { grow: true });
  // what the engine will do, before it does it: new steps as creates, and no replace or delete
  // of anything that exists; glustermesh plan lists the same resources with the same actions
  const t0 = Date.now();
  const preview = await previewSteps(lab, "laba", ["--diff"]);
  note(`growth preview of laba: ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  assert.equal(preview.code, 0, preview.output);
  const steps = preview.steps.filter((x) => x.op !== "same" && x.op !== "read" && !x.urn.includes("::pulumi:pulumi:Stack::"));
  const bad = steps.filter((x) => !["create", "update"].includes(x.op)).map((x) => `${x.op} ${urnName(x.urn)}`);
  assert.deepEqual(bad, [], "the growth replaces or deletes existing resources");
  assert.ok(steps.some((x) => x.op === "create" && urnName(x.urn) === "laba/projects/add-brick/laba6+laba7+laba4"), "the add-brick is a create");
  const plan = planChanges(baseTexts, inventoryTexts(INVENTORY_DIR)!, "laba");
  assert.equal(plan.code, 0, JSON.stringify(plan.dangers));
  const fromPreview = steps.map((x) => `${x.op} ${urnName(x.urn)}`).sort();
  const fromPlan = plan.ops.map((o) => `${o.action} ${o.resource}`).sort();
  assert.deepEqual(fromPreview, fromPlan, "glustermesh plan and pulumi preview disagree");
  note(`growth: pulumi preview and glustermesh plan agree on ${fromPlan.length} resources (${fromPlan.filter((x) => x.startsWith("create")).length} creates)`);
  // laba (probes, add-brick, rebalance; the new nodes' keys), labb (its host files and its
  // volume's auth.allow learn the new nodes), laba again (the new nodes' mounts of labb's
  // volume come up now that labb admits them; in the first round they waited and warned)
  const growth = ["laba", "labb", "laba"];
  const r = await rollout(lab, growth, { log });
  assert.ok(r.ok, JSON.stringify(r.reports.flatMap((x) => x.failures), null, 2));
  note(`growth deploy (${describeRollout(growth)}): ${r.seconds.toFixed(1)}s`);
  const changed = r.changed.join("\n");
  for (const h of SPARE_HOSTS) assert.match(changed, new RegExp(`laba/cluster/probe/${h}: probed peer ${h}`));
  assert.match(changed, /laba\/projects\/add-brick\/laba6\+laba7\+laba4: added replica set/);
  assert.match(changed, /laba\/projects\/rebalance: started rebalance of projects over 2 replica sets/);
  const after = await volumeInfo(lab, "laba1", "projects");
  assert.equal(after.id, before.id, "the volume was re-created");
  assert.deepEqual(after.bricks.map((b) => `${b.name}${b.arbiter ? " (arbiter)" : ""}`), [
    "10.250.1.1:/bricks/projects", "10.250.1.2:/bricks/projects", "10.250.1.3:/bricks/projects (arbiter)",
    "10.250.1.6:/bricks/projects", "10.250.1.7:/bricks/projects", "10.250.1.4:/bricks/projects (arbiter)",
  ]);
  const p = await peers(lab, "laba1");
  for (const h of SPARE_HOSTS) assert.equal(p[tincAddress(h)], true, `${h} not connected: ${JSON.stringify(p)}`);
  await waitFor("rebalance completed", async () => {
    const out = await lab.execOk("laba1", "gluster --mode=script volume rebalance projects status");
    if (/failed/i.test(out)) throw new Error(out);
    return !/in progress|not started/i.test(out) && /completed/i.test(out);
  }, 120_000, 2000);
  const check = await sh(lab, "laba5", "cd /mnt/gluster/laba/projects/grow && sha256sum f* | sort");
  assert.equal(check.stdout, sums, "files changed or went missing");
  // some files moved to (or were created on) the new replica set's bricks
  const onNew = await sh(lab, "laba6", "find /bricks/projects/grow -type f ! -perm 1000 | wc -l");
  note(`after rebalance ${onNew.stdout.trim()} of 40 files live on the new replica set`);
  const again = await rollout(lab, ["laba", "labb"], { log });
  assert.ok(again.ok);
  assert.deepEqual(again.changed, []);
  // The new nodes' mounts of labb's volume: in laba's first round labb did not admit them yet (a
  // warning). The last round of laba changes no step of theirs under the real engine, so their
  // sync timers bring the mounts up (each pass wants its mount) once labb admits them.
  const t1 = Date.now();
  for (const h of SPARE_HOSTS) {
    await waitFor(`${h}'s mount of labb/projects`, async () => (await sh(lab, h, "findmnt -rn -o FSTYPE /mnt/gluster/labb/projects")).stdout.trim() === "fuse.glusterfs", 240_000, 2000);
  }
  note(`the new nodes' mounts of labb/projects came up ${((Date.now() - t1) / 1000).toFixed(0)} s after the growth deploy's last round`);
  markDeployed(true);
});

const GLUSTERMESH = path.join(__dirname, "..", "..", "bin", "glustermesh");

test("a rebalance stopped before it completed: drift reports it, the rebalance check starts it again and records it once completed", { skip }, async () => {
  const state = "/var/lib/glustermesh/rebalance";
  const status = async () => {
    const r = await sh(lab, "laba1", "gluster --mode=script volume rebalance projects status");
    return r.stdout + r.stderr;
  };
  const marker = async () => (await sh(lab, "laba1", `cat ${state}/projects 2>/dev/null`)).stdout;
  const layout = (await lab.execOk("laba1", "cat /etc/glustermesh/rebalance/projects.layout")).trim();
  assert.equal(layout.split("\n").length, 2, "the grown projects volume has 2 replica sets");
  unmarkDeployed();
  // the state of a deploy whose rebalance was started for this layout and then stopped: started,
  // never seen completed (no marker), gluster's rebalance stopped
  await lab.execOk("laba1", `systemctl stop glustermesh-rebalance-check.timer && printf '%s\\n' "$(cat /etc/glustermesh/rebalance/projects.layout)" > ${state}/projects.started && rm -f ${state}/projects`);
  try {
    await lab.execOk("laba1", "gluster --mode=script volume rebalance projects start >/dev/null && gluster --mode=script volume rebalance projects stop >/dev/null");
    note(`rebalance status after a stop: ${(await status()).replace(/\s+/g, " ").slice(0, 160)}`);
    // drift, as the read-only account, names it
    const r = await lab.runInDriverNs(["node", GLUSTERMESH, "drift", "--stack", "laba", "--inventory", INVENTORY_DIR, "--ssh-key", lab.driftKeyPath, "--timeout", "30"], { timeoutMs: 90_000 });
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stdout, /^laba1 +rebalance of projects +expected completed or in progress +found (not started|stopped) \(the rebalance check starts it again within 5 minutes/m);
    // the check (what its timer runs) starts it again, sandboxed, then records it completed
    const since = (await lab.execOk("laba1", "date '+%Y-%m-%d %H:%M:%S'")).trim();
    const run = await sh(lab, "laba1", "systemctl start glustermesh-rebalance-check.service; systemctl show -p Result --value glustermesh-rebalance-check.service");
    assert.equal(run.stdout.trim(), "success", run.stderr);
    const journal = await lab.execOk("laba1", `journalctl -u glustermesh-rebalance-check.service --since '${since}' -o cat --no-pager`);
    assert.match(journal, /the rebalance of projects: gluster reports it (not started|stopped); starting it again/);
    assert.match(journal, /started rebalance of projects over 2 replica sets/);
    assert.equal(await marker(), "", "the marker is written only once gluster reports it completed");
    await waitFor("the restarted rebalance to complete", async () => /completed/.test(await status()) && !/in progress/.test(await status()), 120_000, 2000);
    await lab.execOk("laba1", "systemctl start glustermesh-rebalance-check.service");
    assert.equal((await marker()).trim(), layout, "the check records the layout once the rebalance completed");
  } finally {
    await lab.execOk("laba1", "systemctl start glustermesh-rebalance-check.timer");
  }
  const clean = await lab.runInDriverNs(["node", GLUSTERMESH, "drift", "--stack", "laba", "--inventory", INVENTORY_DIR, "--ssh-key", lab.driftKeyPath, "--timeout", "30"], { timeoutMs: 90_000 });
  assert.equal(clean.code, 0, clean.stdout + clean.stderr);
  markDeployed(true);
});

// systemd units as systemd itself reads them: `systemd-analyze verify` on every unit a node gets
// (mounts, sync service + timer, firewall, brick check and rebalance check service + timer), systemdEscapePath against `systemd-escape --path`,
// and calendarFor against `systemd-analyze calendar`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { systemdEscapePath, type Model } from "../../model/model";
import { tincService } from "../../render/tinc";
import { calendarFor, firewallUnit, FIREWALL_UNIT, mountUnit, syncService, syncTimer } from "../../render/units";
import { validateTexts } from "../../model/load";
import { BRICK_CHECK_UNIT, brickCheckService, brickCheckTimer, glusterdDropIn, GLUSTERD_MESH_WAIT_UNIT, glusterdMeshWaitService } from "../../render/gluster";
import { nodeBricks } from "../../render/steps";
import { REBALANCE_CHECK_UNIT, rebalanceCheckService, rebalanceCheckTimer } from "../../render/rebalance";
import { fixtureTexts, replaceOnce } from "../inventory/fixtures";
import { models, tmpdir } from "./helpers";

/** Every unit file each node of a model gets: node -> file name -> content. */
function unitsByNode(model: Model): Map<string, Map<string, string>> {
  const out = new Map<string, Map<string, string>>();
  const at = (node: string) => out.get(node) ?? out.set(node, new Map()).get(node)!;
  const tinc = tincService(model.mesh.name);
  for (const dc of model.dcs) {
    for (const n of dc.storageNodes) {
      at(n.name).set(FIREWALL_UNIT, firewallUnit());
      if (nodeBricks(dc, n).length) {
        at(n.name).set(`${BRICK_CHECK_UNIT}.service`, brickCheckService());
        at(n.name).set(`${BRICK_CHECK_UNIT}.timer`, brickCheckTimer());
      }
    }
    for (const v of dc.volumes.filter((x) => x.replicaSets.length >= 2)) {
      at(v.lead).set(`${REBALANCE_CHECK_UNIT}.service`, rebalanceCheckService());
      at(v.lead).set(`${REBALANCE_CHECK_UNIT}.timer`, rebalanceCheckTimer());
    }
    for (const m of dc.mounts) {
      const units = at(m.node);
      assert.ok(!units.has(m.unit), `${m.node} mounts ${m.unit} twice`);
      units.set(m.unit, mountUnit(m, tinc));
    }
    for (const j of dc.syncJobs) {
      at(j.node).set(`${j.unit}.service`, syncService(j));
      at(j.node).set(`${j.unit}.timer`, syncTimer(j));
    }
  }
  return out;
}

function verify(files: string[]): { status: number | null; out: string } {
  const r = spawnSync("systemd-analyze", ["verify", "--man=no", ...files], { encoding: "utf8", env: { ...process.env, SYSTEMD_LOG_COLOR: "0", TZ: "UTC" } });
  if (r.error) throw r.error;
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

/** The units of one node written to a folder of their own, as /etc/systemd/system would hold them. */
function writeUnits(tag: string, units: Map<string, string>): string[] {
  const dir = tmpdir(`units-${tag}`);
  return [...units].map(([name, text]) => {
    const f = path.join(dir, name);
    fs.writeFileSync(f, text);
    return f;
  });
}

const all = models().map(({ label, model }) => ({ label, model, nodes: unitsByNode(model) }));

test("every node's units pass systemd-analyze verify (real inventory and fixture)", () => {
  let count = 0;
  const kinds = new Set<string>();
  for (const { label, nodes } of all) {
    for (const [node, units] of nodes) {
      const files = writeUnits(`${label}-${node}`, units);
      const r = verify(files);
      assert.equal(r.out, "", `${label} ${node}: ${r.out}`);
      assert.equal(r.status, 0, `${label} ${node}`);
      count += files.length;
      for (const f of files) kinds.add(path.extname(f));
      fs.rmSync(path.dirname(files[0]), { recursive: true, force: true });
    }
  }
  assert.deepEqual([...kinds].sort(), [".mount", ".service", ".timer"]);
  assert.ok(count > 200, `only ${count} units`);
});

test("units only refer to units the node has: a sync service's mount, a timer's service", () => {
  for (const { label, nodes } of all) {
    for (const [node, units] of nodes) {
      for (const [name, text] of units) {
        for (const m of text.matchAll(/^(?:Wants|Requires|After|BindsTo)=(.*)$/gm)) {
          for (const ref of m[1].split(/\s+/).filter((u) => u.endsWith(".mount") || u.startsWith("glustermesh-"))) {
            assert.ok(units.has(ref), `${label} ${node}: ${name} refers to ${ref}, which the node does not get`);
          }
        }
        if (name.endsWith(".timer")) assert.ok(units.has(name.replace(/\.timer$/, ".service")), `${label} ${node}: ${name} has no service`);
        if (name.endsWith(".service") && name.startsWith("glustermesh-sync-")) assert.match(text, /^Wants=\S+\.mount$/m);
      }
    }
  }
});

test("systemd-analyze verify does catch broken units (the check can fail)", () => {
  const { model } = all[0];
  const m = model.dcs[0].mounts[0];
  const j = model.dcs[0].syncJobs[0];
  const cases: Array<[string, Map<string, string>, RegExp]> = [
    ["mount named after another path", new Map([["mnt-elsewhere.mount", mountUnit(m, "tinc@x.service")]]), /Where= setting doesn't match unit name/],
    ["timer with a calendar systemd rejects", new Map([[`${j.unit}.timer`, syncTimer(j).replace(/^OnCalendar=.*$/m, "OnCalendar=*:*:22/45")], [`${j.unit}.service`, syncService(j)]]), /Failed to parse calendar specification/],
    ["service whose program is missing", new Map([["x.service", syncService(j).replace("/usr/bin/node", "/usr/bin/glustermesh-no-such-node")]]), /is not executable/],
    ["unknown key", new Map([[FIREWALL_UNIT, firewallUnit().replace("[Service]", "[Service]\nRemainAfterExi=yes")]]), /Unknown key/],
  ];
  for (const [name, units, expected] of cases) {
    const files = writeUnits("broken", units);
    const r = verify(files);
    assert.match(r.out, expected, `${name}: ${r.out}`);
    fs.rmSync(path.dirname(files[0]), { recursive: true, force: true });
  }
});

test("glusterd's drop-in passes systemd-analyze verify on top of a glusterd.service like Debian's, and a broken one is caught", () => {
  // Debian's glusterd.service (glusterfs-server 10), as far as verify cares
  const debian = "[Unit]\nDescription=GlusterFS, a clustered file-system server\nAfter=network.target\n\n[Service]\nType=forking\nPIDFile=/run/glusterd.pid\nExecStart=/bin/true\n\n[Install]\nWantedBy=multi-user.target\n";
  const check = (dropIn: string) => {
    const dir = tmpdir("glusterd-drop-in");
    fs.mkdirSync(path.join(dir, "glusterd.service.d"));
    fs.writeFileSync(path.join(dir, "glusterd.service"), debian);
    fs.writeFileSync(path.join(dir, "glusterd.service.d", "glustermesh.conf"), dropIn);
    fs.writeFileSync(path.join(dir, FIREWALL_UNIT), firewallUnit());
    fs.writeFileSync(path.join(dir, GLUSTERD_MESH_WAIT_UNIT), glusterdMeshWaitService(tincService(all[0].model.mesh.name)));
    const r = verify([path.join(dir, "glusterd.service"), path.join(dir, GLUSTERD_MESH_WAIT_UNIT)]);
    fs.rmSync(dir, { recursive: true, force: true });
    return r;
  };
  const good = glusterdDropIn(tincService(all[0].model.mesh.name));
  assert.match(good, /^After=tinc@\S+\.service glustermesh-firewall\.service glustermesh-mesh-wait\.service$/m);
  // the mesh wait is its own sandboxed unit, started (again) by every start of glusterd
  assert.match(good, /^Wants=tinc@\S+\.service glustermesh-mesh-wait\.service$/m);
  // no gluster without its firewall: a failed firewall unit keeps glusterd (and so its bricks) down
  assert.match(good, /^Requires=glustermesh-firewall\.service$/m);
  assert.match(good, /^ExecStartPre=\/bin\/bash \/usr\/local\/lib\/glustermesh\/glusterd-firewall-check$/m);
  const r = check(good);
  assert.equal(r.out, "");
  assert.equal(r.status, 0);
  // the drop-in is read: a misspelt key in it is reported
  assert.match(check(good.replace("ExecStartPre=", "ExecStartPr=")).out, /glustermesh\.conf:\d+: Unknown key 'ExecStartPr'/);
});

test("systemdEscapePath matches systemd-escape --path", () => {
  const paths = [
    "/mnt/gluster/gce-central-1/projects",
    "/mnt/gluster/gce-europe-1/projects",
    "/mnt/gluster/4545/projects",
    "/mnt/gluster/padelford/projects",
    "/home/salvus/vm/images/gluster/projects2",
    "/srv/gluster/v1.2/data_3",
    "/srv/.hidden/x",
    "/.dot",
    "/mnt/a:b/C-9",
    "/mnt/with space/and+plus",
    "/",
    ...all.flatMap(({ model }) => model.dcs.flatMap((d) => d.mounts.map((m) => m.where))),
  ];
  const r = spawnSync("systemd-escape", ["--path", "--", ...paths], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  const expected = r.stdout.trim().split(/\s+/);
  assert.equal(expected.length, paths.length);
  assert.deepEqual(paths.map(systemdEscapePath), expected);
  assert.equal(systemdEscapePath("/mnt/gluster/gce-central-1/projects"), "mnt-gluster-gce\\x2dcentral\\x2d1-projects");
});

/** Start times of the next `n` elapses of a calendar expression, in seconds (UTC). */
function elapses(expr: string, n: number): number[] {
  const r = spawnSync("systemd-analyze", ["calendar", `--iterations=${n}`, expr], { encoding: "utf8", env: { ...process.env, TZ: "UTC" } });
  assert.equal(r.status, 0, `${expr}: ${r.stderr}`);
  return [...r.stdout.matchAll(/(?:Next elapse|Iter\. #\d+): \w+ (\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d) UTC/g)].map((m) => Date.parse(`${m[1]}T${m[2]}Z`) / 1000);
}

test("calendarFor: systemd accepts every expression; they repeat at the interval; secondaries run half an interval later", () => {
  const seconds = { s: 1, min: 60, h: 3600 } as const;
  const intervals = ["1s", "5s", "10s", "15s", "30s", "1min", "2min", "5min", "10min", "15min", "20min", "30min", "1h", "2h", "3h", "6h", "12h"];
  for (const every of intervals) {
    const m = /^(\d+)(s|min|h)$/.exec(every)!;
    const period = Number(m[1]) * seconds[m[2] as keyof typeof seconds];
    const primary = elapses(calendarFor(every, true), 4);
    const secondary = elapses(calendarFor(every, false), 4);
    assert.equal(primary.length, 4, `${every}: ${calendarFor(every, true)}`);
    assert.equal(secondary.length, 4, `${every}: ${calendarFor(every, false)}`);
    for (let i = 1; i < 4; i++) {
      assert.equal(primary[i] - primary[i - 1], period, `${every} primary ${calendarFor(every, true)}`);
      assert.equal(secondary[i] - secondary[i - 1], period, `${every} secondary ${calendarFor(every, false)}`);
    }
    // Primaries fire on multiples of the interval (UTC); secondaries later, by half an interval
    // (whole units; for hours by 30 minutes, whatever the interval).
    assert.equal(primary[0] % period, 0, `${every} primary is aligned`);
    const offset = (((secondary[0] - primary[0]) % period) + period) % period;
    const expectedOffset = m[2] === "h" ? 1800 : Math.floor(Number(m[1]) / 2) * seconds[m[2] as keyof typeof seconds];
    assert.equal(offset, expectedOffset, `${every}: ${calendarFor(every, true)} vs ${calendarFor(every, false)}`);
  }
  assert.throws(() => calendarFor("5m", true), /not a time span/);
});

test("every sync interval the inventory accepts gives calendars systemd accepts", () => {
  // Ask the inventory itself which intervals it takes (1..130 of each unit).
  const accepted: string[] = [];
  for (const unit of ["s", "min", "h"]) {
    for (let n = 1; n <= 130; n++) {
      const texts = fixtureTexts();
      texts["east.yaml"] = replaceOnce(texts["east.yaml"], "every: 5min", `every: ${n}${unit}`);
      if (validateTexts("/fixture", texts).ok) accepted.push(`${n}${unit}`);
    }
  }
  assert.ok(accepted.includes("2min") && accepted.includes("30s") && accepted.includes("1h"), accepted.join(" "));
  const exprs = accepted.flatMap((e) => [calendarFor(e, true), calendarFor(e, false)]);
  const r = spawnSync("systemd-analyze", ["calendar", ...exprs], { encoding: "utf8", env: { ...process.env, TZ: "UTC" } });
  assert.equal(r.stderr, "");
  assert.equal(r.status, 0);
  assert.equal([...r.stdout.matchAll(/Original form: /g)].length, exprs.length);
});

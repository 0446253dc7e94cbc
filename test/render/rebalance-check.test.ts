// The rebalance check and the rebalance step, run for real under bash in a private mount
// namespace: /etc, /var/lib and /usr/local/lib are overlays whose writes stay in the namespace,
// and only `gluster` (answering `volume rebalance VOL status --xml` as glusterd 10.3 does),
// `systemctl` and `dpkg-query` are stand-ins that record their calls.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { CHANGED_MARK } from "../../render/shell";
import { UNIT_DIR } from "../../render/units";
import {
  REBALANCE_CHECK, REBALANCE_CHECK_UNIT, REBALANCE_STATE, rebalanceCheckScript, rebalanceCheckService, rebalanceCheckTimer, rebalanceLayout, rebalanceLayoutFile, rebalanceScript,
} from "../../render/rebalance";
import { callsOf, models, standIns, tmpdir } from "./helpers";

/**
 * `gluster --mode=script --xml volume rebalance VOL status` as glusterd 10.3 answers once a
 * rebalance was started (recorded from a glusterd of one node; the aggregate is the pool's).
 */
export function statusXml(status: number, statusStr: string): string {
  // the node's counters and the pool's aggregate carry the same fields
  const counters = `<files>20</files>
      <size>40</size>
      <lookups>526</lookups>
      <failures>0</failures>
      <skipped>0</skipped>
      <status>${status}</status>
      <statusStr>${statusStr}</statusStr>
      <runtime>1.00</runtime>`;
  return `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<cliOutput>
  <opRet>0</opRet>
  <opErrno>0</opErrno>
  <opErrstr/>
  <volRebalance>
    <task-id>3f650137-e939-44c8-bd8d-1374e2d3aae1</task-id>
    <op>3</op>
    <nodeCount>1</nodeCount>
    <node>
      <nodeName>localhost</nodeName>
      <id>7a312ecd-e314-4b2c-af41-0a8e5a882616</id>
      ${counters}
    </node>
    <aggregate>
      ${counters}
    </aggregate>
  </volRebalance>
</cliOutput>
`;
}


/** glusterd 10.3's answer (exit 1) for a volume never rebalanced, and right after `rebalance VOL stop`. */
export function notStartedXml(volume: string): string {
  return `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<cliOutput>
  <opRet>-1</opRet>
  <opErrno>30800</opErrno>
  <opErrstr>Rebalance not started for volume ${volume}.</opErrstr>
  <cliOp>volRebalance</cliOp>
  <output>Rebalance not started for volume ${volume}.</output>
</cliOutput>
`;
}

interface Answer {
  xml: string;
  rc: number;
}
const NOT_STARTED: Answer = { xml: notStartedXml("projects"), rc: 1 };
const IN_PROGRESS: Answer = { xml: statusXml(1, "in progress"), rc: 0 };
const COMPLETED: Answer = { xml: statusXml(3, "completed"), rc: 0 };
const FAILED: Answer = { xml: statusXml(4, "failed"), rc: 0 };
const DOWN: Answer = { xml: "Connection failed. Please check if gluster daemon is operational.\n", rc: 1 };

const volumes = models().flatMap(({ model }) => model.dcs.flatMap((d) => d.volumes));
const TWO = volumes.find((v) => v.name === "projects" && v.replicaSets.length === 2)!;
const ONE = volumes.find((v) => v.replicaSets.length === 1)!;
const LAYOUT = rebalanceLayout(TWO);
/** The layout before the second replica set was added. */
const OLDER = LAYOUT.split("\n")[0];

interface Scenario {
  /** What `status` answers, per volume (default: volume "projects"). */
  status?: Answer;
  statuses?: Record<string, Answer>;
  /** `start` fails (gluster refuses it). */
  startFails?: boolean;
  /** Layout files per volume (default: projects with 2 replica sets). */
  layouts?: Record<string, string>;
  /** Files in REBALANCE_STATE before the run. */
  state?: Record<string, string>;
  /** What runs: the check with these arguments (default ["projects"]), or a step's script. */
  args?: string[];
  step?: string;
  /** Runs of it, one after the other. */
  runs?: number;
}

/** The fake gluster: answers status from status.VOL, and after a start answers "in progress". */
function fakeGluster(dir: string, calls: string): string {
  return `#!/bin/bash
echo "gluster $*" >> ${calls}
vol=\${@: -2:1}
case "\${@: -1}" in
  status) cat ${dir}/status.$vol.xml; exit "$(cat ${dir}/status.$vol.rc)" ;;
  start)
    if [[ -f ${dir}/start-fails ]]; then echo "volume rebalance: $vol: failed: Rebalance on $vol is already started" >&2; exit 1; fi
    cp ${dir}/in-progress.xml ${dir}/status.$vol.xml
    echo 0 > ${dir}/status.$vol.rc
    echo "volume rebalance: $vol: success: Rebalance on $vol has been started successfully." ;;
  *) exit 1 ;;
esac
`;
}

function run(sc: Scenario) {
  const dir = tmpdir("rebalance");
  const { bin, calls } = standIns(dir, `case "$1" in is-enabled) [[ -f ${dir}/enabled ]] ;; is-active) [[ -f ${dir}/active ]] ;; enable) touch ${dir}/enabled ;; start) touch ${dir}/active ;; esac`);
  fs.writeFileSync(path.join(bin, "gluster"), fakeGluster(dir, calls), { mode: 0o755 });
  fs.writeFileSync(path.join(dir, "in-progress.xml"), IN_PROGRESS.xml);
  const statuses = sc.statuses ?? { projects: sc.status ?? NOT_STARTED };
  for (const [vol, a] of Object.entries(statuses)) {
    fs.writeFileSync(path.join(dir, `status.${vol}.xml`), a.xml);
    fs.writeFileSync(path.join(dir, `status.${vol}.rc`), `${a.rc}\n`);
  }
  if (sc.startFails) fs.writeFileSync(path.join(dir, "start-fails"), "");
  const input = path.join(dir, "input");
  for (const [vol, layout] of Object.entries(sc.step ? {} : (sc.layouts ?? { projects: LAYOUT }))) writeIn(input, rebalanceLayoutFile(vol), `${layout}\n`);
  for (const [name, text] of Object.entries(sc.state ?? {})) writeIn(input, `${REBALANCE_STATE}/${name}`, text);
  const program = path.join(dir, "program");
  fs.writeFileSync(program, sc.step ?? rebalanceCheckScript());
  const args = (sc.step ? [] : (sc.args ?? ["projects"])).join(" ");
  const out = path.join(dir, "out");
  const driver = `set -eu
mkdir ${dir}/ov
mount -t tmpfs tmpfs ${dir}/ov
for d in /etc /var/lib /usr/local/lib; do
  n=\${d//\\//_}
  mkdir -p ${dir}/ov/$n/u ${dir}/ov/$n/w
  mount -t overlay overlay -o lowerdir=$d,upperdir=${dir}/ov/$n/u,workdir=${dir}/ov/$n/w $d
done
if [[ -d ${input} ]]; then cp -a ${input}/. /; fi
for run in $(seq ${sc.runs ?? 1}); do
  echo "--- run $run"
  rc=0
  PATH=${bin}:$PATH bash ${program} ${args} || rc=$?
  echo "exit $rc"
done
# what was written: the overlays' upper layers
for d in /etc /var/lib /usr/local/lib; do
  mkdir -p ${out}$d
  cp -a ${dir}/ov/\${d//\\//_}/u/. ${out}$d/
done
`;
  const r = spawnSync("unshare", ["--mount", "--propagation", "private", "bash", "-c", driver], { encoding: "utf8", timeout: 60_000 });
  // every file the run left, read before the folder goes
  const files = new Map<string, string>();
  if (fs.existsSync(out)) {
    for (const f of fs.readdirSync(out, { recursive: true, encoding: "utf8" })) {
      const p = path.join(out, f);
      if (fs.lstatSync(p).isFile()) files.set(`/${f}`, fs.readFileSync(p, "utf8"));
    }
  }
  const file = (p: string) => files.get(p);
  const stateFiles = [...files.keys()].filter((f) => path.dirname(f) === REBALANCE_STATE).map((f) => path.basename(f)).sort();
  const result = { stdout: r.stdout, stderr: r.stderr, status: r.status, calls: callsOf(calls), file, stateFiles };
  fs.rmSync(dir, { recursive: true, force: true });
  return result;
}

function writeIn(root: string, p: string, text: string): void {
  fs.mkdirSync(path.join(root, path.dirname(p)), { recursive: true });
  fs.writeFileSync(path.join(root, p), text);
}

const STATUS = "gluster --mode=script --xml volume rebalance projects status";
const START = "gluster --mode=script volume rebalance projects start";
const STARTED = `${CHANGED_MARK} started rebalance of projects over 2 replica sets`;
const glusterCalls = (r: ReturnType<typeof run>) => r.calls.filter((c) => c.startsWith("gluster "));

test("never started for this layout: started, the layout recorded in .started, no marker yet", () => {
  const r = run({ status: NOT_STARTED });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, `--- run 1\n${STARTED}\nexit 0\n`);
  assert.deepEqual(glusterCalls(r), [STATUS, START]);
  assert.equal(r.file(`${REBALANCE_STATE}/projects.started`), `${LAYOUT}\n`);
  assert.equal(r.file(`${REBALANCE_STATE}/projects`), undefined);
});

test("in progress (a fix-layout too), for this layout or an older one: left alone", () => {
  const cases: Array<[Answer, string]> = [[IN_PROGRESS, LAYOUT], [IN_PROGRESS, OLDER], [{ xml: statusXml(5, "fix-layout in progress"), rc: 0 }, LAYOUT]];
  for (const [status, started] of cases) {
    const r = run({ status, state: { "projects.started": `${started}\n` } });
    assert.equal(r.stdout, "--- run 1\nexit 0\n", started);
    assert.deepEqual(glusterCalls(r), [STATUS]);
    assert.equal(r.file(`${REBALANCE_STATE}/projects`), undefined);
    assert.equal(r.file(`${REBALANCE_STATE}/projects.started`), `${started}\n`);
  }
});

test("completed, started for this layout: the marker is written; the next run asks gluster nothing", () => {
  const r = run({ status: COMPLETED, state: { "projects.started": `${LAYOUT}\n` }, runs: 2 });
  assert.equal(r.stdout, "--- run 1\nthe rebalance of projects over 2 replica sets completed\nexit 0\n--- run 2\nexit 0\n");
  assert.deepEqual(glusterCalls(r), [STATUS]);
  assert.equal(r.file(`${REBALANCE_STATE}/projects`), `${LAYOUT}\n`);
});

test("the marker is the layout: exit 0 at once, gluster not asked, nothing started", () => {
  const r = run({ status: FAILED, state: { projects: `${LAYOUT}\n`, "projects.started": `${LAYOUT}\n` } });
  assert.equal(r.stdout, "--- run 1\nexit 0\n");
  assert.deepEqual(glusterCalls(r), []);
});

test("failed, stopped (gluster then says not started) or completed for an older layout: started again, once", () => {
  const cases: Array<[string, Answer, string, string]> = [
    ["failed", FAILED, LAYOUT, "gluster reports it failed"],
    ["stopped", NOT_STARTED, LAYOUT, "gluster reports it not started"],
    ["stopped, by its status code", { xml: statusXml(2, "stopped"), rc: 0 }, LAYOUT, "gluster reports it stopped"],
    ["completed for the layout before a replica set was added", COMPLETED, OLDER, "gluster reports it completed for an older layout"],
    ["fix-layout only", { xml: statusXml(7, "fix-layout completed"), rc: 0 }, LAYOUT, "gluster reports it fix-layout completed"],
  ];
  for (const [name, status, started, says] of cases) {
    const r = run({ status, state: { "projects.started": `${started}\n` }, runs: 2 });
    assert.equal(r.status, 0, `${name}: ${r.stderr}`);
    assert.equal(r.stdout, `--- run 1\nthe rebalance of projects: ${says}; starting it again\n${STARTED}\nexit 0\n--- run 2\nexit 0\n`, name);
    // the second run finds it in progress: no loop of starts
    assert.deepEqual(glusterCalls(r), [STATUS, START, STATUS], name);
    assert.equal(r.file(`${REBALANCE_STATE}/projects.started`), `${LAYOUT}\n`, name);
    assert.equal(r.file(`${REBALANCE_STATE}/projects`), undefined, name);
  }
});

test("a marker of glustermesh before this check (written at the start): that start is seen through", () => {
  const failed = run({ status: FAILED, state: { projects: `${LAYOUT}\n` } });
  assert.match(failed.stdout, /gluster reports it failed; starting it again\n/);
  assert.deepEqual(glusterCalls(failed), [STATUS, START]);
  assert.deepEqual(failed.stateFiles, [".lock", "projects.started"]);
  const completed = run({ status: COMPLETED, state: { projects: `${LAYOUT}\n` } });
  assert.match(completed.stdout, /completed\nexit 0\n$/);
  assert.equal(completed.file(`${REBALANCE_STATE}/projects`), `${LAYOUT}\n`);
});

test("gluster does not answer, or refuses the start: exit 1, nothing recorded", () => {
  const down = run({ status: DOWN });
  assert.equal(down.stdout, "--- run 1\nexit 1\n");
  assert.match(down.stderr, /warning: the rebalance status of projects is unknown \(gluster says: Connection failed\. Please check if gluster daemon is operational\.\); asked again at the next check/);
  assert.deepEqual(glusterCalls(down), [STATUS]);
  assert.deepEqual(down.stateFiles, [".lock"]);
  const refused = run({ status: FAILED, startFails: true, state: { "projects.started": `${OLDER}\n` } });
  assert.match(refused.stdout, /exit 1\n$/);
  assert.match(refused.stderr, /warning: gluster volume rebalance projects start failed: volume rebalance: projects: failed: Rebalance on projects is already started/);
  assert.equal(refused.file(`${REBALANCE_STATE}/projects.started`), `${OLDER}\n`);
});

test("the timer's run (no argument) checks every layout; one replica set or a bad name is not a start", () => {
  const r = run({
    args: [],
    layouts: { projects: LAYOUT, scratch: OLDER, data: LAYOUT },
    statuses: { projects: COMPLETED, data: NOT_STARTED, scratch: NOT_STARTED },
    state: { "projects.started": `${LAYOUT}\n` },
  });
  assert.equal(r.stdout, `--- run 1\n${CHANGED_MARK} started rebalance of data over 2 replica sets\nthe rebalance of projects over 2 replica sets completed\nexit 0\n`);
  assert.deepEqual(glusterCalls(r), ["gluster --mode=script --xml volume rebalance data status", "gluster --mode=script volume rebalance data start", STATUS]);
  const bad = run({ args: ["../x"] });
  assert.match(bad.stderr, /warning: \.\.\/x is not a volume name/);
  assert.match(bad.stdout, /exit 1\n$/);
  const missing = run({ args: ["other"] });
  assert.match(missing.stderr, /warning: \/etc\/glustermesh\/rebalance\/other\.layout is missing: other not checked/);
});

test("the step installs the layout, the check and its timer, starts the rebalance; run again it changes nothing", () => {
  const r = run({ step: rebalanceScript(TWO), status: NOT_STARTED, runs: 2 });
  assert.equal(r.status, 0, r.stderr);
  const [first, second] = r.stdout.split("--- run ").slice(1);
  const changed = (s: string) => s.split("\n").filter((l) => l.startsWith(CHANGED_MARK)).map((l) => l.slice(CHANGED_MARK.length + 1));
  const timer = `${REBALANCE_CHECK_UNIT}.timer`;
  assert.deepEqual(changed(first), [
    `wrote ${rebalanceLayoutFile("projects")}`,
    `wrote ${REBALANCE_CHECK}`,
    `wrote ${UNIT_DIR}/${REBALANCE_CHECK_UNIT}.service`,
    `wrote ${UNIT_DIR}/${timer}`,
    // the check before its timer: a timer's first start runs it at once, and that start would not show here
    "started rebalance of projects over 2 replica sets",
    `enabled ${timer}`,
    `started ${timer}`,
  ]);
  assert.match(first, /exit 0\n$/);
  assert.equal(second, "2\nexit 0\n");
  assert.equal(r.file(rebalanceLayoutFile("projects")), `${LAYOUT}\n`);
  assert.equal(r.file(REBALANCE_CHECK), rebalanceCheckScript());
  assert.equal(r.file(`${UNIT_DIR}/${REBALANCE_CHECK_UNIT}.service`), rebalanceCheckService());
  assert.equal(r.file(`${UNIT_DIR}/${timer}`), rebalanceCheckTimer());
  assert.equal(r.file(`${REBALANCE_STATE}/projects.started`), `${LAYOUT}\n`);
  assert.deepEqual(r.calls.filter((c) => c.startsWith("systemctl ") && !/is-(enabled|active)/.test(c)), ["systemctl daemon-reload", `systemctl enable --quiet ${timer}`, `systemctl start ${timer}`]);
});

test("the step fails when the rebalance cannot be started (after a few tries), naming the timer that keeps trying", () => {
  const r = run({ step: rebalanceScript(TWO), status: FAILED, startFails: true, state: { "projects.started": `${LAYOUT}\n` } });
  assert.match(r.stdout, /exit 1\n$/);
  assert.match(r.stderr, /error: the rebalance of projects was not started or its status not read \(above\); glustermesh-rebalance-check\.timer tries again every 5 minutes/);
  assert.equal(glusterCalls(r).filter((c) => c === START).length, 4);
  // the timer is there all the same: it tries again without a deploy
  assert.ok(r.calls.includes(`systemctl start ${REBALANCE_CHECK_UNIT}.timer`), r.calls.join("\n"));
});

test("a volume of one replica set: the step installs nothing and asks gluster nothing", () => {
  const r = run({ step: rebalanceScript(ONE) });
  assert.equal(r.stdout, "--- run 1\nexit 0\n");
  assert.deepEqual(r.calls, []);
  assert.equal(r.file(REBALANCE_CHECK), undefined);
});

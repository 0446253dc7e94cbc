// The sync timers step's script, run for real under bash in a private mount namespace:
// /etc/systemd/system, /usr/local/lib/glustermesh and /var/lib/glustermesh are fresh tmpfs there,
// and only `systemctl` (which keeps each unit's enabled/active state in a directory) and
// `dpkg-query` are stand-ins that record their calls.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import type { SyncJob } from "../../model/model";
import { CHANGED_MARK } from "../../render/shell";
import { SYNC_BUNDLE, syncTimersScript, UNIT_DIR } from "../../render/units";
import { callsOf, standIns, tmpdir } from "./helpers";

const job = (volume: string, to: string): SyncJob => ({
  node: "laba1",
  dc: "laba",
  volume,
  replicaSet: "laba1+laba2",
  source: `/bricks/${volume}`,
  targetDc: to,
  target: `/mnt/gluster/${to}/${volume}`,
  unit: `glustermesh-sync-${volume}-set1-to-${to}`,
  primary: true,
  every: "2min",
  mountUnit: `mnt-gluster-${to}-${volume}.mount`,
});

interface Unit {
  name: string; // file name in /etc/systemd/system
  enabled?: boolean;
  active?: boolean;
}

/** Run the step declaring `jobs` on a node whose /etc/systemd/system holds `units`. */
function runStep(jobs: SyncJob[], units: Unit[]) {
  const dir = tmpdir("sync-timers");
  const st = path.join(dir, "state");
  fs.mkdirSync(st);
  const { bin, calls } = standIns(
    dir,
    `args=(); for a in "$@"; do [[ $a == --* ]] || args+=("$a"); done
case "\${args[0]}" in
  is-enabled) [[ -e ${st}/\${args[1]}.enabled ]] ;;
  is-active) [[ -e ${st}/\${args[1]}.active ]] ;;
  enable) touch ${st}/\${args[1]}.enabled; [[ " $* " == *" --now "* ]] && touch ${st}/\${args[1]}.active; exit 0 ;;
  start) touch ${st}/\${args[1]}.active ;;
  disable) rm -f ${st}/\${args[1]}.enabled; [[ " $* " == *" --now "* ]] && rm -f ${st}/\${args[1]}.active; exit 0 ;;
  *) exit 0 ;;
esac`,
  );
  const step = path.join(dir, "step");
  fs.writeFileSync(step, syncTimersScript("laba1", jobs));
  const setup = units
    .map((u) => `echo '# ${u.name}' > ${UNIT_DIR}/${u.name}${u.enabled ? `; touch ${st}/${u.name}.enabled` : ""}${u.active ? `; touch ${st}/${u.name}.active` : ""}`)
    .join("\n");
  const driver = `set -eu
mount -t tmpfs tmpfs ${UNIT_DIR}
mkdir -p ${path.dirname(SYNC_BUNDLE)} /var/lib/glustermesh
mount -t tmpfs tmpfs ${path.dirname(SYNC_BUNDLE)}
mount -t tmpfs tmpfs /var/lib/glustermesh
echo '// bundle' > ${SYNC_BUNDLE}
${setup}
PATH=${bin}:$PATH bash ${step}
echo "exit $?"
echo "files: $(cd ${UNIT_DIR} && ls | sort | tr '\\n' ' ')"
echo "active: $(cd ${st} && ls | grep '\\.active$' | sort | tr '\\n' ' ')"
`;
  const r = spawnSync("unshare", ["--mount", "--propagation", "private", "bash", "-c", driver], { encoding: "utf8", timeout: 60_000 });
  const line = (k: string) => (new RegExp(`^${k}: (.*)$`, "m").exec(r.stdout)?.[1] ?? "").trim().split(" ").filter(Boolean);
  const out = {
    status: r.status,
    stdout: r.stdout,
    stderr: r.stderr,
    calls: callsOf(calls),
    changes: r.stdout.split("\n").filter((l) => l.startsWith(CHANGED_MARK)).map((l) => l.slice(CHANGED_MARK.length).trim()),
    files: line("files"),
    active: line("active"),
  };
  fs.rmSync(dir, { recursive: true, force: true });
  return out;
}

const A = job("projects", "labb");
const B = job("projects", "labc");
const deployed = (j: SyncJob, running = false): Unit[] => [
  { name: `${j.unit}.service`, active: running },
  { name: `${j.unit}.timer`, enabled: true, active: true },
];

test("a sync timer the inventory no longer declares is stopped, disabled and removed with its service; declared ones and other units stay", () => {
  const r = runStep([A], [...deployed(A), ...deployed(B), { name: "foo.timer", enabled: true, active: true }, { name: "glustermesh-brick-check.timer", enabled: true, active: true }]);
  assert.match(r.stdout, /^exit 0$/m, r.stderr);
  assert.deepEqual(r.changes.filter((c) => c.startsWith("removed")).sort(), [
    "removed glustermesh-sync-projects-set1-to-labc.service: the inventory no longer declares it",
    "removed glustermesh-sync-projects-set1-to-labc.timer: the inventory no longer declares it",
  ]);
  assert.ok(r.calls.includes("systemctl disable --now --quiet glustermesh-sync-projects-set1-to-labc.timer"), r.calls.join("\n"));
  assert.ok(!r.calls.some((c) => /disable.*(to-labb|foo|brick-check)/.test(c)), r.calls.join("\n"));
  assert.deepEqual(r.files, ["foo.timer", "glustermesh-brick-check.timer", `${A.unit}.service`, `${A.unit}.timer`]);
  assert.deepEqual(r.active, ["foo.timer.active", "glustermesh-brick-check.timer.active", `${A.unit}.timer.active`]);
  assert.ok(r.calls.includes("systemctl daemon-reload"));
});

test("a pass still running for a removed job is left to finish: its timer goes now, its service file at the next deploy", () => {
  const first = runStep([A], [...deployed(A), ...deployed(B, true)]);
  assert.match(first.stdout, /^exit 0$/m, first.stderr);
  assert.deepEqual(first.changes.filter((c) => c.startsWith("removed")), ["removed glustermesh-sync-projects-set1-to-labc.timer: the inventory no longer declares it"]);
  assert.match(first.stderr, /warning: glustermesh-sync-projects-set1-to-labc\.service is running a pass; its timer is gone/);
  assert.ok(!first.calls.some((c) => /stop.*to-labc\.service/.test(c)), "the running pass is not stopped");
  assert.ok(first.files.includes(`${B.unit}.service`) && !first.files.includes(`${B.unit}.timer`), first.files.join(" "));
  // the pass ended; the next deploy removes the service
  const next = runStep([A], [...deployed(A), { name: `${B.unit}.service` }]);
  assert.deepEqual(next.changes.filter((c) => c.startsWith("removed")), ["removed glustermesh-sync-projects-set1-to-labc.service: the inventory no longer declares it"]);
  assert.ok(!next.files.includes(`${B.unit}.service`));
});

test("nothing to remove: a re-run reports no change", () => {
  const r = runStep([A], deployed(A));
  assert.match(r.stdout, /^exit 0$/m, r.stderr);
  assert.deepEqual(r.changes.filter((c) => !c.startsWith("wrote")), []);
  assert.ok(!r.calls.includes("systemctl daemon-reload") || r.changes.some((c) => c.startsWith("wrote")));
});

// The script of a node's "retired" step (sync timers and mounts the inventory no longer
// declares), run for real under bash in a private mount namespace: /etc/systemd/system and /mnt
// are fresh tmpfs there, mounted volumes are tmpfs mounts (real `umount`, which refuses a mount
// in use), and only `systemctl` (which keeps each unit's enabled/active state in a directory, and
// unmounts on `stop` of a mount unit) and `dpkg-query` are stand-ins that record their calls.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import type { Mount, SyncJob } from "../../model/model";
import { CHANGED_MARK } from "../../render/shell";
import { mountUnit, retiredUnitsScript, UNIT_DIR } from "../../render/units";
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
  text?: string; // its content (default: a comment)
  enabled?: boolean;
  active?: boolean;
  mountedAt?: string; // a tmpfs is mounted there
  busy?: boolean; // and a process has its working directory in it
}

const mount = (dc: string, volume: string): Mount => ({
  node: "laba1",
  dc,
  volume,
  where: `/mnt/gluster/${dc}/${volume}`,
  server: "10.1.1.1",
  backupServers: ["10.1.1.2"],
  unit: `mnt-gluster-${dc}-${volume}.mount`,
});
const mountUnitFile = (m: Mount, mounted = true, busy = false): Unit => ({ name: m.unit, text: mountUnit(m, "tinc@glustermesh.service"), enabled: true, active: mounted, ...(mounted ? { mountedAt: m.where, busy } : {}) });

/** Run the step declaring `jobs` and `mounts` on a node whose /etc/systemd/system holds `units`. */
function runStep(jobs: SyncJob[], units: Unit[], mounts: Mount[] = []) {
  const dir = tmpdir("retired");
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
  stop)
    if [[ \${args[1]} == *.mount ]]; then umount "$(sed -n 's/^Where=//p' ${UNIT_DIR}/\${args[1]})" || exit 1; fi
    rm -f ${st}/\${args[1]}.active ;;
  disable) rm -f ${st}/\${args[1]}.enabled; [[ " $* " == *" --now "* ]] && rm -f ${st}/\${args[1]}.active; exit 0 ;;
  *) exit 0 ;;
esac`,
  );
  const step = path.join(dir, "step");
  fs.writeFileSync(step, retiredUnitsScript("laba1", jobs, mounts));
  const setup = units
    .map((u, i) => {
      fs.writeFileSync(path.join(dir, `unit${i}`), u.text ?? `# ${u.name}\n`);
      const lines = [`cp ${dir}/unit${i} ${UNIT_DIR}/${u.name}`];
      if (u.enabled) lines.push(`touch ${st}/${u.name}.enabled`);
      if (u.active) lines.push(`touch ${st}/${u.name}.active`);
      if (u.mountedAt) lines.push(`mkdir -p ${u.mountedAt}`, `mount -t tmpfs tmpfs ${u.mountedAt}`);
      if (u.busy) lines.push(`(cd ${u.mountedAt} && exec sleep 60 </dev/null >/dev/null 2>&1) & busy+=($!)`);
      return lines.join("\n");
    })
    .join("\n");
  const driver = `set -eu
busy=()
mount -t tmpfs tmpfs ${UNIT_DIR}
mount -t tmpfs tmpfs /mnt
${setup}
rc=0; PATH=${bin}:$PATH bash ${step} || rc=$?
echo "exit $rc"
echo "files: $(cd ${UNIT_DIR} && ls | sort | tr '\\n' ' ')"
echo "active: $(cd ${st} && ls | grep '\\.active$' | sort | tr '\\n' ' ')"
echo "enabled: $(cd ${st} && ls | grep '\\.enabled$' | sort | tr '\\n' ' ')"
echo "mounted: $(awk '$5 ~ /^\\/mnt\\/gluster\\// { print $5 }' /proc/self/mountinfo | sort | tr '\\n' ' ')"
for p in "\${busy[@]}"; do kill "$p"; done
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
    enabled: line("enabled"),
    mounted: line("mounted"),
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

const KEPT = mount("laba", "projects");
const GONE = mount("labc", "projects");
const GONE_UNMOUNTED = mount("labc", "scratch");

test("a mount the inventory no longer declares is disabled, unmounted and its unit removed; declared mounts and mount units not ours stay", () => {
  const notOurs: Unit = { name: "mnt-gluster-backup.mount", text: "[Unit]\nDescription=the operator's own\n[Mount]\nWhere=/mnt/gluster/backup\nWhat=/dev/sdz\n", enabled: true, active: true, mountedAt: "/mnt/gluster/backup" };
  const r = runStep([], [mountUnitFile(KEPT), mountUnitFile(GONE), mountUnitFile(GONE_UNMOUNTED, false), notOurs], [KEPT]);
  assert.match(r.stdout, /^exit 0$/m, r.stderr);
  assert.deepEqual(r.changes.sort(), [
    "removed mnt-gluster-labc-projects.mount (/mnt/gluster/labc/projects): the inventory no longer declares it",
    "removed mnt-gluster-labc-scratch.mount (/mnt/gluster/labc/scratch): the inventory no longer declares it",
  ]);
  assert.deepEqual(r.files, ["mnt-gluster-backup.mount", KEPT.unit]);
  assert.deepEqual(r.mounted, ["/mnt/gluster/backup", KEPT.where]);
  assert.deepEqual(r.enabled, ["mnt-gluster-backup.mount.enabled", `${KEPT.unit}.enabled`]);
  assert.ok(r.calls.includes(`systemctl stop ${GONE.unit}`), r.calls.join("\n"));
  assert.ok(!r.calls.includes(`systemctl stop ${GONE_UNMOUNTED.unit}`), "a mount that is not mounted is not stopped");
  assert.ok(!r.calls.some((c) => /backup|laba-projects/.test(c)), r.calls.join("\n"));
  assert.ok(r.calls.includes("systemctl daemon-reload"));
});

test("a mount in use stays mounted, disabled, with a warning; once it is free the next deploy removes it", () => {
  const first = runStep([], [mountUnitFile(GONE, true, true)]);
  assert.match(first.stdout, /^exit 0$/m, first.stderr);
  assert.deepEqual(first.changes, []);
  assert.match(first.stderr, /warning: \/mnt\/gluster\/labc\/projects \(mnt-gluster-labc-projects\.mount\) is no longer in the inventory but is in use: left mounted, disabled/);
  assert.deepEqual(first.mounted, [GONE.where]);
  assert.deepEqual(first.files, [GONE.unit]);
  assert.deepEqual(first.enabled, [], "disabled: it does not mount at boot");
  const next = runStep([], [{ ...mountUnitFile(GONE, true, false), enabled: false }]);
  assert.deepEqual(next.changes, ["removed mnt-gluster-labc-projects.mount (/mnt/gluster/labc/projects): the inventory no longer declares it"]);
  assert.deepEqual(next.mounted, []);
  assert.deepEqual(next.files, []);
});

test("timers go first: a removed job's timer is disabled before the mount it synced into is stopped", () => {
  const r = runStep([], [...deployed(B), mountUnitFile(GONE)]);
  assert.match(r.stdout, /^exit 0$/m, r.stderr);
  const timerAt = r.calls.indexOf(`systemctl disable --now --quiet ${B.unit}.timer`);
  const mountAt = r.calls.indexOf(`systemctl stop ${GONE.unit}`);
  assert.ok(timerAt >= 0 && mountAt > timerAt, r.calls.join("\n"));
  assert.deepEqual(r.files, []);
});

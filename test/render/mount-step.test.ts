// The mount step's script, run for real under bash in a private mount namespace: the "volume"
// is a real tmpfs mounted at the mount point (so /proc/self/mountinfo shows it as the kernel
// shows a FUSE mount), /etc/systemd/system is a fresh tmpfs, and only `systemctl` (whose
// `start` mounts the tmpfs) and `dpkg-query` are stand-ins that record their calls.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { mountScript, type MountReach } from "../../render/units";
import { CHANGED_MARK } from "../../render/shell";
import { callsOf, standIns, tmpdir } from "./helpers";

interface Scenario {
  reach?: MountReach;
  /** The kernel's table has the mount when the step starts. */
  mountedBefore: boolean;
  /** systemd's view of the mount unit when the step starts. */
  state: "active" | "activating" | "inactive";
  /** A mount in progress ends after 1.5 s: mount.glusterfs gave up and unmounted it ("failed"), or it came up ("active"). */
  thenEnds?: "failed" | "active";
}

function runStep(sc: Scenario) {
  const dir = tmpdir("mount-step");
  const where = path.join(dir, "mnt/gluster/laba/projects");
  const state = path.join(dir, "state");
  const { bin, calls } = standIns(
    dir,
    `case "$1" in
  show) cat ${state} ;;
  is-enabled) exit 0 ;;
  start) mount -t tmpfs gluster ${where} && echo active > ${state} ;;
esac`,
  );
  const step = path.join(dir, "step");
  const m = { node: "laba5", dc: "laba", volume: "projects", where, server: "10.250.1.2", backupServers: ["10.250.1.3"], unit: "mnt-gluster-laba-projects.mount" };
  fs.writeFileSync(step, mountScript(m, "tinc@glustermesh.service", sc.reach ?? "own"));
  const driver = `set -eu
mount -t tmpfs tmpfs /etc/systemd/system
mkdir -p ${where}
echo ${sc.state} > ${state}
${sc.mountedBefore ? `mount -t tmpfs gluster ${where}` : ":"}
${
  sc.thenEnds === "failed"
    ? `(sleep 1.5; umount ${where}; echo failed > ${state}) &`
    : sc.thenEnds === "active"
      ? `(sleep 1.5; echo active > ${state}) &`
      : ":"
}
start=$SECONDS
PATH=${bin}:$PATH bash ${step}
echo "exit $? after $((SECONDS - start)) s"
wait
if awk -v m=${where} '$5 == m { found = 1 } END { exit !found }' /proc/self/mountinfo; then echo "mounted after the step"; else echo "not mounted after the step"; fi
`;
  const r = spawnSync("unshare", ["--mount", "--propagation", "private", "bash", "-c", driver], { encoding: "utf8", timeout: 60_000 });
  const out = { stdout: r.stdout, stderr: r.stderr, status: r.status, calls: callsOf(calls), where };
  fs.rmSync(dir, { recursive: true, force: true });
  return out;
}

// what the step reports changed, besides writing the unit (new in each run's fresh /etc/systemd/system)
const changes = (stdout: string) =>
  stdout
    .split("\n")
    .filter((l) => l.startsWith(CHANGED_MARK))
    .map((l) => l.slice(CHANGED_MARK.length).trim())
    .filter((c) => c !== "wrote /etc/systemd/system/mnt-gluster-laba-projects.mount");

test("a mount in progress that mount.glusterfs gives up on is waited for, then mounted by the step", () => {
  const r = runStep({ mountedBefore: true, state: "activating", thenEnds: "failed" });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^exit 0 after/m, r.stderr);
  assert.deepEqual(changes(r.stdout), [`mounted laba/projects at ${r.where}`]);
  assert.ok(r.calls.includes("systemctl start mnt-gluster-laba-projects.mount"), r.calls.join("\n"));
  assert.match(r.stdout, /^mounted after the step$/m);
});

test("a mount in progress that comes up is waited for and left alone", () => {
  const r = runStep({ mountedBefore: true, state: "activating", thenEnds: "active" });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(changes(r.stdout), []);
  assert.ok(!r.calls.some((c) => c.startsWith("systemctl start")), r.calls.join("\n"));
  assert.ok(r.calls.filter((c) => c.startsWith("systemctl show -p ActiveState")).length >= 2, "it looked more than once");
  assert.match(r.stdout, /^mounted after the step$/m);
});

test("a mount already up is left alone at once; a missing one is mounted", () => {
  const up = runStep({ mountedBefore: true, state: "active" });
  assert.deepEqual(changes(up.stdout), []);
  assert.match(up.stdout, /^exit 0 after/m);
  assert.equal(up.calls.filter((c) => c.startsWith("systemctl show -p ActiveState")).length, 1);
  assert.ok(!up.calls.some((c) => c.startsWith("systemctl start")));
  const down = runStep({ mountedBefore: false, state: "inactive" });
  assert.deepEqual(changes(down.stdout), [`mounted laba/projects at ${down.where}`]);
  assert.match(down.stdout, /^mounted after the step$/m);
});

test("a DC not deployed yet: a mount of its volume in progress is not waited for (it cannot come up)", () => {
  const r = runStep({ reach: "peer-not-deployed", mountedBefore: true, state: "activating", thenEnds: "failed" });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^exit 0 after/m);
  assert.ok(!r.calls.some((c) => c.startsWith("systemctl show") || c.startsWith("systemctl start")), r.calls.join("\n"));
});

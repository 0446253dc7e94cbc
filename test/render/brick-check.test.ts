// The brick check (gluster issue 4080: a brick started twice, its process running while glusterd
// shows it offline or without a port), run for real under bash in a private mount namespace:
// /run and /var/log are fresh tmpfs there, the brick's process is a real process named
// glusterfsd, and only `gluster` (answering `volume status` as gluster 10.3 does) and
// `systemctl` are stand-ins that record their calls.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { brickCheckScript, brickPidfile, GLUSTERD_LOG } from "../../render/gluster";
import { tmpdir } from "./helpers";

const BRICK = { spec: "10.250.1.2:/bricks/projects", path: "/bricks/projects" };
const PIDFILE = brickPidfile("projects", BRICK);

test("a brick's pidfile is where glusterd 10.3 keeps it", () => {
  assert.equal(PIDFILE, "/var/run/gluster/vols/projects/10.250.1.2-bricks-projects.pid");
  assert.equal(brickPidfile("scratch", { spec: "gce1:/srv/gluster/scratch", path: "/srv/gluster/scratch" }), "/var/run/gluster/vols/scratch/gce1-srv-gluster-scratch.pid");
});

/** `volume status VOL BRICK --xml` as gluster 10.3 prints it for one brick. */
function statusXml(status: 0 | 1, port: string): string {
  return `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<cliOutput>
  <opRet>0</opRet>
  <opErrno>0</opErrno>
  <opErrstr/>
  <volStatus>
    <volumes>
      <volume>
        <volName>projects</volName>
        <nodeCount>1</nodeCount>
        <node>
          <hostname>10.250.1.2</hostname>
          <path>/bricks/projects</path>
          <peerid>605c9565-a293-41e8-937e-5bce302a301c</peerid>
          <status>${status}</status>
          <port>${port}</port>
          <ports>
            <tcp>${port}</tcp>
            <rdma>N/A</rdma>
          </ports>
          <pid>3950</pid>
        </node>
        <tasks/>
      </volume>
    </volumes>
  </volStatus>
</cliOutput>
`;
}

interface Scenario {
  /** What `volume status` answers for the brick. */
  status: 0 | 1;
  port: string;
  /** Seconds between the brick process's start and glusterd's "Unable to start brick" line; undefined: no such line. */
  unableAfter?: number;
  /** The pidfile names a process that is gone. */
  deadProcess?: boolean;
  /** Run the check this many times in the same boot (a fresh brick process before each run). */
  runs?: number;
}

function runCheck(sc: Scenario) {
  const dir = tmpdir("brick-check");
  const bin = path.join(dir, "bin");
  fs.mkdirSync(bin);
  const calls = path.join(dir, "calls");
  fs.writeFileSync(path.join(dir, "status.xml"), statusXml(sc.status, sc.port));
  fs.writeFileSync(path.join(bin, "gluster"), `#!/bin/bash\necho "gluster $*" >> ${calls}\ncat ${dir}/status.xml\n`, { mode: 0o755 });
  fs.writeFileSync(path.join(bin, "systemctl"), `#!/bin/bash\necho "systemctl $*" >> ${calls}\n`, { mode: 0o755 });
  // a real process whose comm is glusterfsd
  fs.copyFileSync(fs.realpathSync("/bin/sleep"), path.join(bin, "glusterfsd"));
  fs.chmodSync(path.join(bin, "glusterfsd"), 0o755);
  const check = path.join(dir, "brick-check");
  fs.writeFileSync(check, brickCheckScript({ node: "laba2", bricks: [{ volume: "projects", brick: BRICK }] }));
  const driver = `set -eu
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /var/log
mkdir -p ${path.dirname(GLUSTERD_LOG)} ${path.dirname(PIDFILE)}
for run in $(seq ${sc.runs ?? 1}); do
  ${bin}/glusterfsd 300 &
  pid=$!
  echo "$pid" >> ${dir}/pids
  ${sc.deadProcess ? "kill $pid; wait $pid || true" : ":"}
  echo "$pid" > ${PIDFILE}
  ${
    sc.unableAfter === undefined
      ? `: > ${GLUSTERD_LOG}`
      : `printf '[%s +0000] E [MSGID: 106005] [glusterd-utils.c:6917:glusterd_brick_start] 0-management: Unable to start brick ${BRICK.spec} \\n' "$(date -u -d "@$(( $(date +%s) + ${sc.unableAfter} ))" '+%F %T.128436')" > ${GLUSTERD_LOG}`
  }
  echo "--- run $run"
  PATH=${bin}:$PATH bash ${check}
  echo "exit $?"
  if kill -0 "$pid" 2>/dev/null; then echo "brick process alive"; kill "$pid"; else echo "brick process gone"; fi
done
`;
  const r = spawnSync("unshare", ["--mount", "--propagation", "private", "bash", "-c", driver], { encoding: "utf8", timeout: 60_000 });
  const out = { stdout: r.stdout, stderr: r.stderr, status: r.status, calls: fs.existsSync(calls) ? fs.readFileSync(calls, "utf8").trim().split("\n") : [] };
  fs.rmSync(dir, { recursive: true, force: true });
  return out;
}

test("a brick glusterd lost track of (running, no port, given up after its start): its process stopped, glusterd restarted, once", () => {
  const r = runCheck({ status: 1, port: "N/A", unableAfter: 0, runs: 2 });
  assert.equal(r.status, 0, r.stderr);
  const [first, second] = r.stdout.split("--- run ").slice(1);
  assert.match(first, /brick 10\.250\.1\.2:\/bricks\/projects of projects: its process \d+ runs, but glusterd gave up starting it at .* UTC and shows it without a port \(gluster issue 4080/);
  assert.match(first, /stopping brick process \d+ and restarting glusterd/);
  assert.match(first, /exit 0\nbrick process gone/);
  // the same state again within minutes: no second repair (a repair that does not help is not looped)
  assert.match(second, /warning: a repair ran less than 5 minutes ago; not again yet\nexit 0\nbrick process alive/);
  assert.deepEqual(r.calls.filter((c) => c.startsWith("systemctl restart")), ["systemctl restart glusterd.service"]);
  assert.deepEqual(r.calls.filter((c) => c.startsWith("gluster")), ["gluster --mode=script --xml volume status projects 10.250.1.2:/bricks/projects", "gluster --mode=script --xml volume status projects 10.250.1.2:/bricks/projects"]);
});

test("a brick shown offline while its process runs, given up after that process began: repaired", () => {
  const r = runCheck({ status: 0, port: "N/A", unableAfter: 1 });
  assert.match(r.stdout, /shows it offline \(gluster issue 4080/);
  assert.match(r.stdout, /exit 0\nbrick process gone/);
  assert.ok(r.calls.includes("systemctl restart glusterd.service"), r.calls.join("\n"));
});

test("left alone: a healthy brick, a failed start before the running process began, no failed start, a brick with no process", () => {
  const cases: Array<[string, Scenario, boolean]> = [
    // glusterd gave up a start, but the brick has its port: nothing lost
    ["healthy with a port", { status: 1, port: "49152", unableAfter: 0 }, true],
    // an old failure, before this process: the process is glusterd's own later start
    ["failure before the process", { status: 1, port: "N/A", unableAfter: -120 }, false],
    // no failed start at all (e.g. the brick is just starting): gluster is not even asked
    ["no failed start", { status: 1, port: "N/A" }, false],
    // nothing runs: a brick stopped for a reason (server quorum lost, its disk gone)
    ["no process", { status: 0, port: "N/A", unableAfter: 0, deadProcess: true }, false],
  ];
  for (const [name, sc, asks] of cases) {
    const r = runCheck(sc);
    assert.equal(r.status, 0, `${name}: ${r.stderr}`);
    assert.doesNotMatch(r.stdout, /stopping brick process|warning/, name);
    assert.match(r.stdout, /exit 0\nbrick process (alive|gone)/, name);
    if (!sc.deadProcess) assert.match(r.stdout, /brick process alive/, name);
    assert.ok(!r.calls.some((c) => c.startsWith("systemctl restart")), `${name}: ${r.calls.join("; ")}`);
    // `volume status` takes a cluster-wide lock: asked only when the log shows a failed start
    assert.equal(r.calls.some((c) => c.startsWith("gluster ")), asks, `${name}: ${r.calls.join("; ")}`);
  }
});

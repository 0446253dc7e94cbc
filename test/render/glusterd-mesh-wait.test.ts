// glusterd's wait for the mesh (glustermesh-mesh-wait.service), run for real under bash in a
// private network and mount namespace: the mesh interface is a tun device (as tincd's) with the
// node's address, peers are addresses on it with a real TCP listener on tincd's port (or none:
// a silent peer), glusterd's stored pool is real peer files. Only `systemctl` is a stand-in
// that records its calls. The 20 s limit is cut to 3 s in the rendered text, the restart of
// tincd after 10 s to 1 s.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { GLUSTERD_MESH_RESTART_SECONDS, GLUSTERD_MESH_WAIT_SECONDS, GLUSTERD_PEERS_DIR, glusterdMeshWaitScript } from "../../render/gluster";
import { tmpdir } from "./helpers";

const OWN = "10.9.0.1";
const PEERS = ["10.9.0.2", "10.9.0.3"];

interface Scenario {
  ownAddress: boolean;
  /** Peers in glusterd's pool with a listener on port 655. */
  answering: string[];
  pool: string[];
  /** Peers that answer once tincd is restarted (the stand-in systemctl's restart starts their listener). */
  answerAfterRestart?: string[];
}

function runWait(sc: Scenario) {
  const dir = tmpdir("mesh-wait");
  const bin = path.join(dir, "bin");
  fs.mkdirSync(bin);
  const calls = path.join(dir, "calls");
  const listen = (ip: string) => `node -e 'require("net").createServer((c) => c.end()).listen(655, "${ip}", () => console.error("listening ${ip}"))' &`;
  fs.writeFileSync(
    path.join(bin, "systemctl"),
    `#!/bin/bash\necho "systemctl $*" >> ${calls}\nif [[ $1 == restart ]]; then\n${(sc.answerAfterRestart ?? []).map((ip) => `  ${listen(ip).replace(/ &$/, " >/dev/null 2>\u00261 &")}\n  echo $! >> ${dir}/restart-pids`).join("\n") || "  :"}\nfi\n`,
    { mode: 0o755 },
  );
  const text = glusterdMeshWaitScript({ node: "n1", tinc: OWN, interface: "gm0", port: 655, tincService: "tinc@gm.service" });
  const wait = `readonly WAIT_SECONDS=${GLUSTERD_MESH_WAIT_SECONDS}\n`;
  const restart = `readonly RESTART_SECONDS=${GLUSTERD_MESH_RESTART_SECONDS}\n`;
  assert.ok(text.includes(wait) && text.includes(restart));
  const script = path.join(dir, "wait");
  fs.writeFileSync(script, text.replace(wait, "readonly WAIT_SECONDS=3\n").replace(restart, "readonly RESTART_SECONDS=1\n"));
  const driver = `set -eu
ip link set lo up
ip tuntap add dev gm0 mode tun
ip link set gm0 up
${sc.ownAddress ? `ip addr add ${OWN}/16 dev gm0` : ""}
${PEERS.map((p) => `ip addr add ${p}/32 dev gm0`).join("\n")}
${sc.answering.map(listen).join("\n")}
for _ in $(seq 50); do [[ $(ss -ltn | grep -c ':655 ') -ge ${sc.answering.length} ]] && break; sleep 0.1; done
mount -t tmpfs tmpfs /var/lib
mkdir -p ${GLUSTERD_PEERS_DIR}
${sc.pool.map((p, i) => `printf 'uuid=%s\\nstate=3\\nhostname1=%s\\n' ${i} ${p} > ${GLUSTERD_PEERS_DIR}/peer${i}`).join("\n")}
start=$SECONDS
PATH=${bin}:$PATH bash ${script}
echo "exit $? after $((SECONDS - start))s"
kill $(jobs -p) 2>/dev/null || true
if [[ -s ${dir}/restart-pids ]]; then kill $(cat ${dir}/restart-pids) 2>/dev/null || true; fi
`;
  const r = spawnSync("unshare", ["--net", "--mount", "--propagation", "private", "bash", "-c", driver], { encoding: "utf8", timeout: 60_000 });
  const out = { stdout: r.stdout, stderr: r.stderr, status: r.status, calls: fs.existsSync(calls) ? fs.readFileSync(calls, "utf8").trim().split("\n") : [] };
  fs.rmSync(dir, { recursive: true, force: true });
  return out;
}

test("every peer of glusterd's pool answers over the mesh: glusterd starts at once, tincd left alone", () => {
  const r = runWait({ ownAddress: true, answering: PEERS, pool: PEERS });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^the mesh reaches every peer of the pool \(2\) after 0s\nexit 0 after 0s$/m);
  assert.deepEqual(r.calls, []);
});

const DUMP = ["systemctl kill --kill-whom=main --signal=SIGUSR1 tinc@gm.service", "systemctl kill --kill-whom=main --signal=SIGUSR2 tinc@gm.service"];

test("a silent peer: tincd nudged, restarted once, then glusterd starts anyway, naming the peer; tincd logs its view", () => {
  const r = runWait({ ownAddress: true, answering: ["10.9.0.2"], pool: PEERS });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^peers still silent after 1s \(10\.9\.0\.3\): restarting tinc@gm\.service once/m);
  assert.match(r.stdout, /warning: the mesh reaches 1 of 2 peers of the pool after 3s \(silent: 10\.9\.0\.3\); starting glusterd anyway/);
  assert.match(r.stdout, /exit 0 after 3s/);
  assert.ok(r.calls.filter((c) => c === "systemctl kill --kill-whom=main --signal=SIGALRM tinc@gm.service").length >= 1, r.calls.join("\n"));
  assert.deepEqual(r.calls.filter((c) => !c.includes("SIGALRM")), [...DUMP, "systemctl restart --no-block tinc@gm.service", ...DUMP]);
});

test("a peer that answers once tincd is restarted (it had kept this node's old keys): glusterd starts then, without the warning", () => {
  const r = runWait({ ownAddress: true, answering: ["10.9.0.2"], pool: PEERS, answerAfterRestart: ["10.9.0.3"] });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^peers still silent after 1s \(10\.9\.0\.3\): restarting/m);
  assert.match(r.stdout, /^the mesh reaches every peer of the pool \(2\) after [23]s$/m);
  assert.doesNotMatch(r.stdout, /warning/);
  assert.deepEqual(r.calls.filter((c) => !c.includes("SIGALRM")), [...DUMP, "systemctl restart --no-block tinc@gm.service"]);
});

test("no mesh address yet: glusterd starts anyway after the limit; no pool yet: at once", () => {
  const noAddress = runWait({ ownAddress: false, answering: PEERS, pool: PEERS });
  assert.match(noAddress.stdout, /warning: gm0 has no address 10\.9\.0\.1 yet \(is tinc@gm\.service running\?\); starting glusterd anyway\nexit 0 after 3s/);
  const noPool = runWait({ ownAddress: true, answering: [], pool: [] });
  assert.equal(noPool.stdout.trim(), "exit 0 after 0s");
});

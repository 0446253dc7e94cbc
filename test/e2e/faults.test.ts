// End-to-end fault tests on a deployed lab: node deaths, the replica-2 quorum warning shown
// true, a whole DC down and back, auth.allow, no NFS, gluster's ports only on the mesh.
// Reuses the lab deploy.test.ts left deployed, or deploys a fresh one.
import assert from "node:assert/strict";
import { before, test } from "node:test";
import { inventoryHosts, tincAddress } from "../../lab/deploy";
import type { Lab } from "../../lab/hosts";
import { brickOnline, healthy, log, markDeployed, note, peers, restore, sh, sharedLab, skip, unmarkDeployed, volumeInfo, waitFor, type Shared } from "./helpers";

let s: Shared;
let lab: Lab;
const A = "/mnt/gluster/laba/projects";
const B = "/mnt/gluster/labb/projects";
const SCRATCH = "/mnt/gluster/laba/scratch";

before(async () => {
  if (skip) return;
  s = await sharedLab();
  lab = s.lab;
});

test("any single storage node of laba may die: projects stays readable and writable from laba5", { skip }, async () => {
  unmarkDeployed();
  const seed = await sh(lab, "laba5", `set -e; mkdir -p ${A}/faults; head -c 300000 /dev/urandom > ${A}/faults/seed; sha256sum ${A}/faults/seed | cut -d' ' -f1`);
  assert.equal(seed.code, 0, seed.stderr);
  const sum = seed.stdout.trim();
  // the nodes holding a brick of projects (laba4 only in the grown lab, as the arbiter of set 2)
  const byTinc = new Map(inventoryHosts().map((h) => [h.tinc, h.name]));
  const storage = [...new Set((await volumeInfo(lab, "laba1", "projects")).bricks.map((b) => byTinc.get(b.name.split(":")[0])!))];
  assert.ok(storage.length >= 3 && storage.every(Boolean), JSON.stringify(storage));
  // The tests before may have cut a node off: start from a healed volume, as the claim presumes
  // (with a heal pending, gluster rightly refuses writes when the surviving copy is not known good).
  for (const host of storage) await healthy(lab, host, ["projects"], host === "laba1" ? "laba2" : "laba1");
  // ... and from the compute node's side: its client connected to every brick (a brick restarted
  // by an earlier test is online before clients reconnect to its new port; meanwhile a second
  // brick of a set down is, to that client, a lost quorum).
  await waitFor("laba5 connected to every brick of projects", async () => {
    const r = await sh(lab, "laba1", "gluster --mode=script volume status projects clients", 20_000);
    const bricks = r.stdout.split("Brick : ").slice(1);
    return r.code === 0 && bricks.length === storage.length && bricks.every((b) => b.includes(`${tincAddress("laba5")}:`));
  }, 90_000, 2000);
  for (const victim of storage) {
    const t0 = Date.now();
    await lab.kill(victim);
    let r;
    try {
    // a killed host never says goodbye: the client notices after network.ping-timeout
    r = await sh(
      lab,
      "laba5",
      `set -e
timeout 60 sh -c 'echo "written while ${victim} is dead" > ${A}/faults/${victim}.txt'
timeout 60 cat ${A}/faults/${victim}.txt
timeout 60 sha256sum ${A}/faults/seed | cut -d' ' -f1`,
      150_000,
    );
    } finally {
      if (!lab.isRunning(victim)) await lab.start(victim);
    }
    assert.equal(r.code, 0, `with ${victim} dead: ${r.stderr}${r.stdout}`);
    assert.equal(r.stdout.trim().split("\n").pop(), sum);
    const during = (Date.now() - t0) / 1000;
    await restore(lab, victim, ["projects"], victim === "laba1" ? "laba2" : "laba1");
    note(`${victim} killed: write+read ok in ${during.toFixed(1)}s; back and healed after ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  }
  markDeployed(s.grown);
});

test("scratch (replica 2, quorum auto) shows its warning true: the first brick of the pair is a single point of failure", { skip }, async () => {
  unmarkDeployed();
  // Start from a healthy scratch as laba5 sees it: the test before restarted laba3 and laba4
  // (for projects), and laba5's client reconnects to a restarted brick's new port only later;
  // meanwhile, with quorum auto, a first brick it cannot reach means no writes.
  await healthy(lab, "laba4", ["scratch"], "laba3");
  await healthy(lab, "laba3", ["scratch"], "laba4");
  await waitFor("laba5 connected to both bricks of scratch", async () => {
    const r = await sh(lab, "laba1", "gluster --mode=script volume status scratch clients", 20_000);
    const bricks = r.stdout.split("Brick : ").slice(1);
    return r.code === 0 && bricks.length === 2 && bricks.every((b) => b.includes(`${tincAddress("laba5")}:`));
  }, 90_000, 2000);
  const prep = await sh(lab, "laba5", `echo start > ${SCRATCH}/q.txt && cat ${SCRATCH}/q.txt`);
  assert.equal(prep.code, 0, prep.stderr);
  // first brick (laba4) down: writes to files on that pair fail
  await lab.kill("laba4");
  try {
    const err = await waitFor("writes to scratch to fail with laba4 dead", async () => {
      const r = await sh(lab, "laba5", `timeout 30 sh -c 'echo more >> ${SCRATCH}/q.txt' 2>&1; echo "rc=$?"`, 60_000);
      return /Transport endpoint is not connected|Read-only file system/i.test(r.stdout) ? r.stdout : false;
    }, 90_000, 2000);
    log(`scratch with laba4 dead: ${err.trim()}`);
  } finally {
    await restore(lab, "laba4", ["scratch"], "laba3");
  }
  // second brick (laba3) down: writes go on
  await lab.kill("laba3");
  try {
    await waitFor("writes to scratch to succeed with laba3 dead", async () => {
      const r = await sh(lab, "laba5", `timeout 30 sh -c 'echo second-down >> ${SCRATCH}/q.txt' && tail -1 ${SCRATCH}/q.txt`, 60_000);
      return r.code === 0 && r.stdout.trim() === "second-down";
    }, 90_000, 2000);
  } finally {
    await restore(lab, "laba3", ["scratch", "projects"], "laba4");
  }
  const brick = await sh(lab, "laba3", "tail -1 /bricks/scratch/q.txt");
  assert.equal(brick.stdout.trim(), "second-down", "self-heal did not bring laba3's copy up to date");
  markDeployed(s.grown);
});

test("a whole lab DC down: laba keeps serving laba5; labb rejoins cleanly", { skip }, async () => {
  unmarkDeployed();
  await Promise.all(["labb1", "labb2"].map((h) => lab.stop(h)));
  try {
    const r = await sh(lab, "laba5", `set -e; timeout 60 sh -c 'date > ${A}/faults/labb-down.txt'; timeout 30 cat ${A}/faults/labb-down.txt`, 120_000);
    assert.equal(r.code, 0, r.stderr);
  } finally {
    await Promise.all(["labb1", "labb2"].filter((h) => !lab.isRunning(h)).map((h) => lab.start(h)));
  }
  await waitFor("labb peers connected", async () => (await peers(lab, "labb1"))[tincAddress("labb2")] === true, 60_000);
  assert.equal((await volumeInfo(lab, "labb1", "projects")).status, "Started");
  // online with a port; a brick glusterd lost track of at boot (gluster issue 4080) is repaired by the brick check
  await waitFor("labb's bricks online", async () => (await brickOnline(lab, "labb1", "projects", "labb1")) && (await brickOnline(lab, "labb1", "projects", "labb2")), 150_000);
  await waitFor("laba5's mount of labb works again", async () => {
    const r = await sh(lab, "laba5", `timeout 20 sh -c 'echo back > ${B}/faults-labb-back.txt && cat ${B}/faults-labb-back.txt'`, 40_000);
    return r.code === 0 && r.stdout.trim() === "back";
  }, 120_000, 2000);
  markDeployed(s.grown);
});

test("auth.allow: a mesh host the inventory does not let mount scratch cannot mount it", { skip }, async () => {
  // labb1 is in the mesh and may mount laba/projects (it syncs into it), but not laba/scratch
  const r = await sh(
    lab,
    "labb1",
    `# usable = mounted AND a file can be written and read through it (mount.glusterfs may return
# before the bricks' authentication answer arrives)
usable() {
  local dir; dir=$(mktemp -d)
  timeout 60 mount -t glusterfs -o log-level=WARNING "$1" "$dir" 2>/dev/null
  sleep 1
  if mountpoint -q "$dir" && timeout 30 sh -c "echo e2e > '$dir/auth-probe-$$' && cat '$dir/auth-probe-$$' && rm -f '$dir/auth-probe-$$'" >/dev/null 2>&1; then echo "$2-usable"; fi
  mountpoint -q "$dir" && umount "$dir"
  rmdir "$dir" 2>/dev/null || true
}
usable 10.250.1.1:/projects projects
usable 10.250.1.4:/scratch scratch
grep -h 'Authentication failed' /var/log/glusterfs/tmp-*.log 2>/dev/null | tail -1 | cut -c1-200; true`,
    120_000,
  );
  assert.match(r.stdout, /projects-usable/, `positive control failed: ${r.stdout}${r.stderr}`);
  assert.doesNotMatch(r.stdout, /scratch-usable/, "labb1 could use scratch despite auth.allow");
  assert.match(r.stdout, /Authentication failed/, "the bricks did not refuse labb1");
});

test("NFS is not served", { skip }, async () => {
  const st = await lab.execOk("laba1", "gluster --mode=script volume status projects");
  assert.doesNotMatch(st, /NFS Server/);
  const r = await sh(lab, "laba5", "for ip in 10.250.1.1 10.252.0.11; do timeout 3 bash -c \"</dev/tcp/$ip/2049\" 2>/dev/null && echo \"open $ip\"; done; true");
  assert.equal(r.stdout.trim(), "");
  const rpc = await sh(lab, "laba1", "pgrep -a -f 'glusterfs.*nfs' || true; ss -ltn 'sport = :2049' | tail -n +2");
  assert.equal(rpc.stdout.trim(), "");
});

test("gluster's ports answer over the tinc address but not on the lab bridge address", { skip }, async () => {
  // After the kill tests above, a restarted brick can be online before it has signed in its port
  // with glusterd ("N/A"): wait for the port, bounded.
  let xml = "";
  let port: string | undefined;
  for (const deadline = Date.now() + 60_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 2_000))) {
    xml = await lab.execOk("laba1", "gluster --mode=script --xml volume status projects");
    const node = xml.split("<node>").slice(1).find((n) => n.includes("<hostname>10.250.1.1</hostname>"));
    port = node ? /<port>(\d+)<\/port>/.exec(node)?.[1] : undefined;
    if (port && Number(port) > 0) break;
  }
  assert.ok(port && Number(port) > 0, `no brick port for laba1 in ${xml.slice(0, 500)}`);
  const probe = (ip: string, p: string | number) => `timeout 3 bash -c '</dev/tcp/${ip}/${p}' 2>/dev/null && echo open || echo closed`;
  const r = await sh(lab, "laba5", [probe("10.250.1.1", 24007), probe("10.250.1.1", port), probe("10.252.0.11", 24007), probe("10.252.0.11", port), probe("10.252.0.11", 22)].join("\n"));
  assert.deepEqual(r.stdout.trim().split("\n"), ["open", "open", "closed", "closed", "open"]);
  // The host's own outgoing connections off the mesh work from every local port, also from the
  // ephemeral ports 49152-60999 that overlap the bricks' range (the replies come back to them).
  const ports = [40000, 49152, 50000, 60999];
  const out = await sh(lab, "laba1", ports.map((p) => `echo "${p} $(curl -s -m 3 --local-port ${p} telnet://10.252.0.15:22 </dev/null | head -c 7)"`).join("\n"));
  assert.deepEqual(out.stdout.trim().split("\n"), ports.map((p) => `${p} SSH-2.0`));
});

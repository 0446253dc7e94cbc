// End-to-end test of the lab's host layer: real systemd-nspawn hosts, ssh, bricks, devices,
// reboot/stop/start/kill, and a teardown that leaves nothing behind.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { attach, down, Lab, LabHostSpec } from "../../lab/hosts";

const ROOT = path.resolve(__dirname, "../..");
const SPECS: LabHostSpec[] = [
  { name: "t1", dc: "ta", brickDisks: 1 },
  { name: "t2", dc: "ta", brickDisks: 1 },
  { name: "t3", dc: "tb", brickDisks: 0 },
];
const quiet = process.env.LAB_TEST_VERBOSE ? undefined : () => undefined;

function sh(cmd: string): string {
  const r = spawnSync("bash", ["-c", cmd], { encoding: "utf8" });
  return r.stdout ?? "";
}

interface Snapshot {
  netns: string;
  mounts: string;
  loops: string;
  cgroups: string;
  run: string;
  otherNetnsPids: Set<number>;
  nspawnPids: string;
  rootAddrs: string;
}

/** Everything a lab could leave behind on the machine. */
function snapshot(): Snapshot {
  const myNet = fs.readlinkSync("/proc/self/ns/net");
  const otherNetnsPids = new Set<number>();
  for (const e of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (fs.readlinkSync(`/proc/${e}/ns/net`) !== myNet) otherNetnsPids.add(+e);
    } catch {
      /* gone */
    }
  }
  return {
    netns: sh("ip netns list"),
    mounts: fs.readFileSync("/proc/self/mounts", "utf8"),
    loops: sh("losetup -a"),
    cgroups: sh("find /sys/fs/cgroup -maxdepth 2 -name 'gmlab*'"),
    run: sh("ls -A /run /run/systemd"),
    otherNetnsPids,
    // zombies are left out: PID 1 of this machine reaps orphans lazily
    nspawnPids: sh("ps -e -o stat=,comm= | awk '$1 !~ /^Z/ && $2 == \"systemd-nspawn\"'"),
    rootAddrs: sh("ip -o addr show"),
  };
}

/** Boot the lab from another node process that exits: hosts must outlive their launcher. */
function upInChildProcess(): void {
  const code = `require(${JSON.stringify(path.join(ROOT, "lab/hosts.ts"))})
    .up(${JSON.stringify(SPECS)}, { log: () => undefined })
    .then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });`;
  const r = spawnSync(process.execPath, ["--import", "tsx", "-e", code], { cwd: ROOT, encoding: "utf8", timeout: 120_000 });
  assert.equal(r.status, 0, `lab up failed:\n${r.stderr}`);
}

test("lab hosts: boot, ssh mesh, bricks, devices, reboot/stop/start/kill, clean teardown", { timeout: 600_000 }, async (t) => {
  if (process.getuid?.() !== 0) {
    t.skip("the lab needs root (namespaces, mounts, loop devices)");
    return;
  }
  await down({ log: quiet }); // a leftover lab must not count as "before"
  const before = snapshot();
  let lab: Lab | undefined;
  try {
    await t.test("up from a process that exits; hosts keep running", () => {
      const t0 = Date.now();
      upInChildProcess();
      lab = attach();
      t.diagnostic(`up of ${SPECS.length} hosts (incl. node start): ${Date.now() - t0} ms`);
      assert.deepEqual(lab.hosts.map((h) => h.name), ["t1", "t2", "t3"]);
      for (const h of lab.hosts) assert.ok(lab.isRunning(h.name), `${h.name} runs after its launcher exited`);
      assert.ok(!before.rootAddrs.includes("10.252.") && !snapshot().rootAddrs.includes("10.252."), "root netns stays off the lab network");
    });
    const L = () => {
      assert.ok(lab, "lab is up");
      return lab;
    };

    await t.test("systemd is running with no failed units", async () => {
      for (const s of await L().status()) {
        assert.ok(s.ssh, `${s.name}: ssh`);
        assert.deepEqual(s.failedUnits, [], `${s.name}: failed units`);
        assert.equal(s.systemd, "running", `${s.name}: systemctl is-system-running`);
      }
    });

    await t.test("every host reaches every other by name over ssh (pinned host keys)", async () => {
      const names = SPECS.map((s) => s.name);
      for (const from of names) {
        const out = await L().execOk(from, `for h in ${names.join(" ")}; do ssh -o BatchMode=yes -o StrictHostKeyChecking=yes "$h" hostname; done`);
        assert.deepEqual(out.trim().split("\n"), names, `ssh from ${from}`);
      }
      const kh = L().knownHosts;
      for (const n of names) assert.match(kh[n], /^ssh-ed25519 [A-Za-z0-9+/=]+$/);
      assert.notEqual(kh.t1, kh.t2, "each host has its own host key");
    });

    await t.test("node runs in the driver namespace and resolves lab names", async () => {
      const js = `require("net").connect(22, "t2").on("connect", function () { console.log("ok"); this.destroy(); }).on("error", (e) => { console.error(e.message); process.exit(1); })`;
      const r = await L().runInDriverNs([process.execPath, "-e", js], { timeoutMs: 15_000 });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), "ok");
    });

    await t.test("/bricks is its own XFS filesystem on storage hosts only", async () => {
      for (const h of ["t1", "t2"]) {
        const out = await L().execOk(h, 'findmnt -n -o FSTYPE /bricks; [ "$(stat -c %d /)" != "$(stat -c %d /bricks)" ] && echo separate');
        assert.deepEqual(out.trim().split("\n"), ["xfs", "separate"], h);
      }
      const r = await L().exec("t3", "findmnt /bricks");
      assert.notEqual(r.code, 0, "compute host has no /bricks filesystem");
    });

    await t.test("/dev/net/tun: a tun device can be created; tincd present", async () => {
      for (const h of ["t1", "t3"]) {
        await L().execOk(h, "ip tuntap add dev gmtest0 mode tun && ip link show gmtest0 >/dev/null && ip tuntap del dev gmtest0 mode tun && tincd --version >/dev/null");
      }
    });

    await t.test("gluster takes /bricks without force (refuses the root fs), FUSE mount works", async () => {
      const out = await L().execOk(
        "t1",
        [
          "set -eu",
          "systemctl start glusterd",
          "for i in $(seq 50); do gluster --mode=script volume list >/dev/null 2>&1 && break; sleep 0.2; done",
          "mkdir -p /srv/gmroot",
          "if gluster --mode=script volume create gmroot t1:/srv/gmroot 2>&1; then echo ROOT-ACCEPTED; fi",
          "gluster --mode=script volume create gmtest t1:/bricks/gmtest",
          "gluster --mode=script volume start gmtest",
          "mkdir -p /mnt/gmtest",
          "mount -t glusterfs t1:/gmtest /mnt/gmtest",
          "echo hello > /mnt/gmtest/f",
          "findmnt -n -o FSTYPE /mnt/gmtest",
          "cat /bricks/gmtest/f",
          "umount /mnt/gmtest",
          "gluster --mode=script volume stop gmtest >/dev/null",
          "gluster --mode=script volume delete gmtest >/dev/null",
          "rm -rf /bricks/gmtest",
          "systemctl stop glusterd",
        ].join("\n"),
        { timeoutMs: 120_000 },
      );
      assert.doesNotMatch(out, /ROOT-ACCEPTED/, "a brick on the root fs must need force");
      assert.match(out, /root (partition|filesystem)|force/i, "gluster explains the root-fs refusal");
      assert.match(out, /fuse\.glusterfs\nhello\n/);
    });

    await t.test("reboot inside a host comes back with its files", async () => {
      await L().execOk("t2", "echo r > /bricks/keep-reboot && echo r > /root/keep-reboot");
      const t0 = Date.now();
      await L().reboot("t2");
      t.diagnostic(`reboot of t2: ${Date.now() - t0} ms`);
      const out = await L().execOk("t2", "cat /bricks/keep-reboot /root/keep-reboot; systemctl is-system-running --wait");
      assert.equal(out, "r\nr\nrunning\n");
    });

    await t.test("stop/start keeps /bricks and the root upper dir", async () => {
      await L().execOk("t1", "echo s > /bricks/keep-stop && echo s > /root/keep-stop");
      let t0 = Date.now();
      await L().stop("t1");
      t.diagnostic(`stop of t1: ${Date.now() - t0} ms`);
      assert.ok(!L().isRunning("t1"));
      assert.notEqual((await L().exec("t1", "true", { timeoutMs: 10_000 })).code, 0, "no ssh while stopped");
      t0 = Date.now();
      await L().start("t1");
      t.diagnostic(`start of t1 (to ssh): ${Date.now() - t0} ms`);
      assert.equal(await L().execOk("t1", "cat /bricks/keep-stop /root/keep-stop"), "s\ns\n");
    });

    await t.test("kill (SIGKILL) and start again", async () => {
      await L().execOk("t3", "echo k > /root/keep-kill; sync");
      await L().kill("t3");
      assert.ok(!L().isRunning("t3"));
      await L().start("t3");
      assert.equal(await L().execOk("t3", "cat /root/keep-kill; systemctl is-system-running --wait"), "k\nrunning\n");
    });
  } finally {
    const t0 = Date.now();
    await down({ log: quiet });
    t.diagnostic(`down: ${Date.now() - t0} ms`);
  }

  await t.test("down leaves nothing behind", () => {
    const after = snapshot();
    assert.equal(after.netns, before.netns, "ip netns list");
    assert.equal(after.mounts, before.mounts, "/proc/mounts");
    assert.equal(after.loops, before.loops, "losetup -a");
    assert.equal(after.cgroups, "", "lab cgroups");
    assert.equal(after.run, before.run, "/run and /run/systemd entries");
    assert.equal(after.nspawnPids, "", "systemd-nspawn processes");
    const newInOtherNs = [...after.otherNetnsPids].filter((p) => !before.otherNetnsPids.has(p));
    assert.deepEqual(newInOtherNs, [], "processes in other network namespaces");
    assert.ok(!fs.existsSync("/run/glustermesh-lab"), "state dir removed");
  });
});

// The brick disk script for real, on a loop device (needs root, losetup, xfsprogs): a blank
// disk gets XFS and is mounted; a disk with data is never re-formatted; a second run changes
// nothing; a foreign filesystem is refused. Also: shellcheck, and the disk layout rules.
import { after, before, test } from "node:test";
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { brickDisks, diskScript, diskSteps } from "../../render/disk";
import { CHANGED_MARK } from "../../render/shell";
import { loadModel } from "../../components/stack";
import { REPO } from "./harness";
import { startupScript } from "../../components/gceStartup";
import type { DataCenter } from "../../model/model";

const sh = (cmd: string, args: string[]) => {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  return { code: r.status, out: r.stdout ?? "", err: r.stderr ?? "" };
};
const canRun = process.getuid?.() === 0 && sh("losetup", ["--version"]).code === 0 && sh("mkfs.xfs", ["-V"]).code === 0;

let dir = "";
const loops: string[] = [];
const mounts: string[] = [];

function loopDevice(name: string): string {
  const img = path.join(dir, `${name}.img`);
  fs.writeFileSync(img, "");
  fs.truncateSync(img, 512 * 1024 * 1024); // sparse; XFS needs 300 MB at least
  const r = sh("losetup", ["-f", "--show", img]);
  assert.equal(r.code, 0, r.err);
  const dev = r.out.trim();
  loops.push(dev);
  return dev;
}

function run(device: string, mountPoint: string, fstab: string) {
  mounts.push(mountPoint);
  const text = diskScript({ node: "testnode", what: "volume projects replica set 1", device, mountPoint, fstab, attempts: 2 });
  const file = path.join(dir, "disk.sh");
  fs.writeFileSync(file, text);
  const r = sh("bash", [file]);
  return { ...r, changes: r.out.split("\n").filter((l) => l.startsWith(CHANGED_MARK)) };
}

const uuidOf = (dev: string) => sh("blkid", ["-p", "-o", "value", "-s", "UUID", dev]).out.trim();
const isMountpoint = (p: string) => sh("mountpoint", ["-q", p]).code === 0;

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "glustermesh-disk-"));
});

after(() => {
  for (const m of [...new Set(mounts)].reverse()) while (isMountpoint(m)) sh("umount", [m]);
  for (const l of loops) sh("losetup", ["-d", l]);
  fs.rmSync(dir, { recursive: true, force: true });
});

test("a blank disk gets XFS (512-byte inodes) and a mount by UUID; its data survives re-runs; a second run changes nothing", { skip: !canRun && "needs root, losetup and xfsprogs" }, () => {
  const dev = loopDevice("blank");
  const mp = path.join(dir, "srv-gluster");
  const fstab = path.join(dir, "fstab");
  fs.writeFileSync(fstab, "# test fstab\n");

  const first = run(dev, mp, fstab);
  assert.equal(first.code, 0, first.err + first.out);
  assert.deepEqual(first.changes, [`${CHANGED_MARK} made an XFS filesystem on ${dev}`, `${CHANGED_MARK} added ${mp} to ${fstab}`, `${CHANGED_MARK} mounted ${dev} at ${mp}`]);
  const uuid = uuidOf(dev);
  assert.match(uuid, /^[0-9a-f-]{36}$/);
  assert.equal(sh("findmnt", ["-rn", "-o", "FSTYPE,SOURCE", "--mountpoint", mp]).out.trim(), `xfs ${dev}`);
  assert.match(sh("xfs_info", [mp]).out, /isize=512/);
  assert.equal(fs.readFileSync(fstab, "utf8"), `# test fstab\n# glustermesh: brick disk ${path.basename(dev)} of volume projects replica set 1\nUUID=${uuid} ${mp} xfs defaults,noatime,nofail,x-systemd.before=glusterd.service 0 2\n`);

  // Data on it; a second run changes nothing and formats nothing.
  fs.mkdirSync(path.join(mp, "projects"));
  fs.writeFileSync(path.join(mp, "projects", "image.img"), "precious data");
  const second = run(dev, mp, fstab);
  assert.equal(second.code, 0, second.err);
  assert.deepEqual(second.changes, []);
  assert.equal(uuidOf(dev), uuid);

  // Unmounted (a reboot without the mount, say): mounted again, never formatted.
  assert.equal(sh("umount", [mp]).code, 0);
  const third = run(dev, mp, fstab);
  assert.equal(third.code, 0, third.err);
  assert.deepEqual(third.changes, [`${CHANGED_MARK} mounted ${dev} at ${mp}`]);
  assert.equal(uuidOf(dev), uuid);
  assert.equal(fs.readFileSync(path.join(mp, "projects", "image.img"), "utf8"), "precious data");
});

test("a disk with another filesystem, or a mount point taken by another disk, is refused and left alone", { skip: !canRun && "needs root, losetup and xfsprogs" }, () => {
  const ext4 = loopDevice("ext4");
  assert.equal(sh("mkfs.ext4", ["-q", "-F", ext4]).code, 0);
  const before = uuidOf(ext4);
  const fstab = path.join(dir, "fstab2");
  fs.writeFileSync(fstab, "");
  const r = run(ext4, path.join(dir, "mp-ext4"), fstab);
  assert.notEqual(r.code, 0);
  assert.match(r.err, /holds a ext4 filesystem, not XFS: glustermesh never re-formats a disk/);
  assert.deepEqual(r.changes, []);
  assert.equal(uuidOf(ext4), before);
  assert.equal(fs.readFileSync(fstab, "utf8"), "");

  // Two blank disks for one mount point: the second is formatted (blank) but never mounted over the first.
  const a = loopDevice("a");
  const b = loopDevice("b");
  const mp = path.join(dir, "mp-shared");
  const fa = run(a, mp, fstab);
  assert.equal(fa.code, 0, fa.err);
  const fb = run(b, mp, fstab);
  assert.notEqual(fb.code, 0);
  assert.match(fb.err, /already mounts something else at/);
  assert.equal(sh("findmnt", ["-rn", "-o", "SOURCE", "--mountpoint", mp]).out.trim(), a);
});

test("a missing device fails with the device name, after waiting", { skip: !canRun && "needs root" }, () => {
  const r = run(path.join(dir, "no-such-disk"), path.join(dir, "mp-none"), path.join(dir, "fstab3"));
  assert.notEqual(r.code, 0);
  assert.match(r.err, /no disk at .*no-such-disk on testnode: is the persistent disk attached with device name no-such-disk\?/);
});

test("shellcheck passes on the disk script and the machines' startup script", { skip: sh("shellcheck", ["--version"]).code !== 0 && "no shellcheck" }, () => {
  const scripts = {
    disk: diskScript({ node: "gcecentral1", what: "volume projects replica set 1", device: "/dev/disk/by-id/google-gm-projects-set1", mountPoint: "/srv/gluster" }),
    startup: startupScript({ node: "gcecentral1", user: "root", publicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKey deploy@it's" }),
  };
  for (const [name, text] of Object.entries(scripts)) {
    const file = path.join(os.tmpdir(), `glustermesh-${name}-${process.pid}.sh`);
    fs.writeFileSync(file, text);
    const r = sh("shellcheck", ["-s", "bash", file]);
    fs.rmSync(file);
    assert.equal(r.code, 0, `${name}: ${r.out}${r.err}`);
  }
});

test("disk layout: one disk per brick at the brick's parent, by stable device name; shared parents refused", () => {
  const model = loadModel(path.join(REPO, "inventory"));
  const europe = model.dcs.find((d) => d.name === "gce-europe-1")!;
  assert.deepEqual(
    brickDisks(europe).map((d) => [d.node, d.devicePath, d.mountPoint, d.brick, d.arbiter]),
    [
      ["gceeurope1", "/dev/disk/by-id/google-gm-projects-set1", "/srv/gluster", "/srv/gluster/projects", false],
      ["gceeurope2", "/dev/disk/by-id/google-gm-projects-set1", "/srv/gluster", "/srv/gluster/projects", false],
      ["gceeurope3", "/dev/disk/by-id/google-gm-projects-set1", "/srv/gluster", "/srv/gluster/projects", true],
    ],
  );
  assert.deepEqual(diskSteps(europe).map((s) => s.name), ["gce-europe-1/disk/gceeurope1/projects-set1", "gce-europe-1/disk/gceeurope2/projects-set1", "gce-europe-1/disk/gceeurope3/projects-set1"]);
  const v = europe.volumes[0];
  const twoVolumes: DataCenter = { ...europe, volumes: [v, { ...v, name: "home", replicaSets: v.replicaSets.map((s) => ({ ...s, bricks: s.bricks.map((b) => ({ ...b, path: "/srv/gluster/home" })) })) }] };
  assert.throws(() => brickDisks(twoVolumes), /share the directory \/srv\/gluster, where each one's own disk would be mounted/);
  const atRoot: DataCenter = { ...europe, volumes: [{ ...v, replicaSets: v.replicaSets.map((s) => ({ ...s, bricks: s.bricks.map((b) => ({ ...b, path: "/bricks" })) })) }] };
  assert.throws(() => brickDisks(atRoot), /would be mounted at \//);
});

// End-to-end: cross-DC sync of VM images driven by the deployed systemd timers themselves
// (every 30 s in the lab inventory). Reuses the lab a previous e2e file left deployed, or
// deploys a fresh one.
import assert from "node:assert/strict";
import * as crypto from "node:crypto";
import { before, test } from "node:test";
import type { Lab } from "../../lab/hosts";
import { markDeployed, note, peers, restore, sh, sharedLab, skip, unmarkDeployed, waitFor, type Shared } from "./helpers";

let s: Shared;
let lab: Lab;
const A = "/mnt/gluster/laba/projects";
const B = "/mnt/gluster/labb/projects";
const UNIT_A = "glustermesh-sync-projects-set1-to-labb.service";

before(async () => {
  if (skip) return;
  s = await sharedLab();
  lab = s.lab;
});

/** A written image: its sha256 and the KiB allocated for it at the source (a brick's, via FUSE). */
interface Image { sum: string; kib: number }

/** Write a sparse 1 GiB image with some data at `dir/<id>/0.img` on `host`. */
async function writeImage(host: string, mount: string, id: string): Promise<Image> {
  const r = await sh(
    lab,
    host,
    `set -e
mkdir -p ${mount}/${id}
img=${mount}/${id}/0.img
dd if=/dev/zero of=$img seek=1G bs=1 count=1 status=none
# 2 MiB of data in four runs far apart, as in a real image: a copy that leaves the filesystem's
# preallocation inside the file (cp --sparse=auto to XFS bricks) allocates almost twice that
for mib in 0 300 600 900; do
  head -c 524288 /dev/urandom | dd of=$img bs=512k seek=$((mib * 2)) iflag=fullblock conv=notrunc status=none
done
echo "${id}" | dd of=$img bs=1 seek=100000000 conv=notrunc status=none
sync
echo "$(sha256sum $img | cut -d' ' -f1) $(du -k $img | cut -f1)"`,
    180_000,
  );
  assert.equal(r.code, 0, r.stderr);
  const [sum, kib] = r.stdout.trim().split(" ");
  return { sum, kib: Number(kib) };
}

/** On a brick host of the target DC: the image's sha256 and allocated KiB, or undefined. */
async function onBrick(host: string, id: string): Promise<{ sum: string; kib: number; size: number } | undefined> {
  const r = await sh(lab, host, `f=/bricks/projects/${id}/0.img; [ -f $f ] && [ ! -k $f ] || exit 3; echo "$(sha256sum $f | cut -d' ' -f1) $(du -k $f | cut -f1) $(stat -c %s $f)"`, 120_000);
  if (r.code !== 0) return undefined;
  const [sum, kib, size] = r.stdout.trim().split(" ");
  return { sum, kib: Number(kib), size: Number(size) };
}

async function expectSynced(targetHosts: string[], id: string, img: Image, what: string, timeoutMs = 150_000): Promise<number> {
  const t0 = Date.now();
  const got = await waitFor(`${what}: image ${id} on ${targetHosts.join("/")}`, async () => {
    for (const h of targetHosts) {
      if (!lab.isRunning(h)) continue;
      const x = await onBrick(h, id);
      if (x && x.sum === img.sum) return x;
    }
    return undefined;
  }, timeoutMs, 3000);
  assert.equal(got.size, 1024 ** 3 + 1);
  // sparse: the copy allocates what the source does (one block of slack), not the 1 GiB
  assert.ok(got.kib <= Math.ceil(img.kib * 1.01) + 4, `the copy is not as sparse as the source: ${got.kib} KiB allocated against ${img.kib} KiB`);
  return (Date.now() - t0) / 1000;
}

test("an image written in laba reaches labb by the timer-driven pass: same checksum, sparse", { skip }, async () => {
  unmarkDeployed();
  const id = crypto.randomUUID();
  const img = await writeImage("laba5", A, id);
  const secs = await expectSynced(["labb1", "labb2"], id, img, "laba -> labb");
  note(`laba -> labb: found after ${secs.toFixed(1)}s`);
  // The passes copied with direct I/O through gluster's FUSE mount: none fell back to cp
  // (the tool says "copied with cp, not direct I/O" when the target refuses direct writes).
  const journals = await Promise.all(
    ["laba1", "laba2"].map(async (h) => (await sh(lab, h, "journalctl -u 'glustermesh-sync-*' --no-pager -o cat")).stdout),
  );
  const all = journals.join("\n");
  assert.match(all, /"copied":[1-9]/, "no sync pass on laba1/laba2 logged a copy");
  assert.doesNotMatch(all, /not direct I\/O/);
  markDeployed(s.grown);
});

test("and back: an image written in labb reaches laba", { skip }, async () => {
  unmarkDeployed();
  const id = crypto.randomUUID();
  const img = await writeImage("laba5", B, id); // laba5 mounts labb's volume too
  const secs = await expectSynced(["laba1", "laba2", "laba6", "laba7"], id, img, "labb -> laba");
  note(`labb -> laba: found after ${secs.toFixed(1)}s`);
  markDeployed(s.grown);
});

test("with one storage node of laba down the other copy's timer still syncs", { skip }, async () => {
  unmarkDeployed();
  await lab.kill("laba1");
  try {
    const id = crypto.randomUUID();
    const img = await writeImage("laba5", A, id);
    const secs = await expectSynced(["labb1", "labb2"], id, img, "laba (laba1 dead) -> labb");
    note(`laba1 dead: laba2's timer synced the image after ${secs.toFixed(1)}s`);
  } finally {
    // Back, its bricks online with a port (the brick check repairs one glusterd lost track of), healed.
    await restore(lab, "laba1", ["projects"], "laba2");
    await waitFor("laba1 back in the pool", async () => (await peers(lab, "laba2"))["10.250.1.1"] === true, 60_000, 1000);
  }
  markDeployed(s.grown);
});

test("with labb down a pass fails and says so, harms nothing, and the first pass after it returns catches up", { skip }, async () => {
  unmarkDeployed();
  const since = (await lab.execOk("laba1", "date '+%Y-%m-%d %H:%M:%S'")).trim();
  await Promise.all(["labb1", "labb2"].map((h) => lab.stop(h)));
  const id = crypto.randomUUID();
  let img: Image = { sum: "", kib: 0 };
  let holder = "laba1";
  let unit = UNIT_A;
  try {
    img = await writeImage("laba5", A, id);
    // the pass of the replica set that holds the image (set 1 on laba1, or set 2 on laba6 when
    // the lab was grown) runs while labb is down: non-zero exit, logged
    // Both data bricks of a set run its timer: the image's set is the one whose brick holds it.
    const holds = async (h: string) => (await sh(lab, h, `f=/bricks/projects/${id}/0.img; [ -f $f ] && [ ! -k $f ]`)).code === 0;
    const onSet1 = (await holds("laba1")) || (await holds("laba2"));
    holder = onSet1 ? ((await holds("laba1")) ? "laba1" : "laba2") : (await holds("laba6")) ? "laba6" : "laba7";
    unit = onSet1 ? UNIT_A : UNIT_A.replace("set1", "set2");
    const journal = await waitFor(`a failed sync pass on ${holder}`, async () => {
      const r = await sh(lab, holder, `journalctl -u ${unit} --since '${since}' --no-pager -o cat`);
      return /Failed with result|status=[1-9]/.test(r.stdout) ? r.stdout : false;
    }, 120_000, 3000);
    note(`labb down, ${holder}'s pass says: ${journal.split("\n").find((l: string) => /^glustermesh-sync:/.test(l)) ?? "(see journal)"}`);
    const src = await sh(lab, "laba5", `sha256sum ${A}/${id}/0.img | cut -d' ' -f1`, 120_000);
    assert.equal(src.stdout.trim(), img.sum, "the source image changed");
  } finally {
    await Promise.all(["labb1", "labb2"].filter((h) => !lab.isRunning(h)).map((h) => lab.start(h)));
  }
  await waitFor("labb peers connected", async () => (await peers(lab, "labb1"))["10.250.2.2"] === true, 60_000);
  const secs = await expectSynced(["labb1", "labb2"], id, img, "catch-up after labb returned", 180_000);
  note(`labb back: the image arrived ${secs.toFixed(1)}s after labb's hosts answered`);
  // The image may have come by the set's other data brick's timer first; the holder's own timer
  // must recover too (a pass that started while labb's mount was reconnecting may still fail).
  await waitFor(`${unit} on ${holder} passes again`, async () =>
    /Result=success/.test((await sh(lab, holder, `systemctl show -p Result ${unit}`)).stdout), 180_000, 3000);
  markDeployed(s.grown);
});

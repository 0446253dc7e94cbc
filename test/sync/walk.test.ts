import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { SlowCalls, walk } from "../../sync/walk";
import { tmpdir, write } from "./helpers";

test("the synchronous (warm) and parallel (cold) walks find the same entries", async () => {
  const d = tmpdir("walk");
  for (let i = 0; i < 50; i++) write(`${d}/p${i}/0.img`, `img ${i}`);
  write(`${d}/p1/sub/deeper/1.img`, "nested");
  write(`${d}/.glusterfs/aa/bb`, "internal");
  write(`${d}/p2/.0.img.glustermesh-tmp-h-1-0`, "temp");
  write(`${d}/p3/1.img`, Buffer.alloc(0), undefined, 0o1000);
  fs.symlinkSync("/etc", `${d}/p4/link`);
  spawnSync("mkfifo", [`${d}/p5/fifo`]);
  const norm = (r: Awaited<ReturnType<typeof walk>>) => ({
    files: r.files.map((f) => `${f.rel} ${f.size} ${f.mode.toString(8)}`).sort(),
    issues: r.issues.map((i) => `${i.rel}: ${i.reason}`).sort(),
    link: r.skippedLinkFiles,
    internal: r.skippedInternal,
  });
  const warm = await walk(d, { limit: 4 });
  const cold = await walk(d, { limit: 4, forceAsync: true });
  assert.equal(cold.async, true);
  assert.deepEqual(norm(warm), norm(cold));
  assert.equal(warm.files.length, 51);
  assert.equal(warm.skippedLinkFiles, 1);
  assert.equal(warm.skippedInternal, 2);
  assert.deepEqual(norm(warm).issues, ["p4/link: symlink not copied", "p5/fifo: fifo not copied"]);
});

function tree(tag: string): string {
  const d = tmpdir(tag);
  for (let i = 0; i < 5; i++) write(`${d}/p${i}/0.img`, `img ${i}`);
  write(`${d}/p1/sub/1.img`, "nested");
  write(`${d}/.glusterfs/aa/bb`, "internal");
  write(`${d}/p3/1.img`, Buffer.alloc(0), undefined, 0o1000); // DHT link file
  fs.symlinkSync("/etc", `${d}/p2/link`);
  return d;
}
const view = (r: Awaited<ReturnType<typeof walk>>) => ({
  seen: r.seen,
  files: r.files.map((f) => `${f.rel} ${f.size}`).sort(),
  issues: r.issues.map((i) => `${i.rel}: ${i.reason}`).sort(),
  link: r.skippedLinkFiles,
  internal: r.skippedInternal,
});

test("a directory's listing is reused while it is unchanged, and read again after any entry change, even with its mtime set back", async () => {
  const d = tree("listing");
  const first = await walk(d, { limit: 4, settleMs: -1000 });
  assert.equal(first.reused, 0);
  assert.deepEqual(Object.keys(first.listings).sort(), ["", "p0", "p1", "p1/sub", "p2", "p3", "p4"]);
  const again = await walk(d, { limit: 4, settleMs: -1000, known: first.listings });
  assert.equal(again.reused, 7);
  assert.deepEqual(view(again), view(first)); // the symlink is still reported, internal entries still counted
  const cold = await walk(d, { limit: 4, settleMs: -1000, known: first.listings, forceAsync: true });
  assert.equal(cold.reused, 7);
  assert.deepEqual(view(cold), view(first));

  // a new file, its directory's mtime put back: ctime still tells
  const before = fs.statSync(`${d}/p4`, { bigint: true });
  write(`${d}/p4/new.img`, "new");
  const ns = before.mtimeNs.toString().padStart(10, "0");
  assert.equal(spawnSync("touch", ["-m", "-d", `@${ns.slice(0, -9)}.${ns.slice(-9)}`, `${d}/p4`]).status, 0);
  assert.equal(fs.statSync(`${d}/p4`, { bigint: true }).mtimeNs, before.mtimeNs);
  const w = await walk(d, { limit: 4, settleMs: -1000, known: again.listings });
  assert.equal(w.reused, 6);
  assert.ok(w.files.some((f) => f.rel === "p4/new.img"));
  // removed and renamed entries
  fs.rmSync(`${d}/p0/0.img`);
  fs.renameSync(`${d}/p1/sub`, `${d}/p1/sub2`);
  const w2 = await walk(d, { limit: 4, settleMs: -1000, known: w.listings });
  assert.deepEqual(view(w2), view(await walk(d, { limit: 4 })));
  assert.ok(w2.files.some((f) => f.rel === "p1/sub2/1.img") && !w2.files.some((f) => f.rel.startsWith("p0/")));
});

test("a listing is trusted only as it was read: the walk lists what the state says while the directory is unchanged", async () => {
  const d = tree("trust");
  const first = await walk(d, { limit: 4, settleMs: -1000 });
  // Proof that an unchanged directory is not read: a listing missing a name hides it.
  const known = { ...first.listings, p0: [...first.listings.p0] as typeof first.listings.p0 };
  known.p0[3] = [];
  const w = await walk(d, { limit: 4, settleMs: -1000, known });
  assert.ok(!w.files.some((f) => f.rel === "p0/0.img"));
  // A listing that does not have our shape, or names outside its directory, is never used.
  for (const bad of [["../../etc"], ["a/b"], [".."], [7], [".glusterfs"], [".glustermesh-tmp-h-1-0"]]) {
    const k = { ...first.listings, "": [...first.listings[""]] as typeof first.listings.p0 };
    (k[""] as unknown[])[4] = bad;
    const r = await walk(d, { limit: 4, settleMs: -1000, known: k });
    assert.equal(r.reused, 6, `listing with ${JSON.stringify(bad)}`);
    assert.deepEqual(view(r), view(first));
  }
});

test("a directory changed less than settleMs before the walk gets no listing (racy timestamps)", async () => {
  const d = tree("racy");
  const w = await walk(d, { limit: 4 }); // default: 2 s
  assert.equal(Object.keys(w.listings).length, 0);
  const old = await walk(d, { limit: 4, settleMs: -60_000 }); // as if the walk ran a minute later
  assert.equal(Object.keys(old.listings).length, 7);
});

test("the walk goes parallel on three slow calls within 256 calls, not on slow calls scattered through a warm walk", () => {
  // A call is "slow" when it took over 2 ms: a cold cache, or just a preemption, GC or page fault.
  const run = (slowAt: (i: number) => boolean, n = 4000): number => {
    const s = new SlowCalls();
    for (let i = 1; i <= n; i++) {
      s.call();
      if (slowAt(i) && s.slow()) return i; // the call that switches
    }
    return -1;
  };
  assert.equal(run((i) => i % 300 === 0), -1, "one slow call in 300: never three within 256 calls");
  assert.equal(run((i) => i === 100 || i === 400 || i === 1500), -1, "three in all, far apart (the old rule switched here)");
  assert.equal(run((i) => i >= 10), 12, "cold from call 10: the third slow call switches");
  assert.equal(run((i) => i % 16 === 0), 48, "cold, one inode table block per 16 inodes on a disk that seeks");
  assert.equal(run((i) => i === 50 || i === 60 || i === 305), 305, "three within 256 calls");
  assert.equal(run((i) => i === 50 || i === 60 || i === 306), -1, "three spread over 257 calls");
});

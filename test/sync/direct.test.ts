// Direct-I/O copies (sync/direct.ts): the extent map parser, and copies of real files whose
// layout is made on purpose (data runs, zero blocks, unwritten extents, odd sizes).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { AlignedBuffers, BLOCK, CHUNK, copyDirect, extentMaps, mapCoversAllocation, parseFilefrag } from "../../sync/direct";
import { allNames, allocated, makeImage, run, sha, tmpdir, write } from "./helpers";

const T0 = 1_700_000_000;

test("parseFilefrag: byte ranges widened to 4 KiB blocks and merged; a file filefrag failed on gets no map", () => {
  const out = [
    "Filesystem type is: ef53",
    "File size of /s/a b/0.img is 1073741825 (1073745920 blocks of 1 bytes)",
    " ext:     logical_offset:        physical_offset: length:   expected: flags:",
    "   0: 42991616..43515903: 182704930816..182705455103: 524288:   42991616:",
    "   1: 632291328..632815615: 182715416576..182715940863: 524288: 183294230528: unwritten",
    "   2: 1073741824..1073745919: 182806663168..182806667263:   4096: 182804545536: last,eof",
    "/s/a b/0.img: 3 extents found",
    // /s/gone: filefrag printed its error on stderr only
    "File size of /s/small is 3 (4096 block of 1 bytes)",
    " ext:     logical_offset:        physical_offset: length:   expected: flags:",
    "   0:        0..    4095: 254369579008..254369583103:   4096:             last,eof",
    "/s/small: 1 extent found",
    "File size of /s/empty is 0 (0 blocks of 1 bytes)",
    "/s/empty: 0 extents found",
    "Filesystem type is: 58465342",
    "File size of /s/1k is 9000 (9216 blocks of 1 bytes)",
    " ext:     logical_offset:        physical_offset: length:   expected: flags:",
    "   0:     1024..    2047:     1024..     2047:   1024:",
    "   1:     3072..    5119:     9000..    11047:   2048:       2048:",
    "   2:     8192..    9215:    20000..    21023:   1024:      11048: last,eof",
    "/s/1k: 3 extents found",
    "",
  ].join("\n");
  const maps = parseFilefrag(out, ["/s/a b/0.img", "/s/gone", "/s/small", "/s/empty", "/s/1k"]);
  assert.deepEqual(maps.get("/s/a b/0.img"), {
    size: 1073741825,
    ranges: [
      [42991616, 43515904],
      [632291328, 632815616],
      [1073741824, 1073745920],
    ],
  });
  assert.equal(maps.has("/s/gone"), false);
  assert.deepEqual(maps.get("/s/small"), { size: 3, ranges: [[0, 4096]] });
  assert.deepEqual(maps.get("/s/empty"), { size: 0, ranges: [] });
  // 1 KiB blocks: [1024,2048) and [3072,5120) both widen into [0,8192); the last one stops at the end of the file's last block
  assert.deepEqual(maps.get("/s/1k"), {
    size: 9000,
    ranges: [[0, 12288]],
  });
});

test("parseFilefrag: a section that does not add up, or in another format, gets no map", () => {
  const head = (n: string) => [`File size of ${n} is 8192 (8192 blocks of 1 bytes)`, " ext:     logical_offset:        physical_offset: length:   expected: flags:"];
  const out = [
    ...head("/s/garbled"),
    "   0:        0..    4095: 1..4096: 4096:",
    "   1: 4096..8191 (a line we cannot read)",
    "/s/garbled: 2 extents found",
    "File size of /s/blocks is 8192 (2 blocks of 4096 bytes)", // not in bytes (-b1 not honoured)
    " ext:     logical_offset:        physical_offset: length:   expected: flags:",
    "   0:        0..       1:      100..     101:      2:             last,eof",
    "/s/blocks: 1 extent found",
    ...head("/s/cut"),
    "   0:        0..    4095: 1..4096: 4096:",
    // output ends without the count line
  ].join("\n");
  const maps = parseFilefrag(out, ["/s/garbled", "/s/blocks", "/s/cut"]);
  assert.deepEqual([...maps.keys()], []);
});

test("mapCoversAllocation: a map that misses allocated blocks is refused", () => {
  const map = { size: 1 << 30, ranges: [[0, 1 << 20]] as [number, number][] };
  assert.equal(mapCoversAllocation(map, 1 << 20), true);
  assert.equal(mapCoversAllocation(map, (1 << 20) + 8192), true); // an extent-tree block or two
  assert.equal(mapCoversAllocation(map, 2 << 20), false);
  assert.equal(mapCoversAllocation({ size: 1 << 30, ranges: [] }, 2 << 20), false);
});

test("extentMaps reads real files: data runs, holes, unwritten extents; a missing file gets no map", async () => {
  const d = tmpdir("extents");
  makeImage(`${d}/img`, "1G", [0, 300, 900], 512);
  write(`${d}/small`, "abc");
  write(`${d}/name with spaces: 1 extent found`, "x");
  const maps = await extentMaps([`${d}/img`, `${d}/missing`, `${d}/small`, `${d}/name with spaces: 1 extent found`]);
  const img = maps.get(`${d}/img`)!;
  assert.equal(img.size, 1024 ** 3);
  const MiB = 1024 * 1024;
  // each run of data lies inside one range, and the ranges hold little more than the data
  for (const off of [0, 300, 900]) assert.ok(img.ranges.some(([a, b]) => a <= off * MiB && off * MiB + 512 * 1024 <= b), `run at ${off} MiB in ${JSON.stringify(img.ranges)}`);
  assert.ok(img.ranges.reduce((n, [a, b]) => n + b - a, 0) <= 4 * MiB);
  assert.equal(maps.has(`${d}/missing`), false);
  assert.deepEqual(maps.get(`${d}/small`), { size: 3, ranges: [[0, BLOCK]] });
  assert.equal(maps.get(`${d}/name with spaces: 1 extent found`)?.size, 1);
});

test("copyDirect: same bytes, zero blocks and unwritten extents left as holes, odd sizes, mode and times kept", async () => {
  const d = tmpdir("direct");
  const buffers = new AlignedBuffers(2);
  const MiB = 1024 * 1024;
  // data, then 1 MiB of written zeros, then data, then 4 MiB unwritten (fallocate), a hole, and a tail of 5000 bytes
  const f = `${d}/img`;
  const fd = fs.openSync(f, "w", 0o640);
  fs.writeSync(fd, crypto.randomBytes(MiB + 100), 0, MiB + 100, 0);
  fs.writeSync(fd, Buffer.alloc(MiB), 0, MiB, 2 * MiB);
  fs.writeSync(fd, crypto.randomBytes(3 * BLOCK), 0, 3 * BLOCK, 3 * MiB + BLOCK);
  fs.closeSync(fd);
  const fa = spawnSync("fallocate", ["-o", String(8 * MiB), "-l", String(4 * MiB), f]);
  assert.equal(fa.status, 0, String(fa.stderr));
  const fd2 = fs.openSync(f, "r+");
  fs.writeSync(fd2, crypto.randomBytes(5000), 0, 5000, 20 * MiB);
  fs.closeSync(fd2);
  fs.chmodSync(f, 0o640);
  fs.utimesSync(f, T0 - 5, T0 + 0.25);
  const files = { img: f, small: `${d}/small`, empty: `${d}/empty` };
  write(files.small, "seven b", T0 + 1, 0o604);
  write(files.empty, "", T0 + 2, 0o600);
  const maps = await extentMaps(Object.values(files));
  for (const [name, src] of Object.entries(files)) {
    const tmp = `${d}/copy-${name}`;
    const map = maps.get(src);
    assert.ok(map, `no extent map for ${name}`);
    const st = await buffers.with((b) => copyDirect(src, tmp, map, b, { chown: false, fsync: true }));
    const s = fs.statSync(src);
    assert.equal(st.size, s.size, name);
    assert.equal(sha(tmp), sha(src), name);
    assert.equal(st.mode & 0o7777, s.mode & 0o7777, name);
    assert.equal(Math.floor(st.mtimeMs / 1000), Math.floor(s.mtimeMs / 1000), name);
    assert.equal(Math.floor(st.atimeMs / 1000), Math.floor(s.atimeMs / 1000), name);
  }
  // allocation: the data only (1 MiB + 100 B -> 257 blocks, 3 blocks, the 5000 B tail -> 2 blocks);
  // the written zeros and the unwritten extent take nothing
  assert.equal(allocated(`${d}/copy-img`), (257 + 3 + 2) * BLOCK);
  assert.ok(allocated(f) >= allocated(`${d}/copy-img`) + 5 * MiB);
  // O_EXCL: an existing temporary name is never written through
  write(`${d}/taken`, "someone else's");
  await assert.rejects(
    buffers.with((b) => copyDirect(files.small, `${d}/taken`, maps.get(files.small)!, b, { chown: false, fsync: false })),
    /EEXIST/,
  );
  assert.equal(fs.readFileSync(`${d}/taken`, "utf8"), "someone else's");
});

test("AlignedBuffers: CHUNK bytes each, handed out one at a time, waiting when all are in use", async () => {
  const buffers = new AlignedBuffers(2);
  const seen = new Set<Buffer>();
  let inUse = 0;
  let most = 0;
  await Promise.all(
    Array.from({ length: 6 }, () =>
      buffers.with(async (b) => {
        assert.equal(b.length, CHUNK);
        seen.add(b);
        most = Math.max(most, ++inUse);
        await new Promise((r) => setTimeout(r, 5));
        inUse--;
      }),
    ),
  );
  assert.equal(seen.size, 2);
  assert.equal(most, 2);
});

test("without a usable filefrag the pass copies with cp: same result, and it says so", async () => {
  const d = tmpdir("nofilefrag");
  const S = path.join(d, "src");
  const T = path.join(d, "tgt");
  fs.mkdirSync(T);
  makeImage(`${S}/p1/0.img`, "1G", [0, 500], 1024);
  write(`${S}/p2/0.img`, "small", T0);
  // a filefrag that lies: every file has one 4 KiB extent. The map does not cover the
  // allocation, so the file must not be copied from it (that copy would lose data).
  const liar = path.join(d, "filefrag");
  fs.writeFileSync(
    liar,
    '#!/bin/sh\nfor f in "$@"; do case "$f" in -*) continue;; esac; s=$(stat -c %s "$f")\necho "File size of $f is $s (4096 blocks of 1 bytes)"; echo "   0:        0..    4095: 1..4096: 4096: last,eof"; echo "$f: 1 extent found"; done\n',
    { mode: 0o755 },
  );
  for (const [tool, note] of [
    [liar, null],
    [path.join(d, "no-such-filefrag"), /note: copied with cp, not direct I\/O: cannot run filefrag/],
  ] as const) {
    fs.rmSync(T, { recursive: true });
    fs.mkdirSync(T);
    process.env.GLUSTERMESH_SYNC_FILEFRAG = tool;
    let r;
    try {
      r = await run([S, T, "--state", path.join(d, `state-${path.basename(tool)}.json`)]);
    } finally {
      delete process.env.GLUSTERMESH_SYNC_FILEFRAG;
    }
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.summary.copied, 2);
    if (note) assert.match(r.stderr, note);
    for (const p of ["p1", "p2"]) assert.equal(sha(`${T}/${p}/0.img`), sha(`${S}/${p}/0.img`), `${p} with ${tool}`);
    assert.ok(allocated(`${T}/p1/0.img`) <= 1.01 * allocated(`${S}/p1/0.img`));
    assert.deepEqual(allNames(T).filter((n) => n.includes("glustermesh-tmp")), []);
  }
});

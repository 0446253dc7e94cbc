import { test, TestContext } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { allNames, allocated, makeImage, run, setMtime, sha, snapshot, tmpdir, write } from "./helpers";

function pair(tag: string) {
  const d = tmpdir(tag);
  const S = path.join(d, "src");
  const T = path.join(d, "tgt");
  fs.mkdirSync(S);
  fs.mkdirSync(T);
  return { d, S, T, state: path.join(d, "state", "s.json") };
}
const T0 = 1_700_000_000; // whole seconds
// The rules that depend on how a file is copied are proven for both ways of copying: direct I/O
// (the default) and batches of GNU cp (--no-direct-io, and the fallback where direct I/O is refused).
const COPY_MODES: [string, string[]][] = [
  ["direct I/O", []],
  ["cp", ["--no-direct-io"]],
];
function forEachCopyMode(name: string, fn: (extra: string[], t: TestContext) => Promise<void>): void {
  for (const [how, extra] of COPY_MODES) test(`${name} (${how})`, (t) => fn(extra, t));
}

forEachCopyMode("copies missing and newer files, skips older and equal ones (whole seconds)", async (extra) => {
  const { S, T, state } = pair("mtime");
  write(`${S}/missing/0.img`, "missing", T0);
  write(`${S}/newer/0.img`, "new source", T0 + 10);
  write(`${T}/newer/0.img`, "old target", T0);
  write(`${S}/older/0.img`, "old source", T0);
  write(`${T}/older/0.img`, "newer target", T0 + 10);
  write(`${S}/equal/0.img`, "source same second", T0);
  write(`${T}/equal/0.img`, "target same second", T0);
  // sub-second differences do not count: source .9 s later in the same second
  write(`${S}/subsec/0.img`, "source", T0);
  fs.utimesSync(`${S}/subsec/0.img`, T0 + 0.9, T0 + 0.9);
  write(`${T}/subsec/0.img`, "target", T0);
  const r = await run([S, T, "--state", state, ...extra]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(fs.readFileSync(`${T}/missing/0.img`, "utf8"), "missing");
  assert.equal(fs.readFileSync(`${T}/newer/0.img`, "utf8"), "new source");
  assert.equal(fs.readFileSync(`${T}/older/0.img`, "utf8"), "newer target");
  assert.equal(fs.readFileSync(`${T}/equal/0.img`, "utf8"), "target same second");
  assert.equal(fs.readFileSync(`${T}/subsec/0.img`, "utf8"), "target");
  assert.equal(r.summary.copied, 2);
  assert.equal(r.summary.seen, 5);
  assert.equal(r.summary.targetNewer, 1);
});

forEachCopyMode("preserves mode and mtime, creates nested directories, deletes nothing at the target", async (extra) => {
  const { S, T, state } = pair("mode");
  write(`${S}/p/deep/er/a.img`, "a", T0 + 1, 0o640);
  write(`${S}/p/b.img`, "b", T0 + 2, 0o600);
  write(`${S}/q/c`, Buffer.alloc(0), T0 + 3, 0o755);
  fs.chmodSync(`${S}/p/deep`, 0o750);
  write(`${T}/only-at-target/x`, "keep me", T0);
  write(`${T}/p/keep.txt`, "keep me too", T0);
  const r = await run([S, T, "--state", state, ...extra]);
  assert.equal(r.code, 0, r.stderr);
  for (const [f, mode, sec] of [["p/deep/er/a.img", 0o640, T0 + 1], ["p/b.img", 0o600, T0 + 2], ["q/c", 0o755, T0 + 3]] as const) {
    const st = fs.statSync(`${T}/${f}`);
    assert.equal(st.mode & 0o7777, mode, f);
    assert.equal(Math.floor(st.mtimeMs / 1000), sec, f);
    assert.equal(sha(`${T}/${f}`), sha(`${S}/${f}`));
  }
  assert.equal(fs.statSync(`${T}/p/deep`).mode & 0o7777, 0o750);
  assert.equal(fs.readFileSync(`${T}/only-at-target/x`, "utf8"), "keep me");
  assert.equal(fs.readFileSync(`${T}/p/keep.txt`, "utf8"), "keep me too");
});

test("skips .glusterfs, .trashcan, DHT link files and our own temporary files", async () => {
  const { S, T, state } = pair("skip");
  write(`${S}/.glusterfs/ab/cd/abcd-gfid`, "gfid hardlink");
  write(`${S}/.trashcan/old`, "trash");
  write(`${S}/p/0.img`, "real", T0);
  // a DHT link file (sticky bit only, empty) with a newer mtime than the real image at the target
  write(`${S}/linked/0.img`, Buffer.alloc(0), T0 + 100, 0o1000);
  write(`${T}/linked/0.img`, "the real image", T0);
  write(`${S}/p/.0.img.glustermesh-tmp-otherhost-123-0`, "half copy from another DC");
  write(`${S}/.glustermesh-tmp-otherhost-123-1/p/0.img`, "staged copy from another DC");
  const r = await run([S, T, "--state", state]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(allNames(T).sort(), ["linked", "linked/0.img", "p", "p/0.img"]);
  assert.equal(fs.readFileSync(`${T}/linked/0.img`, "utf8"), "the real image");
  assert.equal(r.summary.seen, 1);
  assert.equal(r.summary.copied, 1);
});

forEachCopyMode("sparse images stay sparse (allocation at target <= 1.01x source)", async (extra) => {
  const { S, T, state } = pair("sparse");
  makeImage(`${S}/p1/0.img`);
  makeImage(`${S}/p2/0.img`, "1G", [3, 700], 2048);
  const r = await run([S, T, "--state", state, ...extra]);
  assert.equal(r.code, 0, r.stderr);
  for (const p of ["p1", "p2"]) {
    const s = fs.statSync(`${S}/${p}/0.img`);
    const t = fs.statSync(`${T}/${p}/0.img`);
    assert.equal(t.size, s.size);
    assert.equal(s.size, 1024 ** 3);
    assert.ok(allocated(`${T}/${p}/0.img`) <= 1.01 * allocated(`${S}/${p}/0.img`), `${p}: ${allocated(`${T}/${p}/0.img`)} vs ${allocated(`${S}/${p}/0.img`)}`);
    assert.ok(allocated(`${T}/${p}/0.img`) < 16 * 1024 * 1024);
    assert.equal(spawnSync("cmp", [`${S}/${p}/0.img`, `${T}/${p}/0.img`]).status, 0, "contents differ");
  }
});

test("with the state file a pass with no changes never touches TARGET", async () => {
  const { d, S, T, state } = pair("state");
  for (let i = 0; i < 20; i++) write(`${S}/p${i}/0.img`, `image ${i}`, T0 + i);
  assert.equal((await run([S, T, "--state", state])).code, 0);
  // Replace TARGET by a regular file: any stat, readdir or copy below it would fail.
  fs.renameSync(T, `${d}/moved-away`);
  write(T, "not a directory");
  const r = await run([S, T, "--state", state]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.summary.copied, 0);
  assert.equal(r.summary.skipped, 20);
  // A change at the source makes the pass look at the target, which now fails clearly.
  setMtime(`${S}/p3/0.img`, T0 + 1000);
  const r2 = await run([S, T, "--state", state]);
  assert.equal(r2.code, 4);
  assert.match(r2.stderr, /is not a directory/);
  assert.equal(fs.readFileSync(T, "utf8"), "not a directory");
});

test("a file changed at the source is copied once: the pass records it and the next one leaves TARGET alone", async () => {
  const { d, S, T, state } = pair("recorded");
  for (let i = 0; i < 5; i++) write(`${S}/p${i}/0.img`, `image ${i}`, T0);
  assert.equal((await run([S, T, "--state", state])).code, 0);
  write(`${S}/p2/0.img`, "image 2, version 2", T0 + 10); // a known file changes (the usual change)
  const r = await run([S, T, "--state", state]);
  assert.equal(r.summary.copied, 1);
  fs.renameSync(T, `${d}/moved-away`);
  write(T, "not a directory"); // any look at TARGET would fail
  const r2 = await run([S, T, "--state", state]);
  assert.equal(r2.code, 0, r2.stderr);
  assert.equal(r2.summary.copied, 0);
});

test("a target changed behind the state's back is never overwritten by an older source", async () => {
  const { S, T, state } = pair("behind");
  write(`${S}/p/0.img`, "v1", T0);
  assert.equal((await run([S, T, "--state", state])).code, 0);
  // The project ran in the other DC: the target got a newer version.
  write(`${T}/p/0.img`, "v2 written at the target", T0 + 50);
  // The source changes too, but stays older than the target.
  write(`${S}/p/0.img`, "v1b", T0 + 20);
  const r = await run([S, T, "--state", state]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(fs.readFileSync(`${T}/p/0.img`, "utf8"), "v2 written at the target");
  assert.equal(r.summary.targetNewer, 1);
  // and it stays so on the next pass
  const r2 = await run([S, T, "--state", state]);
  assert.equal(fs.readFileSync(`${T}/p/0.img`, "utf8"), "v2 written at the target");
  assert.equal(r2.summary.copied, 0);
  // once the source is newer again it is copied
  write(`${S}/p/0.img`, "v3", T0 + 60);
  await run([S, T, "--state", state]);
  assert.equal(fs.readFileSync(`${T}/p/0.img`, "utf8"), "v3");
});

test("the state file is written atomically and only when something changed", async () => {
  const { S, T, state } = pair("statefile");
  write(`${S}/p/0.img`, "x", T0);
  await run([S, T, "--state", state]);
  const j = JSON.parse(fs.readFileSync(state, "utf8"));
  assert.deepEqual(j.files["p/0.img"], [T0, 1, T0, 1]);
  const m1 = fs.statSync(state).mtimeMs;
  await run([S, T, "--state", state]);
  assert.equal(fs.statSync(state).mtimeMs, m1);
  assert.deepEqual(fs.readdirSync(path.dirname(state)).sort(), ["s.json"]);
  // a damaged state is ignored with a warning, never trusted
  fs.writeFileSync(state, "{garbage");
  const r = await run([S, T, "--state", state]);
  assert.equal(r.code, 0);
  assert.match(r.stderr, /damaged/);
});

test("the state keeps listings of settled directories; a file added to one is still found and copied", async () => {
  const { S, T, state } = pair("listings");
  for (let i = 0; i < 3; i++) write(`${S}/p${i}/0.img`, `image ${i}`, T0);
  assert.equal((await run([S, T, "--state", state])).code, 0);
  await new Promise((r) => setTimeout(r, 2100)); // directories settle (racy-timestamp rule: 2 s)
  const r1 = await run([S, T, "--state", state]);
  assert.equal(r1.summary.copied, 0);
  const j = JSON.parse(fs.readFileSync(state, "utf8"));
  assert.deepEqual(Object.keys(j.dirs).sort(), ["", "p0", "p1", "p2"]);
  assert.deepEqual(j.dirs.p1.slice(3), [["0.img"], [], 0]);
  const m = fs.statSync(state).mtimeMs;
  assert.equal((await run([S, T, "--state", state])).summary.seen, 3);
  assert.equal(fs.statSync(state).mtimeMs, m, "a pass that reused every listing rewrote the state");
  write(`${S}/p1/1.img`, "added", T0 + 5);
  write(`${S}/p3/0.img`, "new project", T0 + 5);
  const r2 = await run([S, T, "--state", state]);
  assert.equal(r2.code, 0, r2.stderr);
  assert.equal(r2.summary.copied, 2);
  assert.equal(fs.readFileSync(`${T}/p1/1.img`, "utf8"), "added");
  assert.equal(fs.readFileSync(`${T}/p3/0.img`, "utf8"), "new project");
});

forEachCopyMode("a file that changes while it is copied is not recorded and is copied next pass", async (extra) => {
  const { S, T, state } = pair("changing");
  write(`${S}/busy/0.img`, Buffer.alloc(32 * 1024 * 1024, 7), T0);
  write(`${S}/calm/0.img`, "calm", T0);
  let flip = 0;
  const timer = setInterval(() => fs.utimesSync(`${S}/busy/0.img`, T0, T0 + 10 + flip++ / 1000), 1); // a new mtime every ms
  let r;
  try {
    r = await run([S, T, "--state", state, ...extra]);
  } finally {
    clearInterval(timer);
  }
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.summary.changed, 1, r.stderr);
  assert.match(r.stderr, /changed while copied, will retry next pass: busy\/0.img/);
  assert.equal(fs.existsSync(`${T}/busy/0.img`), false);
  const st = JSON.parse(fs.readFileSync(state, "utf8"));
  assert.equal(st.files["busy/0.img"], undefined);
  assert.ok(st.files["calm/0.img"]);
  const r2 = await run([S, T, "--state", state, ...extra]);
  assert.equal(r2.summary.copied, 1);
  assert.equal(sha(`${T}/busy/0.img`), sha(`${S}/busy/0.img`));
  assert.deepEqual(allNames(T).filter((n) => n.includes("glustermesh-tmp")), []);
});

forEachCopyMode("a failing file does not stop the pass: non-zero exit and a summary of what failed", async (extra, t) => {
  const { S, T, state } = pair("fail");
  for (const p of ["a", "b", "c", "d"]) write(`${S}/${p}/0.img`, p, T0);
  write(`${S}/e/0.img`, "e", T0);
  fs.mkdirSync(`${T}/b/0.img`, { recursive: true }); // a directory where the image should go
  fs.mkdirSync(`${T}/e`);
  // target directory not writable, even for root: immutable
  const chattr = spawnSync("chattr", ["+i", `${T}/e`]);
  const immutable = chattr.status === 0;
  t.after(() => spawnSync("chattr", ["-i", `${T}/e`]));
  const r = await run([S, T, "--state", state, ...extra]);
  assert.equal(r.code, 1);
  assert.equal(r.summary.failed, immutable ? 2 : 1);
  assert.equal(r.summary.copied, immutable ? 3 : 4);
  assert.match(r.stderr, /failed: b\/0.img: target is a directory/);
  if (immutable) assert.match(r.stderr, /failed: e\/0.img: .*(operation not permitted|permission denied)/i);
  for (const p of ["a", "c", "d"]) assert.equal(fs.readFileSync(`${T}/${p}/0.img`, "utf8"), p);
  assert.deepEqual(allNames(T).filter((n) => n.includes("glustermesh-tmp")), []);
});

test("symlinks, sockets and fifos are reported, never followed", async (t) => {
  const { d, S, T, state } = pair("odd");
  write(`${d}/outside/secret`, "outside the brick", T0);
  write(`${S}/p/0.img`, "img", T0);
  fs.symlinkSync(`${d}/outside`, `${S}/dirlink`);
  fs.symlinkSync(`${d}/outside/secret`, `${S}/p/filelink`);
  spawnSync("mkfifo", [`${S}/p/fifo`]);
  const srv = net.createServer().listen(`${S}/p/sock`);
  await new Promise((r) => srv.once("listening", r));
  t.after(() => srv.close());
  const r = await run([S, T, "--state", state]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.summary.odd, 4);
  assert.deepEqual(allNames(T).sort(), ["p", "p/0.img"]);
  for (const n of ["dirlink: symlink", "p/filelink: symlink", "p/fifo: fifo", "p/sock: socket"]) assert.ok(r.stderr.includes(`skipped ${n} not copied`), r.stderr);
});

test("--dry-run lists what would be copied and changes nothing, not even the state", async () => {
  const { S, T, state } = pair("dry");
  write(`${S}/a/0.img`, "a", T0);
  write(`${S}/b/0.img`, "b new", T0 + 5);
  write(`${T}/b/0.img`, "b old", T0);
  write(`${S}/c/0.img`, "c", T0);
  write(`${T}/c/0.img`, "c", T0);
  const before = snapshot(T);
  const r = await run([S, T, "--state", state, "--dry-run"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /would copy a\/0.img \(missing at target\)\nwould copy b\/0.img \(newer than target\)\n/);
  assert.doesNotMatch(r.stdout, /c\/0.img/);
  assert.equal(r.summary.wouldCopy, 2);
  assert.equal(snapshot(T), before);
  assert.equal(fs.existsSync(path.dirname(state)), false);
});

test("--require-mount refuses a target that is not a mount point and touches nothing", async () => {
  const { S, T, state } = pair("mount");
  write(`${S}/a/0.img`, "a", T0);
  const r = await run([S, T, "--state", state, "--require-mount"]);
  assert.equal(r.code, 4);
  assert.match(r.stderr, /is not a mount point; refusing to copy \(--require-mount\)/);
  assert.deepEqual(fs.readdirSync(T), []);
  assert.equal(fs.existsSync(state), false);
});

test("a missing TARGET or SOURCE is reported clearly with exit code 4", async () => {
  const { d, S, state } = pair("missing");
  write(`${S}/a/0.img`, "a", T0);
  const r = await run([S, `${d}/nope`, "--state", state]);
  assert.equal(r.code, 4);
  assert.match(r.stderr, /target .*nope does not exist/);
  assert.equal(fs.existsSync(`${d}/nope`), false);
  const r2 = await run([`${d}/nosrc`, `${d}/tgt`, "--state", state]);
  assert.equal(r2.code, 4);
  assert.match(r2.stderr, /source .*nosrc is not available/);
});

test("--require-mount accepts a real mount point; a full target stops the pass cleanly (exit 4)", async (t) => {
  const { d, S, T, state } = pair("tmpfs");
  if (spawnSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", T]).status !== 0) {
    t.skip("cannot mount a tmpfs here");
    return;
  }
  t.after(() => spawnSync("umount", [T]));
  for (let i = 0; i < 5; i++) write(`${S}/small${i}/0.img`, `small ${i}`, T0);
  const r = await run([S, T, "--state", state, "--require-mount"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.summary.copied, 5);
  for (let i = 0; i < 6; i++) write(`${S}/big${i}/0.img`, Buffer.alloc(400 * 1024, 1), T0);
  const r2 = await run([S, T, "--state", state, "--require-mount"]);
  assert.equal(r2.code, 4, r2.stderr);
  assert.match(r2.stderr, /is not usable, pass stopped: .*no space left on device/i);
  for (let i = 0; i < 5; i++) assert.equal(fs.readFileSync(`${T}/small${i}/0.img`, "utf8"), `small ${i}`);
  assert.deepEqual(allNames(T).filter((n) => n.includes("glustermesh-tmp")), []);
  void d;
});

test("on a terminal: a progress bar and a human summary on stderr; --json forces the JSON line", async () => {
  const { S, T, state } = pair("tty");
  for (let i = 0; i < 3; i++) write(`${S}/p${i}/0.img`, `img ${i}`, T0);
  const r = await run([S, T, "--state", state], { tty: true });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "");
  assert.match(r.stderr, /\r\[#+\] 3\/3 checked, 3 copied/);
  assert.match(r.stderr, /3 files seen, 3 copied \([0-9.]+ k?B\), 0 skipped, 0 failed in [0-9.]+ s\n$/);
  const j = await run([S, T, "--state", state, "--json"], { tty: true });
  assert.equal(j.summary.seen, 3);
  assert.equal(j.summary.skipped, 3);
});

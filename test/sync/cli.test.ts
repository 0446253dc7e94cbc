import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { builtinModules } from "node:module";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { procStart } from "../../sync/lock";
import { isMountPoint } from "../../sync/mount";
import { bundle, run, tmpdir, write } from "./helpers";

test("bad arguments give a clear usage error and exit 2", async () => {
  const d = tmpdir("args");
  for (const args of [[], [d], [d, `${d}/t`, "extra"], [d, `${d}/t`, "--bogus"], [d, `${d}/t`, "-x"], [d, `${d}/t`, "--concurrency"], [d, `${d}/t`, "--concurrency", "0"], [d, `${d}/t`, "--concurrency=abc"], [d, `${d}/t`, "--json=yes"], [d, `${d}/sub`], [d, d], [d, `${d}/t`, "--state", "a", "--state", "b"]]) {
    const r = await run(args);
    assert.equal(r.code, 2, `${JSON.stringify(args)}: ${r.stderr}`);
    assert.match(r.stderr, /^glustermesh-sync: .+\nusage: glustermesh sync SOURCE TARGET/, JSON.stringify(args));
    assert.doesNotMatch(r.stderr, /\n\s+at /); // no stack trace
  }
  for (const help of [["--help"], ["-h"], [d, "--help"]]) {
    const h = await run(help);
    assert.equal(h.code, 0);
    assert.match(h.stdout, /^usage:/);
  }
});

test("isMountPoint reads mountinfo (octal escapes included)", () => {
  const d = tmpdir("mountinfo");
  const mi = path.join(d, "mountinfo");
  fs.writeFileSync(mi, "22 27 0:21 / /proc rw - proc proc rw\n90 27 0:50 / /mnt/gluster/4545\\040projects rw - fuse.glusterfs cloud10:/projects rw\n");
  assert.equal(isMountPoint("/mnt/gluster/4545 projects", mi), true);
  assert.equal(isMountPoint("/mnt/gluster/4545 projects/", mi), true);
  assert.equal(isMountPoint("/mnt/gluster", mi), false);
  assert.equal(isMountPoint("/proc"), true); // the real /proc/self/mountinfo
});

test("the esbuild bundle uses only node built-ins and syncs when run with node", () => {
  const b = bundle();
  const text = fs.readFileSync(b, "utf8");
  const reqs = [...text.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]);
  assert.ok(reqs.length > 0);
  for (const r of reqs) assert.ok(r.startsWith("node:") || builtinModules.includes(r), `non-builtin require ${r}`);
  const d = tmpdir("bundle-run");
  write(`${d}/src/p/0.img`, "image", 1_700_000_000);
  fs.mkdirSync(`${d}/tgt`);
  const r = spawnSync(process.execPath, [b, `${d}/src`, `${d}/tgt`, "--state", `${d}/state.json`], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  const sum = JSON.parse(r.stdout.trim());
  assert.equal(sum.copied, 1);
  assert.equal(sum.failed, 0);
  assert.equal(fs.readFileSync(`${d}/tgt/p/0.img`, "utf8"), "image");
  const bad = spawnSync(process.execPath, [b, `${d}/src`, `${d}/tgt`, "--concurrency", "x"], { encoding: "utf8" });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--concurrency must be an integer/);
});

test("the lock: a second pass on the same SOURCE and TARGET exits 3; a stale lock is taken over", async () => {
  const d = tmpdir("lock");
  write(`${d}/src/p/0.img`, "image", 1_700_000_000);
  fs.mkdirSync(`${d}/tgt`);
  const state = `${d}/st/state.json`;
  fs.mkdirSync(`${d}/st`);
  // held by a live process
  const holder = spawn("sleep", ["30"], { stdio: "ignore" });
  try {
    await new Promise((r) => holder.once("spawn", r));
    fs.writeFileSync(`${state}.lock`, JSON.stringify({ pid: holder.pid, host: os.hostname(), start: procStart(holder.pid!), since: "test" }));
    const r = await run([`${d}/src`, `${d}/tgt`, "--state", state]);
    assert.equal(r.code, 3);
    assert.match(r.stderr, new RegExp(`another sync of .* is running \\(pid ${holder.pid} `));
    assert.equal(fs.existsSync(`${d}/tgt/p`), false);
  } finally {
    holder.kill("SIGKILL");
  }
  await new Promise((r) => holder.once("exit", r));
  // the holder is gone: the lock is stale and taken over
  const r2 = await run([`${d}/src`, `${d}/tgt`, "--state", state]);
  assert.equal(r2.code, 0, r2.stderr);
  assert.equal(fs.readFileSync(`${d}/tgt/p/0.img`, "utf8"), "image");
  assert.equal(fs.existsSync(`${state}.lock`), false);
  // a pid reused by another process (start time differs) is stale too
  fs.writeFileSync(`${state}.lock`, JSON.stringify({ pid: process.pid, host: os.hostname(), start: "1", since: "test" }));
  assert.equal((await run([`${d}/src`, `${d}/tgt`, "--state", state])).code, 0);
  // left by passes killed while locking: an empty lock file, a breaker of a dead process, the
  // private name a dead process wrote its lock to: none of them blocks the next pass
  const dead = holder.pid!;
  fs.writeFileSync(`${state}.lock`, "");
  fs.writeFileSync(`${state}.lock.break`, JSON.stringify({ pid: dead, host: os.hostname(), start: "", since: "test" }));
  fs.writeFileSync(`${state}.lock.new-${dead}`, "{");
  const r3 = await run([`${d}/src`, `${d}/tgt`, "--state", state]);
  assert.equal(r3.code, 0, r3.stderr);
  assert.deepEqual(fs.readdirSync(`${d}/st`).sort(), ["state.json"]);
});

test("two real passes at once: the second one exits 3 while the first runs", async () => {
  const d = tmpdir("lock2");
  const data = Buffer.alloc(4 * 1024 * 1024, 1);
  for (let i = 0; i < 300; i++) write(`${d}/src/p${i}/0.img`, data, 1_700_000_000);
  fs.mkdirSync(`${d}/tgt`);
  const state = `${d}/state.json`;
  const args = [bundle(), `${d}/src`, `${d}/tgt`, "--state", state, "--concurrency", "1"];
  const first = spawn(process.execPath, args, { stdio: "ignore" });
  const firstExit = new Promise<number | null>((r) => first.once("exit", r));
  const t0 = Date.now();
  while (!fs.existsSync(`${state}.lock`) && Date.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 2));
  const second = spawnSync(process.execPath, args, { encoding: "utf8" });
  assert.equal(second.status, 3, second.stderr);
  assert.match(second.stderr, /is running/);
  assert.equal(await firstExit, 0);
});

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { allNames, bundle, sha, tmpdir } from "./helpers";

// kill -9 the tool at random moments while images are re-written between passes. After every
// kill each target image must be a complete version (checksum) no older than before.
test("kill -9 at random moments never leaves a partial or older target file", async (t) => {
  const b = bundle();
  const d = tmpdir("kill");
  const S = `${d}/src`;
  const T = `${d}/tgt`;
  const state = `${d}/state/s.json`;
  fs.mkdirSync(T, { recursive: true });
  const PROJECTS = 8;
  const T0 = 1_700_000_000;
  const versions: string[][] = []; // per project: checksums by version
  const seen: number[] = []; // per project: version last found at the target (-1 = none)
  const writeVersion = (p: number) => {
    const f = `${S}/p${p}/0.img`;
    fs.mkdirSync(path.dirname(f), { recursive: true });
    const v = versions[p]?.length ?? 0;
    const fd = fs.openSync(`${f}.new`, "w");
    fs.writeSync(fd, Buffer.alloc(1), 0, 1, 64 * 1024 * 1024 - 1); // 64 MiB sparse
    for (const off of [0, 9, 40]) fs.writeSync(fd, crypto.randomBytes(1024 * 1024), 0, 1024 * 1024, off * 1024 * 1024);
    fs.closeSync(fd);
    fs.utimesSync(`${f}.new`, T0, T0 + 2 * v);
    // rewrite in place (like a VM) half of the time, replace by rename the other half
    if (v > 0 && p % 2 === 0) {
      fs.copyFileSync(`${f}.new`, f);
      fs.rmSync(`${f}.new`);
      fs.utimesSync(f, T0, T0 + 2 * v);
    } else fs.renameSync(`${f}.new`, f);
    (versions[p] ??= []).push(sha(f));
  };
  for (let p = 0; p < PROJECTS; p++) {
    writeVersion(p);
    seen.push(-1);
  }
  // a batch keeps its symbolic links in /dev/shm/.glustermesh-tmp-<host>-<pid>-<n>/
  const host = os.hostname().replace(/[^A-Za-z0-9_-]/g, "_").slice(0, 40) || "host";
  const killed: number[] = [];
  const linkDirsOf = (pids: number[]) =>
    fs.existsSync("/dev/shm") ? fs.readdirSync("/dev/shm").filter((n) => pids.some((pid) => n.startsWith(`.glustermesh-tmp-${host}-${pid}-`))) : [];
  const runOnce = (killAfterMs?: number) =>
    new Promise<number | null>((resolve) => {
      const c = spawn(process.execPath, [b, S, T, "--state", state, "--concurrency", "2"], { stdio: "ignore" });
      if (killAfterMs !== undefined && c.pid) killed.push(c.pid);
      let timer: NodeJS.Timeout | undefined;
      if (killAfterMs !== undefined) timer = setTimeout(() => c.kill("SIGKILL"), killAfterMs);
      c.once("exit", (code) => {
        if (timer) clearTimeout(timer);
        resolve(code);
      });
    });
  const check = (iter: number) => {
    for (let p = 0; p < PROJECTS; p++) {
      const f = `${T}/p${p}/0.img`;
      if (!fs.existsSync(f)) {
        assert.equal(seen[p], -1, `iteration ${iter}: p${p} vanished`);
        continue;
      }
      const v = versions[p].indexOf(sha(f));
      assert.ok(v >= 0, `iteration ${iter}: p${p} at the target is not a complete version`);
      assert.ok(v >= seen[p], `iteration ${iter}: p${p} went back from version ${seen[p]} to ${v}`);
      seen[p] = v;
    }
  };
  const started = Date.now();
  let kills = 0;
  let leftovers = 0;
  for (let iter = 0; iter < 20 && Date.now() - started < 60_000; iter++) {
    for (let p = 0; p < PROJECTS; p++) if (crypto.randomInt(0, 3) === 0) writeVersion(p);
    const code = await runOnce(crypto.randomInt(0, 150));
    if (code === null) kills++;
    check(iter);
    if (allNames(T).some((n) => n.includes("glustermesh-tmp"))) leftovers++;
  }
  const linkLeftovers = linkDirsOf(killed).length;
  t.diagnostic(`${kills} passes killed, ${leftovers} of them left temporary files for the next pass to remove; ${linkLeftovers} link directories in /dev/shm`);
  assert.ok(kills >= 5, `only ${kills} passes were killed`);
  // a clean pass finishes the job and leaves no temporary files behind
  const code = await runOnce();
  assert.equal(code, 0);
  for (let p = 0; p < PROJECTS; p++) assert.equal(sha(`${T}/p${p}/0.img`), versions[p][versions[p].length - 1]);
  assert.deepEqual(allNames(T).filter((n) => n.includes("glustermesh-tmp")), []);
  assert.deepEqual(fs.readdirSync(path.dirname(state)).sort(), ["s.json"]);
  // ... nor any link directory of a killed pass (each one is in the journal the next pass reads)
  assert.deepEqual(linkDirsOf(killed), []);
});

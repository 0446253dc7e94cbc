import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { walk } from "../../sync/walk";
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
  const warm = await walk(d, 4);
  const cold = await walk(d, 4, true);
  assert.equal(cold.async, true);
  assert.deepEqual(norm(warm), norm(cold));
  assert.equal(warm.files.length, 51);
  assert.equal(warm.skippedLinkFiles, 1);
  assert.equal(warm.skippedInternal, 2);
  assert.deepEqual(norm(warm).issues, ["p4/link: symlink not copied", "p5/fifo: fifo not copied"]);
});

// The brick script on real extended attributes: gluster's "in use" mark left on an empty brick by
// a failed volume create is cleared; a mark of a known volume, or a brick holding files, is never
// touched. `gluster` is a stand-in answering `volume info` with the pool's volume IDs.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { brickDirScript } from "../../render/gluster";

const KNOWN = "11111111-2222-3333-4444-555555555555";
const KNOWN_HEX = "0x11111111222233334444555555555555";
const STALE_HEX = "0xaabbccddeeff00112233445566778899";

function setup() {
  // /var/tmp: a disk filesystem with trusted.* xattrs (root), unlike some tmpfs.
  const dir = fs.mkdtempSync(path.join("/var/tmp", "gm-brick-"));
  const bin = path.join(dir, "bin");
  fs.mkdirSync(bin);
  fs.writeFileSync(path.join(bin, "gluster"), `#!/bin/sh\necho "Volume Name: projects"\necho "Volume ID: ${KNOWN}"\n`, { mode: 0o755 });
  const brick = path.join(dir, "disk", "projects");
  fs.mkdirSync(path.join(brick, ".glusterfs", "00"), { recursive: true });
  // The script refuses a brick on the root filesystem; this test is about the marks only.
  const script = brickDirScript("n1", [{ node: "n1", path: brick, spec: `10.0.0.1:${brick}`, arbiter: false }]).replace(
    /^if \[\[ \$\(stat -c %d "\$parent"\) == \$\(stat -c %d \/\) \]\]; then$/m,
    "if false; then",
  );
  assert.match(script, /^if false; then$/m, "the root-filesystem check was found and bypassed");
  const run = () => spawnSync("bash", ["-c", script], { encoding: "utf8", env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } });
  const mark = () => spawnSync("getfattr", ["--absolute-names", "-e", "hex", "-n", "trusted.glusterfs.volume-id", brick], { encoding: "utf8" }).stdout.match(/=(0x[0-9a-f]+)/)?.[1];
  const setMark = (hex: string) => assert.equal(spawnSync("setfattr", ["-n", "trusted.glusterfs.volume-id", "-v", hex, brick]).status, 0);
  return { dir, brick, run, mark, setMark };
}

test("an empty brick marked by a volume the pool does not know is cleared, once", { skip: process.getuid?.() !== 0 && "needs root for trusted.* xattrs" }, () => {
  const t = setup();
  try {
    t.setMark(STALE_HEX);
    const first = t.run();
    assert.equal(first.status, 0, first.stderr);
    assert.match(first.stdout, /changed: cleared the mark a failed volume create left on empty brick/);
    assert.equal(t.mark(), undefined);
    const second = t.run();
    assert.equal(second.status, 0, second.stderr);
    assert.doesNotMatch(second.stdout, /changed:/);
  } finally {
    fs.rmSync(t.dir, { recursive: true, force: true });
  }
});

test("a brick of a volume the pool knows keeps its mark", { skip: process.getuid?.() !== 0 && "needs root" }, () => {
  const t = setup();
  try {
    t.setMark(KNOWN_HEX);
    const r = t.run();
    assert.equal(r.status, 0, r.stderr);
    assert.doesNotMatch(r.stdout, /changed:/);
    assert.equal(t.mark(), KNOWN_HEX);
  } finally {
    fs.rmSync(t.dir, { recursive: true, force: true });
  }
});

test("a brick holding files is never touched, and the deploy stops with what to do", { skip: process.getuid?.() !== 0 && "needs root" }, () => {
  const t = setup();
  try {
    t.setMark(STALE_HEX);
    fs.mkdirSync(path.join(t.brick, "project-1"));
    fs.writeFileSync(path.join(t.brick, "project-1", "0.img"), "data");
    const r = t.run();
    assert.equal(r.status, 1);
    assert.match(r.stderr, /belongs to volume ID aabbccdd-eeff-0011-2233-445566778899, which this pool does not know, and holds files; glustermesh will not touch it/);
    assert.equal(t.mark(), STALE_HEX);
    assert.equal(fs.readFileSync(path.join(t.brick, "project-1", "0.img"), "utf8"), "data");
  } finally {
    fs.rmSync(t.dir, { recursive: true, force: true });
  }
});

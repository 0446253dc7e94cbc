// `glustermesh render --out DIR` never removes what it did not write, and every output problem
// is one line and exit 1, never a stack trace or a hang. No tmpfs: read-only comes from a
// read-only bind mount in a private mount namespace (as root) or a chmod'ed folder (otherwise),
// a full disk from a file size limit (prlimit), and /proc and /sys refuse new folders.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { MARKER } from "../../cli/outdir";

const root = path.join(__dirname, "..", "..");
const bin = path.join(root, "bin", "glustermesh");
const isRoot = process.getuid?.() === 0;
// as root, chmod does not stop writes: read-only needs a bind mount in a mount namespace of its own
const noReadOnly = isRoot && spawnSync("unshare", ["-m", "true"]).status !== 0 ? "needs unshare -m (a private mount namespace) as root" : false;

function run(argv: string[], opts: { prefix?: string[] } = {}) {
  const cmd = [...(opts.prefix ?? []), bin, ...argv];
  const r = spawnSync(cmd[0], cmd.slice(1), { cwd: root, encoding: "utf8", timeout: 60_000, env: { ...process.env, TSX_DISABLE_CACHE: "1" } });
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

const render = (out: string, dc = "padelford", prefix?: string[]) => run(["render", "--stack", dc, "--out", out], { prefix });

/** Run `fn` in a new temporary folder, removed after. */
function inTmp(fn: (d: string) => void): void {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "gm-out-"));
  try {
    fn(d);
  } finally {
    fs.chmodSync(d, 0o755);
    fs.rmSync(d, { recursive: true, force: true });
  }
}

/** Every path below `dir` with its content ("/" for a folder). */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) {
        out[path.relative(dir, p) + "/"] = "/";
        walk(p);
      } else out[path.relative(dir, p)] = fs.readFileSync(p, "utf8");
    }
  };
  walk(dir);
  return out;
}

/** One line on stderr naming `what`, exit 1, nothing on stdout, no stack trace. */
function assertOneLine(r: ReturnType<typeof run>, what: RegExp): void {
  assert.equal(r.code, 1, `${r.stdout}${r.stderr}`);
  assert.equal(r.stdout, "");
  assert.equal(r.stderr.trimEnd().split("\n").length, 1, r.stderr);
  assert.match(r.stderr, /^glustermesh render: /);
  assert.match(r.stderr, what);
}

test("a new folder (parents too) is made and marked; a folder of someone else's is refused and left as it was", () =>
  inTmp((d) => {
    const r = render(path.join(d, "a", "b"));
    assert.equal(r.code, 0, r.stderr);
    assert.match(fs.readFileSync(path.join(d, "a", "b", MARKER), "utf8"), /^# glustermesh render: .*\n"cloud1\/"\n/);
    const mine = path.join(d, "mine");
    fs.mkdirSync(path.join(mine, "sub"), { recursive: true });
    fs.writeFileSync(path.join(mine, "notes.txt"), "keep me");
    fs.writeFileSync(path.join(mine, "sub", "cloud1"), "and me");
    const before = snapshot(mine);
    const refused = render(mine);
    assertOneLine(refused, new RegExp(`${mine} holds files that render did not write \\(it has no ${MARKER}\\), so nothing was changed there: give --out a new or empty folder, or one an earlier render made`));
    assert.deepEqual(snapshot(mine), before);
    const empty = path.join(d, "empty");
    fs.mkdirSync(empty);
    assert.equal(render(empty).code, 0);
  }));

test("a re-run replaces only what render wrote: files added by hand stay, files of nodes gone go", () =>
  inTmp((d) => {
    const out = path.join(d, "out");
    assert.equal(render(out).code, 0);
    const conf = path.join(out, "cloud3", "files", "etc", "tinc", "glustermesh", "tinc.conf");
    const rendered = fs.readFileSync(conf, "utf8");
    fs.writeFileSync(conf, "edited by hand");
    fs.writeFileSync(path.join(out, "cloud1", "notes.txt"), "mine");
    fs.mkdirSync(path.join(out, "review"));
    fs.writeFileSync(path.join(out, "review", "todo"), "mine too");
    const again = render(out);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(fs.readFileSync(conf, "utf8"), rendered);
    assert.equal(fs.readFileSync(path.join(out, "cloud1", "notes.txt"), "utf8"), "mine");
    assert.equal(fs.readFileSync(path.join(out, "review", "todo"), "utf8"), "mine too");
    // another DC into the same folder: padelford's nodes go, except cloud1 which holds a file of ours
    assert.equal(render(out, "gce-central-1").code, 0);
    assert.deepEqual(fs.readdirSync(out).sort(), [MARKER, "cloud1", "gcecentral1", "gcecentral2", "gcecentral3", "gcecentral4", "review"]);
    assert.deepEqual(fs.readdirSync(path.join(out, "cloud1")), ["notes.txt"]);
    assert.equal(fs.readFileSync(path.join(out, "review", "todo"), "utf8"), "mine too");
  }));

test("a re-run never removes through a link put in place of a folder render made", () =>
  inTmp((d) => {
    const out = path.join(d, "out");
    assert.equal(render(out, "gce-central-1").code, 0);
    const theirs = path.join(d, "theirs");
    fs.cpSync(path.join(out, "gcecentral1", "files"), theirs, { recursive: true });
    const before = snapshot(theirs);
    assert.ok(Object.keys(before).length > 5);
    fs.rmSync(path.join(out, "gcecentral1", "files"), { recursive: true });
    fs.symlinkSync(theirs, path.join(out, "gcecentral1", "files"));
    assert.equal(render(out).code, 0);
    assert.deepEqual(snapshot(theirs), before);
  }));

test("a path render would write that it did not write is in the way: nothing changes", () =>
  inTmp((d) => {
    assert.equal(render(d, "gce-central-1").code, 0);
    fs.writeFileSync(path.join(d, "cloud1"), "a file of mine where padelford's cloud1 folder goes");
    const before = snapshot(d);
    assertOneLine(render(d), new RegExp(`${d}/cloud1 is in the way: render did not write it \\(move it away, or give --out another folder\\); nothing was changed`));
    assert.deepEqual(snapshot(d), before);
    // a marker that is not render's list: refused, nothing removed
    fs.rmSync(path.join(d, "cloud1"));
    fs.writeFileSync(path.join(d, MARKER), `${fs.readFileSync(path.join(d, MARKER), "utf8")}"../../etc/passwd"\n`);
    const forged = snapshot(d);
    assertOneLine(render(d), new RegExp(`${d}/${MARKER} is not a list render wrote \\(line \\d+\\), so nothing was changed: remove the folder yourself, or give --out another folder`));
    assert.deepEqual(snapshot(d), forged);
  }));

test("--out a file, or under a file: one line, the file untouched", () =>
  inTmp((d) => {
    const file = path.join(d, "file");
    fs.writeFileSync(file, "precious");
    assertOneLine(render(file), new RegExp(`cannot render into ${file}: it is a file, not a folder`));
    assertOneLine(render(path.join(file, "sub")), new RegExp(`cannot make ${file}/sub: ${file} is a file, not a folder`));
    assert.equal(fs.readFileSync(file, "utf8"), "precious");
  }));

test("--out where the file system takes no folders (/proc, /sys): one line at once, no spin", () => {
  const t = Date.now();
  assertOneLine(render("/proc/x"), /^glustermesh render: cannot make folder \/proc\/x: the file system there takes no new folders \(ENOENT\)$/m);
  assertOneLine(render("/proc/x/y/z"), /cannot make folder \/proc\/x: the file system there takes no new folders/);
  assertOneLine(render("/sys/x"), /^glustermesh render: cannot make folder \/sys\/x: operation not permitted \(EPERM\)$/m);
  assert.ok(Date.now() - t < 30_000, `took ${Date.now() - t} ms`);
});

test("a read-only folder: one line naming the path and the cause, exit 1", { skip: noReadOnly }, () =>
  inTmp((d) => {
    const out = path.join(d, "out");
    if (isRoot) {
      const sh = `mount --bind "$1" "$1" && mount -o remount,ro,bind "$1" "$1" && shift && exec "$@"`;
      const r = render(out, "padelford", ["unshare", "-m", "--propagation", "private", "sh", "-c", sh, "sh", d]);
      assertOneLine(r, new RegExp(`^glustermesh render: cannot make folder ${out}: read-only file system \\(EROFS\\)$`, "m"));
    } else {
      fs.chmodSync(d, 0o555);
      assertOneLine(render(out), new RegExp(`^glustermesh render: cannot make folder ${out}: permission denied \\(EACCES\\)$`, "m"));
    }
    assert.deepEqual(fs.readdirSync(d), []);
  }));

test("a disk that fills up mid-way (a file size limit): one line, exit 1; the next run cleans up and completes", { skip: spawnSync("prlimit", ["--version"]).status === 0 ? false : "needs prlimit" }, () =>
  inTmp((d) => {
    const out = path.join(d, "out");
    // The CLI: its list of paths is the largest file, so it is the one that fails.
    const full = render(out, "padelford", ["prlimit", "--fsize=8192"]);
    assertOneLine(full, new RegExp(`^glustermesh render: cannot write ${out}/${MARKER}.new: file too large \\(EFBIG\\)$`, "m"));
    assert.equal(render(out).code, 0);
    // The writer: a file fails after the list is written; the next run removes the partial file.
    const writer = `require(${JSON.stringify(path.join(root, "cli", "outdir"))}).writeOutput(process.argv[1], [{ rel: "n/small", content: "s", mode: 0o644 }, { rel: "n/big", content: "x".repeat(100000), mode: 0o644 }])`;
    const part = path.join(d, "part");
    const r = spawnSync("prlimit", ["--fsize=50000", process.execPath, "--import", "tsx", "-e", writer, part], { cwd: root, encoding: "utf8", env: { ...process.env, TSX_DISABLE_CACHE: "1" } });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, new RegExp(`OutputError: cannot write ${part}/n/big: file too large \\(EFBIG\\)`));
    assert.equal(fs.statSync(path.join(part, "n", "big")).size, 50000);
    assert.equal(render(part).code, 0);
    assert.ok(!fs.existsSync(path.join(part, "n")), "the partial files render wrote are gone");
  }));

// The glustermesh command as a user runs it: exit codes, messages, no stack traces.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { filesWrittenBy } from "../../cli/render";

const root = path.join(__dirname, "..", "..");
const bin = path.join(root, "bin", "glustermesh");

function run(args: string[], cwd = root) {
  const r = spawnSync(bin, args, { cwd, encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function brokenInventory(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gm-inv-"));
  for (const f of fs.readdirSync(path.join(root, "inventory"))) fs.copyFileSync(path.join(root, "inventory", f), path.join(dir, f));
  const file = path.join(dir, "padelford.yaml");
  fs.writeFileSync(file, fs.readFileSync(file, "utf8").replace("- [cloud5, cloud6]", "- [cloud5, cloud5]").replace("cloud2: {", "cloud2: { bogus: 1,"));
  return dir;
}

test("validate: the real inventory is valid and its replica-2 warnings are printed", () => {
  const r = run(["validate"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /inventory valid: 4 data centers \(4545, gce-central-1, gce-europe-1, padelford\), 26 nodes, 4 volumes, 27 bricks, 3 warnings/);
  assert.match(r.stderr, /warning: padelford\/projects: .*FIRST brick of a pair \(cloud1, cloud2, cloud5, cloud7\)/);
  assert.doesNotMatch(r.stderr, /gce-europe-1\/projects/);
});

test("validate: a broken inventory lists every problem located, exits 1, no stack trace", () => {
  const dir = brokenInventory();
  try {
    const r = run(["validate", "--inventory", dir]);
    assert.equal(r.code, 1);
    const lines = r.stderr.trim().split("\n");
    assert.match(lines[0], /padelford\.yaml:\d+:\d+: nodes\.cloud2\.bogus: unknown field "bogus"/);
    assert.match(r.stderr, /padelford\.yaml:\d+:\d+: volumes\.projects\.replicaSets\[2\]\[1\]: replica set 3 has two bricks on node cloud5/);
    assert.match(r.stderr, /2 problems in .*; nothing was changed\./);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("bad usage exits 2 with the usage text", () => {
  for (const [args, usage] of [
    [["frobnicate"], "COMMAND"],
    [[], "COMMAND"],
    [["render", "--stack", "padelford"], "render"],
    [["validate", "--nope"], "validate"],
    [["render", "--stack", "nowhere", "--out", "/tmp/x"], "render"],
  ] as const) {
    const r = run([...args]);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`usage: glustermesh ${usage}`));
    assert.equal(r.stdout, "");
  }
});

// One convention for every subcommand (cli/args.ts): usage errors exit 2 with the command's
// usage on stderr; a one-value flag given twice is an error; --help and -h print it on stdout.
test("every subcommand: usage errors exit 2 with its usage on stderr, --help and -h exit 0 with it on stdout", () => {
  const commands: Record<string, { ok: string[]; once: string }> = {
    validate: { ok: [], once: "--inventory" },
    render: { ok: ["--stack", "padelford", "--out", "/nonexistent/x"], once: "--inventory" },
    plan: { ok: ["--stack", "padelford"], once: "--base" },
    drift: { ok: ["--stack", "padelford"], once: "--timeout" },
    sync: { ok: ["/nonexistent/a", "/nonexistent/b"], once: "--concurrency" },
  };
  for (const [cmd, { ok, once }] of Object.entries(commands)) {
    const usage = new RegExp(`^usage: glustermesh ${cmd}\\b`, "m");
    for (const help of [["--help"], ["-h"], [...ok, "--help"]]) {
      const r = run([cmd, ...help]);
      assert.equal(r.code, 0, `${cmd} ${help.join(" ")}: ${r.stderr}`);
      assert.match(r.stdout, usage);
      assert.equal(r.stderr, "");
    }
    const helpCmd = run(["help", cmd]);
    assert.equal(helpCmd.code, 0);
    assert.match(helpCmd.stdout, usage);
    for (const bad of [
      [...ok, "--no-such-flag"],
      [...ok, "-x"],
      [...ok, once],
      [...ok, once, "1", once, "2"],
      [...ok, "extra-argument", "another"],
      ...(ok.length ? [[ok[ok.length - 1]], []] : []),
    ]) {
      const r = run([cmd, ...bad]);
      assert.equal(r.code, 2, `${cmd} ${bad.join(" ")}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, usage, `${cmd} ${bad.join(" ")}`);
      assert.match(r.stderr, /^glustermesh(-sync| \w+): \S/, `${cmd} ${bad.join(" ")}`);
      assert.doesNotMatch(r.stderr, /\n\s+at /);
      if (bad.filter((a) => a === once).length === 2) assert.match(r.stderr, new RegExp(`${once} given twice \\(1 and 2\\)`));
    }
  }
});

test("drift's documented repeatable flags may be given twice; a bad value exits 2", () => {
  const r = run(["drift", "--stack", "nowhere", "--address", "a=1", "--address", "b=2", "--ssh-option", "A=1", "--ssh-option", "B=2"]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /^glustermesh drift: no data center "nowhere" in the inventory/);
  const t = run(["drift", "--stack", "padelford", "--timeout", "soon"]);
  assert.equal(t.code, 2);
  assert.match(t.stderr, /--timeout must be a number of seconds above 0 \(got soon\)/);
});

test("render writes every script and file per node, files identical to what the scripts write", () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), "gm-render-"));
  try {
    const r = run(["render", "--stack", "padelford", "--out", out]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(fs.readdirSync(out).sort(), [".glustermesh-render", "cloud1", "cloud2", "cloud3", "cloud4", "cloud5", "cloud6", "cloud7"]);
    const scripts = fs.readdirSync(path.join(out, "cloud3", "scripts"));
    assert.ok(scripts.some((s) => /-mesh-cloud3-config\.sh$/.test(s)), scripts.join(" "));
    const conf = fs.readFileSync(path.join(out, "cloud3", "files", "etc", "tinc", "glustermesh", "tinc.conf"), "utf8");
    assert.match(conf, /^Name = cloud3$/m);
    const unit = fs.readFileSync(path.join(out, "cloud3", "files", "etc", "systemd", "system", "mnt-gluster-gce\\x2dcentral\\x2d1-projects.mount"), "utf8");
    assert.match(unit, /^What=10\.1\.40\.1:\/projects$/m);
    assert.match(unit, /^Options=_netdev,backup-volfile-servers=10\.1\.40\.2:10\.1\.40\.3:10\.1\.40\.4,/m);
    const cfgScript = scripts.find((s) => s.endsWith("-mesh-cloud3-config.sh"))!;
    const written = filesWrittenBy(fs.readFileSync(path.join(out, "cloud3", "scripts", cfgScript), "utf8"));
    assert.ok(written.length >= 26 + 3, `tinc.conf, tinc-up, tinc-down and a host file per node: got ${written.length}`);
    for (const f of written) assert.equal(fs.readFileSync(path.join(out, "cloud3", "files", f.path), "utf8"), f.content);
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});

test("render of a gce data center: each brick disk's script first on its node, formatting only a blank disk", () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), "gm-render-"));
  try {
    const r = run(["render", "--stack", "gce-central-1", "--out", out]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(fs.readdirSync(out).sort(), [".glustermesh-render", "gcecentral1", "gcecentral2", "gcecentral3", "gcecentral4"]);
    for (const [node, set] of [["gcecentral1", 1], ["gcecentral2", 1], ["gcecentral3", 2], ["gcecentral4", 2]] as const) {
      const scripts = fs.readdirSync(path.join(out, node, "scripts")).sort();
      assert.equal(scripts[0], `01-disk-${node}-projects-set${set}.sh`, scripts.join(" "));
      const disk = fs.readFileSync(path.join(out, node, "scripts", scripts[0]), "utf8");
      assert.match(disk, /^dev=\/dev\/disk\/by-id\/google-gm-projects-set\d$/m);
      assert.match(disk, /^mp=\/srv\/gluster$/m, "the disk is mounted at the brick's parent; the brick is a directory on it");
      assert.match(disk, /mkfs\.xfs -q -i size=512 "\$real"/);
      assert.doesNotMatch(disk, /mkfs\.xfs[^\n]* -f/, "never forced");
    }
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});

// Every host script of every step, of the real inventory and the fixture, passes shellcheck and
// the project's own invariants: strict mode, --mode=script on every gluster command, never force,
// nothing that deletes a volume or a brick.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { tincDown, tincUp } from "../../render/tinc";
import { brickCheckScript, glusterdFirewallCheckScript, glusterdMeshWaitScript } from "../../render/gluster";
import { driftRead } from "../../render/access";
import { dcSteps, glusterdMeshArgs, nodeBricks } from "../../render/steps";
import { rebalanceCheckScript } from "../../render/rebalance";
import { allSteps, fakeFacts, models, ownFacts, scriptOf, tmpdir } from "./helpers";

interface Rendered {
  label: string;
  text: string;
  /** Brick paths of the model the script came from. */
  brickPaths: string[];
}

function renderAll(): { bash: Rendered[]; sh: Rendered[]; hostScripts: Rendered[] } {
  const bash: Rendered[] = [];
  const sh: Rendered[] = [];
  // scripts installed on the hosts and run by systemd (not steps: no strict mode, they never fail)
  const hostScripts: Rendered[] = [];
  for (const { label, model } of models()) {
    const facts = fakeFacts(model);
    const brickPaths = [...new Set(model.dcs.flatMap((d) => d.volumes.flatMap((v) => v.replicaSets.flatMap((s) => s.bricks.map((b) => b.path)))))];
    for (const step of allSteps(model)) {
      const text = scriptOf(step, facts);
      if (text !== undefined) bash.push({ label: `${label}:${step.name}`, text, brickPaths });
    }
    // and as a DC's first deploy renders them, knowing only its own nodes (no other DC deployed)
    for (const dc of model.dcs) {
      const first = ownFacts(model, dc.name, facts);
      for (const step of dcSteps(model, dc.name)) {
        const text = scriptOf(step, first);
        if (text !== undefined && text !== scriptOf(step, facts)) bash.push({ label: `${label}:first-deploy:${step.name}`, text, brickPaths });
      }
    }
    for (const n of model.nodes) {
      sh.push({ label: `${label}:${n.name}/tinc-up`, text: tincUp({ tinc: n.tinc, prefix: model.mesh.prefix }), brickPaths });
      sh.push({ label: `${label}:${n.name}/tinc-down`, text: tincDown({ tinc: n.tinc, prefix: model.mesh.prefix }), brickPaths });
    }
    for (const dc of model.dcs) {
      for (const n of dc.storageNodes) {
        hostScripts.push({ label: `${label}:${n.name}/glusterd-wait-for-mesh`, text: glusterdMeshWaitScript(glusterdMeshArgs(model, n)), brickPaths });
        hostScripts.push({ label: `${label}:${n.name}/glusterd-firewall-check`, text: glusterdFirewallCheckScript(), brickPaths });
        hostScripts.push({ label: `${label}:${n.name}/drift-read`, text: driftRead(), brickPaths });
        const bricks = nodeBricks(dc, n);
        if (bricks.length) hostScripts.push({ label: `${label}:${n.name}/brick-check`, text: brickCheckScript({ node: n.name, bricks }), brickPaths });
      }
      // the same text on every lead of a volume of 2 or more replica sets
      if (dc.volumes.some((v) => v.replicaSets.length >= 2)) hostScripts.push({ label: `${label}:${dc.name}/rebalance-check`, text: rebalanceCheckScript(), brickPaths });
    }
  }
  return { bash, sh, hostScripts };
}

/** shellcheck over many files, one call per core (each with many files); findings prefixed with the script's label. */
async function shellcheck(scripts: Rendered[], shell: "bash" | "sh"): Promise<{ status: number; findings: string[] }> {
  const dir = tmpdir(`sc-${shell}`);
  const files = scripts.map((s, i) => {
    const f = path.join(dir, `${String(i).padStart(4, "0")}.${shell}`);
    fs.writeFileSync(f, s.text);
    return f;
  });
  const chunks = Math.max(1, Math.min(os.availableParallelism(), files.length));
  const runs = await Promise.all(
    Array.from({ length: chunks }, (_, c) => files.filter((_, i) => i % chunks === c)).map(
      (part) =>
        new Promise<{ status: number; out: string }>((resolve, reject) => {
          const child = spawn("shellcheck", ["-s", shell, "-f", "gcc", ...part]);
          let out = "";
          child.stdout.on("data", (d) => (out += d));
          child.stderr.on("data", (d) => (out += d));
          child.on("error", reject);
          child.on("close", (code) => resolve({ status: code ?? -1, out }));
        }),
    ),
  );
  const findings = runs
    .flatMap((r) => r.out.split("\n"))
    .filter(Boolean)
    .map((line) => {
      const i = files.findIndex((f) => line.startsWith(f + ":"));
      return i < 0 ? line : `${scripts[i].label}${line.slice(files[i].length)}`;
    })
    .sort();
  fs.rmSync(dir, { recursive: true, force: true });
  return { status: Math.max(...runs.map((r) => r.status)), findings };
}

/** Lines that run something: no comments, no messages (echo/printf/changed), no heredoc bodies (file contents). */
export function codeLines(text: string): string[] {
  const out: string[] = [];
  let heredocEnd: string | undefined;
  for (const line of text.split("\n")) {
    if (heredocEnd !== undefined) {
      if (line === heredocEnd) heredocEnd = undefined;
      continue;
    }
    const m = /<<-?\s*'?([A-Za-z_][A-Za-z0-9_]*)'?/.exec(line);
    if (m) heredocEnd = m[1];
    const t = line.trim();
    if (t === "" || t.startsWith("#") || /^(echo|printf|changed)\b/.test(t)) continue;
    out.push(line);
  }
  return out;
}

/**
 * The unit files a script may remove: `$sync_unit`, set only by a loop over
 * /etc/systemd/system/glustermesh-sync-*, and `$mount_unit`, only by a loop over
 * /etc/systemd/system/mnt-gluster-*.mount (our units the inventory no longer declares).
 */
const UNIT_LOOPS: Record<string, string> = { sync_unit: "/etc/systemd/system/glustermesh-sync-", mount_unit: "/etc/systemd/system/mnt-gluster-" };
function unitVarOnlyFromGlob(text: string, name: string): boolean {
  const sets = [...text.matchAll(new RegExp(`\\b${name}=|\\bfor ${name} in ([^;\\n]*)`, "g"))];
  return sets.length === 1 && sets[0][1] !== undefined && sets[0][1].split(/\s+/).every((w) => w.startsWith(UNIT_LOOPS[name]));
}

/** What is wrong with one rendered bash script, by the project's rules. */
export function scriptProblems(text: string, brickPaths: string[]): string[] {
  const problems: string[] = [];
  if (!text.startsWith("#!/bin/bash\n")) problems.push("does not start with #!/bin/bash");
  if (!/^set -euo pipefail$/m.test(text)) problems.push("lacks set -euo pipefail");
  const code = codeLines(text);
  for (const line of code) {
    for (const m of line.matchAll(/(?<![\w./$-])gluster(?=\s)/g)) {
      if (!line.slice(m.index).startsWith("gluster --mode=script ")) problems.push(`gluster without --mode=script: ${line.trim()}`);
    }
    if (/\bforce\b/.test(line)) problems.push(`force: ${line.trim()}`);
    for (const rm of line.matchAll(/\brm\s+([^;&|)]*)/g)) {
      // The only removals allowed: a script's own temp file or temp dir, and a sync or mount unit
      // file of ours that the inventory no longer declares (UNIT_LOOPS).
      const target = rm[1].trim().replace(/'? EXIT$/, "");
      const unitVar = /^-f "\$(sync_unit|mount_unit)"$/.exec(target)?.[1];
      if (unitVar !== undefined && unitVarOnlyFromGlob(text, unitVar)) continue;
      if (!/^(-f|-rf) "\$tmp"'?\s*$/.test(target)) problems.push(`rm of something else than $tmp: ${line.trim()}`);
    }
  }
  // Anywhere, messages included: only "without force" / "with force" may mention it (explaining we never use it).
  for (const m of text.matchAll(/\bforce\b/g)) {
    if (!/\bwith(out)? $/.test(text.slice(Math.max(0, m.index - 8), m.index))) problems.push(`the word force outside a "without force" explanation at offset ${m.index}`);
  }
  for (const bad of ["volume delete", "remove-brick", "replace-brick", "reset-brick", "volume stop"]) {
    if (text.includes(bad)) problems.push(`mentions ${bad}`);
  }
  for (const line of code) {
    if (/\b(rm|rmdir|mkfs(\.\w+)?|wipefs|shred|dd)\b/.test(line) && (brickPaths.some((p) => line.includes(p)) || /\$\{?brick\b/.test(line))) {
      problems.push(`destructive command on a brick path: ${line.trim()}`);
    }
  }
  return problems;
}

const rendered = renderAll();

test("every step script of every DC (real inventory and fixture) passes shellcheck -s bash", async () => {
  assert.ok(rendered.bash.length > 300, `only ${rendered.bash.length} scripts`);
  // Every kind of step is among them.
  for (const kind of ["/host/", "/mesh/", "/gluster/", "/cluster/probe/", "/create/", "/add-brick/", "/start", "/options", "/rebalance", "/mount/", "/sync/"]) {
    assert.ok(rendered.bash.some((s) => s.label.includes(kind)), kind);
  }
  assert.ok(rendered.bash.some((s) => s.label.includes(":first-deploy:") && s.label.includes("/mount/")), "a first deploy's mount of another DC");
  const r = await shellcheck(rendered.bash, "bash");
  assert.deepEqual(r.findings, []);
  assert.equal(r.status, 0);
});

test("tinc-up and tinc-down of every node pass shellcheck -s sh", async () => {
  for (const s of rendered.sh) assert.ok(s.text.startsWith("#!/bin/sh\n"), s.label);
  const r = await shellcheck(rendered.sh, "sh");
  assert.deepEqual(r.findings, []);
  assert.equal(r.status, 0);
});

test("the scripts systemd runs on storage nodes (glusterd's wait for the mesh, the brick check, the rebalance check) pass shellcheck -s bash", async () => {
  assert.ok(rendered.hostScripts.length > 10, `only ${rendered.hostScripts.length} scripts`);
  assert.ok(rendered.hostScripts.some((s) => s.label.endsWith("/brick-check")) && rendered.hostScripts.some((s) => s.label.endsWith("/glusterd-wait-for-mesh")));
  assert.ok(rendered.hostScripts.some((s) => s.label.endsWith("/rebalance-check")));
  const r = await shellcheck(rendered.hostScripts, "bash");
  assert.deepEqual(r.findings, []);
  assert.equal(r.status, 0);
});

test("the shellcheck harness reports findings (it can fail)", async () => {
  const r = await shellcheck([{ label: "bad", text: '#!/bin/bash\nset -euo pipefail\nx="a b"\nls $x\n', brickPaths: [] }], "bash");
  assert.notEqual(r.status, 0);
  assert.ok(r.findings.some((f) => f.startsWith("bad:4:") && f.includes("SC2086")), r.findings.join("\n"));
});

test("invariants hold for every rendered script", () => {
  const bad = rendered.bash.flatMap((s) => scriptProblems(s.text, s.brickPaths).map((p) => `${s.label}: ${p}`));
  assert.deepEqual(bad, []);
  // The gluster scripts do run gluster, always in script mode.
  const glusterRuns = rendered.bash.flatMap((s) => codeLines(s.text)).filter((l) => l.includes("gluster --mode=script "));
  assert.ok(glusterRuns.some((l) => / volume create /.test(l)) && glusterRuns.some((l) => / volume add-brick \S+ replica 2 /.test(l)) && glusterRuns.some((l) => / volume create \S+ replica 3 arbiter 1 /.test(l)));
});

test("the invariant checker catches each kind of violation", () => {
  const ok = "#!/bin/bash\n# glustermesh: x\nset -euo pipefail\n";
  const cases: Array<[string, string, string[]]> = [
    ["no shebang", "set -euo pipefail\n", ["does not start with #!/bin/bash"]],
    ["no strict mode", "#!/bin/bash\nset -e\n", ["lacks set -euo pipefail"]],
    ["bare gluster", `${ok}gluster volume start v\n`, ["gluster without --mode=script"]],
    ["gluster in a substitution", `${ok}x=$(gluster volume info v)\n`, ["gluster without --mode=script"]],
    ["force", `${ok}gluster --mode=script volume create v replica 2 a:/b c:/d force\n`, ["force", "the word force"]],
    ["volume delete", `${ok}gluster --mode=script volume delete v\n`, ["mentions volume delete"]],
    ["remove-brick", `${ok}gluster --mode=script volume remove-brick v a:/b start\n`, ["mentions remove-brick"]],
    ["rm -rf of a brick", `${ok}rm -rf /srv/gluster/data\n`, ["rm of something else", "destructive command on a brick path"]],
    ["rm -rf $brick", `${ok}rm -rf "$brick"\n`, ["rm of something else", "destructive command on a brick path"]],
    ["rm of $sync_unit set elsewhere", `${ok}sync_unit=/etc/fstab\nrm -f "$sync_unit"\n`, ["rm of something else"]],
    ["rm of $sync_unit from a wider glob", `${ok}for sync_unit in /etc/systemd/system/*; do rm -f "$sync_unit"; done\n`, ["rm of something else"]],
    ["rm of $mount_unit set elsewhere", `${ok}mount_unit=/etc/fstab\nrm -f "$mount_unit"\n`, ["rm of something else"]],
    ["rm of $mount_unit from a wider glob", `${ok}for mount_unit in /etc/systemd/system/*.mount; do rm -f "$mount_unit"; done\n`, ["rm of something else"]],
    ["rm of $mount_unit from our glob", `${ok}for mount_unit in /etc/systemd/system/mnt-gluster-*.mount; do rm -f "$mount_unit"; done\n`, []],
  ];
  for (const [name, text, expected] of cases) {
    const got = scriptProblems(text, ["/srv/gluster/data"]);
    assert.equal(got.length, expected.length, `${name}: ${JSON.stringify(got)}`);
    expected.forEach((e, i) => assert.ok(got[i].startsWith(e), `${name}: ${got[i]} should start with ${e}`));
  }
  // Messages and file contents are not commands.
  assert.deepEqual(scriptProblems(`${ok}echo "gluster refuses that without force"\nput_file x <<'EOF'\nDescription=gluster volume v\nEOF\n`, []), []);
});

test("every host script file in render/files passes shellcheck as source; every variable its header brings is listed on its Data line", () => {
  const dir = path.join(__dirname, "..", "..", "render", "files");
  const files = fs.readdirSync(dir).sort();
  assert.ok(files.length >= 4, files.join(" "));
  for (const f of files) {
    const file = path.join(dir, f);
    const clean = spawnSync("shellcheck", ["-s", "bash", "-e", "SC2154", file], { encoding: "utf8" });
    assert.equal(clean.status, 0, `${f}:\n${clean.stdout}${clean.stderr}`);
    // with SC2154 on: exactly the variables the data header brings are referenced but not assigned
    const r = spawnSync("shellcheck", ["-s", "bash", "-f", "json1", file], { encoding: "utf8" });
    const unassigned = new Set<string>((JSON.parse(r.stdout).comments as Array<{ code: number; message: string }>).filter((c) => c.code === 2154).map((c) => c.message.split(" ")[0]));
    const text = fs.readFileSync(file, "utf8");
    const listed = /^# Data: ([A-Z0-9_, ]+)\.$/m.exec(text)?.[1].split(", ") ?? [];
    for (const v of unassigned) assert.ok(listed.includes(v), `${f} uses $${v}, which its # Data: line does not list`);
    const rest = text.replace(/^# Data: .*$/m, "");
    for (const v of listed) assert.match(rest, new RegExp(`\\b${v}\\b`), `${f} lists ${v} but never uses it`);
  }
});

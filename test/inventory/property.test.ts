// What validate accepts, render renders: thousands of random valid inventories render every DC
// without an internal error; random brick layouts that clash are either refused by validate or
// rendered; and a corpus of hostile strings in every string (and name) of an inventory is either
// refused with file and line, or every script rendered from it still parses under bash.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse, stringify } from "yaml";
import { fieldName, formatProblems, validateTexts, type LoadResult } from "../../model/load";
import { buildModel, type Model } from "../../model/model";
import { orderSteps, stackSteps } from "../../render/steps";
import { placeholderFacts } from "../../cli/render";
import { randomInventory } from "./generate";
import { EAST, FIXTURE_DIR, MESH, WEST } from "./fixtures";

const RANDOM_VALID = 2500;
const RANDOM_LOOSE = 1000;
const DIR = "/random";

/** Every script of every DC, as `glustermesh render` makes them (throws what render would throw). */
function renderAll(model: Model): string[] {
  const facts = placeholderFacts(model);
  const out: string[] = [];
  for (const dc of model.dcs) {
    for (const step of orderSteps(stackSteps(model, dc.name))) {
      if (step.kind !== "command") continue;
      out.push(typeof step.script === "string" ? step.script : step.script(facts));
    }
  }
  return out;
}

function show(texts: Record<string, string>, r: LoadResult): string {
  return `${r.ok ? "" : formatProblems(r.problems, DIR)}\n${Object.entries(texts).map(([f, t]) => `--- ${f}\n${t}`).join("")}`;
}

/** bash -n on each script not checked before; returns the failures. One bash runs them all. */
const checked = new Set<string>();
function bashSyntax(scripts: string[]): string[] {
  const fresh = [...new Map(scripts.map((s) => [createHash("sha256").update(s).digest("hex"), s])).entries()].filter(([h]) => !checked.has(h));
  if (fresh.length === 0) return [];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gm-property-"));
  try {
    const files = fresh.map(([h, s]) => {
      const f = path.join(dir, `${h}.sh`);
      fs.writeFileSync(f, s);
      return f;
    });
    const r = spawnSync("bash", ["-c", 'for f; do bash -n "$f" 2>&1 || echo "FAILED $f"; done', "_", ...files], { encoding: "utf8", maxBuffer: 1 << 26 });
    for (const [h] of fresh) checked.add(h);
    const failed = [...r.stdout.matchAll(/^FAILED (.*)$/gm)].map((m) => `${r.stdout}\n${fs.readFileSync(m[1], "utf8")}`);
    return r.status === 0 ? failed : [`bash: ${r.stderr}`];
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test(`${RANDOM_VALID} random valid inventories validate and render every DC; a sample's scripts parse under bash`, () => {
  const shapes = { metal: 0, gce: 0, replica2: 0, arbiter: 0, replica3: 0, nodeWithSeveralBricks: 0, options: 0 };
  for (let seed = 1; seed <= RANDOM_VALID; seed++) {
    const texts = randomInventory(seed);
    const r = validateTexts(DIR, texts);
    assert.ok(r.ok, `seed ${seed}: a valid inventory was refused:${show(texts, r)}`);
    const model = buildModel(r.inventory);
    let scripts: string[] = [];
    assert.doesNotThrow(() => (scripts = renderAll(model)), `seed ${seed}: render failed:${show(texts, r)}`);
    if (seed <= 15) assert.deepEqual(bashSyntax(scripts), [], `seed ${seed}`);
    for (const dc of model.dcs) {
      shapes[dc.provider]++;
      for (const v of dc.volumes) {
        shapes[v.arbiter ? "arbiter" : v.replica === 3 ? "replica3" : "replica2"]++;
        const bricks = v.replicaSets.flatMap((s) => s.bricks.map((b) => b.node));
        if (new Set(bricks).size < bricks.length) shapes.nodeWithSeveralBricks++;
        if (v.options.length > 2) shapes.options++;
      }
    }
  }
  // the generator reaches every shape, many times
  for (const [shape, n] of Object.entries(shapes)) assert.ok(n >= 200, `only ${n} of shape ${shape}`);
});

test(`${RANDOM_LOOSE} random brick layouts (shared parents, nesting, /, system folders): validate refuses or render renders`, () => {
  let accepted = 0;
  let refused = 0;
  for (let seed = 1; seed <= RANDOM_LOOSE; seed++) {
    const texts = randomInventory(100_000 + seed, true);
    const r = validateTexts(DIR, texts);
    if (!r.ok) {
      refused++;
      assert.ok(r.problems.every((p) => p.line > 0), `seed ${seed}: a problem without a line:${show(texts, r)}`);
      continue;
    }
    accepted++;
    assert.doesNotThrow(() => renderAll(buildModel(r.inventory)), `seed ${seed}: validate accepted what render refused:${show(texts, r)}`);
  }
  assert.ok(accepted >= 100 && refused >= 100, `accepted ${accepted}, refused ${refused}: both sides are exercised`);
});

/** Quotes, substitutions, separators, the heredoc delimiters, control bytes, unicode, length. */
const HOSTILE = [
  "'", '"', "`id`", "$(touch /tmp/glustermesh-canary)", "${IFS}", "$HOME", "a;touch /tmp/c", "a && b", "a|sh", "\\", "\\'",
  "x\ny", "\nGLUSTERMESH_EOF\ntouch /tmp/c\n", "GLUSTERMESH_EOF", "OPTIONS", "\nOPTIONS\n", "\r", "\t", "\0", "\x1b[2J", "\x7f",
  "é", "\u202eevil", "\u2028", "💥", "*", "?", "[a]", "-rf", "--", " ", "", "%s%n", "!!", "#", "~root", "../../etc", "a=b c", "x".repeat(5000),
];

type Files = Record<string, unknown>;

/** The fixture, grown so that every kind of field holds a string: drift keys, ssh, gce labels, option forms. */
function hostileBase(): Files {
  const east = parse(EAST);
  east.nodes.east3.ssh = { host: "east3.example.org", port: 2222, hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB+x/y=" };
  east.volumes.data.replicaSets[0][1] = "east2:/srv/gluster/data";
  Object.assign(east.volumes.data.options, { "auth.reject": "192.0.2.*", "performance.cache-size": "64MB", "quick-read": "off" });
  const west = parse(WEST);
  Object.assign(west.gce, { image: "debian-cloud/debian-12", labels: { team: "storage" } });
  const mesh = parse(MESH);
  mesh.drift = { keys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDrift ci-drift"] };
  return { "mesh.yaml": mesh, "east.yaml": east, "west.yaml": west };
}

interface Mutation {
  file: string;
  /** The field the hostile string is in (or names), as problems name it; undefined: the file name. */
  field: string | undefined;
  files: Files;
}

/** Each string and each name of the base, replaced by `s` and with `s` appended. */
function* mutations(base: Files, s: string): Generator<Mutation> {
  for (const [file, doc] of Object.entries(base)) {
    for (const p of leaves(doc, [])) {
      for (const value of [s, `${p.value}${s}`]) {
        if (value === p.value) continue;
        // a renamed name is reported under its new name
        const field = fieldName(p.name ? [...p.path.slice(0, -1), value] : p.path);
        yield { file, field, files: { ...base, [file]: p.set(value) } };
      }
    }
    if (file !== "mesh.yaml") {
      const { [file]: body, ...rest } = base;
      yield { file: `${s}.yaml`, field: undefined, files: { ...rest, [`${s}.yaml`]: body } };
    }
  }
}

interface Leaf {
  path: (string | number)[];
  /** A key (a field's or an entry's name), not a value. */
  name: boolean;
  value: string;
  /** The whole document with this string (a value, or a key) replaced. */
  set: (v: string) => unknown;
}

function leaves(node: unknown, at: (string | number)[], rebuild: (n: unknown) => unknown = (n) => n): Leaf[] {
  if (typeof node === "string") return [{ path: at, name: false, value: node, set: (v) => rebuild(v) }];
  if (Array.isArray(node)) return node.flatMap((x, i) => leaves(x, [...at, i], (n) => rebuild(node.map((y, j) => (j === i ? n : y)))));
  if (typeof node !== "object" || node === null) return [];
  const entries = Object.entries(node);
  return entries.flatMap(([k, x], i) => {
    const withEntry = (key: string, n: unknown) => rebuild(Object.fromEntries(entries.map((e, j) => (j === i ? [key, n] : e))));
    const name: Leaf = { path: [...at, k], name: true, value: k, set: (v) => withEntry(v, x) };
    return [name, ...leaves(x, [...at, k], (n) => withEntry(k, n))];
  });
}

test("hostile strings in every string and name: refused with file and line, or every rendered script parses under bash", () => {
  const base = hostileBase();
  assert.ok(validateTexts(FIXTURE_DIR, texts(base)).ok, "the base is valid");
  let refused = 0;
  let accepted = 0;
  for (const s of HOSTILE) {
    for (const m of mutations(base, s)) {
      const t = texts(m.files);
      const r = validateTexts(FIXTURE_DIR, t);
      const label = `${JSON.stringify(s.slice(0, 40))} in ${m.file} ${m.field ?? "(file name)"}`;
      if (r.ok) {
        accepted++;
        let scripts: string[] = [];
        assert.doesNotThrow(() => (scripts = renderAll(buildModel(r.inventory))), `${label}: accepted, then render failed`);
        assert.deepEqual(bashSyntax(scripts), [], label);
        continue;
      }
      refused++;
      const file = path.join(FIXTURE_DIR, m.file);
      assert.ok(r.problems.every((p) => p.line > 0), `${label}: a problem without a line:\n${formatProblems(r.problems, FIXTURE_DIR)}`);
      assert.ok(r.problems.every((p) => !/[\x00-\x1f\x7f]/.test(p.field + p.message)), `${label}: a problem of more than one line`);
      // the field itself, a field in it, or (for a union such as sync) the field that holds it
      const related = (a: string, b: string) => a === b || a.startsWith(`${b}.`) || a.startsWith(`${b}[`);
      const here = r.problems.some((p) => p.file === file && (m.field === undefined || related(p.field, m.field) || (p.field !== "" && related(m.field, p.field))));
      assert.ok(here, `${label}: no problem names that field:\n${formatProblems(r.problems, FIXTURE_DIR)}`);
    }
  }
  console.log(`accepted ${accepted}, refused ${refused}, scripts checked ${checked.size}`);
  assert.ok(accepted > 50 && refused > 1000, `accepted ${accepted}, refused ${refused}`);
});

function texts(files: Files): Record<string, string> {
  return Object.fromEntries(Object.entries(files).map(([f, doc]) => [f, stringify(doc, { lineWidth: 0 })]));
}

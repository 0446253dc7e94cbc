// The one flag convention (cli/args.ts), as a unit.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { parseArgs, runCommand, UsageError, type CommandSpec } from "../../cli/args";

const SPEC: CommandSpec = {
  name: "demo",
  usage: "usage: glustermesh demo --stack DC [--opt X]... [--json] FILE",
  values: { stack: "DC", timeout: "S" },
  lists: { opt: "X" },
  switches: ["json"],
  required: ["stack"],
  positional: ["FILE"],
};

const parse = (...argv: string[]) => parseArgs(argv, SPEC);
const error = (...argv: string[]) => {
  try {
    parse(...argv);
  } catch (e) {
    assert.ok(e instanceof UsageError, String(e));
    return e.message;
  }
  assert.fail(`no usage error for ${argv.join(" ")}`);
};

test("values, lists, switches and positional arguments in any order; -- ends the flags", () => {
  const a = parse("f", "--stack", "x", "--opt=a", "--json", "--opt", "b=c", "--timeout=-1");
  assert.ok(a !== "help");
  assert.deepEqual(a.values, { stack: "x", timeout: "-1" });
  assert.deepEqual(a.lists, { opt: ["a", "b=c"] });
  assert.deepEqual([...a.switches], ["json"]);
  assert.deepEqual(a.positional, ["f"]);
  const b = parse("--stack", "x", "--", "--json");
  assert.ok(b !== "help");
  assert.deepEqual(b.positional, ["--json"]);
  assert.equal(b.switches.size, 0);
  assert.deepEqual((parse("--stack", "x", "-") as { positional: string[] }).positional, ["-"]);
});

test("usage errors: unknown, missing value, given twice, switch with a value, missing required, wrong arguments", () => {
  assert.equal(error("--stack", "x", "f", "--nope"), "unknown option --nope");
  assert.equal(error("--stack", "x", "f", "-n"), "unknown option -n");
  assert.equal(error("f", "--stack"), "--stack needs a value (--stack DC)");
  assert.equal(error("f", "--stack="), "--stack needs a value (--stack DC)");
  assert.equal(error("f", "--stack", "--json"), "--stack needs a value (--stack DC)");
  assert.equal(error("f", "--stack", "a", "--stack=b"), "--stack given twice (a and b): give it once");
  assert.equal(error("f", "--stack", "a", "--json=yes"), "--json takes no value");
  assert.equal(error("f"), "--stack DC is required");
  assert.equal(error(), "--stack DC and FILE are required");
  assert.equal(error("--stack", "a", "f", "g"), 'unexpected argument "g"');
});

test("--help or -h anywhere before --, whatever else is wrong", () => {
  assert.equal(parse("--help"), "help");
  assert.equal(parse("--nope", "-h"), "help");
  assert.notEqual(parse("--stack", "x", "--", "-h"), "help");
});

class Capture extends Writable {
  text = "";
  override _write(chunk: Buffer, _enc: string, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

test("runCommand: help on stdout exit 0; a usage error (from the parser or the command) on stderr with the usage, exit 2", async () => {
  const io = () => ({ stdout: new Capture(), stderr: new Capture() });
  const h = io();
  assert.equal(await runCommand(SPEC, ["-h"], () => 9, h), 0);
  assert.equal(h.stdout.text, `${SPEC.usage}\n`);
  assert.equal(h.stderr.text, "");
  const u = io();
  assert.equal(await runCommand(SPEC, ["--bad"], () => 9, u), 2);
  assert.equal(u.stderr.text, `glustermesh demo: unknown option --bad\n${SPEC.usage}\n`);
  assert.equal(u.stdout.text, "");
  const v = io();
  const code = await runCommand(SPEC, ["--stack", "x", "f"], () => {
    throw new UsageError("no data center x");
  }, v);
  assert.equal(code, 2);
  assert.match(v.stderr.text, /^glustermesh demo: no data center x\nusage:/);
  assert.equal(await runCommand(SPEC, ["--stack", "x", "f"], async (a) => (a.values.stack === "x" ? 7 : 0), io()), 7);
  await assert.rejects(runCommand(SPEC, ["--stack", "x", "f"], () => {
    throw new Error("a bug");
  }, io()), /a bug/);
});

// runProgram (cli/run.ts): the one run-with-timeout that drift and the lab use.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as os from "node:os";
import { runProgram } from "../../cli/run";

test("input in, output and exit code out; cwd and env", async () => {
  const r = await runProgram(["bash", "-c", 'read -r x; echo "got $x in $PWD $GM_T"; echo warn >&2; exit 3'], { input: "hello\n", cwd: os.tmpdir(), env: { ...process.env, GM_T: "t" } });
  assert.deepEqual(r, { code: 3, signal: null, stdout: `got hello in ${os.tmpdir()} t\n`, stderr: "warn\n", timedOut: false });
});

test("a program that does not read its input is no error", async () => {
  const r = await runProgram(["true"], { input: "x".repeat(1 << 20) });
  assert.equal(r.code, 0);
  assert.equal(r.spawnError, undefined);
});

test("a program that runs too long gets the kill signal (SIGKILL, or the one asked for)", async () => {
  const t = Date.now();
  const k = await runProgram(["sleep", "30"], { timeoutMs: 200 });
  assert.equal(k.timedOut, true);
  assert.equal(k.signal, "SIGKILL");
  const term = await runProgram(["bash", "-c", "trap 'kill $!; echo bye; exit 5' TERM; sleep 30 & wait"], { timeoutMs: 300, killSignal: "SIGTERM" });
  assert.equal(term.timedOut, true);
  assert.equal(term.code, 5);
  assert.equal(term.stdout, "bye\n");
  assert.ok(Date.now() - t < 10_000);
});

test("a program that cannot start: spawnError, never a rejection", async () => {
  const r = await runProgram(["/nonexistent/program"], { timeoutMs: 1000 });
  assert.match(r.spawnError ?? "", /ENOENT/);
  assert.equal(r.code, null);
});

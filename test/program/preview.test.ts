// `pulumi preview`: tinc keys are unknown before the key commands run; the program still
// declares every resource, with the same names as an update, and does not crash.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { runScenario, Resources, UNKNOWN } from "./harness";

for (const stack of ["padelford", "4545"]) {
  test(`${stack}: preview runs with unknown keys and declares what an update declares`, async () => {
    const [preview, update] = await Promise.all([runScenario({ stack, preview: true }), runScenario({ stack })]);
    assert.equal(preview.ok, true, JSON.stringify(preview.error));
    assert.deepEqual(preview.unhandled, []);
    const p = new Resources(preview.resources);
    const u = new Resources(update.resources);
    assert.deepEqual(p.names(), u.names());
    // Keys are unknown, so is everything made from them.
    assert.equal(preview.outputs.meshHosts.known, false);
    assert.equal(preview.outputs.meshHosts.value, UNKNOWN);
    const configs = p.commands().filter((r) => /\/mesh\/[^/]+\/config$/.test(r.name));
    assert.ok(configs.length > 0);
    for (const r of configs) assert.equal(r.inputs.create, UNKNOWN, `${r.name} create is unknown in preview`);
    // What does not depend on keys is known and equal to the update's.
    for (const r of p.commands().filter((x) => !configs.includes(x) && x.type === "command:remote:Command")) {
      assert.equal(r.inputs.create, u.get(r.name).inputs.create, r.name);
    }
    // The same order and protection as an update.
    for (const r of p.list) {
      assert.deepEqual(r.dependencies.slice().sort(), u.get(r.name).dependencies.slice().sort(), `dependencies of ${r.name}`);
      assert.equal(r.protect, u.get(r.name).protect, r.name);
    }
    assert.equal(preview.outputs.volumes.known, true);
    assert.deepEqual(preview.outputs.mounts.value, update.outputs.mounts.value);
  });
}

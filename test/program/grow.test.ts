// Growing a DC: two nodes and a replica set added to 4545 add resources and leave every
// existing volume resource exactly as it was (same name, parent and inputs: nothing replaced).
import { test, after } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import { copyInventory, runScenario, Resources } from "./harness";

const dirs: string[] = [];
after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

test("4545 + cloud22, cloud23 and a replica set: new resources only, volume resources unchanged", async () => {
  const grown = copyInventory((files) => {
    const text = files["4545.yaml"];
    const withNodes = text.replace(
      /^(  cloud21: .*\n)/m,
      "$1  cloud22: { address: 203.0.113.22, tinc: 10.1.22.1, roles: [storage, compute] }\n  cloud23: { address: 203.0.113.23, tinc: 10.1.23.1, roles: [storage, compute] }\n",
    );
    const withSet = withNodes.replace(/^(      - \[cloud20, cloud21\]\n)/m, "$1      - [cloud22, cloud23]\n");
    assert.notEqual(withSet, withNodes, "the replica set was added");
    assert.notEqual(withNodes, text, "the nodes were added");
    files["4545.yaml"] = withSet;
  });
  const original = copyInventory();
  dirs.push(grown, original);
  const [before, afterGrow] = await Promise.all([runScenario({ stack: "4545", inventoryDir: original }), runScenario({ stack: "4545", inventoryDir: grown })]);
  assert.equal(before.ok, true, JSON.stringify(before.error));
  assert.equal(afterGrow.ok, true, JSON.stringify(afterGrow.error));
  const b = new Resources(before.resources);
  const a = new Resources(afterGrow.resources);

  // Nothing disappears or moves (a changed URN is a delete and a create).
  const urns = new Set(a.list.map((r) => r.urn));
  for (const r of b.list) assert.ok(urns.has(r.urn), `${r.name} (${r.urn}) is gone`);

  const added = a.names().filter((n) => !b.has(n));
  const expected = [
    "4545/projects/add-brick/cloud22+cloud23",
    "4545/cluster/probe/cloud22",
    "4545/cluster/probe/cloud23",
    ...["cloud22", "cloud23"].flatMap((n) => [
      `4545/mesh/${n}/key`,
      `4545/mesh/${n}/config`,
      `4545/host/${n}/time`,
      `4545/host/${n}/drift-account`,
      `4545/host/${n}/firewall`,
      `4545/gluster/${n}/glusterd`,
      `4545/gluster/${n}/pool`,
      `4545/gluster/${n}/bricks`,
      ...["4545", "gce-central-1", "gce-europe-1", "padelford"].map((dc) => `4545/mount/${n}/${dc}/projects`),
      `4545/sync/${n}/prepare`,
      `4545/sync/${n}/tool`,
      `4545/sync/${n}/timers`,
      `4545/retired/${n}`,
    ]),
  ].sort();
  assert.deepEqual(added, expected);

  const set = a.get("4545/projects/add-brick/cloud22+cloud23");
  assert.equal(set.protect, true);
  assert.equal(set.retainOnDelete, true);
  assert.ok(a.waitsFor(set.name, "4545/projects/add-brick/cloud20+cloud21"));
  assert.ok(a.waitsFor(set.name, "4545/cluster/probe/cloud23"));
  assert.ok(a.waitsFor("4545/projects/start", set.name));
  assert.match(String(set.inputs.create), /10\.1\.22\.1:\/home\/salvus\/vm\/images\/gluster\/projects 10\.1\.23\.1:/);

  // Existing volume steps: same inputs (create scripts), options, parents; start and the
  // replica sets are not re-run. Options grow auth.allow; rebalance sees the new layout.
  const volume = b.list.filter((r) => r.name.startsWith("4545/projects/"));
  assert.equal(volume.length, 9);
  const changed: string[] = [];
  for (const r of volume) {
    const now = a.get(r.name);
    assert.equal(now.urn, r.urn);
    assert.equal(now.protect, r.protect, r.name);
    if (JSON.stringify(now.inputs) !== JSON.stringify(r.inputs)) changed.push(r.name.split("/").slice(2).join("/"));
  }
  assert.deepEqual(changed.sort(), ["options", "rebalance"]);
  assert.match(String(a.get("4545/projects/options").inputs.create), /10\.1\.23\.1/);
  for (const r of volume.filter((x) => /\/(create|add-brick)\/|\/start$/.test(x.name))) {
    assert.equal(a.get(r.name).inputs.create, r.inputs.create, `${r.name} create script`);
  }
  // Existing nodes' glusterd, bricks and probes are untouched too; only the pool checks (which
  // now wait for 13 peers instead of 11, a read-only wait) change.
  for (const r of b.list.filter((x) => /\/(gluster|cluster)\//.test(x.name) && !x.name.endsWith("/pool"))) {
    assert.deepEqual(a.get(r.name).inputs, r.inputs, r.name);
  }
  for (const r of b.list.filter((x) => x.name.endsWith("/pool"))) {
    assert.match(String(a.get(r.name).inputs.create), /\(\( \$\(connected_peers\) >= 13 \)\)/, r.name);
  }
});

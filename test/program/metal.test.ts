// The metal stacks with the real inventory: resource names, component types and parents, the
// order the engine follows (from the dependencies the program registers), protection.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as path from "node:path";
import { loadInventory } from "../../model/load";
import { buildModel } from "../../model/model";
import { dcSteps } from "../../render/steps";
import { REPO, runScenario, Resources, type ProgramResult } from "./harness";

const COMPONENT_OF: [RegExp, string][] = [
  [/^[^/]+\/host\/[^/]+\/(time|drift-account)$/, "glustermesh:host:HostBasics"],
  [/^[^/]+\/mesh\//, "glustermesh:mesh:TincMesh"],
  [/^[^/]+\/host\/[^/]+\/firewall$/, "glustermesh:gluster:Cluster"],
  [/^[^/]+\/gluster\//, "glustermesh:gluster:Cluster"],
  [/^[^/]+\/cluster\/probe\//, "glustermesh:gluster:Cluster"],
  [/^[^/]+\/projects\//, "glustermesh:gluster:Volume"],
  [/^[^/]+\/mount\//, "glustermesh:mount:VolumeMounts"],
  [/^[^/]+\/sync\//, "glustermesh:sync:SyncTimers"],
  [/^[^/]+\/retired\//, "glustermesh:host:RetiredUnits"],
];

const DCS = ["4545", "gce-central-1", "gce-europe-1", "padelford"];

interface Expect {
  dc: string;
  nodes: string[];
  lead: string;
  sets: string[][];
}

function checkStack(result: ProgramResult, e: Expect) {
  assert.equal(result.ok, true, JSON.stringify(result.error));
  assert.deepEqual(result.unhandled, []);
  const rs = new Resources(result.resources);
  const d = e.dc;
  const setName = (s: string[]) => s.map((x) => x.split(":")[0]).join("+");
  const volumeSteps = e.sets.map((s, i) => `${d}/projects/${i === 0 ? "create" : "add-brick"}/${setName(s)}`);

  // Names.
  const expected = [
    ...volumeSteps,
    `${d}/projects/start`,
    `${d}/projects/options`,
    `${d}/projects/rebalance`,
    ...e.nodes.flatMap((n) => [
      `${d}/host/${n}/time`,
      `${d}/host/${n}/drift-account`,
      `${d}/host/${n}/firewall`,
      `${d}/mesh/${n}/key`,
      `${d}/mesh/${n}/config`,
      `${d}/gluster/${n}/glusterd`,
      `${d}/gluster/${n}/pool`,
      `${d}/gluster/${n}/bricks`,
      ...DCS.map((x) => `${d}/mount/${n}/${x}/projects`),
      `${d}/sync/${n}/prepare`,
      `${d}/sync/${n}/tool`,
      `${d}/sync/${n}/timers`,
      `${d}/retired/${n}`,
    ]),
    ...e.nodes.filter((n) => n !== e.lead).map((n) => `${d}/cluster/probe/${n}`),
  ].sort();
  assert.deepEqual(rs.commands().map((r) => r.name).sort(), expected);
  // every step the renderers list (what plan shows) is a resource of the program, none dropped
  const loaded = loadInventory(path.join(REPO, "inventory"));
  assert.ok(loaded.ok);
  assert.deepEqual(dcSteps(buildModel(loaded.inventory), d).map((x) => x.name).sort(), expected);
  assert.equal(rs.get(`${d}/sync/${e.nodes[0]}/tool`).type, "command:remote:CopyToRemote");
  assert.deepEqual(rs.names("pulumi:pulumi:StackReference"), DCS.filter((x) => x !== d).map((x) => `peer-${x}`));

  // Components and parents.
  const center = rs.get(d);
  assert.equal(center.type, "glustermesh:index:DataCenter");
  assert.equal(center.parent, "");
  for (const [name, type] of [
    [`${d}/host`, "glustermesh:host:HostBasics"],
    [`${d}/mesh`, "glustermesh:mesh:TincMesh"],
    [`${d}/cluster`, "glustermesh:gluster:Cluster"],
    [`${d}/projects`, "glustermesh:gluster:Volume"],
    [`${d}/mounts`, "glustermesh:mount:VolumeMounts"],
    [`${d}/sync`, "glustermesh:sync:SyncTimers"],
    [`${d}/retired`, "glustermesh:host:RetiredUnits"],
  ]) {
    assert.equal(rs.get(name).type, type, name);
    assert.equal(rs.parentOf(name)?.name, d, `${name} is under the DataCenter`);
  }
  for (const r of rs.commands()) {
    const type = COMPONENT_OF.find(([re]) => re.test(r.name))?.[1];
    assert.ok(type, `no component expected for ${r.name}`);
    assert.equal(rs.parentOf(r.name)?.type, type, `parent of ${r.name}`);
    assert.ok(r.registered && r.custom, r.name);
    for (const dep of r.dependencies) assert.ok(rs.byUrn.has(dep), `${r.name} depends on unknown ${dep}`);
  }

  // Order, from the dependencies the engine receives.
  const waits = (later: string, earlier: string) => assert.ok(rs.waitsFor(later, earlier), `${later} must wait for ${earlier}`);
  for (const n of e.nodes) {
    waits(`${d}/mesh/${n}/config`, `${d}/mesh/${n}/key`);
    // glusterd starts only behind the firewall and once the node is on the mesh (its drop-in
    // waits for the mesh's address and its pool); anything that talks over the mesh (probe,
    // pool, volumes) waits for the mesh too.
    waits(`${d}/gluster/${n}/glusterd`, `${d}/host/${n}/firewall`);
    waits(`${d}/gluster/${n}/glusterd`, `${d}/mesh/${n}/config`);
    waits(`${d}/gluster/${n}/pool`, `${d}/mesh/${n}/config`);
    // Bricks are made once the node sees the whole pool (a stale mark is judged against its volumes).
    waits(`${d}/gluster/${n}/pool`, `${d}/gluster/${n}/glusterd`);
    waits(`${d}/gluster/${n}/bricks`, `${d}/gluster/${n}/pool`);
    // The lead's pool step waits for every node's view of the pool, and for every probe.
    if (n !== e.lead) waits(`${d}/gluster/${e.lead}/pool`, `${d}/gluster/${n}/pool`);
    if (n !== e.lead) waits(`${d}/gluster/${n}/pool`, `${d}/cluster/probe/${n}`);
    if (n !== e.lead) {
      waits(`${d}/cluster/probe/${n}`, `${d}/gluster/${n}/glusterd`);
      waits(`${d}/cluster/probe/${n}`, `${d}/gluster/${e.lead}/glusterd`);
      waits(`${d}/cluster/probe/${n}`, `${d}/mesh/${n}/config`);
      waits(`${d}/cluster/probe/${n}`, `${d}/mesh/${e.lead}/config`);
    }
  }
  volumeSteps.forEach((step, i) => {
    for (const node of new Set(e.sets[i].map((b) => b.split(":")[0]))) {
      if (node !== e.lead) waits(step, `${d}/cluster/probe/${node}`);
      waits(step, `${d}/gluster/${node}/bricks`);
    }
    // No volume command before every peer sees every other (gluster stages it on all of them).
    waits(step, `${d}/gluster/${e.lead}/pool`);
    if (i > 0) waits(step, volumeSteps[i - 1]);
    waits(`${d}/projects/start`, step);
  });
  waits(`${d}/projects/options`, `${d}/projects/start`);
  waits(`${d}/projects/rebalance`, `${d}/projects/options`);
  for (const n of e.nodes) {
    const own = `${d}/mount/${n}/${d}/projects`;
    waits(own, `${d}/projects/start`);
    waits(own, `${d}/projects/options`);
    waits(own, `${d}/mesh/${n}/config`);
    for (const x of DCS.filter((y) => y !== d)) {
      waits(`${d}/mount/${n}/${x}/projects`, `${d}/mesh/${n}/config`);
      waits(`${d}/sync/${n}/timers`, `${d}/mount/${n}/${x}/projects`);
    }
    waits(`${d}/sync/${n}/timers`, `${d}/sync/${n}/tool`);
    waits(`${d}/sync/${n}/tool`, `${d}/sync/${n}/prepare`);
    // what the inventory no longer declares goes last: timers, then the mounts they synced into
    waits(`${d}/retired/${n}`, `${d}/sync/${n}/timers`);
    for (const x of DCS) waits(`${d}/retired/${n}`, `${d}/mount/${n}/${x}/projects`);
  }
  // Nothing of the volume runs before the pool exists, and a volume step never waits for a mount.
  assert.ok(!rs.waitsFor(volumeSteps[0], `${d}/mount/${e.nodes[0]}/${d}/projects`));
  assert.ok(!rs.waitsFor(`${d}/gluster/${e.lead}/glusterd`, `${d}/projects/start`));

  // Volumes and replica sets are protected and retained; nothing else is.
  const protectedNames = rs.list.filter((r) => r.protect).map((r) => r.name).sort();
  assert.deepEqual(protectedNames, volumeSteps.slice().sort());
  for (const s of volumeSteps) assert.equal(rs.get(s).retainOnDelete, true, `${s} retainOnDelete`);
  assert.equal(rs.get(`${d}/projects/start`).retainOnDelete, false);

  // The scripts run the gluster commands of the inventory's layout, on the lead.
  for (const [i, step] of volumeSteps.entries()) {
    const create = String(rs.get(step).inputs.create);
    const bricks = e.sets[i].map((b) => b.split(":")[0]);
    for (const b of bricks) assert.match(create, new RegExp(`\\b${b}\\b`), `${step} names ${b}`);
    assert.match(create, i === 0 ? /gluster[^\n]* volume create/ : /gluster[^\n]* volume add-brick/, step);
  }
  const leadHost = (rs.get(`${d}/projects/start`).inputs.connection as { host: string }).host;
  assert.equal((rs.get(`${d}/cluster/probe/${e.nodes.find((n) => n !== e.lead)}`).inputs.connection as { host: string }).host, leadHost);

  // Stack outputs.
  assert.deepEqual(Object.keys(result.outputs).sort(), ["meshHosts", "mounts", "syncTimers", "volumes"]);
  assert.deepEqual(Object.keys(result.outputs.meshHosts.value as object).sort(), e.nodes.slice().sort());
  assert.equal((result.outputs.syncTimers.value as string[]).length, e.sets.flat().length * (DCS.length - 1), "one sync job per brick and other DC");
}

test("padelford: names, components, order and protection", async () => {
  const result = await runScenario({ stack: "padelford" });
  const rs = new Resources(result.resources);
  for (const name of [
    "padelford/projects/create/cloud1+cloud3",
    "padelford/projects/add-brick/cloud2+cloud4",
    "padelford/projects/add-brick/cloud5+cloud6",
    "padelford/projects/add-brick/cloud7+cloud3",
    "padelford/cluster/probe/cloud2",
    "padelford/mesh/cloud1/key",
    "padelford/mount/cloud1/4545/projects",
    "padelford/sync/cloud1/timers",
  ])
    assert.ok(rs.has(name), name);
  checkStack(result, {
    dc: "padelford",
    nodes: ["cloud1", "cloud2", "cloud3", "cloud4", "cloud5", "cloud6", "cloud7"],
    lead: "cloud1",
    sets: [["cloud1", "cloud3"], ["cloud2", "cloud4"], ["cloud5", "cloud6"], ["cloud7", "cloud3:/home/salvus/vm/images/gluster/projects2"]],
  });
  // The second brick on cloud3 is its own directory.
  assert.match(String(rs.get("padelford/projects/add-brick/cloud7+cloud3").inputs.create), /10\.1\.3\.1:\/home\/salvus\/vm\/images\/gluster\/projects2/);
  assert.match(String(rs.get("padelford/gluster/cloud3/bricks").inputs.create), /projects2/);
});

test("4545: names, components, order and protection", async () => {
  const result = await runScenario({ stack: "4545" });
  const nodes = Array.from({ length: 12 }, (_, i) => `cloud${10 + i}`);
  checkStack(result, {
    dc: "4545",
    nodes,
    lead: "cloud10",
    sets: [0, 1, 2, 3, 4, 5].map((i) => [nodes[2 * i], nodes[2 * i + 1]]),
  });
});

test("glustermesh:reapply: a new value replaces every step that is not protected, so each runs again; unset, no step has it", async () => {
  const [plain, again] = await Promise.all([runScenario({ stack: "padelford" }), runScenario({ stack: "padelford", config: { "glustermesh:reapply": "2026-11-26T08:30" } })]);
  assert.equal(again.ok, true, JSON.stringify(again.error));
  const triggersOf = (r: { inputs: Record<string, unknown> }) => (r.inputs.triggers as unknown[] | undefined) ?? [];
  const cmds = new Resources(again.resources).commands();
  const isProtected = cmds.filter((r) => r.protect);
  assert.ok(isProtected.length > 0 && cmds.length > isProtected.length);
  for (const r of cmds) {
    if (r.protect) assert.ok(!triggersOf(r).includes("2026-11-26T08:30"), `${r.name} is protected: never replaced`);
    else assert.ok(triggersOf(r).includes("2026-11-26T08:30"), `${r.name} runs again`);
  }
  for (const r of new Resources(plain.resources).commands()) {
    if (r.type === "command:remote:Command") assert.deepEqual(triggersOf(r), [], r.name);
    else assert.equal(triggersOf(r).length, 1, `${r.name}: only the file's hash`);
  }
});

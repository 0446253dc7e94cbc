// The steps of the real inventory: names, order, sync jobs, auth.allow; and what adding nodes
// and a replica set changes (new steps; the existing volume steps' scripts stay as they were).
import { test } from "node:test";
import assert from "node:assert/strict";
import { buildModel, type Model } from "../../model/model";
import { parseBrickRef, type Inventory } from "../../model/schema";
import { dcSteps, orderSteps, type Step } from "../../render/steps";
import { REAL_DIR, realInventory, realTexts, replaceOnce, validInventory, fixtureInventory } from "../inventory/fixtures";
import { fakeFacts, ownFacts, scriptOf } from "./helpers";

const inv = realInventory();
const model = buildModel(inv);
const stepsOf = (m: Model) => new Map(m.dcs.map((d) => [d.name, dcSteps(m, d.name)]));
const steps = stepsOf(model);
const DCS = ["4545", "gce-central-1", "gce-europe-1", "padelford"];

/** Does step `from` wait, directly or not, for step `to`? */
function waitsFor(list: Step[], from: string, to: string): boolean {
  const byName = new Map(list.map((s) => [s.name, s]));
  const seen = new Set<string>();
  const stack = [...(byName.get(from)?.after ?? [])];
  while (stack.length > 0) {
    const n = stack.pop()!;
    if (n === to) return true;
    if (seen.has(n)) continue;
    seen.add(n);
    stack.push(...(byName.get(n)?.after ?? []));
  }
  return false;
}

function step(dc: string, name: string): Step {
  const s = steps.get(dc)!.find((x) => x.name === name);
  assert.ok(s, `no step ${name} in ${dc}`);
  return s;
}

test("the real inventory has the four DCs", () => {
  assert.deepEqual(model.dcs.map((d) => d.name), DCS);
});

test("volume step names: one create, then add-brick per replica set, in gluster's order", () => {
  const volumeSteps = (dc: string) => steps.get(dc)!.filter((s) => s.component === "volume:projects").map((s) => s.name);
  assert.deepEqual(volumeSteps("padelford"), [
    "padelford/projects/create/cloud1+cloud3",
    "padelford/projects/add-brick/cloud2+cloud4",
    "padelford/projects/add-brick/cloud5+cloud6",
    "padelford/projects/add-brick/cloud7+cloud3",
    "padelford/projects/start",
    "padelford/projects/options",
    "padelford/projects/rebalance",
  ]);
  assert.deepEqual(volumeSteps("4545").slice(0, 6), [
    "4545/projects/create/cloud10+cloud11",
    "4545/projects/add-brick/cloud12+cloud13",
    "4545/projects/add-brick/cloud14+cloud15",
    "4545/projects/add-brick/cloud16+cloud17",
    "4545/projects/add-brick/cloud18+cloud19",
    "4545/projects/add-brick/cloud20+cloud21",
  ]);
  assert.deepEqual(volumeSteps("gce-europe-1").slice(0, 2), ["gce-europe-1/projects/create/gceeurope1+gceeurope2+gceeurope3", "gce-europe-1/projects/start"]);
  assert.deepEqual(volumeSteps("gce-central-1").slice(0, 2), ["gce-central-1/projects/create/gcecentral1+gcecentral2", "gce-central-1/projects/add-brick/gcecentral3+gcecentral4"]);
  // Volume steps are protected and run on the lead (the first brick's node).
  for (const s of steps.get("padelford")!.filter((x) => /\/(create|add-brick)\//.test(x.name))) {
    assert.equal(s.protect, true, s.name);
    assert.equal(s.node, "cloud1", s.name);
  }
  // The add-brick of cloud7+cloud3 adds exactly that set, with the replica count, cloud3's second brick.
  const script = scriptOf(step("padelford", "padelford/projects/add-brick/cloud7+cloud3"), fakeFacts(model))!;
  assert.match(script, /volume add-brick projects replica 2 10\.1\.7\.1:\/home\/salvus\/vm\/images\/gluster\/projects 10\.1\.3\.1:\/home\/salvus\/vm\/images\/gluster\/projects2\n/);
});

test("every after exists, names are unique, and an order exists", () => {
  for (const [dc, list] of steps) {
    const names = new Set(list.map((s) => s.name));
    assert.equal(names.size, list.length, `${dc}: duplicate step names`);
    for (const s of list) {
      assert.ok(s.name.startsWith(`${dc}/`), s.name);
      for (const a of s.after) assert.ok(names.has(a), `${s.name} waits for unknown ${a}`);
    }
    const order = orderSteps(list).map((s) => s.name);
    const at = new Map(order.map((n, i) => [n, i]));
    for (const s of list) for (const a of s.after) assert.ok(at.get(a)! < at.get(s.name)!, `${a} before ${s.name}`);
  }
});

test("probes wait for glusterd on both nodes; volume create/add-brick wait for the probes and bricks of their nodes", () => {
  for (const dc of model.dcs) {
    const list = steps.get(dc.name)!;
    const probes = list.filter((s) => s.name.startsWith(`${dc.name}/cluster/probe/`));
    const lead = dc.volumes[0].lead;
    // Every storage node but the lead is probed, from the lead.
    assert.deepEqual(probes.map((p) => p.name.split("/").pop()).sort(), dc.storageNodes.map((n) => n.name).filter((n) => n !== lead).sort());
    for (const p of probes) {
      const peer = p.name.split("/").pop()!;
      assert.equal(p.node, lead);
      assert.ok(waitsFor(list, p.name, `${dc.name}/gluster/${lead}/glusterd`), `${p.name} after the lead's glusterd`);
      assert.ok(waitsFor(list, p.name, `${dc.name}/gluster/${peer}/glusterd`), `${p.name} after ${peer}'s glusterd`);
    }
    for (const v of dc.volumes) {
      let previous: string | undefined;
      for (const set of v.replicaSets) {
        const name = `${dc.name}/${v.name}/${set.index === 1 ? "create" : "add-brick"}/${set.name}`;
        for (const b of set.bricks) {
          if (b.node !== lead) assert.ok(waitsFor(list, name, `${dc.name}/cluster/probe/${b.node}`), `${name} after the probe of ${b.node}`);
          assert.ok(waitsFor(list, name, `${dc.name}/gluster/${b.node}/bricks`), `${name} after ${b.node}'s bricks`);
        }
        if (previous) assert.ok(waitsFor(list, name, previous), `${name} after ${previous}`);
        previous = name;
      }
      const start = `${dc.name}/${v.name}/start`;
      const options = `${dc.name}/${v.name}/options`;
      assert.ok(waitsFor(list, start, previous!), `${start} after ${previous}`);
      assert.ok(waitsFor(list, options, start), `${options} after start`);
      assert.ok(waitsFor(list, `${dc.name}/${v.name}/rebalance`, options));
    }
  }
});

test("a mount of another DC's volume is attempted (with a wait for the mesh) only once that DC is deployed; the own DC's mount must come up", () => {
  const facts = fakeFacts(model);
  let checked = 0;
  for (const dc of model.dcs) {
    const first = ownFacts(model, dc.name, facts);
    for (const m of dc.mounts) {
      const step = steps.get(dc.name)!.find((s) => s.name === `${dc.name}/mount/${m.node}/${m.dc}/${m.volume}`)!;
      const known = scriptOf(step, facts)!;
      const firstDeploy = scriptOf(step, first)!;
      if (m.dc === dc.name) {
        assert.equal(known, firstDeploy, "the own DC's mount does not depend on other DCs");
        assert.match(known, /retry 7 mount_up/);
        assert.match(known, /exit 1\n/);
        continue;
      }
      checked++;
      assert.match(firstDeploy, new RegExp(`printf 'warning: data center %s is not deployed yet[^\\n]*' '?${m.dc}'? `));
      assert.doesNotMatch(firstDeploy, /systemctl start/, "nothing of a DC not deployed can answer: no attempt");
      assert.match(known, /wait_for_volfile_server/);
      assert.match(known, /SIGALRM/);
      assert.match(known, /retry 2 mount_up/);
      assert.match(known, /systemctl is-failed --quiet "\$svc"[^\n]*\n\s*systemctl start --no-block "\$svc"/, "a pass that failed while the mount was down runs again");
      assert.doesNotMatch(known, /^\s*exit 1$/m, "another DC's volume never fails the deploy");
    }
  }
  assert.ok(checked > 0);
});

test("own-DC mounts wait for the volume's options; other DCs' mounts do not wait for this DC's volume; timers wait for their mounts", () => {
  for (const dc of model.dcs) {
    const list = steps.get(dc.name)!;
    const mounts = list.filter((s) => s.name.startsWith(`${dc.name}/mount/`));
    assert.equal(mounts.length, dc.mounts.length);
    for (const m of dc.mounts) {
      const name = `${dc.name}/mount/${m.node}/${m.dc}/${m.volume}`;
      assert.ok(waitsFor(list, name, `${dc.name}/mesh/${m.node}/config`), `${name} after the mesh`);
      if (m.dc === dc.name) assert.ok(waitsFor(list, name, `${dc.name}/${m.volume}/options`), `${name} after options`);
      else assert.ok(!list.find((s) => s.name === name)!.after.some((a) => a.includes(`/${m.volume}/`) && !a.includes("/mount/")), `${name} waits for nothing of a volume step`);
    }
    const nodes = [...new Set(dc.syncJobs.map((j) => j.node))];
    for (const node of nodes) {
      const timers = `${dc.name}/sync/${node}/timers`;
      for (const j of dc.syncJobs.filter((x) => x.node === node)) {
        assert.ok(waitsFor(list, timers, `${dc.name}/mount/${node}/${j.targetDc}/${j.volume}`), `${timers} after the mount of ${j.targetDc}`);
      }
      assert.ok(waitsFor(list, timers, `${dc.name}/sync/${node}/tool`));
    }
  }
});

/** The sync jobs the inventory calls for, derived from the inventory alone: every data brick of
 * every replica set, to the same-named volume of every other DC (both syncing). */
function expectedJobs(i: Inventory): string[] {
  const out: string[] = [];
  for (const [dc, d] of Object.entries(i.dcs)) {
    for (const [name, v] of Object.entries(d.volumes)) {
      if (v.sync === false) continue;
      v.replicaSets.forEach((set, k) => {
        const data = v.arbiter === 1 ? set.slice(0, -1) : set;
        for (const ref of data) {
          const b = parseBrickRef(ref, v.brickPath);
          for (const [other, o] of Object.entries(i.dcs)) {
            if (other !== dc && o.volumes[name] && o.volumes[name].sync !== false) out.push(`${dc} set${k + 1} ${b.node}:${b.path} -> ${other}/${name}`);
          }
        }
      });
    }
  }
  return out.sort();
}

test("sync jobs on BOTH data bricks of every replica set, to every other DC; arbiters never sync", () => {
  const got = model.dcs.flatMap((d) => d.syncJobs.map((j) => `${j.dc} ${j.unit.match(/-(set\d+)-/)![1]} ${j.node}:${j.source} -> ${j.targetDc}/${j.volume}`)).sort();
  assert.deepEqual(got, expectedJobs(inv));
  assert.equal(got.length, (4 * 2 + 6 * 2 + 2 * 2 + 1 * 2) * 3);
  // The pair the seed's own plan missed: cloud2 and cloud4 both copy to each other DC.
  for (const node of ["cloud2", "cloud4"]) {
    for (const target of ["4545", "gce-central-1", "gce-europe-1"]) {
      assert.ok(got.includes(`padelford set2 ${node}:/home/salvus/vm/images/gluster/projects -> ${target}/projects`), `${node} -> ${target}`);
    }
  }
  // cloud3 holds two bricks (sets 1 and 4): a job for each, with distinct units.
  const cloud3 = model.dcs.find((d) => d.name === "padelford")!.syncJobs.filter((j) => j.node === "cloud3");
  assert.deepEqual(cloud3.map((j) => j.source).sort(), [...Array(3).fill("/home/salvus/vm/images/gluster/projects"), ...Array(3).fill("/home/salvus/vm/images/gluster/projects2")]);
  assert.equal(new Set(cloud3.map((j) => j.unit)).size, 6);
  // One of each pair runs on time, the other half an interval later.
  for (const d of model.dcs) {
    for (const j of d.syncJobs) {
      const set = d.volumes.find((v) => v.name === j.volume)!.replicaSets.find((s) => s.name === j.replicaSet)!;
      assert.equal(j.primary, set.bricks[0].node === j.node, `${j.unit} on ${j.node}`);
    }
  }
  // gce-europe-1's arbiter gceeurope3: no job, no timers step.
  const europe = model.dcs.find((d) => d.name === "gce-europe-1")!;
  assert.deepEqual([...new Set(europe.syncJobs.map((j) => j.node))].sort(), ["gceeurope1", "gceeurope2"]);
  assert.ok(!steps.get("gce-europe-1")!.some((s) => s.name.startsWith("gce-europe-1/sync/gceeurope3/")));
  // Every timers step installs exactly its node's jobs.
  for (const d of model.dcs) {
    for (const s of steps.get(d.name)!.filter((x) => x.name.endsWith("/timers"))) {
      const script = scriptOf(s, fakeFacts(model))!;
      const units = [...script.matchAll(/^timers=\((.*)\)$/gm)].flatMap((m) => m[1].split(" "));
      assert.deepEqual(units.sort(), d.syncJobs.filter((j) => j.node === s.node).map((j) => `${j.unit}.timer`).sort(), s.name);
    }
  }
});

test("auth.allow is exactly the tinc addresses of the volume's users (its mounters and its brick nodes)", () => {
  const check = (m: Model, label: string) => {
    const tinc = new Map(m.nodes.map((n) => [n.name, n.tinc]));
    for (const v of m.dcs.flatMap((d) => d.volumes)) {
      const users = new Set<string>();
      for (const d of m.dcs) for (const mt of d.mounts) if (mt.dc === v.dc && mt.volume === v.name) users.add(mt.node);
      for (const s of v.replicaSets) for (const b of s.bricks) users.add(b.node);
      const expected = [...users].map((u) => tinc.get(u)!).sort();
      assert.deepEqual(v.authAllow.split(","), expected, `${label} ${v.dc}/${v.name}`);
      assert.deepEqual(v.options.find(([k]) => k === "auth.allow"), ["auth.allow", v.authAllow]);
      const script = scriptOf(dcSteps(m, v.dc).find((s) => s.name === `${v.dc}/${v.name}/options`)!, fakeFacts(m))!;
      const options = /^readonly -a OPTIONS=\((.*)\)$/m.exec(script)?.[1] ?? "";
      assert.ok(` ${options} `.includes(` auth.allow ${v.authAllow} `), `${label} ${v.dc}: the options script sets auth.allow`);
      assert.ok(` ${options} `.includes(" nfs.disable on "));
    }
  };
  check(model, "real");
  // Real: every node computes, so every volume admits all 26 tinc addresses.
  const everyone = model.nodes.map((n) => n.tinc).sort();
  assert.equal(everyone.length, 26);
  for (const v of model.dcs.flatMap((d) => d.volumes)) assert.deepEqual(v.authAllow.split(","), everyone);
  // Fixture: east's volume admits the compute nodes and west's data bricks, not west's arbiter west3.
  const fixture = buildModel(fixtureInventory());
  check(fixture, "fixture");
  assert.equal(fixture.dcs.find((d) => d.name === "east")!.volumes[0].authAllow, "10.9.1.1,10.9.1.2,10.9.1.3,10.9.2.1,10.9.2.2");
  assert.equal(fixture.dcs.find((d) => d.name === "west")!.volumes[0].authAllow, "10.9.1.1,10.9.1.2,10.9.1.3,10.9.2.1,10.9.2.2,10.9.2.3");
});

test("adding two nodes and a replica set to padelford: new steps; existing create/add-brick/start untouched", () => {
  const texts = realTexts();
  texts["padelford.yaml"] = replaceOnce(
    texts["padelford.yaml"],
    "  cloud7: { address: 198.51.100.7, tinc: 10.1.7.1, roles: [storage, compute] }\n",
    "  cloud7: { address: 198.51.100.7, tinc: 10.1.7.1, roles: [storage, compute] }\n" +
      "  cloud8: { address: 198.51.100.8, tinc: 10.1.8.1, roles: [storage, compute] }\n" +
      "  cloud9: { address: 198.51.100.9, tinc: 10.1.9.1, roles: [storage, compute] }\n",
  );
  texts["padelford.yaml"] = replaceOnce(texts["padelford.yaml"], '"cloud3:/home/salvus/vm/images/gluster/projects2"]\n', '"cloud3:/home/salvus/vm/images/gluster/projects2"]\n      - [cloud8, cloud9]\n');
  const grown = buildModel(validInventory(texts, REAL_DIR));
  const after = stepsOf(grown);
  const factsBefore = fakeFacts(model);
  const factsAfter = fakeFacts(grown);
  const changed: string[] = [];
  for (const dc of DCS) {
    const old = new Map(steps.get(dc)!.map((s) => [s.name, s]));
    const now = new Map(after.get(dc)!.map((s) => [s.name, s]));
    for (const name of old.keys()) assert.ok(now.has(name), `${name} disappeared`);
    for (const [name, s] of old) {
      const n = now.get(name)!;
      if (scriptOf(s, factsBefore) !== scriptOf(n, factsAfter) || s.kind !== n.kind) changed.push(name);
    }
    if (dc !== "padelford") assert.equal(now.size, old.size, `${dc} gets no new steps`);
  }
  const added = [...after.get("padelford")!.map((s) => s.name)].filter((n) => !steps.get("padelford")!.some((s) => s.name === n));
  for (const n of [
    "padelford/host/cloud8/time", "padelford/mesh/cloud9/key", "padelford/mesh/cloud8/config", "padelford/gluster/cloud9/glusterd", "padelford/gluster/cloud9/pool", "padelford/gluster/cloud8/bricks",
    "padelford/cluster/probe/cloud8", "padelford/cluster/probe/cloud9", "padelford/projects/add-brick/cloud8+cloud9",
    "padelford/mount/cloud8/padelford/projects", "padelford/mount/cloud9/4545/projects", "padelford/sync/cloud8/timers", "padelford/sync/cloud9/timers",
  ]) assert.ok(added.includes(n), `${n} is added`);
  assert.ok(added.every((n) => /\/cloud[89]\b|\/cloud8\+cloud9$/.test(n)), `only cloud8/cloud9 steps are new: ${added.join(", ")}`);
  // The new set goes after the last one, and after the probes of its nodes.
  const list = after.get("padelford")!;
  assert.ok(waitsFor(list, "padelford/projects/add-brick/cloud8+cloud9", "padelford/projects/add-brick/cloud7+cloud3"));
  assert.ok(waitsFor(list, "padelford/projects/start", "padelford/projects/add-brick/cloud8+cloud9"));
  for (const x of ["cloud8", "cloud9"]) assert.ok(waitsFor(list, "padelford/projects/add-brick/cloud8+cloud9", `padelford/cluster/probe/${x}`));

  // What changed: no create, add-brick or start; rebalance and options of padelford, the options
  // (auth.allow) of the other DCs, every node's tinc config (new hosts), and the mounts of
  // padelford/projects (two more backup volfile servers).
  assert.deepEqual(changed.filter((n) => /\/(create|add-brick)\/|\/start$/.test(n)), []);
  const allowed = (n: string) =>
    /^padelford\/gluster\/[^/]+\/pool$/.test(n) ||
    /^[^/]+\/mesh\/[^/]+\/config$/.test(n) || /^[^/]+\/projects\/options$/.test(n) || n === "padelford/projects/rebalance" || /^[^/]+\/mount\/[^/]+\/padelford\/projects$/.test(n);
  assert.deepEqual(changed.filter((n) => !allowed(n)), []);
  for (const n of ["padelford/projects/rebalance", ...DCS.map((d) => `${d}/projects/options`), "padelford/mesh/cloud1/config", "4545/mesh/cloud10/config", "gce-europe-1/mount/gceeurope1/padelford/projects"]) {
    assert.ok(changed.includes(n), `${n} changes`);
  }
  // And those changes are the expected ones.
  const rebalance = scriptOf(list.find((s) => s.name === "padelford/projects/rebalance")!, factsAfter)!;
  assert.match(rebalance, / '10\.1\.8\.1:\/home\/salvus\/vm\/images\/gluster\/projects 10\.1\.9\.1:\/home\/salvus\/vm\/images\/gluster\/projects'\)\n/);
  const options = scriptOf(after.get("4545")!.find((s) => s.name === "4545/projects/options")!, factsAfter)!;
  assert.match(options, /[( ]auth\.allow [0-9.,]*,10\.1\.7\.1,10\.1\.8\.1,10\.1\.9\.1[ )]/);
  // The after-lists of the existing volume steps are the same too.
  for (const s of steps.get("padelford")!.filter((x) => /\/(create|add-brick)\//.test(x.name))) {
    assert.deepEqual(list.find((x) => x.name === s.name)!.after, s.after, s.name);
  }
});

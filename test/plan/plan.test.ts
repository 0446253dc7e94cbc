import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { planChanges, formatPlan, type PlanResult } from "../../cli/plan";
import { baseTexts, edit, LABA, LABB, MESH } from "./fixtures";
import { runCommand } from "./cli";

const plan = (head: Record<string, string>, dc = "laba", base = baseTexts()) => planChanges(base, head, dc, { baseName: "HEAD" });
const op = (r: PlanResult, resource: string) => r.ops.find((o) => o.resource === resource);
const text = (r: PlanResult, dc = "laba") => formatPlan(r, dc, "HEAD");

const NODE2 = "  laba2: { address: 192.0.2.12, tinc: 10.1.1.2, roles: [storage, compute] }\n";
const ADD_PAIR = edit(
  "laba.yaml",
  [NODE2, NODE2 + "  laba3: { address: 192.0.2.13, tinc: 10.1.1.3, roles: [storage, compute] }\n  laba4: { address: 192.0.2.14, tinc: 10.1.1.4, roles: [storage, compute] }\n"],
  ["      - [laba1, laba2]\n", "      - [laba1, laba2]\n      - [laba3, laba4]\n"],
);

test("no changes: says so, exit 0", () => {
  const r = plan(baseTexts());
  assert.equal(r.code, 0);
  assert.deepEqual(r.ops, []);
  assert.match(text(r), /no changes/);
});

test("adding a node pair: keys, host files everywhere, probes, add-brick, rebalance, mounts, timers; exit 0", () => {
  const r = plan(ADD_PAIR);
  assert.equal(r.code, 0, text(r));
  assert.deepEqual(r.dangers, []);
  for (const n of ["laba3", "laba4"]) {
    assert.equal(op(r, `laba/mesh/${n}/key`)?.action, "create");
    assert.match(op(r, `laba/mesh/${n}/key`)!.details[0], /tinc key pair on/);
    assert.equal(op(r, `laba/mesh/${n}/config`)?.action, "create");
    assert.equal(op(r, `laba/gluster/${n}/glusterd`)?.action, "create");
    assert.equal(op(r, `laba/cluster/probe/${n}`)?.action, "create");
    assert.match(op(r, `laba/cluster/probe/${n}`)!.details[0], new RegExp(`gluster peer probe 10\\.1\\.1\\.${n.slice(-1)} \\(${n}\\) from laba1`));
    assert.equal(op(r, `laba/mount/${n}/laba/projects`)?.action, "create");
    assert.equal(op(r, `laba/sync/${n}/timers`)?.action, "create");
  }
  // Host files of the new nodes on every existing node of this DC...
  for (const n of ["laba1", "laba2"]) {
    const o = op(r, `laba/mesh/${n}/config`)!;
    assert.equal(o.action, "update");
    assert.match(o.details.join("\n"), /write host files hosts\/laba3, hosts\/laba4 on laba[12]/);
  }
  // ...and the other DCs told to redeploy.
  assert.ok(r.notes.some((n) => /laba3, laba4.*labb.*pulumi up --stack labb/.test(n)), r.notes.join("\n"));
  const add = op(r, "laba/projects/add-brick/laba3+laba4")!;
  assert.equal(add.action, "create");
  assert.match(add.details[0], /gluster volume add-brick projects replica 2 10\.1\.1\.3:\/mnt\/bricks\/projects 10\.1\.1\.4:\/mnt\/bricks\/projects/);
  assert.equal(op(r, "laba/projects/rebalance")?.action, "update");
  assert.match(op(r, "laba/projects/rebalance")!.details[0], /rebalance projects start: replica sets 1 -> 2/);
  assert.match(op(r, "laba/projects/options")!.details.join("\n"), /auth\.allow: 10\.1\.1\.1,10\.1\.1\.2,10\.1\.2\.1,10\.1\.2\.2 -> 10\.1\.1\.1,10\.1\.1\.2,10\.1\.1\.3,10\.1\.1\.4,10\.1\.2\.1,10\.1\.2\.2/);
  // Deploy order: nodes, mesh, peers, add-brick, rebalance, mounts, timers.
  const order = ["laba/mesh/laba3/key", "laba/mesh/laba1/config", "laba/cluster/probe/laba3", "laba/projects/add-brick/laba3+laba4", "laba/projects/rebalance", "laba/mount/laba3/laba/projects", "laba/sync/laba3/timers"].map((n) => r.ops.findIndex((o) => o.resource === n));
  assert.deepEqual([...order].sort((a, b) => a - b), order);
  assert.ok(!r.ops.some((o) => o.action === "delete"));
  assert.match(text(r), /\+ laba\/projects\/add-brick\/laba3\+laba4/);
});

test("adding an option: normalised old -> new, exit 0", () => {
  const r = plan(edit("laba.yaml", ["network.ping-timeout: 20", "network.ping-timeout: 20\n      quick-read: yes\n      heal-timeout: 300"]));
  assert.equal(r.code, 0);
  assert.equal(r.ops.length, 1);
  assert.equal(r.ops[0].resource, "laba/projects/options");
  const d = r.ops[0].details.join("\n");
  assert.match(d, /option performance\.quick-read: off -> on/);
  assert.match(d, /option cluster\.heal-timeout: \(gluster's default\) -> 300/);
});

test("an option spelled differently but meaning the same is no change", () => {
  const r = plan(edit("laba.yaml", ["network.ping-timeout: 20", "ping-timeout: \"20\"\n      nfs.disable: yes"]));
  assert.equal(r.code, 0);
  assert.deepEqual(r.ops, []);
});

test("removing a brick (a replica set and its nodes): DANGER, exit 3", () => {
  const r = plan(baseTexts(), "laba", ADD_PAIR);
  assert.equal(r.code, 3, text(r));
  const all = r.dangers.map((d) => d.what).join("\n");
  assert.match(all, /bricks laba3:\/mnt\/bricks\/projects, laba4:\/mnt\/bricks\/projects removed/);
  assert.match(all, /node laba3 is removed but holds bricks \(projects\)/);
  assert.equal(op(r, "laba/projects/add-brick/laba3+laba4")?.action, "delete");
  assert.match(op(r, "laba/projects/add-brick/laba3+laba4")!.details[0], /protected/);
  assert.match(text(r), /^DANGER: /m);
  assert.match(text(r), /instead: .*remove-brick/);
});

test("reordering the bricks of a replica set: DANGER", () => {
  const r = plan(edit("laba.yaml", ["[laba1, laba2]", "[laba2, laba1]"]));
  assert.equal(r.code, 3);
  assert.match(r.dangers[0].what, /bricks of replica set 1 are reordered \(laba1\+laba2 -> laba2\+laba1\)/);
  const repaired = { ...ADD_PAIR, "laba.yaml": ADD_PAIR["laba.yaml"].replace("      - [laba1, laba2]\n      - [laba3, laba4]\n", "      - [laba1, laba3]\n      - [laba2, laba4]\n") };
  const r2 = plan(repaired, "laba", ADD_PAIR);
  assert.equal(r2.code, 3);
  const what = r2.dangers.map((d) => d.what).join("\n");
  assert.match(what, /replica set 1 changes from laba1:\/mnt\/bricks\/projects \+ laba2:\/mnt\/bricks\/projects to laba1:\/mnt\/bricks\/projects \+ laba3:\/mnt\/bricks\/projects \(re-paired\)/);
  assert.match(what, /replica set 2 changes from .* \(re-paired\)/);
});

test("swapping two replica sets: DANGER (sets cannot be reordered)", () => {
  const swapped = { ...ADD_PAIR, "laba.yaml": ADD_PAIR["laba.yaml"].replace("      - [laba1, laba2]\n      - [laba3, laba4]\n", "      - [laba3, laba4]\n      - [laba1, laba2]\n") };
  const r = plan(swapped, "laba", ADD_PAIR);
  assert.equal(r.code, 3);
  assert.match(r.dangers.map((d) => d.what).join("\n"), /replica set 1 \(laba1\+laba2\) moves to position 2/);
});

test("changing the replica count: DANGER", () => {
  const head = edit(
    "laba.yaml",
    [NODE2, NODE2 + "  laba3: { address: 192.0.2.13, tinc: 10.1.1.3, roles: [storage] }\n"],
    ["replica: 2", "replica: 3\n    arbiter: 1"],
    ["[laba1, laba2]", "[laba1, laba2, laba3]"],
  );
  const r = plan(head);
  assert.equal(r.code, 3, text(r));
  assert.match(r.dangers[0].what, /volume projects: replica 2 -> replica 3 arbiter 1/);
});

test("renaming a volume: DANGER, named as a rename", () => {
  const head = edit("laba.yaml", ["  projects:\n", "  images:\n"]);
  const r = plan(head);
  assert.equal(r.code, 3, text(r));
  assert.match(r.dangers.map((d) => d.what).join("\n"), /volume projects is renamed to images/);
  assert.match(r.dangers.map((d) => d.instead).join("\n"), /keep the name projects/);
  assert.equal(op(r, "laba/images/create/laba1+laba2")?.action, "create");
  assert.equal(op(r, "laba/projects/create/laba1+laba2")?.action, "delete");
});

test("removing a volume: DANGER", () => {
  const head = { ...baseTexts(), "laba.yaml": LABA.slice(0, LABA.indexOf("volumes:")) };
  const r = plan(head);
  assert.equal(r.code, 3);
  assert.match(r.dangers.map((d) => d.what).join("\n"), /volume projects is removed/);
  // The timers syncing into labb/projects lose their mount too? No: laba's own mounts of labb stay for compute nodes.
});

test("a mount removed with the sync timer that targets it: no DANGER; the node's retired step stops the timer, then unmounts", () => {
  // laba1 and laba2 made storage-only, so that the mount of labb/projects goes with the timers
  const base = { ...baseTexts(), "laba.yaml": LABA.replace(/roles: \[storage, compute\]/g, "roles: [storage]") };
  const head = { ...base, "labb.yaml": LABB.replace("sync: { every: 2min }", "sync: false") };
  const r = plan(head, "laba", base);
  assert.equal(r.code, 0, text(r));
  assert.deepEqual(r.dangers, []);
  const retired = op(r, "laba/retired/laba1")!;
  assert.equal(retired.action, "update");
  assert.match(retired.details.join("\n"), /stop and remove on laba1: sync timer glustermesh-sync-projects-set1-to-labb\.timer, mount \/mnt\/gluster\/labb\/projects \(labb\/projects\)/);
  assert.match(op(r, "laba/mount/laba1/labb/projects")!.details.join("\n"), /stops and removes its units/);
  assert.ok(r.notes.some((n) => /removed mounts and sync timers are stopped and removed .* timers first; a mount in use .* stays mounted/.test(n)), r.notes.join("\n"));
});

test("a node added to another DC: this DC's nodes write its host file (after that DC deploys)", () => {
  const head = edit("labb.yaml", ["  labb2: { address: 192.0.2.22, tinc: 10.1.2.2, roles: [storage] }\n", "  labb2: { address: 192.0.2.22, tinc: 10.1.2.2, roles: [storage] }\n  labb3: { address: 192.0.2.23, tinc: 10.1.2.3, roles: [storage] }\n"]);
  const r = plan(head);
  assert.equal(r.code, 0, text(r));
  for (const n of ["laba1", "laba2"]) {
    const o = op(r, `laba/mesh/${n}/config`)!;
    assert.equal(o.action, "update");
    assert.match(o.details.join("\n"), new RegExp(`write host file hosts/labb3 on ${n}`));
    assert.match(o.details.join("\n"), /ConnectTo laba\w, labb1, labb2 -> laba\w, labb1, labb2, labb3/);
  }
  assert.ok(r.notes.some((n) => /labb3 in labb: deploy labb first/.test(n)), r.notes.join("\n"));
  assert.ok(r.ops.every((o) => o.resource.endsWith("/config")), r.ops.map((o) => o.resource).join(" "));
});

test("an invalid working tree: located problems, exit 1; an invalid base: says so, exit 1", () => {
  const r = plan(edit("laba.yaml", ["[laba1, laba2]", "[laba1, laba1]"]));
  assert.equal(r.code, 1);
  assert.match(r.errors.join("\n"), /inventory\/laba\.yaml:\d+:\d+: volumes\.projects\.replicaSets\[0\]\[1\]: replica set 1 has two bricks on node laba1/);
  const b = planChanges({ "mesh.yaml": MESH, "laba.yaml": "nodes: [" }, baseTexts(), "laba", { baseDir: "HEAD:inventory", baseName: "HEAD" });
  assert.equal(b.code, 1);
  assert.match(b.errors.join("\n"), /HEAD:inventory\/laba\.yaml:.*YAML syntax/);
  assert.match(b.errors.join("\n"), /base inventory \(HEAD\) is invalid/);
  assert.equal(plan(baseTexts(), "nowhere").code, 1);
});

test("no inventory at the base: everything is created", () => {
  const r = planChanges({}, baseTexts(), "laba");
  assert.equal(r.code, 0);
  assert.ok(r.ops.length > 10 && r.ops.every((o) => o.action === "create"));
  assert.equal(op(r, "laba/projects/create/laba1+laba2")?.action, "create");
});

test("end to end: planCommand reads the base from git and the working tree", async () => {
  const repo = fs.mkdtempSync(path.join(os.tmpdir(), "gm-plan-"));
  const inv = path.join(repo, "inventory");
  fs.mkdirSync(inv);
  for (const [f, t] of Object.entries(baseTexts())) fs.writeFileSync(path.join(inv, f), t);
  const git = (...args: string[]) => {
    const r = spawnSync("git", ["-c", "user.name=t", "-c", "user.email=t@example.org", ...args], { cwd: repo, encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
  };
  git("init", "-q");
  git("add", "-A");
  git("commit", "-q", "-m", "base");
  for (const [f, t] of Object.entries(ADD_PAIR)) fs.writeFileSync(path.join(inv, f), t);
  fs.writeFileSync(path.join(inv, "labc.yaml"), "nodes:\n  labc1: { address: 192.0.2.31, tinc: 10.1.3.1, roles: [compute] }\n"); // absent at the base
  const out = await runCommand("plan", ["--stack", "laba", "--inventory", inv]);
  assert.equal(out.code, 0, out.stderr);
  assert.match(out.stdout, /plan for laba: inventory at HEAD -> working tree/);
  assert.match(out.stdout, /\+ laba\/projects\/add-brick\/laba3\+laba4 +gluster volume add-brick projects replica 2/);
  assert.match(out.stdout, /labc1 in labc: deploy labc first/);
  // Against the new state committed: nothing to do; going back: dangerous.
  git("add", "-A");
  git("commit", "-q", "-m", "pair");
  const same = await runCommand("plan", ["--stack", "laba", "--inventory", inv]);
  assert.equal(same.code, 0);
  assert.match(same.stdout, /no changes/);
  for (const [f, t] of Object.entries(baseTexts())) fs.writeFileSync(path.join(inv, f), t);
  const back = await runCommand("plan", ["--stack=laba", `--inventory=${inv}`, "--base", "HEAD"]);
  assert.equal(back.code, 3);
  assert.match(back.stdout, /DANGER/);
  assert.match(back.stderr, /exit 3/);
  const badRef = await runCommand("plan", ["--stack", "laba", "--inventory", inv, "--base", "nosuchref"]);
  assert.equal(badRef.code, 1);
  assert.match(badRef.stderr, /unknown git revision "nosuchref"/);
  fs.writeFileSync(path.join(inv, "laba.yaml"), "nodes: {");
  const bad = await runCommand("plan", ["--stack", "laba", "--inventory", inv]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /laba\.yaml:\d+:\d+: YAML syntax/);
  const usage = await runCommand("plan", ["--bogus"]);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /^glustermesh plan: unknown option --bogus\nusage: glustermesh plan /);
  assert.doesNotMatch(usage.stderr, /\n\s+at /);
  fs.writeFileSync(path.join(inv, "laba.yaml"), baseTexts()["laba.yaml"]);
  const unknown = await runCommand("plan", ["--stack", "nowhere", "--inventory", inv]);
  assert.equal(unknown.code, 2, unknown.stderr);
  assert.match(unknown.stderr, /^glustermesh plan: no data center "nowhere" in the inventory \(known: laba, labb, labc\)\nusage: glustermesh plan /);
  fs.rmSync(repo, { recursive: true, force: true });
});


test("a gce data center: new nodes' brick disks are planned first, each formatted only if blank", () => {
  const LABG = `provider: gce
gce:
  machineType: e2-standard-2
  image: debian-cloud/debian-12
  bootDiskGb: 20
nodes:
  labg1: { tinc: 10.1.3.1, roles: [storage, compute] }
  labg2: { tinc: 10.1.3.2, roles: [storage, compute] }
volumes:
  projects:
    replica: 2
    brickPath: /srv/gluster/projects
    diskGb: 200
    replicaSets:
      - [labg1, labg2]
    options:
      group: virt
    sync: { every: 2min }
`;
  const base = { ...baseTexts(), "labg.yaml": LABG };
  const grown = LABG.replace("  labg2: { tinc: 10.1.3.2, roles: [storage, compute] }\n", "  labg2: { tinc: 10.1.3.2, roles: [storage, compute] }\n  labg3: { tinc: 10.1.3.3, roles: [storage, compute] }\n  labg4: { tinc: 10.1.3.4, roles: [storage, compute] }\n").replace("      - [labg1, labg2]\n", "      - [labg1, labg2]\n      - [labg3, labg4]\n");
  const r = plan({ ...base, "labg.yaml": grown }, "labg", base);
  assert.equal(r.code, 0, text(r, "labg"));
  for (const [n, i] of [["labg3", 0], ["labg4", 1]] as const) {
    const d = op(r, `labg/disk/${n}/projects-set2`);
    assert.equal(d?.action, "create", text(r, "labg"));
    assert.equal(d!.section, "brick disks");
    assert.match(d!.details[0], new RegExp(`format /dev/disk/by-id/google-\\S+ \\(XFS\\) if blank and mount it at /srv/gluster on ${n}, for brick /srv/gluster/projects; .*never formatted`));
    // before anything else of the new node
    assert.ok(r.ops.findIndex((o) => o.resource === `labg/disk/${n}/projects-set2`) < r.ops.findIndex((o) => o.resource === `labg/mesh/${n}/key`), `${i}`);
  }
  assert.equal(op(r, "labg/disk/labg1/projects-set1"), undefined, "existing disks are no change");
  assert.match(text(r, "labg"), /brick disks/);
  // a fresh gce DC plans every disk
  const fresh = plan(base, "labg", baseTexts());
  assert.deepEqual(fresh.ops.filter((o) => o.section === "brick disks").map((o) => o.resource), ["labg/disk/labg1/projects-set1", "labg/disk/labg2/projects-set1"]);
});

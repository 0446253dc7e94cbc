// End-to-end, what only the real Pulumi engine shows: secrets encrypted in the state, protected
// volumes that a dropped inventory entry cannot delete, and `pulumi destroy` leaving the storage
// on the hosts. Runs on the lab the previous file left deployed (or a fresh one).
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, test } from "node:test";
import { stringify, parse } from "yaml";
import { INVENTORY_DIR, rollout } from "../../lab/deploy";
import type { Lab } from "../../lab/hosts";
import { PULUMI_DIR, pulumi, setConfig, stackFile, upStack } from "../../lab/pulumi";
import { markDeployed, note, sh, sharedLab, skip, unmarkDeployed, volumeInfo } from "./helpers";

let lab: Lab;
let grown = false;
before(async () => {
  if (skip) return;
  const s = await sharedLab();
  lab = s.lab;
  grown = s.grown;
});
after(() => undefined);

/** The lines of the lab's private key that carry key material. */
const keyLines = () =>
  fs.readFileSync(lab.sshKeyPath, "utf8").split("\n").filter((l) => l.length > 20 && !l.startsWith("-----"));

test("secrets: the SSH key is ciphertext in the stack settings and the exported state, and in no output or log of a deploy", { skip }, async () => {
  const lines = keyLines();
  assert.ok(lines.length >= 3, "the lab key has key material lines");
  for (const dc of ["laba", "labb"]) {
    const settings = fs.readFileSync(stackFile(dc), "utf8");
    assert.match(settings, /glustermesh:sshPrivateKey:\n\s+secure: v1:/, `${dc}: the key is set with --secret`);
    const exported = await pulumi(lab, ["stack", "export", "--stack", dc]);
    assert.equal(exported.code, 0, exported.stderr);
    assert.match(exported.stdout, /"ciphertext":/, `${dc}: the state holds secrets as ciphertext`);
    for (const l of lines) assert.ok(!exported.stdout.includes(l), `${dc}: the exported state contains the private key`);
    const outputs = await pulumi(lab, ["stack", "output", "--json", "--stack", dc]);
    for (const l of lines) assert.ok(!outputs.stdout.includes(l), `${dc}: a stack output contains the private key`);
  }
  // every event log of every deploy of this lab, and a deploy's printed output
  const r = await upStack(lab, "laba");
  assert.ok(r.ok, r.output);
  const eventsDir = path.join(PULUMI_DIR, "events");
  const logs = fs.readdirSync(eventsDir).map((f) => fs.readFileSync(path.join(eventsDir, f), "utf8"));
  assert.ok(logs.length >= 2, "the deploys' event logs are there");
  for (const text of [r.output, ...logs]) for (const l of lines) assert.ok(!text.includes(l), "a deploy's output or event log contains the private key");
  note(`secrets: key absent from ${logs.length} event logs, 2 exported states and their outputs`);
});

test("protection: dropping a volume from the inventory makes pulumi up fail on the protected resource before any step runs", { skip }, async () => {
  unmarkDeployed();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "glustermesh-inventory-"));
  for (const f of fs.readdirSync(INVENTORY_DIR)) fs.copyFileSync(path.join(INVENTORY_DIR, f), path.join(dir, f));
  const laba = parse(fs.readFileSync(path.join(dir, "laba.yaml"), "utf8")) as { volumes: Record<string, unknown> };
  delete laba.volumes.scratch;
  fs.writeFileSync(path.join(dir, "laba.yaml"), stringify(laba, { lineWidth: 0 }));
  const before = await volumeInfo(lab, "laba1", "scratch");
  try {
    await setConfig(lab, "laba", "glustermesh:inventory", dir);
    const r = await upStack(lab, "laba");
    assert.equal(r.ok, false, "pulumi up must fail");
    assert.match(r.output, /laba\/scratch\/create\/laba4\+laba3" cannot be deleted\s+because it is protected/);
    assert.deepEqual(r.resources.filter((x) => x.ok).map((x) => `${x.op} ${x.name}`), [], "steps ran before the protection stopped the update");
    // nor did the preview run any: laba5's retired step would have unmounted the dropped volume
    const mounted = await sh(lab, "laba5", "findmnt -rn -o FSTYPE /mnt/gluster/laba/scratch");
    assert.equal(mounted.stdout.trim(), "fuse.glusterfs", "the preview ran laba5's retired step");
    note(`protection: pulumi up exit ${r.exitCode} in ${r.seconds.toFixed(1)}s, no step ran`);
  } finally {
    await setConfig(lab, "laba", "glustermesh:inventory", INVENTORY_DIR);
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const after = await volumeInfo(lab, "laba1", "scratch");
  assert.deepEqual(after, before, "the volume changed");
  const p = await pulumi(lab, ["preview", "--stack", "laba", "--non-interactive", "--expect-no-changes"]);
  assert.equal(p.code, 0, p.stdout + p.stderr);
  markDeployed(grown);
});

test("pulumi destroy refuses the protected volumes; destroy --exclude-protected leaves volumes, bricks, mounts and data on the hosts; pulumi up brings the stack back", { skip }, async () => {
  unmarkDeployed();
  const write = await sh(lab, "laba5", "set -e; d=/mnt/gluster/laba/projects/destroy; mkdir -p $d; for i in 1 2 3 4 5; do head -c 70000 /dev/urandom > $d/f$i; done; sync; cd $d && sha256sum f*");
  assert.equal(write.code, 0, write.stderr);
  const volumes = { projects: await volumeInfo(lab, "laba1", "projects"), scratch: await volumeInfo(lab, "laba1", "scratch") };
  const refused = await pulumi(lab, ["destroy", "--stack", "laba", "--yes", "--non-interactive"]);
  assert.notEqual(refused.code, 0, "destroy must refuse protected volumes");
  assert.match(refused.stdout + refused.stderr, /cannot be deleted\s+because it is protected/);
  const excl = await pulumi(lab, ["destroy", "--stack", "laba", "--yes", "--non-interactive", "--exclude-protected"]);
  assert.equal(excl.code, 0, excl.stdout + excl.stderr);
  note(`destroy --exclude-protected: ${/- (\d+) deleted/.exec(excl.stdout)?.[1] ?? "?"} resources left the state, nothing ran on a host`);
  for (const [v, info] of Object.entries(volumes)) assert.deepEqual(await volumeInfo(lab, "laba1", v), info, `volume ${v} changed`);
  const check = await sh(lab, "laba5", "cd /mnt/gluster/laba/projects/destroy && sha256sum f*");
  assert.equal(check.stdout, write.stdout, "data changed after destroy");
  const units = await sh(lab, "laba1", "systemctl is-active tinc@glustermesh glusterd mnt-gluster-labb-projects.mount");
  assert.equal(units.stdout.trim(), "active\nactive\nactive", "the hosts' services stay");
  const back = await rollout(lab, ["laba"], { log: () => undefined });
  assert.ok(back.ok, JSON.stringify(back.reports.flatMap((x) => x.failures), null, 2));
  note(`pulumi up after destroy: ${back.seconds.toFixed(1)}s, ${back.reports[0].resources.length} steps ran again`);
  const p = await pulumi(lab, ["preview", "--stack", "laba", "--non-interactive", "--expect-no-changes"]);
  assert.equal(p.code, 0, p.stdout + p.stderr);
  assert.equal((await sh(lab, "laba5", "cd /mnt/gluster/laba/projects/destroy && sha256sum f*")).stdout, write.stdout);
  markDeployed(grown);
});

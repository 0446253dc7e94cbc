// The config a gce stack needs: every missing or wrong value stops the program with a RunError
// (printed without a stack trace) that names the key and the `pulumi config set` fixing it.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { baseConfig, REPO } from "./harness";
import { loadModel } from "../../components/stack";
import { readGceSettings, normaliseRange } from "../../components/gceConfig";
import * as path from "node:path";

const model = loadModel(path.join(REPO, "inventory"));
const central = model.dcs.find((d) => d.name === "gce-central-1")!;
const warnings: string[] = [];
console.warn = (...a: unknown[]) => void warnings.push(a.map(String).join(" "));

function settingsWith(change: Record<string, unknown>) {
  const merged: Record<string, unknown> = { ...baseConfig("gce-central-1"), ...change };
  const config: Record<string, string> = {};
  for (const [k, v] of Object.entries(merged)) if (v !== null) config[k] = typeof v === "string" ? v : JSON.stringify(v);
  pulumi.runtime.setAllConfig(config, []);
  return readGceSettings(model, central);
}

const ERRORS: [string, Record<string, unknown>, RegExp][] = [
  ["no gcp:project", { "gcp:project": null }, /no GCP project: run\n  pulumi config set gcp:project YOUR-PROJECT-ID/],
  ["bad gcp:project", { "gcp:project": "My Project" }, /gcp:project "My Project" is not a GCP project ID/],
  ["no gcp:region", { "gcp:region": null }, /no GCP region: run\n  pulumi config set gcp:region us-central1/],
  ["bad gcp:region", { "gcp:region": "uscentral" }, /gcp:region "uscentral" is not a GCP region/],
  ["no zone", { "gcp:zone": null }, /no GCP zone: run\n  pulumi config set gcp:zone us-central1-b/],
  ["zone outside the region", { "gcp:zone": "europe-west1-b" }, /zone europe-west1-b is not in the stack's region us-central1/],
  ["zones not a list", { "glustermesh:zones": "us-central1-b us-central1-c" }, /glustermesh:zones is not valid: give a list of zones/],
  ["no adminRanges", { "glustermesh:adminRanges": null }, /no glustermesh:adminRanges.*\n  pulumi config set --path 'glustermesh:adminRanges\[0\]'/s],
  ["empty adminRanges", { "glustermesh:adminRanges": [] }, /no glustermesh:adminRanges/],
  ["adminRanges not a list", { "glustermesh:adminRanges": "10.0.0.0/8 oops" }, /glustermesh:adminRanges is not valid: give a list of CIDRs/],
  ["bad admin range", { "glustermesh:adminRanges": ["10.0.0.1/8"] }, /"10\.0\.0\.1\/8" is not an IPv4 CIDR/],
  ["no sshPublicKey", { "glustermesh:sshPublicKey": null }, /no glustermesh:sshPublicKey.*pulumi config set glustermesh:sshPublicKey/s],
  ["bad sshPublicKey", { "glustermesh:sshPublicKey": "not a key" }, /glustermesh:sshPublicKey is not one OpenSSH public key line/],
  ["non-root user", { "glustermesh:sshUser": "deploy" }, /pulumi config set glustermesh:sshUser root/],
  ["bad pinned host key", { "glustermesh:hostKeys": { gcecentral1: "ssh-rsa AAAA" } }, /hostKeys\.gcecentral1/],
  ["subnet overlapping the mesh", { "glustermesh:subnetCidr": "10.1.0.0/24" }, /overlaps the tinc mesh subnet 10\.1\.0\.0\/16/],
];

test("missing or wrong config: a RunError naming the key and the fix", async () => {
  await pulumi.runtime.setMocks({ newResource: (a) => ({ id: a.name, state: a.inputs }), call: (a) => a.inputs }, "glustermesh", "gce-central-1", false);
  for (const [what, change, message] of ERRORS) {
    assert.throws(() => settingsWith(change), (e: unknown) => {
      assert.ok(pulumi.RunError.isInstance(e), `${what}: not a RunError: ${e}`);
      assert.match((e as Error).message, message, what);
      return true;
    }, what);
  }
});

test("good config: defaults, zones spread in order, ranges normalised, 0.0.0.0/0 warned about", async () => {
  const s = settingsWith({ "glustermesh:zones": ["us-central1-a", "us-central1-f"], "glustermesh:adminRanges": ["192.0.2.7", "198.51.100.0/24"] });
  assert.equal(s.project, "glustermesh-test");
  assert.deepEqual(s.zoneOf, { gcecentral1: "us-central1-a", gcecentral2: "us-central1-f", gcecentral3: "us-central1-a", gcecentral4: "us-central1-f" });
  assert.deepEqual(s.adminRanges, ["192.0.2.7/32", "198.51.100.0/24"]);
  assert.equal(s.deletionProtection, true);
  assert.equal(s.machineType, "e2-standard-2");
  assert.equal(warnings.filter((w) => w.includes("0.0.0.0/0")).length, 0);
  settingsWith({ "glustermesh:adminRanges": ["0.0.0.0/0"] });
  await new Promise((r) => setImmediate(r));
  assert.equal(warnings.filter((w) => w.includes("adminRanges contains 0.0.0.0/0")).length, 1);
  assert.equal(normaliseRange("10.0.0.0/33"), undefined);
  assert.equal(normaliseRange("0.0.0.0/0"), "0.0.0.0/0");
});

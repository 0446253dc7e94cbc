// The engine's build (engine/): its pins agree with package.json, its Go code passes its own
// tests, and the lab reads a `pulumi up` event log into a report.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { reportFromEvents } from "../../lab/pulumi";
import type { Lab } from "../../lab/hosts";

const REPO = path.resolve(__dirname, "..", "..");
const noGo = spawnSync("go", ["version"]).status !== 0 && "no Go";

test("engine/go.mod pins the Pulumi CLI at the version package.json pins for @pulumi/pulumi", () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(REPO, "package.json"), "utf8")) as { dependencies: Record<string, string> };
  const gomod = fs.readFileSync(path.join(REPO, "engine", "go.mod"), "utf8");
  const sdk = pkg.dependencies["@pulumi/pulumi"];
  assert.match(sdk, /^\d+\.\d+\.\d+$/, "@pulumi/pulumi is pinned to one version");
  assert.match(gomod, new RegExp(`github\\.com/pulumi/pulumi/pkg/v3 v${sdk.replace(/\./g, "\\.")}\\b`));
  assert.match(gomod, new RegExp(`github\\.com/pulumi/pulumi/sdk/v3 v${sdk.replace(/\./g, "\\.")}\\b`));
  assert.match(pkg.dependencies["@pulumi/command"], /^\d+\.\d+\.\d+$/, "@pulumi/command is pinned to one version");
});

test("engine/build.sh passes shellcheck", { skip: spawnSync("shellcheck", ["--version"]).status !== 0 && "no shellcheck" }, () => {
  const r = spawnSync("shellcheck", [path.join(REPO, "engine", "build.sh")], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stdout);
});

test("the language host and the command provider pass their Go tests", { skip: noGo }, () => {
  const r = spawnSync("go", ["test", "./cmd/..."], { cwd: path.join(REPO, "engine"), encoding: "utf8" });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /ok\s+\S+pulumi-resource-command/);
  assert.match(r.stdout, /ok\s+\S+pulumi-language-nodejs/);
});

const lab = { hosts: [{ name: "laba1", dc: "laba", address: "10.252.0.11", brickDisks: 1 }, { name: "laba2", dc: "laba", address: "10.252.0.12", brickDisks: 1 }] } as unknown as Lab;
const urn = (type: string, name: string) => `urn:pulumi:laba::glustermesh::glustermesh:index:DataCenter$${type}::${name}`;
const line = (e: object) => JSON.stringify(e);

test("an event log becomes a report: steps that ran with their changed and warning lines, failures with resource and host", () => {
  const events = [
    line({ resOutputsEvent: { planning: true, metadata: { op: "create", urn: urn("command:remote:Command", "laba/x/laba1"), type: "command:remote:Command" } } }),
    line({ resOutputsEvent: { metadata: { op: "same", urn: urn("command:remote:Command", "laba/same/laba1"), type: "command:remote:Command" } } }),
    line({ resOutputsEvent: { metadata: { op: "create", urn: urn("command:remote:Command", "laba/mesh/laba1/key"), type: "command:remote:Command", new: { outputs: { stdout: "glustermesh: changed: made a key\nother\n", stderr: "warning: careful\n" } } } } }),
    line({ diagnosticEvent: { urn: urn("command:remote:Command", "laba/gluster/glusterd"), severity: "error", message: "on root@10.252.0.12:22: Process exited with status 3\nmasked\n" } }),
    line({ diagnosticEvent: { urn: urn("command:remote:Command", "laba/gluster/glusterd"), severity: "error", message: "on root@10.252.0.12:22: Process exited with status 3\nmasked\n" } }),
    line({ diagnosticEvent: { urn: "urn:pulumi:laba::glustermesh::pulumi:pulumi:Stack::glustermesh-laba", severity: "error", message: "update failed" } }),
    line({ summaryEvent: { resourceChanges: { create: 1, same: 1 } } }),
  ].join("\n");
  const r = reportFromEvents(lab, "laba", events);
  assert.deepEqual(r.resources.filter((x) => x.ok).map((x) => [x.op, x.name, x.host, x.changed, x.warnings]), [["create", "laba/mesh/laba1/key", "laba1", ["made a key"], ["careful"]]]);
  assert.deepEqual(r.failures.map((f) => [f.name, f.host, f.exitCode]), [["laba/gluster/glusterd", "laba2", 3]], "one failure, its host from the address, the stack's echo left out");
  assert.deepEqual(r.summary, { create: 1, same: 1 });
  const onlyProgram = reportFromEvents(lab, "laba", line({ diagnosticEvent: { urn: "urn:pulumi:laba::glustermesh::pulumi:pulumi:Stack::glustermesh-laba", severity: "error", message: "the inventory is invalid" } }));
  assert.deepEqual(onlyProgram.failures.map((f) => f.message), ["the inventory is invalid"], "a program error is the failure when no step failed");
});

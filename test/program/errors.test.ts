// User errors stop the program with a pulumi.RunError whose message says what to do, before
// any remote command is declared.
import { test, after } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import { copyInventory, runScenario, type ProgramResult } from "./harness";

const dirs: string[] = [];
after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

function failed(result: ProgramResult): string {
  assert.equal(result.ok, false, "the program should fail");
  assert.equal(result.error?.runError, true, `not a RunError: ${JSON.stringify(result.error)}`);
  assert.deepEqual(result.resources.filter((r) => r.type.startsWith("command:")).map((r) => r.name), [], "no command is declared");
  return result.error!.message;
}

test("an invalid inventory: every problem, located", async () => {
  const dir = copyInventory((files) => {
    files["padelford.yaml"] = files["padelford.yaml"].replace("- [cloud5, cloud6]", "- [cloud5, cloud99]").replace("tinc: 10.1.2.1", "tinc: 10.9.2.1");
  });
  dirs.push(dir);
  const message = failed(await runScenario({ stack: "padelford", inventoryDir: dir }));
  assert.match(message, /the inventory is invalid; nothing was changed/);
  const lines = message.split("\n").slice(1);
  assert.ok(lines.length >= 2, message);
  // file:line:column: field: message, for each problem.
  assert.ok(lines.some((l) => /padelford\.yaml:21:\d+: volumes\.projects\.replicaSets\[2\]\[1\]: .*"cloud99"/.test(l)), message);
  assert.ok(lines.some((l) => /padelford\.yaml:6:\d+: nodes\.cloud2\.tinc: .*10\.9\.2\.1 is outside the mesh subnet/.test(l)), message);
});

test("a broken YAML file is reported with its line", async () => {
  const dir = copyInventory((files) => {
    files["4545.yaml"] = files["4545.yaml"].replace("cloud12: { address", "cloud12: { address: [");
  });
  dirs.push(dir);
  const message = failed(await runScenario({ stack: "4545", inventoryDir: dir }));
  assert.match(message, /4545\.yaml:\d+:\d+: YAML syntax/);
});

test("a stack that is not a data center of the inventory", async () => {
  const message = failed(await runScenario({ stack: "dev", hostKeys: {} }));
  assert.match(message, /stack "dev" is not a data center of the inventory \(4545, gce-central-1, gce-europe-1, padelford\)/);
  assert.match(message, /pulumi stack select/);
});

test("no SSH key configured", async () => {
  const message = failed(await runScenario({ stack: "4545", sshPrivateKey: null }));
  assert.match(message, /pulumi config set --secret glustermesh:sshPrivateKey/);
});

test("nodes without a pinned host key: the ssh-keyscan command for each", async () => {
  const message = failed(await runScenario({ stack: "padelford", hostKeys: { cloud1: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPinned" } }));
  assert.match(message, /not pinned for cloud2, cloud3, cloud4, cloud5, cloud6, cloud7/);
  for (let i = 2; i <= 7; i++) {
    assert.ok(message.includes(`pulumi config set --path 'glustermesh:hostKeys.cloud${i}' "$(ssh-keyscan -t ed25519 198.51.100.${i} `), `command for cloud${i}:\n${message}`);
  }
  assert.ok(!message.includes("hostKeys.cloud1'"), "cloud1 is pinned");
});

test("a host key pinned in the inventory is enough", async () => {
  const dir = copyInventory((files) => {
    files["padelford.yaml"] = files["padelford.yaml"].replace(
      "cloud7: { address: 198.51.100.7,",
      "cloud7: { address: 198.51.100.7, ssh: { hostKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIInventory' },",
    );
  });
  dirs.push(dir);
  const hostKeys = Object.fromEntries([1, 2, 3, 4, 5, 6].map((i) => [`cloud${i}`, `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIConfig${i}`]));
  const result = await runScenario({ stack: "padelford", inventoryDir: dir, hostKeys });
  assert.equal(result.ok, true, JSON.stringify(result.error));
  const key = result.resources.find((r) => r.name === "padelford/mesh/cloud7/key")!;
  assert.equal((key.inputs.connection as { hostKey: string }).hostKey, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIInventory");
});

// The users' CI workflow: actionlint finds nothing, and pull-request code never meets a secret.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { parse } from "yaml";

const REPO = path.resolve(__dirname, "..", "..");
const WORKFLOW = path.join(REPO, ".github", "workflows", "drift.yml");
const ACTIONLINT = "github.com/rhysd/actionlint/cmd/actionlint@v1.7.12";
const noGo = spawnSync("go", ["version"]).status !== 0 && "no Go";

test("actionlint (with shellcheck on every run script) finds nothing in the workflows", { skip: noGo }, () => {
  const r = spawnSync("go", ["run", ACTIONLINT, "-no-color"], { cwd: REPO, encoding: "utf8" });
  assert.equal(r.status, 0, r.stdout + r.stderr);
});

interface Job {
  if?: string;
  environment?: string;
  env?: Record<string, string>;
  steps: { run?: string; env?: Record<string, string>; with?: Record<string, unknown> }[];
}

test("jobs a pull request can run get no secret; secrets live only in the protected environment on the default branch", () => {
  const wf = parse(fs.readFileSync(WORKFLOW, "utf8")) as { on: Record<string, unknown>; jobs: Record<string, Job> };
  assert.ok("pull_request" in wf.on, "the workflow runs on pull requests");
  assert.ok(!("pull_request_target" in wf.on), "pull_request_target would hand secrets to a fork's code");
  for (const [name, job] of Object.entries(wf.jobs)) {
    const text = JSON.stringify(job);
    if (!text.includes("secrets.")) continue;
    assert.match(job.if ?? "", /github\.event_name != 'pull_request'/, `${name} uses secrets and may run on a pull request`);
    assert.match(job.if ?? "", /refs\/heads\/\{0\}', github\.event\.repository\.default_branch/, `${name} uses secrets off the default branch`);
    assert.equal(job.environment, "glustermesh-production", `${name} uses secrets outside the protected environment`);
  }
});

test("no value from the repository or an event is spliced into a run script", () => {
  const wf = parse(fs.readFileSync(WORKFLOW, "utf8")) as { jobs: Record<string, Job> };
  for (const [name, job] of Object.entries(wf.jobs)) {
    for (const step of job.steps) {
      const exprs = [...(step.run ?? "").matchAll(/\$\{\{([^}]*)\}\}/g)].map((m) => m[1].trim());
      assert.deepEqual(exprs, [], `${name}: a run script splices ${exprs.join(", ")}: pass it through env`);
    }
  }
});

test("drift logs in with the read-only drift account's key, never the deploy key", () => {
  const text = fs.readFileSync(WORKFLOW, "utf8");
  const secrets = [...new Set([...text.matchAll(/secrets\.([A-Z_]+)/g)].map((m) => m[1]))].sort();
  assert.deepEqual(secrets, ["GLUSTERMESH_DRIFT_KEY", "GOOGLE_CREDENTIALS", "PULUMI_ACCESS_TOKEN"]);
  assert.doesNotMatch(text, /--ssh-user/, "drift's default user is the read-only account");
});

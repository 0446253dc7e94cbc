// tinc host files across DCs: the other DCs' nodes come from their stacks' `meshHosts`
// outputs (StackReferences); a DC not deployed yet is left out with a warning.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { fakePublicKey, runScenario, Resources, type ProgramResult } from "./harness";

interface Host {
  address?: string;
  tinc: string;
  publicKey: string;
}

const PADELFORD = Object.fromEntries([1, 2, 3, 4, 5, 6, 7].map((i) => [`cloud${i}`, { address: `198.51.100.${i}`, tinc: `10.1.${i}.1` }]));
const DC4545 = Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`cloud${10 + i}`, { address: `203.0.113.${10 + i}`, tinc: `10.1.${10 + i}.1` }]));
const CENTRAL = Object.fromEntries([1, 2, 3, 4].map((i) => [`gcecentral${i}`, { address: `192.0.2.${40 + i}`, tinc: `10.1.40.${i}` }]));
const EUROPE = Object.fromEntries([1, 2, 3].map((i) => [`gceeurope${i}`, { address: `192.0.2.${50 + i}`, tinc: `10.1.50.${i}` }]));

/** A peer stack's `meshHosts` output, with keys as that stack's key commands reported them. */
const meshHosts = (nodes: Record<string, { address: string; tinc: string }>) =>
  Object.fromEntries(Object.entries(nodes).map(([n, h]) => [n, { ...h, publicKey: fakePublicKey(n) } satisfies Host]));

/** The host files a tinc config script writes: node -> file content. */
function hostFiles(script: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /put_file \/etc\/tinc\/glustermesh\/hosts\/([a-z0-9_]+) 644 <<'GLUSTERMESH_EOF'\n([\s\S]*?)GLUSTERMESH_EOF\n/g;
  for (const m of script.matchAll(re)) out[m[1]] = m[2];
  return out;
}

function tincConf(script: string): string {
  return /put_file \/etc\/tinc\/glustermesh\/tinc\.conf 644 <<'GLUSTERMESH_EOF'\n([\s\S]*?)GLUSTERMESH_EOF/.exec(script)?.[1] ?? "";
}

function checkHostFiles(result: ProgramResult, dc: string, own: Record<string, { address: string; tinc: string }>, all: Record<string, { address: string; tinc: string }>) {
  assert.equal(result.ok, true, JSON.stringify(result.error));
  assert.deepEqual(result.unhandled, []);
  const rs = new Resources(result.resources);
  for (const node of Object.keys(own)) {
    const script = String(rs.get(`${dc}/mesh/${node}/config`).inputs.create);
    const files = hostFiles(script);
    assert.deepEqual(Object.keys(files).sort(), Object.keys(all).sort(), `host files on ${node}`);
    for (const [peer, h] of Object.entries(all)) {
      const f = files[peer];
      assert.match(f, new RegExp(`^Address = ${h.address.replace(/\./g, "\\.")} 655$`, "m"), `${node}: Address of ${peer}`);
      assert.match(f, new RegExp(`^Subnet = ${h.tinc.replace(/\./g, "\\.")}/32$`, "m"), `${node}: Subnet of ${peer}`);
      assert.ok(f.includes(fakePublicKey(peer)), `${node}: key of ${peer}`);
      assert.ok(!f.includes("PRIVATE"), `${node}: host file of ${peer} has only the public key`);
    }
  }
}

test("with every other DC deployed, each node has a host file for every node of every DC", async () => {
  const result = await runScenario({
    stack: "padelford",
    peers: { "4545": { meshHosts: meshHosts(DC4545) }, "gce-central-1": { meshHosts: meshHosts(CENTRAL) }, "gce-europe-1": { meshHosts: meshHosts(EUROPE) } },
  });
  checkHostFiles(result, "padelford", PADELFORD, { ...PADELFORD, ...DC4545, ...CENTRAL, ...EUROPE });
  // No "not deployed" warning; each node connects to up to 3 nodes of every DC.
  assert.deepEqual(result.warnings.filter((w) => /not been deployed/.test(w)), []);
  const conf = tincConf(String(new Resources(result.resources).get("padelford/mesh/cloud1/config").inputs.create));
  const connect = [...conf.matchAll(/^ConnectTo = (\S+)$/gm)].map((m) => m[1]);
  assert.deepEqual(connect, ["cloud10", "cloud11", "cloud12", "gcecentral1", "gcecentral2", "gcecentral3", "gceeurope1", "gceeurope2", "gceeurope3", "cloud2", "cloud3", "cloud4"]);
  // This stack's own meshHosts output is what the others read.
  assert.deepEqual(result.outputs.meshHosts.value, meshHosts(PADELFORD));
});

test("4545 with its peers: host files for all 26 nodes", async () => {
  const result = await runScenario({
    stack: "4545",
    peers: { padelford: { meshHosts: meshHosts(PADELFORD) }, "gce-central-1": { meshHosts: meshHosts(CENTRAL) }, "gce-europe-1": { meshHosts: meshHosts(EUROPE) } },
  });
  checkHostFiles(result, "4545", DC4545, { ...PADELFORD, ...DC4545, ...CENTRAL, ...EUROPE });
});

test("without peer outputs: a warning per DC not deployed, own host files only, the program succeeds", async () => {
  const result = await runScenario({ stack: "padelford", peers: { "4545": { meshHosts: meshHosts(DC4545) } } });
  checkHostFiles(result, "padelford", PADELFORD, { ...PADELFORD, ...DC4545 });
  const missing = result.warnings.filter((w) => /not been deployed/.test(w));
  assert.equal(missing.length, 2, missing.join("\n"));
  assert.match(missing.join("\n"), /gce-central-1 \(stack organization\/glustermesh\/gce-central-1\)/);
  assert.match(missing.join("\n"), /gce-europe-1/);
  assert.match(missing.join("\n"), /pulumi up --stack gce-central-1/);
  // Mounts of a deployed DC's volume wait for it; of a DC not deployed are not attempted.
  const mounts = new Resources(result.resources).commands().filter((r) => /^padelford\/mount\/[^/]+\/(?!padelford\/)/.test(r.name));
  for (const dc of ["4545", "gce-central-1", "gce-europe-1"]) assert.ok(mounts.some((r) => r.name.includes(`/${dc}/`)), `a mount of ${dc}'s volume`);
  for (const r of mounts) {
    const create = String(r.inputs.create);
    if (r.name.includes("/4545/")) {
      assert.match(create, /wait_for_volfile_server/, r.name);
    } else {
      assert.match(create, /is not deployed yet/, r.name);
      assert.doesNotMatch(create, /systemctl start/, r.name);
    }
  }

  const alone = await runScenario({ stack: "padelford" });
  checkHostFiles(alone, "padelford", PADELFORD, PADELFORD);
  assert.equal(alone.warnings.filter((w) => /not been deployed/.test(w)).length, 3);
  const conf = tincConf(String(new Resources(alone.resources).get("padelford/mesh/cloud1/config").inputs.create));
  assert.deepEqual([...conf.matchAll(/^ConnectTo = (\S+)$/gm)].map((m) => m[1]), ["cloud2", "cloud3", "cloud4"]);
});

test("peer stacks are found by glustermesh:stackPrefix and glustermesh:peerStacks", async () => {
  const result = await runScenario({
    stack: "padelford",
    config: { "glustermesh:stackPrefix": "acme/glustermesh", "glustermesh:peerStacks": { "4545": "other/project/dc4545" } },
    peers: { "other/project/dc4545": { meshHosts: meshHosts(DC4545) }, "acme/glustermesh/gce-central-1": { meshHosts: meshHosts(CENTRAL) } },
  });
  const rs = new Resources(result.resources);
  assert.equal(rs.get("peer-4545").inputs.name, "other/project/dc4545");
  assert.equal(rs.get("peer-gce-central-1").inputs.name, "acme/glustermesh/gce-central-1");
  assert.equal(rs.get("peer-gce-europe-1").inputs.name, "acme/glustermesh/gce-europe-1");
  checkHostFiles(result, "padelford", PADELFORD, { ...PADELFORD, ...DC4545, ...CENTRAL });
  assert.equal(result.warnings.filter((w) => /not been deployed/.test(w)).length, 1);
});

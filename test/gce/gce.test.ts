// The gce stacks (gce-central-1, gce-europe-1) with the real inventory and program (index.ts),
// under mocks: network, static addresses, the exact firewall rules, instances, one protected
// disk per brick, the disk steps, host keys from guest attributes, the order the engine
// follows, the tinc host files fed by the static addresses, and the config errors.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { ADMIN_RANGE, allStrings, hostKeyB64, peerHostsOf, Resources, runScenario, SSH_PUBLIC_KEY, staticIp, UNKNOWN, type Result } from "./harness";

const METAL_4545 = Array.from({ length: 12 }, (_, i) => `203.0.113.${10 + i}/32`);
const METAL_PADELFORD = Array.from({ length: 7 }, (_, i) => `198.51.100.${1 + i}/32`);
const CENTRAL = ["gcecentral1", "gcecentral2", "gcecentral3", "gcecentral4"];
const EUROPE = ["gceeurope1", "gceeurope2", "gceeurope3"];
const tincOf = (n: string) => (n.startsWith("gcecentral") ? `10.1.40.${n.slice(-1)}` : `10.1.50.${n.slice(-1)}`);

function metalPeers() {
  return {
    "4545": peerHostsOf(Object.fromEntries(METAL_4545.map((a, i) => [`cloud${10 + i}`, { address: a.replace("/32", ""), tinc: `10.1.${10 + i}.1` }]))),
    padelford: peerHostsOf(Object.fromEntries(METAL_PADELFORD.map((a, i) => [`cloud${1 + i}`, { address: a.replace("/32", ""), tinc: `10.1.${1 + i}.1` }]))),
  };
}
const gcePeers = (nodes: string[]) => peerHostsOf(Object.fromEntries(nodes.map((n) => [n, { address: staticIp(n), tinc: tincOf(n) }])));

function ok(r: Result): Resources {
  assert.equal(r.ok, true, JSON.stringify(r.error));
  assert.deepEqual(r.unhandled, []);
  return new Resources(r.resources);
}

const FW = "gcp:compute/firewall:Firewall";
const CMD = "command:remote:Command";

function checkCommon(rs: Resources, r: Result, dc: string, nodes: string[], otherGce: string[], sets: Record<string, number>, arbiters: string[]) {
  // No 0.0.0.0/0 anywhere.
  for (const res of rs.list) assert.ok(!allStrings(res.inputs).some((s) => s.includes("0.0.0.0/0")), `${res.name} mentions 0.0.0.0/0`);

  // A network of the DC's own, no automatic subnets.
  const net = rs.ofType("gcp:compute/network:Network");
  assert.equal(net.length, 1);
  assert.equal(net[0].inputs.autoCreateSubnetworks, false);
  assert.equal(rs.ofType("gcp:compute/subnetwork:Subnetwork").length, 1);

  // Exactly two firewall rules: tinc from every DC's public addresses, SSH from the admin range.
  const fws = rs.ofType(FW);
  assert.deepEqual(fws.map((f) => f.name), [`${dc}/firewall/ssh`, `${dc}/firewall/tinc`]);
  const tinc = rs.get(`${dc}/firewall/tinc`);
  const expectedSources = [...METAL_PADELFORD, ...METAL_4545, ...[...nodes, ...otherGce].map((n) => `${staticIp(n)}/32`)].sort();
  assert.deepEqual(tinc.inputs.sourceRanges, expectedSources);
  assert.deepEqual(tinc.inputs.allows, [
    { protocol: "tcp", ports: ["655"] },
    { protocol: "udp", ports: ["655"] },
  ]);
  assert.equal(tinc.inputs.direction, "INGRESS");
  assert.deepEqual(tinc.inputs.targetTags, ["glustermesh-node"]);
  const ssh = rs.get(`${dc}/firewall/ssh`);
  assert.deepEqual(ssh.inputs.sourceRanges, [ADMIN_RANGE]);
  assert.deepEqual(ssh.inputs.allows, [{ protocol: "tcp", ports: ["22"] }]);
  assert.equal(ssh.inputs.direction, "INGRESS");
  // No rule opens a gluster port (24007/24008, 49152+) or anything but 22 and 655.
  const ports = fws.flatMap((f) => (f.inputs.allows as { ports: string[] }[]).flatMap((a) => a.ports));
  assert.deepEqual([...new Set(ports)].sort(), ["22", "655"]);

  // Static addresses, instances with deletion protection, the deploy key, guest attributes on.
  for (const n of nodes) {
    const addr = rs.get(`${dc}/address/${n}`);
    assert.equal(addr.inputs.addressType, "EXTERNAL");
    const inst = rs.get(`${dc}/instance/${n}`);
    assert.equal(inst.inputs.deletionProtection, true);
    assert.equal(inst.inputs.machineType, "e2-standard-2");
    assert.equal(inst.inputs.bootDisk.initializeParams.image, "debian-cloud/debian-12");
    assert.equal(inst.inputs.networkInterfaces[0].accessConfigs[0].natIp, staticIp(n));
    assert.equal(inst.inputs.metadata["ssh-keys"], `root:${SSH_PUBLIC_KEY}`);
    assert.equal(inst.inputs.metadata["enable-guest-attributes"], "TRUE");
    assert.equal(inst.inputs.metadata["block-project-ssh-keys"], "TRUE");
    assert.match(inst.inputs.metadata["startup-script"], /guest-attributes\/glustermesh\/ssh-ed25519/);
    assert.deepEqual(inst.inputs.tags, ["glustermesh-node"]);
    assert.deepEqual(inst.ignoreChanges, ["attachedDisks"]);
    assert.equal(inst.inputs.labels.dc, dc);
    assert.equal(inst.inputs.labels.node, n);
  }

  // One protected disk per brick, attached separately (never auto-deleted with the instance).
  const disks = rs.ofType("gcp:compute/disk:Disk");
  assert.deepEqual(
    disks.map((d) => d.name),
    Object.entries(sets).map(([n, k]) => `${dc}/pd/${n}/projects-set${k}`).sort(),
  );
  for (const d of disks) {
    const node = d.name.split("/")[2];
    const k = sets[node];
    assert.equal(d.protect, true, `${d.name} is protected`);
    assert.equal(d.inputs.size, 200);
    assert.equal(d.inputs.zone, rs.get(`${dc}/instance/${node}`).inputs.zone);
    assert.deepEqual(d.inputs.labels, { dc, node, volume: "projects", role: arbiters.includes(node) ? "arbiter" : "brick", set: String(k) });
    const att = rs.get(`${dc}/attach/${node}/projects-set${k}`);
    assert.equal(att.inputs.deviceName, `gm-projects-set${k}`);
    assert.equal(att.inputs.disk, `${d.name}-id`);
    assert.match(att.inputs.instance, new RegExp(`/instances/${node}$`));
    assert.equal("autoDelete" in att.inputs, false);
    // The disk step: after the attachment, on the node, with the pinned host key; bricks after it.
    const step = `${dc}/disk/${node}/projects-set${k}`;
    const cmd = rs.get(step, CMD);
    assert.ok(rs.before(step, CMD).has(att.name));
    assert.ok(rs.before(step, CMD).has(`${dc}/instance/${node}`));
    assert.match(cmd.inputs.create, /mkfs\.xfs -q -i size=512/);
    assert.match(cmd.inputs.create, new RegExp(`dev=/dev/disk/by-id/google-gm-projects-set${k}\n`));
    assert.match(cmd.inputs.create, /mp=\/srv\/gluster\n/);
    assert.equal(cmd.inputs.connection.host, staticIp(node));
    assert.ok(rs.before(`${dc}/gluster/${node}/bricks`, CMD).has(step), `${node}'s bricks wait for its disk`);
  }

  // Every host step waits for its own instance (and only configures its own node's instance).
  for (const c of rs.ofType(CMD).filter((c) => !c.name.includes("/disk/"))) {
    const node = c.inputs.connection.host === UNKNOWN ? undefined : nodes.find((n) => staticIp(n) === c.inputs.connection.host);
    assert.ok(node, `${c.name} connects to one of ${dc}'s static addresses`);
    const before = rs.before(c.name, CMD);
    assert.ok(before.has(`${dc}/instance/${node}`), `${c.name} waits for instance ${node}`);
    const instances = [...before].filter((b) => b.startsWith(`${dc}/instance/`));
    if (!c.name.includes("/cluster/probe/") && !/\/projects\//.test(c.name)) {
      // Node-local steps (not the lead's pool and volume commands, which wait for peers) wait for no other instance through the machines.
      assert.ok(c.dependencies.every((u) => !u.includes("gcp:compute/instance:Instance") || u.endsWith(`${dc}/instance/${node}`)), `${c.name}: ${instances}`);
    }
  }

  // The meshHosts output the other DCs read: the static addresses.
  assert.deepEqual(
    Object.fromEntries(Object.entries(r.outputs.meshHosts as Record<string, { address: string }>).map(([n, h]) => [n, h.address])),
    Object.fromEntries(nodes.map((n) => [n, staticIp(n)])),
  );
}

test("gce-central-1: machines, firewall, disks, host keys, order, tinc addresses", async () => {
  const r = await runScenario({ stack: "gce-central-1", peers: { ...metalPeers(), "gce-europe-1": gcePeers(EUROPE) } });
  const rs = ok(r);
  const dc = "gce-central-1";
  checkCommon(rs, r, dc, CENTRAL, EUROPE, { gcecentral1: 1, gcecentral2: 1, gcecentral3: 2, gcecentral4: 2 }, []);
  assert.deepEqual(r.warnings.filter((w) => !w.includes("replica 2")), []);

  // Region and zone from the stack's config.
  assert.equal(rs.get(`${dc}/subnet`).inputs.region, "us-central1");
  for (const n of CENTRAL) assert.equal(rs.get(`${dc}/instance/${n}`).inputs.zone, "us-central1-b");

  // Host keys come from the guest attribute the machine publishes; every connection is pinned.
  assert.equal(r.invokes.length, CENTRAL.length);
  for (const c of rs.ofType(CMD)) {
    const node = CENTRAL.find((n) => staticIp(n) === c.inputs.connection.host)!;
    assert.equal(c.inputs.connection.hostKey, `ssh-ed25519 ${hostKeyB64(node)}`, c.name);
  }

  // The static addresses (own DC and europe) feed the tinc host files.
  const config = rs.get(`${dc}/mesh/gcecentral1/config`, CMD).inputs.create as string;
  for (const n of [...CENTRAL.slice(1), ...EUROPE]) assert.match(config, new RegExp(`Address = ${staticIp(n).replace(/\./g, "\\.")} 655\n`), n);
  assert.match(config, /Address = 203\.0\.113\.10 655\n/);
});

test("gce-europe-1: arbiter disk, nodes spread over zones, central's addresses admitted", async () => {
  const zones = ["europe-west1-b", "europe-west1-c", "europe-west1-d"];
  const r = await runScenario({ stack: "gce-europe-1", config: { "glustermesh:zones": zones }, peers: { ...metalPeers(), "gce-central-1": gcePeers(CENTRAL) } });
  const rs = ok(r);
  const dc = "gce-europe-1";
  checkCommon(rs, r, dc, EUROPE, CENTRAL, { gceeurope1: 1, gceeurope2: 1, gceeurope3: 1 }, ["gceeurope3"]);
  assert.deepEqual(r.warnings, []);
  assert.deepEqual(EUROPE.map((n) => rs.get(`${dc}/instance/${n}`).inputs.zone), zones);
  assert.equal(rs.get(`${dc}/subnet`).inputs.region, "europe-west1");
  const config = rs.get(`${dc}/mesh/gceeurope3/config`, CMD).inputs.create as string;
  for (const n of ["gceeurope1", "gceeurope2", ...CENTRAL]) assert.match(config, new RegExp(`Address = ${staticIp(n).replace(/\./g, "\\.")} 655\n`), n);
});

test("preview: new machines' host keys are unknown, nothing is invoked, nothing fails", async () => {
  const r = await runScenario({ stack: "gce-central-1", preview: true, peers: metalPeers() });
  const rs = ok(r);
  assert.deepEqual(r.invokes, []);
  // The connection (host and host key) is unknown until the machine exists: nothing can connect unpinned.
  for (const c of rs.ofType(CMD)) assert.ok(c.inputs.connection === UNKNOWN || c.inputs.connection.hostKey === UNKNOWN, c.name);
  assert.ok(r.warnings.some((w) => w.includes("tinc firewall of gce-central-1 admits 0 of the 3 nodes of gce-europe-1")));
});

test("host keys pinned in config are used as they are, without asking GCP", async () => {
  const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPinnedByTheOperator000000000000000000000";
  const r = await runScenario({ stack: "gce-europe-1", config: { "glustermesh:hostKeys": { gceeurope1: key, gceeurope2: key, gceeurope3: key } }, peers: metalPeers() });
  const rs = ok(r);
  assert.deepEqual(r.invokes, []);
  for (const c of rs.ofType(CMD)) assert.equal(c.inputs.connection.hostKey, key);
});

test("a host key never published: the deploy stops with instructions, no command gets a connection", async () => {
  const r = await runScenario({ stack: "gce-europe-1", guestHostKey: "empty", config: { "glustermesh:hostKeyWaitSeconds": 1 }, peers: metalPeers() });
  assert.equal(r.crashed, undefined, r.crashed?.log);
  const text = [r.error?.message ?? "", ...r.unhandled].join("\n");
  assert.match(text, /did not publish its SSH host key within 1 s/);
  assert.match(text, /pulumi config set --path 'glustermesh:hostKeys\.gceeurope1'/);
  assert.equal(new Resources(r.resources).ofType(CMD).filter((c) => c.urn).length, 0);
});

test("adminRanges 0.0.0.0/0 is allowed only as configured, with a warning", async () => {
  const r = await runScenario({ stack: "gce-central-1", config: { "glustermesh:adminRanges": ["0.0.0.0/0"] }, peers: metalPeers() });
  const rs = ok(r);
  assert.deepEqual(rs.get("gce-central-1/firewall/ssh").inputs.sourceRanges, ["0.0.0.0/0"]);
  assert.ok(!(rs.get("gce-central-1/firewall/tinc").inputs.sourceRanges as string[]).includes("0.0.0.0/0"));
  assert.ok(r.warnings.some((w) => w.includes("glustermesh:adminRanges contains 0.0.0.0/0")), r.warnings.join("\n"));
});

test("missing config stops the whole program with the key and the command that fixes it (the other cases: config.test.ts)", async () => {
  const r = await runScenario({ stack: "gce-central-1", config: { "glustermesh:adminRanges": null }, peers: metalPeers() });
  assert.equal(r.ok, false);
  assert.equal(r.error?.runError, true, `a RunError (no stack trace): ${r.error?.message}`);
  assert.match(r.error!.message, /no glustermesh:adminRanges.*\n  pulumi config set --path 'glustermesh:adminRanges\[0\]'/s);
  assert.equal(r.resources.filter((x) => x.type.startsWith("gcp:")).length, 0, "no GCP resource declared");
});

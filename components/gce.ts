// Google Cloud machines of a gce DC: a network of its own, a static external address per node,
// firewall rules (tinc from the other DCs, SSH from the admin ranges, nothing else), one
// instance per node and one protected persistent disk per brick, formatted and mounted by the
// `disks` steps before anything else runs on the node. The DataCenter then configures the
// machines exactly as it configures bare metal, through `access`.
import * as pulumi from "@pulumi/pulumi";
import * as gcp from "@pulumi/gcp";
import type { DataCenter as DcModel, Model } from "../model/model";
import { ipv4ToInt } from "../model/net";
import { brickDisks, diskSteps, gceNamePart, type BrickDisk } from "../render/disk";
import type { Facts } from "../render/steps";
import type { PeerHost } from "./dataCenter";
import { HOST_KEY, isWorldOpen, readGceSettings, type GceSettings } from "./gceConfig";
import { HOST_KEY_ATTRIBUTE, startupScript } from "./gceStartup";
import { fail } from "./fail";
import { createStepResources, type NodeAccess, type SshSettings } from "./steps";

export interface GceMachinesArgs {
  model: Model;
  dc: string;
  /** How the deploy logs in (user, private key, bastion): the disk steps run over it. */
  ssh: SshSettings;
  /** `glustermesh:reapply`: a new value makes the disk steps run again. */
  reapply?: string;
}

/** Network tag of every glustermesh machine: the firewall rules apply to it. */
export const NODE_TAG = "glustermesh-node";

/** GCE resource name of a node's instance (tinc names use `_`, GCE names `-`). */
export function instanceName(node: string): string {
  const n = node.replace(/_/g, "-");
  if (!/^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/.test(n)) fail(`node name ${node} does not make a valid GCE instance name (${n}): use letters and digits, not ending in _`);
  return n;
}

/** The tinc port's sources from outside this DC: metal nodes' inventory addresses as /32. */
export function metalSources(model: Model, dc: string): string[] {
  const out: string[] = [];
  for (const d of model.dcs.filter((x) => x.name !== dc && x.provider === "metal")) {
    for (const n of d.nodes) {
      if (!n.address || ipv4ToInt(n.address) === undefined) {
        fail(
          `node ${n.name} of ${d.name} has the address "${n.address ?? ""}", not an IPv4 address: the tinc firewall of ${dc} admits peers by address. ` +
            `Give ${n.name} its IPv4 address in inventory/${d.name}.yaml.`,
        );
      }
      out.push(`${n.address}/32`);
    }
  }
  return out;
}

export class GceMachines extends pulumi.ComponentResource {
  public readonly access: Record<string, NodeAccess> = {};
  public readonly addresses: Record<string, pulumi.Output<string>> = {};
  public readonly instances: Record<string, gcp.compute.Instance> = {};
  /** Persistent disks by disk step name (`<dc>/disk/<node>/<volume>-set<k>`). */
  public readonly disks: Record<string, gcp.compute.Disk> = {};
  public readonly firewalls: { tinc: gcp.compute.Firewall; ssh: gcp.compute.Firewall };
  public readonly settings: GceSettings;

  constructor(name: string, args: GceMachinesArgs, opts?: pulumi.ComponentResourceOptions) {
    super("glustermesh:gce:GceMachines", name, {}, opts);
    const dc = args.model.dcs.find((d) => d.name === args.dc);
    if (!dc || dc.provider !== "gce" || !dc.gce) fail(`data center ${args.dc} is not a gce data center of the inventory (provider: gce with a gce: block)`);
    const s = readGceSettings(args.model, dc);
    this.settings = s;
    let bricks: BrickDisk[];
    try {
      bricks = brickDisks(dc);
    } catch (e) {
      fail(`data center ${dc.name}: ${(e as Error).message}`);
    }
    const names = Object.fromEntries(dc.nodes.map((n) => [n.name, instanceName(n.name)]));
    const parent = { parent: this };
    const project = s.project;
    const baseLabels = { ...dc.gce.labels, dc: dc.name };

    const network = new gcp.compute.Network(
      `${dc.name}/network`,
      { name: `gm-${dc.name}`, project, autoCreateSubnetworks: false, description: `glustermesh: machines of data center ${dc.name}` },
      parent,
    );
    const subnet = new gcp.compute.Subnetwork(
      `${dc.name}/subnet`,
      { name: `gm-${dc.name}`, project, region: s.region, network: network.id, ipCidrRange: s.subnetCidr, privateIpGoogleAccess: true },
      parent,
    );

    // Static external addresses: tinc peers in other DCs and their firewalls know nodes by them.
    // GCP refuses to release an address an instance still uses.
    const addresses: Record<string, gcp.compute.Address> = {};
    for (const n of dc.nodes) {
      addresses[n.name] = new gcp.compute.Address(
        `${dc.name}/address/${n.name}`,
        { name: `gm-${names[n.name]}`, project, region: s.region, addressType: "EXTERNAL", networkTier: "PREMIUM", labels: { ...baseLabels, node: n.name }, description: `glustermesh: public address of ${n.name}` },
        parent,
      );
      this.addresses[n.name] = addresses[n.name].address;
    }

    // Firewall: the implied rules of a new network deny all ingress; these two are the only
    // openings. Gluster's ports are never opened: gluster speaks only inside the tinc mesh.
    const port = String(args.model.mesh.port);
    const tincSources = pulumi
      .all([pulumi.output(metalSources(args.model, dc.name)), this.otherGceSources(args.model, dc, s), pulumi.all(Object.values(this.addresses))])
      .apply(([metal, gce, own]) => [...new Set([...metal, ...gce, ...own.map((a) => `${a}/32`)])].sort());
    const tinc = new gcp.compute.Firewall(
      `${dc.name}/firewall/tinc`,
      {
        name: `gm-${dc.name}-tinc`,
        project,
        network: network.id,
        direction: "INGRESS",
        priority: 1000,
        description: `glustermesh: tinc (port ${port}) from the nodes of every data center`,
        allows: [
          { protocol: "tcp", ports: [port] },
          { protocol: "udp", ports: [port] },
        ],
        sourceRanges: tincSources,
        targetTags: [NODE_TAG],
      },
      parent,
    );
    const ssh = new gcp.compute.Firewall(
      `${dc.name}/firewall/ssh`,
      {
        name: `gm-${dc.name}-ssh`,
        project,
        network: network.id,
        direction: "INGRESS",
        priority: 1000,
        description: `glustermesh: SSH from the admin ranges (glustermesh:adminRanges)${s.adminRanges.some(isWorldOpen) ? ", which include the whole internet" : ""}`,
        allows: [{ protocol: "tcp", ports: ["22"] }],
        sourceRanges: s.adminRanges,
        targetTags: [NODE_TAG],
      },
      parent,
    );
    this.firewalls = { tinc, ssh };

    // Instances and their brick disks.
    const attachments: Record<string, gcp.compute.AttachedDisk[]> = {};
    const hostKeys: Record<string, pulumi.Output<string>> = {};
    for (const n of dc.nodes) {
      const zone = s.zoneOf[n.name];
      const labels = { ...baseLabels, node: n.name, role: n.roles.join("-") };
      const instance = new gcp.compute.Instance(
        `${dc.name}/instance/${n.name}`,
        {
          name: names[n.name],
          project,
          zone,
          machineType: s.machineType,
          description: `glustermesh: node ${n.name} of ${dc.name} (tinc ${n.tinc})`,
          labels,
          tags: [NODE_TAG],
          deletionProtection: s.deletionProtection,
          bootDisk: { autoDelete: true, initializeParams: { image: s.image, size: s.bootDiskGb, labels: { ...labels, role: "boot" } } },
          networkInterfaces: [{ network: network.id, subnetwork: subnet.id, accessConfigs: [{ natIp: addresses[n.name].address, networkTier: "PREMIUM" }] }],
          metadata: {
            "ssh-keys": `${s.sshUser}:${s.sshPublicKey}`,
            "block-project-ssh-keys": "TRUE",
            "enable-oslogin": "FALSE",
            "enable-guest-attributes": "TRUE",
            "startup-script": startupScript({ node: n.name, user: s.sshUser, publicKey: s.sshPublicKey }),
          },
          scheduling: { automaticRestart: true, onHostMaintenance: "MIGRATE" },
          shieldedInstanceConfig: { enableSecureBoot: true, enableVtpm: true, enableIntegrityMonitoring: true },
        },
        // Brick disks are attached by AttachedDisk resources, which the instance must not fight over.
        { ...parent, ignoreChanges: ["attachedDisks"] },
      );
      this.instances[n.name] = instance;
      attachments[n.name] = [];
      for (const b of bricks.filter((x) => x.node === n.name)) {
        const stepName = `${dc.name}/disk/${b.node}/${b.volume}-set${b.set}`;
        const volume = dc.volumes.find((v) => v.name === b.volume)!;
        const disk = new gcp.compute.Disk(
          `${dc.name}/pd/${b.node}/${b.volume}-set${b.set}`,
          {
            name: `${names[n.name]}-${b.deviceName.replace(/^gm-/, "")}`,
            project,
            zone,
            size: volume.diskGb!,
            type: s.diskType,
            description: `glustermesh: brick ${b.node}:${b.brick} of volume ${b.volume}, replica set ${b.set}`,
            labels: { ...baseLabels, node: n.name, volume: gceNamePart(b.volume), role: b.arbiter ? "arbiter" : "brick", set: String(b.set) },
          },
          // Data: never deleted by pulumi (protect), never deleted with the instance (attached
          // separately, so GCE does not auto-delete it).
          { ...parent, protect: true },
        );
        this.disks[stepName] = disk;
        attachments[n.name].push(
          new gcp.compute.AttachedDisk(
            `${dc.name}/attach/${b.node}/${b.volume}-set${b.set}`,
            { project, zone, instance: instance.id, disk: disk.id, deviceName: b.deviceName, mode: "READ_WRITE" },
            parent,
          ),
        );
      }
      hostKeys[n.name] = this.hostKeyOf(n.name, instance, s);
    }

    // Brick disks formatted (only when blank) and mounted before anything else runs on a node.
    const disks = new BrickDisks(`${dc.name}/disks`, { dc, bricks, ssh: args.ssh, reapply: args.reapply, access: Object.fromEntries(dc.nodes.map((n) => [n.name, this.baseAccess(n.name, hostKeys, [this.instances[n.name], ...attachments[n.name]])])) }, parent);
    for (const n of dc.nodes) {
      this.access[n.name] = this.baseAccess(n.name, hostKeys, [this.instances[n.name], ...attachments[n.name], ...(disks.byNode[n.name] ?? [])]);
    }
    this.registerOutputs({ addresses: this.addresses });
  }

  private baseAccess(node: string, hostKeys: Record<string, pulumi.Output<string>>, dependsOn: pulumi.Resource[]): NodeAccess {
    return { host: this.addresses[node], port: 22, hostKey: hostKeys[node], dependsOn };
  }

  /**
   * The node's SSH host key: pinned in config (`glustermesh:hostKeys.<node>` or the inventory), or
   * else read through the GCP API from the guest attribute the machine's startup script
   * publishes. The deploy waits for it and never connects without one.
   */
  private hostKeyOf(node: string, instance: gcp.compute.Instance, s: GceSettings): pulumi.Output<string> {
    const pinned = s.hostKeys[node];
    if (pinned) return pulumi.output(pinned);
    return pulumi.all([instance.instanceId, instance.name, instance.zone]).apply(([, name, zone]) =>
      waitForHostKey({ node, name, zone, project: s.project, seconds: s.hostKeyWaitSeconds, dryRun: pulumi.runtime.isDryRun(), parent: this }),
    );
  }

  /**
   * Static addresses of the other gce DCs, from their stacks' `meshHosts` outputs. A DC not
   * deployed yet adds none (with a warning); the next `pulumi up` here admits it.
   */
  private otherGceSources(model: Model, dc: DcModel, s: GceSettings): pulumi.Output<string[]> {
    const parts = model.dcs
      .filter((d) => d.name !== dc.name && d.provider === "gce")
      .map((d) => {
        const stackName = s.peerStacks[d.name] ?? `${s.stackPrefix}/${d.name}`;
        const ref = new pulumi.StackReference(`${dc.name}/firewall-peer-${d.name}`, { name: stackName }, { parent: this });
        return ref.getOutput("meshHosts").apply((hosts: Record<string, PeerHost> | undefined) => {
          const found = d.nodes.map((n) => hosts?.[n.name]?.address).filter((a): a is string => !!a && ipv4ToInt(a) !== undefined);
          if (found.length < d.nodes.length) {
            void pulumi.log.warn(
              `the tinc firewall of ${dc.name} admits ${found.length} of the ${d.nodes.length} nodes of ${d.name}: stack ${stackName} does not publish the others' addresses yet. ` +
                `Deploy ${d.name}, then run pulumi up on ${dc.name} again.`,
            );
          }
          return found.map((a) => `${a}/32`);
        });
      });
    return pulumi.all(parts).apply((all) => all.flat());
  }
}

/** The preparation steps of the brick disks (`<dc>/disk/<node>/<volume>-set<k>`). */
export class BrickDisks extends pulumi.ComponentResource {
  /** The step resources of each node. */
  public readonly byNode: Record<string, pulumi.Resource[]> = {};
  constructor(name: string, args: { dc: DcModel; bricks: BrickDisk[]; ssh: SshSettings; reapply?: string; access: Record<string, NodeAccess> }, opts?: pulumi.ComponentResourceOptions) {
    super("glustermesh:gce:BrickDisks", name, {}, opts);
    const steps = diskSteps(args.dc, args.bricks);
    const created = createStepResources({
      steps,
      parent: this,
      access: args.access,
      ssh: args.ssh,
      facts: pulumi.output<Facts>({ publicKeys: {}, addresses: {} }),
      resources: new Map(),
      reapply: args.reapply,
    });
    for (const st of steps) (this.byNode[st.node] ??= []).push(created[st.name]);
    this.registerOutputs({});
  }
}

const PREVIEW_HOST_KEY = "ssh-ed25519 AAAA-published-by-the-machine-at-boot";

/** Poll the guest attribute until the machine has published its host key, or give up clearly. */
export async function waitForHostKey(a: { node: string; name: string; zone: string; project: string; seconds: number; dryRun: boolean; parent?: pulumi.Resource }): Promise<string> {
  const deadline = Date.now() + a.seconds * 1000;
  let last = "";
  for (;;) {
    try {
      const r = await gcp.compute.getInstanceGuestAttributes({ name: a.name, zone: a.zone, project: a.project, variableKey: HOST_KEY_ATTRIBUTE }, { parent: a.parent });
      const v = (r.variableValue ?? "").trim();
      const line = v.startsWith("ssh-ed25519 ") ? v : `ssh-ed25519 ${v}`;
      if (v && HOST_KEY.test(line)) return line;
      last = v ? `it is not an ed25519 key: ${v.slice(0, 80)}` : "it is empty";
    } catch (e) {
      last = String((e as Error).message ?? e).split("\n")[0];
    }
    if (a.dryRun || Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, Math.min(10_000, Math.max(0, deadline - Date.now()))));
  }
  if (a.dryRun) {
    void pulumi.log.warn(`${a.node} has not published its SSH host key (${last}); pulumi up waits for it before connecting.`);
    return PREVIEW_HOST_KEY;
  }
  throw new pulumi.RunError(
    `${a.node} (instance ${a.name} in ${a.zone}) did not publish its SSH host key within ${a.seconds} s (guest attribute ${HOST_KEY_ATTRIBUTE}: ${last}); glustermesh never connects to an unpinned host.\n` +
      `Check its boot with: gcloud compute instances get-serial-port-output ${a.name} --zone ${a.zone} --project ${a.project}\n` +
      `then run pulumi up again, or pin the key yourself after verifying it out of band:\n` +
      `  pulumi config set --path 'glustermesh:hostKeys.${a.node}' "ssh-ed25519 AAAA..."`,
  );
}

// One data center's storage: the tinc mesh, the gluster cluster, its volumes, the FUSE mounts,
// the sync timers, and the removal of the timers and mounts the inventory no longer declares,
// each a component whose children are the remote commands of its steps.
import * as pulumi from "@pulumi/pulumi";
import type { Model } from "../model/model";
import { dcSteps, parsePublicKey, type Component, type Facts, type Step } from "../render/steps";
import { createStepResources, type NodeAccess, type SshSettings, type StepResources } from "./steps";
import * as command from "@pulumi/command";

/** What another DC's stack tells this one about its nodes (its `meshHosts` output). */
export interface PeerHost {
  address?: string;
  tinc: string;
  publicKey: string;
}

export interface DataCenterArgs {
  model: Model;
  dc: string;
  access: Record<string, NodeAccess>;
  ssh: SshSettings;
  /** Nodes of the other DCs, from their stacks; nodes missing here get no host file yet. */
  peerHosts: pulumi.Input<Record<string, PeerHost>>;
  /** Public addresses of machines the stack creates (gce); metal nodes use the inventory's. */
  addresses?: Record<string, pulumi.Input<string>>;
  syncBundle: string;
  /** `glustermesh:reapply`: a new value makes every step that is not protected run again. */
  reapply?: string;
}

interface StepGroupArgs {
  steps: Step[];
  access: Record<string, NodeAccess>;
  ssh: SshSettings;
  facts: pulumi.Output<Facts>;
  resources: StepResources;
  reapply?: string;
}

type Shared = Omit<StepGroupArgs, "steps" | "facts">;

/** The base of every component below: its steps become its children. */
abstract class StepGroup extends pulumi.ComponentResource {
  constructor(type: string, name: string, opts?: pulumi.ComponentResourceOptions) {
    super(type, name, {}, opts);
  }
  protected addSteps(args: StepGroupArgs) {
    return createStepResources({ ...args, parent: this });
  }
}

/** tinc keys (made on the hosts, never leaving them), configuration, host files and daemons. */
export class TincMesh extends StepGroup {
  /** Public keys of this DC's nodes, by node name. */
  public readonly publicKeys: pulumi.Output<Record<string, string>>;
  /** Keys and addresses of every node known so far, this DC's and its peers'. */
  public readonly facts: pulumi.Output<Facts>;
  constructor(
    name: string,
    args: Shared & { keySteps: Step[]; configSteps: Step[]; peerHosts: pulumi.Input<Record<string, PeerHost>>; addresses: pulumi.Output<Record<string, string | undefined>> },
    opts?: pulumi.ComponentResourceOptions,
  ) {
    super("glustermesh:mesh:TincMesh", name, opts);
    const keyCommands = this.addSteps({ ...args, steps: args.keySteps, facts: pulumi.output<Facts>({ publicKeys: {}, addresses: {} }) });
    const keys = args.keySteps.map((s) => (keyCommands[s.name] as command.remote.Command).stdout.apply((out) => [s.node, parsePublicKey(s.node, out)] as const));
    this.publicKeys = pulumi.all(keys).apply((pairs) => Object.fromEntries(pairs));
    this.facts = pulumi.all([this.publicKeys, pulumi.output(args.peerHosts), args.addresses]).apply(([own, peers, addresses]) => ({
      publicKeys: { ...Object.fromEntries(Object.entries(peers).map(([n, h]) => [n, h.publicKey])), ...own },
      addresses: { ...Object.fromEntries(Object.entries(peers).map(([n, h]) => [n, h.address])), ...addresses },
    }));
    this.addSteps({ ...args, steps: args.configSteps, facts: this.facts });
    this.registerOutputs({ publicKeys: this.publicKeys });
  }
}

/** A component whose children are simply its steps. */
class Steps extends StepGroup {
  constructor(type: string, name: string, args: StepGroupArgs, opts?: pulumi.ComponentResourceOptions) {
    super(type, name, opts);
    this.addSteps(args);
    this.registerOutputs({});
  }
}

/** glusterd on every storage node, the host firewall, and the trusted pool (peer probes). */
export class GlusterCluster extends Steps {
  constructor(name: string, args: StepGroupArgs, opts?: pulumi.ComponentResourceOptions) {
    super("glustermesh:gluster:Cluster", name, args, opts);
  }
}

/** One volume: create with its first replica set, add the others whole, start, options, rebalance. */
export class GlusterVolume extends Steps {
  constructor(name: string, args: StepGroupArgs, opts?: pulumi.ComponentResourceOptions) {
    super("glustermesh:gluster:Volume", name, args, opts);
  }
}

/** FUSE mounts of every DC's volumes, as systemd mount units over the mesh. */
export class VolumeMounts extends Steps {
  constructor(name: string, args: StepGroupArgs, opts?: pulumi.ComponentResourceOptions) {
    super("glustermesh:mount:VolumeMounts", name, args, opts);
  }
}

/** The sync tool and its systemd timers on the brick nodes. */
export class SyncTimers extends Steps {
  constructor(name: string, args: StepGroupArgs, opts?: pulumi.ComponentResourceOptions) {
    super("glustermesh:sync:SyncTimers", name, args, opts);
  }
}

/** On every node: the sync timers and mounts the inventory no longer declares, stopped and removed. */
export class RetiredUnits extends Steps {
  constructor(name: string, args: StepGroupArgs, opts?: pulumi.ComponentResourceOptions) {
    super("glustermesh:host:RetiredUnits", name, args, opts);
  }
}

/** Host basics on every node: time sync, the read-only drift account. */
export class HostBasics extends Steps {
  constructor(name: string, args: StepGroupArgs, opts?: pulumi.ComponentResourceOptions) {
    super("glustermesh:host:HostBasics", name, args, opts);
  }
}

export class DataCenter extends pulumi.ComponentResource {
  /** This DC's nodes as the other DCs' stacks need them for their tinc host files. */
  public readonly meshHosts: pulumi.Output<Record<string, PeerHost>>;

  constructor(name: string, args: DataCenterArgs, opts?: pulumi.ComponentResourceOptions) {
    super("glustermesh:index:DataCenter", name, {}, opts);
    const steps = dcSteps(args.model, args.dc, args.syncBundle);
    const of = (c: Component) => steps.filter((s) => s.component === c);
    const dcNodes = args.model.nodes.filter((n) => n.dc === args.dc);
    const shared: Shared = { access: args.access, ssh: args.ssh, resources: new Map(), reapply: args.reapply };
    const noFacts = pulumi.output<Facts>({ publicKeys: {}, addresses: {} });
    const addresses = pulumi.all(Object.fromEntries(dcNodes.map((n) => [n.name, pulumi.output(args.addresses?.[n.name] ?? n.address)])));

    // every host step but the firewall, which the cluster's glusterd needs first
    const isFirewall = (s: Step) => s.name.endsWith("/firewall");
    new HostBasics(`${args.dc}/host`, { ...shared, steps: of("host").filter((s) => !isFirewall(s)), facts: noFacts }, { parent: this });
    const meshSteps = of("mesh");
    const keySteps = meshSteps.filter((s) => s.kind === "command" && s.yieldsPublicKey);
    const mesh = new TincMesh(
      `${args.dc}/mesh`,
      { ...shared, keySteps, configSteps: meshSteps.filter((s) => !keySteps.includes(s)), peerHosts: args.peerHosts, addresses },
      { parent: this },
    );
    const facts = mesh.facts;
    new GlusterCluster(`${args.dc}/cluster`, { ...shared, steps: [...of("host").filter(isFirewall), ...of("cluster")], facts }, { parent: this });
    for (const v of args.model.dcs.find((d) => d.name === args.dc)!.volumes) {
      new GlusterVolume(`${args.dc}/${v.name}`, { ...shared, steps: of(`volume:${v.name}`), facts }, { parent: this });
    }
    // A mount depends only on whether the other DCs were deployed: their keys, known in a preview too.
    const peerFacts = pulumi.output(args.peerHosts).apply((peers) => ({
      publicKeys: Object.fromEntries(Object.entries(peers).map(([n, h]) => [n, h.publicKey])),
      addresses: Object.fromEntries(Object.entries(peers).map(([n, h]) => [n, h.address])),
    }));
    new VolumeMounts(`${args.dc}/mounts`, { ...shared, steps: of("mounts"), facts: peerFacts }, { parent: this });
    new SyncTimers(`${args.dc}/sync`, { ...shared, steps: of("sync"), facts }, { parent: this });
    new RetiredUnits(`${args.dc}/retired`, { ...shared, steps: of("retired"), facts }, { parent: this });

    this.meshHosts = pulumi.all([mesh.publicKeys, addresses]).apply(([keys, addr]) =>
      Object.fromEntries(dcNodes.map((n) => [n.name, { ...(addr[n.name] ? { address: addr[n.name] } : {}), tinc: n.tinc, publicKey: keys[n.name] }])),
    );
    this.registerOutputs({ meshHosts: this.meshHosts });
  }
}

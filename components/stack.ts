// The program of one DC's stack: read the inventory and the stack's config, reach the other
// DCs' stacks for their tinc hosts, and declare the DC. `index.ts` calls this.
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { loadInventory, formatProblems } from "../model/load";
import { buildModel, modelWarnings, type Model } from "../model/model";
import { DataCenter, type PeerHost } from "./dataCenter";
import type { NodeAccess, SshSettings } from "./steps";
import { GceMachines } from "./gce";
import { ensureSyncBundle } from "./syncBundle";
import { fail } from "./fail";

export interface StackSettings {
  inventoryDir: string;
  ssh: SshSettings;
  hostKeys: Record<string, string>;
  stackPrefix: string;
  peerStacks: Record<string, string>;
  reapply?: string;
}

export function readSettings(projectRoot: string): StackSettings {
  const config = new pulumi.Config("glustermesh");
  const privateKey = config.getSecret("sshPrivateKey");
  if (privateKey === undefined) {
    fail(
      `stack ${pulumi.getStack()} has no SSH key: run\n  pulumi config set --secret glustermesh:sshPrivateKey < ~/.ssh/id_ed25519\n` +
        `(the key the deploy logs in with; it stays encrypted in the stack's config)`,
    );
  }
  const bastion = config.getObject<{ host: string; port?: number; user?: string; hostKey: string }>("bastion");
  if (bastion && (!bastion.host || !bastion.hostKey)) {
    fail(`glustermesh:bastion needs host and hostKey: pulumi config set --path 'glustermesh:bastion.host' HOST; pulumi config set --path 'glustermesh:bastion.hostKey' "$(ssh-keyscan -t ed25519 HOST | cut -d' ' -f2-)"`);
  }
  const user = config.get("sshUser") ?? "root";
  return {
    inventoryDir: path.resolve(projectRoot, config.get("inventory") ?? "inventory"),
    ssh: { user, privateKey, ...(bastion ? { bastion: { host: bastion.host, port: bastion.port ?? 22, user: bastion.user ?? user, hostKey: bastion.hostKey } } : {}) },
    hostKeys: config.getObject<Record<string, string>>("hostKeys") ?? {},
    stackPrefix: config.get("stackPrefix") ?? `organization/${pulumi.getProject()}`,
    peerStacks: config.getObject<Record<string, string>>("peerStacks") ?? {},
    reapply: config.get("reapply"),
  };
}

export function loadModel(dir: string): Model {
  const loaded = loadInventory(dir);
  if (!loaded.ok) fail(`the inventory is invalid; nothing was changed:\n${formatProblems(loaded.problems)}`);
  return buildModel(loaded.inventory);
}

/**
 * The other DCs' nodes, from their stacks' `meshHosts` outputs. A DC whose stack has no such
 * output yet (not deployed) is left out with a warning: its nodes join this DC's tinc host files
 * at the next `pulumi up` after it is deployed.
 */
function peerHosts(model: Model, dc: string, settings: StackSettings): pulumi.Output<Record<string, PeerHost>> {
  const parts = model.dcs
    .filter((d) => d.name !== dc)
    .map((d) => {
      const stackName = settings.peerStacks[d.name] ?? `${settings.stackPrefix}/${d.name}`;
      const ref = new pulumi.StackReference(`peer-${d.name}`, { name: stackName });
      return ref.getOutput("meshHosts").apply((hosts: Record<string, PeerHost> | undefined) => {
        if (!hosts || Object.keys(hosts).length === 0) {
          void pulumi.log.warn(
            `data center ${d.name} (stack ${stackName}) has not been deployed yet: its nodes get no tinc host files here. ` +
              `Deploy it (pulumi up --stack ${d.name}), then run pulumi up on this stack again. ` +
              `Set glustermesh:peerStacks.${d.name} if its stack has another name.`,
          );
          return {} as Record<string, PeerHost>;
        }
        return hosts;
      });
    });
  return pulumi.all(parts).apply((all) => Object.assign({}, ...all) as Record<string, PeerHost>);
}

export function dataCenterStack(projectRoot: string) {
  const dcName = pulumi.getStack();
  const settings = readSettings(projectRoot);
  const model = loadModel(settings.inventoryDir);
  const dc = model.dcs.find((d) => d.name === dcName);
  if (!dc) {
    fail(`stack "${dcName}" is not a data center of the inventory (${model.dcs.map((d) => d.name).join(", ")}): select one with pulumi stack select DC`);
  }
  for (const w of modelWarnings(model).filter((x) => x.dc === dcName)) void pulumi.log.warn(w.message);

  let access: Record<string, NodeAccess>;
  let addresses: Record<string, pulumi.Input<string>> | undefined;
  if (dc.provider === "gce") {
    const machines = new GceMachines(dcName, { model, dc: dcName, ssh: settings.ssh, reapply: settings.reapply });
    access = machines.access;
    addresses = machines.addresses;
  } else {
    const unpinned = dc.nodes.filter((n) => !(n.hostKey ?? settings.hostKeys[n.name]));
    if (unpinned.length > 0) {
      fail(
        `SSH host keys are not pinned for ${unpinned.map((n) => n.name).join(", ")}: glustermesh never connects to an unverified host.\n` +
          unpinned.map((n) => `  pulumi config set --path 'glustermesh:hostKeys.${n.name}' "$(ssh-keyscan -t ed25519 ${n.sshHost} 2>/dev/null | cut -d' ' -f2-)"`).join("\n") +
          `\n(or set ssh.hostKey on the node in the inventory; verify the fingerprint out of band)`,
      );
    }
    access = Object.fromEntries(dc.nodes.map((n) => [n.name, { host: n.sshHost!, port: n.sshPort, hostKey: (n.hostKey ?? settings.hostKeys[n.name])! }]));
  }

  const center = new DataCenter(dcName, {
    model,
    dc: dcName,
    access,
    ssh: settings.ssh,
    peerHosts: peerHosts(model, dcName, settings),
    addresses,
    syncBundle: ensureSyncBundle(projectRoot),
    reapply: settings.reapply,
  });

  return {
    meshHosts: center.meshHosts,
    volumes: Object.fromEntries(dc.volumes.map((v) => [v.name, { replica: v.replica, arbiter: v.arbiter, replicaSets: v.replicaSets.map((s) => s.bricks.map((b) => b.spec)) }])),
    mounts: dc.mounts.map((m) => `${m.node}:${m.where}`),
    syncTimers: dc.syncJobs.map((j) => `${j.node}:${j.unit}.timer`),
  };
}

// Turning rendered steps into resources: one remote command (or copy) per step, on its node,
// after the resources of the steps it waits for. Shared by every component.
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import type { Facts, Step } from "../render/steps";

/** How the deploy reaches one node. */
export interface NodeAccess {
  host: pulumi.Input<string>;
  port: number;
  /** Pinned SSH host key line (`ssh-ed25519 AAAA...`); connections verify it. */
  hostKey: pulumi.Input<string>;
  /** Resources that must exist before anything runs on the node (e.g. its instance). */
  dependsOn?: pulumi.Resource[];
}

export interface SshSettings {
  user: string;
  privateKey: pulumi.Input<string>;
  bastion?: { host: string; port: number; user: string; hostKey: string };
}

/** Resources by step name, across the components of one DC. */
export type StepResources = Map<string, pulumi.Resource>;

export function connectionFor(access: NodeAccess, ssh: SshSettings): command.types.input.remote.ConnectionArgs {
  return {
    host: access.host,
    port: access.port,
    user: ssh.user,
    privateKey: ssh.privateKey,
    hostKey: access.hostKey,
    dialErrorLimit: 5,
    perDialTimeout: 15,
    ...(ssh.bastion
      ? { proxy: { host: ssh.bastion.host, port: ssh.bastion.port, user: ssh.bastion.user, privateKey: ssh.privateKey, hostKey: ssh.bastion.hostKey } }
      : {}),
  };
}

/**
 * A script as the command a remote shell runs: written to a temporary file and run with bash,
 * so that any login shell works and nothing in the script can read the rest of it as input.
 */
export function asRemoteCommand(script: string): string {
  if (script.split("\n").includes("GLUSTERMESH_SCRIPT")) throw new Error("a script contains the GLUSTERMESH_SCRIPT delimiter");
  return `f=$(mktemp) && cat > "$f" <<'GLUSTERMESH_SCRIPT' && bash "$f"; rc=$?; rm -f "$f"; exit $rc\n${script}GLUSTERMESH_SCRIPT\n`;
}

export function fileSha256(path: string): string {
  return crypto.createHash("sha256").update(fs.readFileSync(path)).digest("hex");
}

/** Create the resources of `steps` under `parent`, in dependency order. */
export function createStepResources(args: {
  steps: Step[];
  parent: pulumi.Resource;
  access: Record<string, NodeAccess>;
  ssh: SshSettings;
  facts: pulumi.Output<Facts>;
  resources: StepResources;
  /** `glustermesh:reapply`: when set, every step that is not protected runs again whenever it changes. */
  reapply?: string;
}): Record<string, command.remote.Command | command.remote.CopyToRemote> {
  const created: Record<string, command.remote.Command | command.remote.CopyToRemote> = {};
  for (const step of args.steps) {
    const access = args.access[step.node];
    if (!access) throw new Error(`step ${step.name} runs on ${step.node}, which has no connection settings`);
    const dependsOn = [
      ...(access.dependsOn ?? []),
      ...step.after.map((a) => {
        const r = args.resources.get(a);
        if (!r) throw new Error(`step ${step.name} waits for ${a}, which was not created before it`);
        return r;
      }),
    ];
    const opts: pulumi.CustomResourceOptions = {
      parent: args.parent,
      dependsOn,
      // Volumes and replica sets: never deleted with the stack; removing one needs an explicit opt-in.
      ...(step.protect ? { protect: true, retainOnDelete: true } : {}),
    };
    const connection = connectionFor(access, args.ssh);
    // pulumi up runs a command again only when its inputs change, and it cannot read the hosts:
    // a change made by hand (drift) stays until the step runs again. A new `glustermesh:reapply`
    // value replaces every step that is not protected, so each one runs again (every script checks
    // first, then acts). Protected steps (volumes, replica sets) are never replaced.
    const reapply = args.reapply !== undefined && !step.protect ? [args.reapply] : [];
    let resource: command.remote.Command | command.remote.CopyToRemote;
    if (step.kind === "copy") {
      resource = new command.remote.CopyToRemote(
        step.name,
        { connection, source: new pulumi.asset.FileAsset(step.source), remotePath: step.remotePath, triggers: [fileSha256(step.source), ...reapply] },
        opts,
      );
    } else {
      const s = step.script;
      // A changed script is a changed `create`: the command runs again (update falls back to
      // create), so a changed file re-applies exactly the steps it feeds.
      const create = typeof s === "string" ? asRemoteCommand(s) : args.facts.apply((f) => asRemoteCommand(s(f)));
      resource = new command.remote.Command(step.name, { connection, create, ...(reapply.length ? { triggers: reapply } : {}) }, opts);
    }
    args.resources.set(step.name, resource);
    created[step.name] = resource;
  }
  return created;
}

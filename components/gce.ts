// Google Cloud machines of a gce DC. Being built (issue 6): until then a gce stack stops here
// with a clear message rather than half-deploying.
import * as pulumi from "@pulumi/pulumi";
import type { Model } from "../model/model";
import type { NodeAccess } from "./steps";

export interface GceMachinesArgs {
  model: Model;
  dc: string;
}

export class GceMachines extends pulumi.ComponentResource {
  public readonly access: Record<string, NodeAccess> = {};
  public readonly addresses: Record<string, pulumi.Output<string>> = {};
  constructor(name: string, args: GceMachinesArgs, opts?: pulumi.ComponentResourceOptions) {
    super("glustermesh:gce:GceMachines", name, {}, opts);
    throw new pulumi.RunError(`data center ${args.dc}: provisioning Google Cloud machines is not available in this version`);
  }
}

// One data center's storage, picked by the stack's name: `pulumi up --stack 4545`.
// Everything is declared from the inventory (inventory/); see README.md.
import { dataCenterStack } from "./components/stack";

const outputs = dataCenterStack(__dirname);

/** This DC's nodes with their tinc keys: the other DCs' stacks read it for their host files. */
export const meshHosts = outputs.meshHosts;
export const volumes = outputs.volumes;
export const mounts = outputs.mounts;
export const syncTimers = outputs.syncTimers;

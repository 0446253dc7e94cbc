// The deploy step of `npm run lab`, run after the hosts are up.
// Placeholder: another change adds the real step here (write a lab inventory from `lab.hosts`,
// `lab.knownHosts` and `lab.sshKeyPath`, then run the Pulumi program with the mock engine inside
// the driver namespace, e.g. spawn(lab.driverArgv(["node", "--import", "tsx", "..."])).
import type { Lab } from "./hosts";

export interface DeployOptions {
  log: (line: string) => void;
}

export async function deploy(lab: Lab, opts: DeployOptions): Promise<void> {
  opts.log(`deploy: not implemented yet (${lab.hosts.length} hosts ready)`);
}

// npm run lab [-- up|down|status] [--no-deploy]
//   up (default): install missing Debian packages, boot the default lab, deploy, print status.
//   down: tear down any lab (also a crashed one).
//   status: status table of the running lab.
//   pulumi ARGS...: the real Pulumi CLI against the running lab's backend and stacks (laba, labb).
// The lab keeps running after this command exits.
import { spawnSync } from "node:child_process";
import { pulumiArgv, pulumiEnv, REPO, removeStackFiles } from "./pulumi";
import { aptInstallCommand, attach, checkPrereqs, down, HostStatus, Lab, up } from "./hosts";
import { deploy } from "./deploy";
import { DEFAULT_LAYOUT } from "./layout";

const t0 = Date.now();
const log = (line: string) => process.stderr.write(line + "\n");
const fail = (msg: string): never => {
  log(`lab: ${msg}`);
  process.exit(1);
};

function ensurePrereqs(): void {
  if (process.getuid?.() !== 0) fail("must run as root (it creates namespaces, mounts and loop devices)");
  let { missingPackages, problems } = checkPrereqs();
  if (missingPackages.length) {
    const cmd = aptInstallCommand(missingPackages);
    log(`lab: installing missing Debian packages: ${missingPackages.join(" ")}\n  $ apt-get update\n  $ ${cmd.join(" ")}`);
    // A fresh machine has no package lists yet.
    const update = spawnSync("apt-get", ["update", "-qq"], { stdio: ["ignore", "inherit", "inherit"] });
    if (update.status !== 0) fail(`apt-get update failed (rc=${update.status ?? update.error?.message})`);
    const r = spawnSync(cmd[0], cmd.slice(1), {
      stdio: ["ignore", "inherit", "inherit"],
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    });
    if (r.status !== 0) fail(`apt-get failed (rc=${r.status ?? r.error?.message}); install by hand: ${cmd.join(" ")}`);
    ({ missingPackages, problems } = checkPrereqs());
    if (missingPackages.length) fail(`still missing after install: ${missingPackages.join(" ")}`);
  }
  if (problems.length) fail(problems.join("\n"));
}

export function statusTable(rows: HostStatus[]): string {
  const head = ["host", "dc", "address", "running", "ssh", "systemd", "failed units"];
  const body = rows.map((r) => [
    r.name, r.dc, r.address, r.running ? "yes" : "no", r.ssh ? "ok" : "FAIL", r.systemd, r.failedUnits.join(",") || "-",
  ]);
  const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  return [head, ...body].map((row) => row.map((c, i) => c.padEnd(w[i])).join("  ").trimEnd()).join("\n");
}

async function printStatus(lab: Lab): Promise<boolean> {
  const rows = await lab.status();
  process.stdout.write(statusTable(rows) + "\n");
  return rows.every((r) => r.running && r.ssh && (r.systemd === "running" || r.systemd === "degraded"));
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const cmd = args.find((a) => !a.startsWith("-")) ?? "up";
  if (cmd === "pulumi") {
    if (process.getuid?.() !== 0) fail("must run as root");
    const argv = pulumiArgv(attach(), args.slice(args.indexOf("pulumi") + 1));
    const r = spawnSync(argv[0], argv.slice(1), { cwd: REPO, env: pulumiEnv(), stdio: "inherit" });
    process.exit(r.status ?? 1);
  }
  if (cmd === "down") {
    if (process.getuid?.() !== 0) fail("must run as root");
    await down({ log });
    removeStackFiles(["laba", "labb"]);
    log(`lab: down in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    return;
  }
  if (cmd === "status") {
    const ok = await printStatus(attach());
    process.exit(ok ? 0 : 1);
  }
  if (cmd !== "up") fail(`unknown command "${cmd}" (use: up, down, status, pulumi ARGS...)`);
  ensurePrereqs();
  const lab = await up(DEFAULT_LAYOUT, { log });
  if (!args.includes("--no-deploy")) await deploy(lab, { log });
  const ok = await printStatus(lab);
  log(`lab: up in ${((Date.now() - t0) / 1000).toFixed(1)} s; ssh: ${lab.sshArgv(lab.hosts[0].name).join(" ")}`);
  log(`lab: node in the driver namespace: ${lab.driverArgv(["node", "..."]).join(" ")}`);
  log("lab: the stacks with the real Pulumi CLI: npm run lab -- pulumi preview --stack laba --diff");
  log("lab: tear down with: npm run lab -- down");
  if (!ok) process.exit(1);
}

main().catch((e: unknown) => fail(e instanceof Error ? e.message : String(e)));

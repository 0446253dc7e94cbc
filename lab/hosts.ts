// The lab's host layer: systemd-nspawn hosts with a real systemd, each in its own network
// namespace, joined by a bridge in a "driver" namespace from which ssh (and node programs)
// reach them. The root namespace never joins the lab network.
//
// Everything the lab makes lives under STATE_DIR (its own tmpfs) or carries the "gmlab" name
// (network namespaces gmlab-*, cgroups .../gmlab/*, tmpfs sources gmlab-*), so down() can
// remove all of it even when the launching process crashed and its records are incomplete.
import { spawn } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { must, q, run, sleep, which } from "./sh";
import { unescapeMount } from "../sync/mount";

export interface LabHostSpec {
  name: string; // [a-z][a-z0-9]* : valid as hostname, tinc name and gluster peer name
  dc: string;
  brickDisks: number; // 0 for compute; disk 1 at /bricks, disk k>1 at /bricks<k>
}

export interface LabHost {
  name: string;
  dc: string;
  address: string; // bridge IP
  brickDisks: number;
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface HostStatus {
  name: string;
  dc: string;
  address: string;
  running: boolean; // its nspawn is alive
  ssh: boolean;
  systemd: string; // `systemctl is-system-running` answer, or "-"
  failedUnits: string[];
}

export interface Lab {
  hosts: LabHost[];
  stateDir: string;
  sshKeyPath: string; // private key root logs in with on every host
  driftKeyPath: string; // private key of the read-only drift account (once a deploy made it)
  sshConfigPath: string; // ssh -F config with every host name, key and pinned host keys
  knownHostsPath: string;
  knownHosts: Record<string, string>; // host name -> "ssh-ed25519 AAAA..." (its host key)
  driverNetns: string; // network namespace on the bridge (e.g. for `ip netns exec`)
  driverAddress: string;
  /** Run a bash script on a host over real ssh from the driver namespace. stdin of the script is /dev/null. */
  exec(host: string, script: string, opts?: { timeoutMs?: number }): Promise<ExecResult>;
  /** Like exec but throws when the script fails; returns stdout. */
  execOk(host: string, script: string, opts?: { timeoutMs?: number }): Promise<string>;
  /** argv for `ssh` to a host, usable from the root namespace (enters the driver namespace). */
  sshArgv(host: string): string[];
  stop(host: string): Promise<void>; // clean poweroff (SIGTERM to nspawn)
  kill(host: string): Promise<void>; // SIGKILL every process of that host
  start(host: string): Promise<void>; // boot again with the same root upper dir and disks; waits for ssh
  reboot(host: string): Promise<void>; // `systemctl reboot` inside; waits until ssh answers the new boot
  isRunning(host: string): boolean;
  status(): Promise<HostStatus[]>;
  /** argv that runs argv inside the driver namespace, with the lab's names in its /etc/hosts. */
  driverArgv(argv: string[]): string[];
  runInDriverNs(argv: string[], opts?: { input?: string; timeoutMs?: number }): Promise<ExecResult>;
  down(opts?: DownOptions): Promise<void>;
}

export interface UpOptions {
  log?: (line: string) => void;
  brickSizeMiB?: number; // sparse image on the lab tmpfs; XFS needs >= 300
  bootTimeoutMs?: number;
  extraMaskedUnits?: string[];
}

export interface DownOptions {
  log?: (line: string) => void;
  graceMs?: number; // time for a clean poweroff before SIGKILL
}

export class LabPrereqError extends Error {
  constructor(
    message: string,
    public readonly missingPackages: string[],
  ) {
    super(message);
  }
}

export const STATE_DIR = "/run/glustermesh-lab";
const NSPAWN_DIR = "/run/systemd/nspawn";
const NETNS_DIR = "/run/netns";
const TAG = "gmlab";
export const DRIVER_NETNS = `${TAG}-drv`;
const DRIVER_ADDR = "10.252.0.1";
const DRIVER_NAME = "labdriver";
const SUBNET_PREFIX = "10.252.0.";
const HOST_ADDR_BASE = 11;

/** Units that are useless or fail inside a lab host; hosts inherit what the machine enables. */
export const MASKED_UNITS = [
  "postgresql.service",
  "rpcbind.service",
  "rpcbind.socket",
  "run-rpc_pipefs.mount",
  "e2scrub_reap.service",
  "apt-daily.timer",
  "apt-daily-upgrade.timer",
  "dpkg-db-backup.timer",
  "e2scrub_all.timer",
  "fstrim.timer",
  "man-db.timer",
  "console-getty.service", // the console is read-only: no login prompt there
];

/**
 * Files of the machine hidden in every lab host (an overlayfs whiteout in its upper dir).
 * gsyncd is geo-replication's helper, which glustermesh does not use (its sync tool does that
 * job). glusterd runs it about 25 times at each start and the gluster CLI once per command,
 * each a python start of about 70 ms of CPU: on this 2-core machine that was nearly half the
 * CPU of a lab deploy. Without it a host is what a distribution with geo-replication as a
 * separate package (glusterfs-geo-replication) installs by default; glusterd logs
 * "geo-replication module not installed" and carries on.
 */
export const HIDDEN_FILES = ["/usr/lib/x86_64-linux-gnu/glusterfs/gsyncd", "/usr/lib/aarch64-linux-gnu/glusterfs/gsyncd", "/usr/libexec/glusterfs/gsyncd"];

/** Program -> Debian package providing it. */
const REQUIRED_PROGRAMS: Record<string, string> = {
  "systemd-nspawn": "systemd-container",
  sshd: "openssh-server",
  ssh: "openssh-client",
  "ssh-keygen": "openssh-client",
  "mkfs.xfs": "xfsprogs",
  ip: "iproute2",
  nsenter: "util-linux",
  unshare: "util-linux",
  losetup: "mount",
  mount: "mount",
  umount: "mount",
  glusterd: "glusterfs-server",
  "mount.glusterfs": "glusterfs-client",
  tincd: "tinc",
  fusermount3: "fuse3",
  // What the deployed host scripts install: lab hosts reach no registry, so they must inherit it.
  chronyd: "chrony",
  nft: "nftables",
  getfattr: "attr",
  node: "nodejs",
  sudo: "sudo",
};
export const REQUIRED_PACKAGES = [...new Set(Object.values(REQUIRED_PROGRAMS))];

export function aptInstallCommand(pkgs: string[]): string[] {
  return ["apt-get", "install", "-y", "--no-install-recommends", "-o", "DPkg::Lock::Timeout=300", ...pkgs];
}

/** What is missing to run a lab: Debian packages, and kernel/machine problems no package fixes. */
export function checkPrereqs(): { missingPackages: string[]; problems: string[] } {
  const missing = new Set<string>();
  for (const [prog, pkg] of Object.entries(REQUIRED_PROGRAMS)) if (!which(prog)) missing.add(pkg);
  const problems: string[] = [];
  if (typeof process.getuid === "function" && process.getuid() !== 0) problems.push("the lab must run as root");
  for (const dev of ["/dev/fuse", "/dev/net/tun", "/dev/loop-control"]) {
    if (!fs.existsSync(dev)) problems.push(`${dev} is missing`);
  }
  let filesystems = "";
  try {
    filesystems = fs.readFileSync("/proc/filesystems", "utf8");
  } catch {
    /* reported below */
  }
  for (const f of ["overlay", "xfs", "tmpfs"]) {
    if (!new RegExp(`\\s${f}\\n`).test(filesystems)) problems.push(`the kernel has no ${f} filesystem`);
  }
  if (cgroupRoots().length === 0) problems.push("no usable cgroup hierarchy under /sys/fs/cgroup");
  return { missingPackages: [...missing].sort(), problems };
}

function assertPrereqs(): void {
  const { missingPackages, problems } = checkPrereqs();
  const msgs = [...problems];
  if (missingPackages.length) {
    msgs.push(
      `missing Debian packages: ${missingPackages.join(" ")}; install them with: ${aptInstallCommand(missingPackages).join(" ")}`,
    );
  }
  if (msgs.length) throw new LabPrereqError(msgs.join("\n"), missingPackages);
}

// ---------------------------------------------------------------------------------------------
// State

interface HostRecord extends LabHost {
  netns: string;
  veth: string; // bridge side, in the driver namespace
}

interface Pre {
  runNetnsExisted: boolean;
  runNetnsWasMount: boolean;
  nspawnDirExisted: boolean;
  runMountExisted: boolean; // libmount creates /run/mount (utab lock) on a loop mount
}

interface LabState {
  version: 1;
  createdAt: string;
  hosts: HostRecord[];
  knownHosts: Record<string, string>;
}

const hostDir = (h: string) => path.join(STATE_DIR, "hosts", h);
const preFile = path.join(STATE_DIR, "pre.json");
const stateFile = path.join(STATE_DIR, "state.json");

function cgroupRoots(): string[] {
  if (fs.existsSync("/sys/fs/cgroup/cgroup.controllers")) return ["/sys/fs/cgroup"]; // unified only
  return ["/sys/fs/cgroup/systemd", "/sys/fs/cgroup/unified"].filter((d) => fs.existsSync(d));
}
function cgroupV2Root(): string | undefined {
  return cgroupRoots().find((r) => fs.existsSync(path.join(r, "cgroup.procs")) && r !== "/sys/fs/cgroup/systemd");
}

function readMounts(): { source: string; target: string; fstype: string }[] {
  return fs
    .readFileSync("/proc/self/mounts", "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => {
      const [source, target, fstype] = l.split(" ");
      return { source: unescapeMount(source), target: unescapeMount(target), fstype };
    });
}
const isMountPoint = (p: string) => readMounts().some((m) => m.target === p);

function validateSpecs(specs: LabHostSpec[]): void {
  const seen = new Set<string>();
  if (specs.length === 0) throw new Error("a lab needs at least one host");
  if (specs.length > 200) throw new Error("at most 200 lab hosts");
  for (const s of specs) {
    if (!/^[a-z][a-z0-9]{0,19}$/.test(s.name)) {
      throw new Error(`bad lab host name "${s.name}": use [a-z][a-z0-9]* (tinc forbids dashes, systemd underscores)`);
    }
    if (s.name === DRIVER_NAME || s.name === "localhost") throw new Error(`host name "${s.name}" is reserved`);
    if (seen.has(s.name)) throw new Error(`duplicate lab host "${s.name}"`);
    seen.add(s.name);
    if (!/^[a-z][a-z0-9_]*$/.test(s.dc)) throw new Error(`bad dc name "${s.dc}"`);
    if (!Number.isInteger(s.brickDisks) || s.brickDisks < 0 || s.brickDisks > 8) {
      throw new Error(`brickDisks of ${s.name} must be an integer 0..8`);
    }
  }
}

function makeLog(log?: (l: string) => void) {
  const t0 = Date.now();
  const out = log ?? ((l: string) => process.stderr.write(l + "\n"));
  return (msg: string) => out(`[lab ${((Date.now() - t0) / 1000).toFixed(2).padStart(6)}s] ${msg}`);
}

// ---------------------------------------------------------------------------------------------
// up

export async function up(specs: LabHostSpec[], opts: UpOptions = {}): Promise<Lab> {
  validateSpecs(specs);
  assertPrereqs();
  const log = makeLog(opts.log);
  const brickMiB = opts.brickSizeMiB ?? 1024;
  if (brickMiB < 300) throw new Error("brickSizeMiB must be >= 300 (XFS minimum)");

  await down({ log: opts.log, graceMs: 0, quietIfNone: true } as DownOptions & { quietIfNone: boolean });
  log(`up: ${specs.length} hosts`);

  // 1. state dir and nspawn runtime dir, each on a tmpfs of the lab's own
  const pre: Pre = {
    runNetnsExisted: fs.existsSync(NETNS_DIR),
    runNetnsWasMount: isMountPoint(NETNS_DIR),
    nspawnDirExisted: fs.existsSync(NSPAWN_DIR),
    runMountExisted: fs.existsSync("/run/mount"),
  };
  fs.mkdirSync(STATE_DIR, { recursive: true });
  await must(["mount", "-t", "tmpfs", "-o", "mode=0700,size=50%", `${TAG}-state`, STATE_DIR]);
  fs.writeFileSync(preFile, JSON.stringify(pre));
  fs.mkdirSync(NSPAWN_DIR, { recursive: true });
  await must(["mount", "-t", "tmpfs", "-o", "mode=0755,size=64m", `${TAG}-nspawn`, NSPAWN_DIR]);

  const hosts: HostRecord[] = specs.map((s, i) => ({
    name: s.name,
    dc: s.dc,
    brickDisks: s.brickDisks,
    address: SUBNET_PREFIX + (HOST_ADDR_BASE + i),
    netns: `${TAG}-${s.name}`,
    veth: `${TAG}v${i}`,
  }));
  const state: LabState = { version: 1, createdAt: new Date().toISOString(), hosts, knownHosts: {} };
  const saveState = () => fs.writeFileSync(stateFile, JSON.stringify(state, null, 2));
  saveState();
  for (const d of ["ssh", "driver", "bin", "hosts"]) fs.mkdirSync(path.join(STATE_DIR, d), { mode: 0o700 });
  log("state tmpfs mounted");

  // 2. network: driver namespace with the bridge, one namespace per host, veth pairs
  const net: string[] = [
    "set -eu",
    `ip netns add ${q(DRIVER_NETNS)}`,
    `ip -n ${q(DRIVER_NETNS)} link set lo up`,
    `ip -n ${q(DRIVER_NETNS)} link add br0 type bridge`,
    `ip -n ${q(DRIVER_NETNS)} addr add ${DRIVER_ADDR}/24 dev br0`,
    `ip -n ${q(DRIVER_NETNS)} link set br0 up`,
  ];
  for (const h of hosts) {
    net.push(
      `ip netns add ${q(h.netns)}`,
      `ip -n ${q(h.netns)} link set lo up`,
      `ip -n ${q(DRIVER_NETNS)} link add ${q(h.veth)} type veth peer name eth0 netns ${q(h.netns)}`,
      `ip -n ${q(DRIVER_NETNS)} link set ${q(h.veth)} master br0 up`,
      `ip -n ${q(h.netns)} addr add ${h.address}/24 dev eth0`,
      `ip -n ${q(h.netns)} link set eth0 up`,
    );
  }
  const netTask = must(["bash", "-c", net.join("\n")]).then(() => log("network: bridge, namespaces, veths"));

  // 3. driver ssh key
  const sshKey = path.join(STATE_DIR, "ssh", "id_ed25519");
  await must(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "glustermesh-lab", "-f", sshKey]);
  const sshPub = fs.readFileSync(sshKey + ".pub", "utf8").trim();
  // the read-only drift account's key: the lab inventory's drift: section authorizes it
  await must(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "glustermesh-lab-drift", "-f", path.join(STATE_DIR, "ssh", "drift_ed25519")]);

  // 4. per host: upper dir, host key, brick filesystems, overlay root (in parallel)
  const etcHosts =
    ["127.0.0.1 localhost", "::1 localhost ip6-localhost ip6-loopback", `${DRIVER_ADDR} ${DRIVER_NAME}`]
      .concat(hosts.map((h) => `${h.address} ${h.name}`))
      .join("\n") + "\n";
  const masked = [...MASKED_UNITS, ...(opts.extraMaskedUnits ?? [])];
  const prepTask = Promise.all(
    hosts.map(async (h) => {
      const d = hostDir(h.name);
      const up = path.join(d, "upper");
      for (const sub of ["etc/ssh/sshd_config.d", "etc/systemd/system", "root/.ssh"]) {
        fs.mkdirSync(path.join(up, sub), { recursive: true });
      }
      fs.mkdirSync(path.join(d, "work"));
      fs.mkdirSync(path.join(d, "root"));
      fs.chmodSync(path.join(up, "root"), 0o700);
      fs.chmodSync(path.join(up, "root/.ssh"), 0o700);
      fs.writeFileSync(path.join(up, "etc/hostname"), h.name + "\n");
      fs.writeFileSync(path.join(up, "etc/machine-id"), crypto.randomBytes(16).toString("hex") + "\n", { mode: 0o444 });
      fs.writeFileSync(path.join(up, "etc/hosts"), etcHosts);
      fs.writeFileSync(
        path.join(up, "etc/ssh/sshd_config.d/glustermesh-lab.conf"),
        "# glustermesh lab host\nHostKey /etc/ssh/ssh_host_ed25519_key\nPermitRootLogin prohibit-password\nUseDNS no\n",
      );
      fs.writeFileSync(path.join(up, "root/.ssh/authorized_keys"), sshPub + "\n", { mode: 0o600 });
      // the lab key also on every host, so hosts reach each other by ssh (host keys pinned below)
      fs.copyFileSync(sshKey, path.join(up, "root/.ssh/id_ed25519"));
      fs.chmodSync(path.join(up, "root/.ssh/id_ed25519"), 0o600);
      fs.writeFileSync(path.join(up, "root/.ssh/id_ed25519.pub"), sshPub + "\n");
      for (const u of masked) fs.symlinkSync("/dev/null", path.join(up, "etc/systemd/system", u));
      for (const f of HIDDEN_FILES.filter((x) => fs.existsSync(x))) {
        fs.mkdirSync(path.join(up, path.dirname(f)), { recursive: true });
        await must(["mknod", path.join(up, f), "c", "0", "0"]); // overlayfs whiteout
      }
      await must([
        "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", `root@${h.name}`,
        "-f", path.join(up, "etc/ssh/ssh_host_ed25519_key"),
      ]);
      const pub = fs.readFileSync(path.join(up, "etc/ssh/ssh_host_ed25519_key.pub"), "utf8").trim().split(/\s+/);
      state.knownHosts[h.name] = `${pub[0]} ${pub[1]}`;

      for (let k = 1; k <= h.brickDisks; k++) {
        const img = path.join(d, `brick${k}.img`);
        const mnt = path.join(d, `brick${k}`);
        fs.mkdirSync(mnt);
        await must(["truncate", "-s", `${brickMiB}M`, img]);
        await must(["mkfs.xfs", "-q", "-L", `${h.name}b${k}`.slice(0, 12), img]);
        await must(["mount", "-t", "xfs", "-o", "loop", img, mnt]);
      }
      await must([
        "mount", "-t", "overlay", "-o",
        `lowerdir=/,upperdir=${up},workdir=${path.join(d, "work")}`,
        `${TAG}-${h.name}`, path.join(d, "root"),
      ]);
    }),
  ).then(() => log(`hosts prepared: root overlays, host keys, ${hosts.reduce((n, h) => n + h.brickDisks, 0)} XFS brick disks`));
  await Promise.all([netTask, prepTask]);
  saveState();

  // 5. pinned host keys for the driver and every host; ssh config for the driver
  const knownHostsLines = hosts.map((h) => `${h.name},${h.address} ${state.knownHosts[h.name]}`).join("\n") + "\n";
  const knownHostsPath = path.join(STATE_DIR, "ssh", "known_hosts");
  fs.writeFileSync(knownHostsPath, knownHostsLines);
  for (const h of hosts) {
    fs.writeFileSync(path.join(hostDir(h.name), "upper/etc/ssh/ssh_known_hosts"), knownHostsLines);
  }
  const sshConfig = [
    "# glustermesh lab: ssh -F this-file HOST (from inside the driver network namespace)",
    ...hosts.map((h) => `Host ${h.name}\n  HostName ${h.address}`),
    "Host *",
    "  User root",
    `  IdentityFile ${sshKey}`,
    "  IdentitiesOnly yes",
    `  UserKnownHostsFile ${knownHostsPath}`,
    "  GlobalKnownHostsFile /dev/null",
    "  StrictHostKeyChecking yes",
    "  BatchMode yes",
    "  ConnectTimeout 5",
    "  ServerAliveInterval 5",
    "  ServerAliveCountMax 3",
    "  LogLevel ERROR",
    "",
  ].join("\n");
  fs.writeFileSync(path.join(STATE_DIR, "ssh", "config"), sshConfig);
  fs.writeFileSync(path.join(STATE_DIR, "driver", "hosts"), etcHosts);
  writeDriverHelper();
  for (const h of hosts) writeLauncher(h);

  // 6. boot every host in parallel, detached (they outlive this process)
  const lab = makeLab(state);
  await Promise.all(hosts.map((h) => launch(h.name)));
  log("hosts booting (systemd-nspawn)");
  const timeout = opts.bootTimeoutMs ?? 60_000;
  await Promise.all(
    hosts.map(async (h) => {
      await waitSsh(lab, h.name, timeout);
      log(`  ${h.name.padEnd(8)} ${h.address.padEnd(12)} ssh ok`);
    }),
  );
  log(`up: all ${hosts.length} hosts answer ssh`);
  return lab;
}

function writeDriverHelper(): void {
  // Runs "$@" in the driver network namespace, in a private mount namespace whose /etc/hosts
  // knows the lab's names. Invoked through `unshare --mount --propagation private`.
  const script = [
    "#!/bin/sh",
    "set -e",
    `mount --bind ${q(path.join(STATE_DIR, "driver", "hosts"))} /etc/hosts`,
    `exec nsenter --net=${q(path.join(NETNS_DIR, DRIVER_NETNS))} -- "$@"`,
    "",
  ].join("\n");
  fs.writeFileSync(path.join(STATE_DIR, "bin", "in-driver"), script, { mode: 0o755 });
}

function nspawnArgv(h: HostRecord): string[] {
  const d = hostDir(h.name);
  const argv = [
    "systemd-nspawn",
    "--quiet",
    "--boot",
    `--directory=${path.join(d, "root")}`,
    `--machine=${h.name}`,
    "--register=no",
    "--keep-unit",
    "--private-users=no",
    `--network-namespace-path=${path.join(NETNS_DIR, h.netns)}`,
    "--capability=CAP_NET_ADMIN,CAP_IPC_LOCK",
    "--resolv-conf=off",
    "--timezone=off",
    "--link-journal=no",
    "--console=read-only",
    "--bind=/dev/fuse",
    "--bind=/dev/net/tun",
  ];
  for (let k = 1; k <= h.brickDisks; k++) {
    argv.push(`--bind=${path.join(d, `brick${k}`)}:${k === 1 ? "/bricks" : `/bricks${k}`}`);
  }
  return argv;
}

function writeLauncher(h: HostRecord): void {
  const d = hostDir(h.name);
  const cg = cgroupRoots().map((r) => path.join(r, TAG, h.name));
  const script = [
    "#!/bin/bash",
    "# glustermesh lab launcher: own cgroup, boot loop (nspawn exits 133 on a reboot inside)",
    "set -u",
    `dir=${q(d)}`,
    `for cg in ${cg.map(q).join(" ")}; do`,
    '  mkdir -p "$cg" && echo $$ > "$cg/cgroup.procs" || { echo "cannot enter cgroup $cg" >&2; exit 1; }',
    "done",
    'echo $$ > "$dir/launcher.pid"',
    "trap '' HUP",
    "while :; do",
    '  echo "[launcher $(date +%T.%N)] boot"',
    `  ${nspawnArgv(h).map(q).join(" ")} &`,
    "  pid=$!",
    '  echo "$pid" > "$dir/nspawn.pid"',
    '  wait "$pid"; rc=$?',
    '  rm -f "$dir/nspawn.pid"',
    '  echo "[launcher $(date +%T.%N)] nspawn exited rc=$rc"',
    '  [ "$rc" = 133 ] || break',
    "done",
    'echo "$rc" > "$dir/last-exit"',
    'rm -f "$dir/launcher.pid"',
    "",
  ].join("\n");
  fs.writeFileSync(path.join(d, "launch.sh"), script, { mode: 0o755 });
}

async function launch(host: string): Promise<void> {
  const d = hostDir(host);
  fs.rmSync(path.join(d, "last-exit"), { force: true });
  const out = fs.openSync(path.join(d, "console.log"), "a");
  const child = spawn("bash", [path.join(d, "launch.sh")], {
    detached: true, // own session: survives this process and its terminal
    stdio: ["ignore", out, out],
    cwd: "/",
  });
  child.unref();
  fs.closeSync(out);
  // running = its launcher is in the host's cgroup
  await waitFor(() => cgroupPids(path.join(TAG, host)).length > 0, 5000, `launcher of ${host}`, 10);
}

function readPid(file: string): number | undefined {
  try {
    const n = parseInt(fs.readFileSync(file, "utf8").trim(), 10);
    return Number.isFinite(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

/** Pids in a cgroup subtree (every hierarchy we use). */
function cgroupPids(rel: string): number[] {
  const pids = new Set<number>();
  const walk = (dir: string) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    try {
      for (const l of fs.readFileSync(path.join(dir, "cgroup.procs"), "utf8").split("\n")) if (l) pids.add(+l);
    } catch {
      /* gone */
    }
    for (const e of entries) if (e.isDirectory()) walk(path.join(dir, e.name));
  };
  for (const r of cgroupRoots()) walk(path.join(r, rel));
  return [...pids];
}

async function killCgroup(rel: string, timeoutMs = 10_000): Promise<void> {
  const v2 = cgroupV2Root();
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const pids = cgroupPids(rel);
    if (pids.length === 0) return;
    if (v2 && fs.existsSync(path.join(v2, rel, "cgroup.kill"))) {
      try {
        fs.writeFileSync(path.join(v2, rel, "cgroup.kill"), "1");
      } catch {
        /* fall through to kill(2) */
      }
    }
    for (const p of pids) {
      try {
        process.kill(p, "SIGKILL");
      } catch {
        /* already gone */
      }
    }
    await sleep(50);
  }
  throw new Error(`processes of cgroup ${rel} survive SIGKILL: ${cgroupPids(rel).join(" ")}`);
}

function rmCgroupTree(dir: string): void {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) if (e.isDirectory()) rmCgroupTree(path.join(dir, e.name));
  try {
    fs.rmdirSync(dir);
  } catch {
    /* busy or gone */
  }
}

async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string, stepMs = 100) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(stepMs);
  }
}

async function waitSsh(lab: Lab, host: string, timeoutMs: number, extraCheck = "true"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: ExecResult | undefined;
  while (Date.now() < deadline) {
    if (!lab.isRunning(host)) {
      const tail = readTail(path.join(hostDir(host), "console.log"));
      throw new Error(`lab host ${host} exited while booting; console tail:\n${tail}`);
    }
    last = await lab.exec(host, extraCheck, { timeoutMs: 5000 });
    if (last.code === 0) return;
    await sleep(100);
  }
  throw new Error(`lab host ${host}: no ssh within ${timeoutMs} ms: ${last?.stderr.trim()}`);
}

function readTail(file: string, n = 30): string {
  try {
    return fs.readFileSync(file, "utf8").split("\n").slice(-n).join("\n");
  } catch {
    return "(no console log)";
  }
}

// ---------------------------------------------------------------------------------------------
// The Lab object

function makeLab(state: LabState): Lab {
  const sshConfigPath = path.join(STATE_DIR, "ssh", "config");
  const byName = new Map(state.hosts.map((h) => [h.name, h]));
  const get = (name: string) => {
    const h = byName.get(name);
    if (!h) throw new Error(`no lab host "${name}"`);
    return h;
  };
  const driverArgv = (argv: string[]) => [
    "unshare", "--mount", "--propagation", "private", "--",
    path.join(STATE_DIR, "bin", "in-driver"), ...argv,
  ];
  const sshArgv = (host: string) => [
    "nsenter", `--net=${path.join(NETNS_DIR, DRIVER_NETNS)}`, "--",
    "ssh", "-F", sshConfigPath, get(host).name,
  ];
  // The remote side stores the script in a file and runs it with stdin from /dev/null, so a
  // command inside that reads stdin cannot eat the rest of the script.
  const remote =
    'f=$(mktemp /tmp/gmlab-exec.XXXXXX) && cat >"$f" && { bash "$f" </dev/null; rc=$?; rm -f "$f"; exit $rc; }';
  const isRunning = (host: string) => {
    get(host);
    return cgroupPids(path.join(TAG, host)).length > 0;
  };
  const exec = (host: string, script: string, opts?: { timeoutMs?: number }) =>
    run([...sshArgv(host), remote], { input: script, timeoutMs: opts?.timeoutMs ?? 120_000 });
  const lab: Lab = {
    hosts: state.hosts.map((h) => ({ name: h.name, dc: h.dc, address: h.address, brickDisks: h.brickDisks })),
    stateDir: STATE_DIR,
    sshKeyPath: path.join(STATE_DIR, "ssh", "id_ed25519"),
    driftKeyPath: path.join(STATE_DIR, "ssh", "drift_ed25519"),
    sshConfigPath,
    knownHostsPath: path.join(STATE_DIR, "ssh", "known_hosts"),
    knownHosts: { ...state.knownHosts },
    driverNetns: DRIVER_NETNS,
    driverAddress: DRIVER_ADDR,
    exec,
    async execOk(host, script, opts) {
      const r = await exec(host, script, opts);
      if (r.code !== 0) throw new Error(`${host}: script failed (rc=${r.code}):\n${r.stderr.trim()}\n${r.stdout.trim()}`);
      return r.stdout;
    },
    sshArgv,
    isRunning,
    async stop(host) {
      get(host);
      const pid = readPid(path.join(hostDir(host), "nspawn.pid"));
      if (pid !== undefined) {
        try {
          process.kill(pid, "SIGTERM");
        } catch {
          /* gone */
        }
      }
      try {
        await waitFor(() => !isRunning(host), 30_000, `${host} to power off`);
      } catch {
        await killCgroup(path.join(TAG, host));
      }
    },
    async kill(host) {
      get(host);
      await killCgroup(path.join(TAG, host));
    },
    async start(host) {
      get(host);
      if (isRunning(host)) throw new Error(`lab host ${host} is already running`);
      await launch(host);
      await waitSsh(lab, host, 60_000);
    },
    async reboot(host) {
      get(host);
      // /run is a fresh tmpfs on every boot: the marker tells the old boot from the new one
      await lab.execOk(host, "touch /run/gmlab-before-reboot");
      await exec(host, "systemctl reboot", { timeoutMs: 15_000 });
      await waitSsh(lab, host, 60_000, "test ! -e /run/gmlab-before-reboot");
    },
    async status() {
      return Promise.all(
        state.hosts.map(async (h): Promise<HostStatus> => {
          const running = isRunning(h.name);
          const r = running
            ? await exec(
                h.name,
                'echo "state=$(timeout 20 systemctl is-system-running --wait)"; systemctl list-units --failed --plain --no-legend | awk \'{print $1}\'',
                { timeoutMs: 25_000 },
              )
            : undefined;
          const lines = r && r.code !== 255 ? r.stdout.split("\n") : [];
          const ok = lines[0]?.startsWith("state=") === true;
          return {
            name: h.name,
            dc: h.dc,
            address: h.address,
            running,
            ssh: ok,
            systemd: (ok && lines[0].slice("state=".length)) || "-",
            failedUnits: lines.slice(1).filter(Boolean),
          };
        }),
      );
    },
    driverArgv,
    runInDriverNs: (argv, opts) => run(driverArgv(argv), opts),
    down: (opts) => down(opts),
  };
  return lab;
}

/** The lab that is running now (e.g. made by `npm run lab`), from its state dir. */
export function attach(): Lab {
  let state: LabState;
  try {
    state = JSON.parse(fs.readFileSync(stateFile, "utf8")) as LabState;
  } catch {
    throw new Error(`no lab is running (no ${stateFile}); start one with: npm run lab`);
  }
  return makeLab(state);
}

// ---------------------------------------------------------------------------------------------
// down: remove everything any lab made, from records and by name

function labNetnsNames(): string[] {
  try {
    return fs.readdirSync(NETNS_DIR).filter((n) => n.startsWith(`${TAG}-`));
  } catch {
    return [];
  }
}

/** Processes living in one of the lab's network namespaces (driver programs, strays). */
function pidsInLabNetns(): number[] {
  const inodes = new Set<string>();
  for (const n of labNetnsNames()) {
    try {
      inodes.add(`net:[${fs.statSync(path.join(NETNS_DIR, n)).ino}]`);
    } catch {
      /* gone */
    }
  }
  if (inodes.size === 0) return [];
  const out: number[] = [];
  for (const e of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(e) || +e === process.pid) continue;
    try {
      if (inodes.has(fs.readlinkSync(`/proc/${e}/ns/net`))) out.push(+e);
    } catch {
      /* gone or kernel thread */
    }
  }
  return out;
}

export async function down(opts: DownOptions = {}): Promise<void> {
  const quietIfNone = (opts as { quietIfNone?: boolean }).quietIfNone === true;
  const log = makeLog(opts.log);
  let pre: Pre | undefined;
  try {
    pre = JSON.parse(fs.readFileSync(preFile, "utf8")) as Pre;
  } catch {
    /* no records: clean up by name */
  }
  const cgTop = cgroupRoots().map((r) => path.join(r, TAG));
  const anything =
    fs.existsSync(STATE_DIR) ||
    labNetnsNames().length > 0 ||
    cgTop.some((d) => fs.existsSync(d)) ||
    readMounts().some((m) => m.source.startsWith(`${TAG}-`));
  if (!anything) {
    if (!quietIfNone) log("down: no lab found");
    return;
  }
  log("down: tearing down the lab");

  // 1. hosts: a clean poweroff first (SIGTERM to nspawn), then SIGKILL of each host's cgroup
  const hostsWithCg = new Set<string>();
  for (const d of cgTop) {
    try {
      for (const h of fs.readdirSync(d, { withFileTypes: true })) if (h.isDirectory()) hostsWithCg.add(h.name);
    } catch {
      /* none */
    }
  }
  const live = [...hostsWithCg].filter((h) => cgroupPids(path.join(TAG, h)).length > 0);
  const grace = opts.graceMs ?? 5000;
  if (live.length && grace > 0) {
    for (const h of live) {
      const pid = readPid(path.join(hostDir(h), "nspawn.pid"));
      if (pid !== undefined) {
        try {
          process.kill(pid, "SIGTERM");
        } catch {
          /* gone */
        }
      }
    }
    try {
      await waitFor(() => live.every((h) => cgroupPids(path.join(TAG, h)).length === 0), grace, "poweroff", 50);
      log(`down: ${live.length} hosts powered off`);
    } catch {
      log("down: some hosts did not power off in time; killing them");
    }
  }
  await Promise.all([...hostsWithCg].map((h) => killCgroup(path.join(TAG, h))));
  // driver programs and anything else left in the lab's network namespaces
  for (let i = 0; i < 50; i++) {
    const strays = pidsInLabNetns();
    if (strays.length === 0) break;
    for (const p of strays) {
      try {
        process.kill(p, "SIGKILL");
      } catch {
        /* gone */
      }
    }
    await sleep(50);
  }
  if (live.length || hostsWithCg.size) log("down: no lab processes left");

  // 2. mounts (deepest first): bricks, overlays, the state and nspawn tmpfs
  const problems: string[] = [];
  const ours = () =>
    readMounts()
      .filter(
        (m) =>
          m.target === STATE_DIR ||
          m.target.startsWith(STATE_DIR + "/") ||
          (m.target === NSPAWN_DIR && m.source === `${TAG}-nspawn`) ||
          m.source.startsWith(`${TAG}-`),
      )
      .filter((m) => !m.target.startsWith(NETNS_DIR + "/"))
      .map((m) => m.target)
      .sort((a, b) => b.length - a.length);
  // brick loop devices are attached with autoclear; record them before their files go away
  const loops = await labLoopDevices();
  for (let attempt = 0; attempt < 20; attempt++) {
    const ms = ours();
    if (ms.length === 0) break;
    for (const m of ms) {
      // the state tmpfs last: it holds the loop images
      if (m === STATE_DIR && ms.length > 1) continue;
      await run(["umount", m]);
    }
    if (ours().length) await sleep(100);
  }
  for (const m of ours()) {
    const r = await run(["umount", "-l", m]);
    problems.push(`mount ${m} was busy; lazily unmounted (rc=${r.code})`);
  }

  // 3. loop devices (normally already gone through autoclear)
  for (const dev of new Set([...loops, ...(await labLoopDevices())])) await run(["losetup", "-d", dev]);
  await waitFor(async () => (await labLoopDevices()).length === 0, 5000, "loop devices to detach").catch((e: Error) =>
    problems.push(e.message),
  );

  // 4. network namespaces (veths and the bridge go with them)
  for (const n of labNetnsNames()) {
    const r = await run(["ip", "netns", "delete", n]);
    if (r.code !== 0) problems.push(`ip netns delete ${n}: ${r.stderr.trim()}`);
  }
  if (pre && !pre.runNetnsWasMount && fs.existsSync(NETNS_DIR) && fs.readdirSync(NETNS_DIR).length === 0) {
    if (isMountPoint(NETNS_DIR)) await run(["umount", NETNS_DIR]);
    if (!pre.runNetnsExisted) tryRmdir(NETNS_DIR);
  }
  // 5. cgroups, directories
  for (const d of cgTop) rmCgroupTree(d);
  for (const d of cgTop) if (fs.existsSync(d)) problems.push(`cgroup ${d} could not be removed`);
  if (pre && !pre.nspawnDirExisted) tryRmdir(NSPAWN_DIR);
  if (pre && !pre.runMountExisted) tryRmdir("/run/mount");
  tryRmdir(STATE_DIR);
  if (problems.length) {
    log("down: finished with problems:\n  " + problems.join("\n  "));
    throw new Error("lab teardown incomplete:\n" + problems.join("\n"));
  }
  log("down: done, nothing left");
}

function tryRmdir(d: string): void {
  try {
    fs.rmdirSync(d);
  } catch {
    /* not empty or gone */
  }
}

async function labLoopDevices(): Promise<string[]> {
  const r = await run(["losetup", "--list", "--noheadings", "--output", "NAME,BACK-FILE"]);
  if (r.code !== 0) return [];
  return r.stdout
    .split("\n")
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length >= 2 && f[1].startsWith(STATE_DIR + "/"))
    .map((f) => f[0]);
}

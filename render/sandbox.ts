// systemd sandboxing for glustermesh's own services: one hardened base, and per unit only
// what it needs on top (paths it writes, capabilities, address families, the network).
// `systemd-analyze security` scores each unit in the lab (test/e2e/hardening.test.ts).

export interface SandboxNeeds {
  /** Paths the service writes; a leading "-" ignores a path that does not exist. */
  readWrite?: string[];
  /** Directory under /var/lib the service owns (StateDirectory=). */
  stateDirectory?: string;
  /** Directory under /run kept across runs (RuntimeDirectory= with RuntimeDirectoryPreserve=). */
  runtimeDirectory?: string;
  /** The capabilities it keeps; none when empty. */
  capabilities?: string[];
  /** Socket families: AF_UNIX alone unless more are listed. */
  addressFamilies?: string[];
  /** Talks over the network (the mesh): no private network namespace. */
  network?: boolean;
  /** Extra system call groups beyond @system-service. */
  syscalls?: string[];
  /** May set setuid/setgid bits (a copy keeps a file's mode as it is). */
  suidSgid?: boolean;
}

/**
 * The [Service] lines that sandbox a unit. Every unit gets: a read-only system, no home, private
 * /tmp, devices and IPC, no new privileges, no namespaces, realtime, personality or clock
 * changes, kernel and cgroup trees read-only, the @system-service calls (others fail with EPERM
 * rather than kill the service). Not set, on purpose: ProtectProc=invisible (our checks look at
 * processes of other units: a sync pass's lock, a brick's glusterfsd).
 */
export function sandbox(n: SandboxNeeds): string {
  const lines = [
    "ProtectSystem=strict",
    ...(n.readWrite?.length ? [`ReadWritePaths=${n.readWrite.join(" ")}`] : []),
    ...(n.stateDirectory ? [`StateDirectory=${n.stateDirectory}`] : []),
    ...(n.runtimeDirectory ? [`RuntimeDirectory=${n.runtimeDirectory}`, "RuntimeDirectoryPreserve=yes"] : []),
    "ProtectHome=yes",
    "PrivateTmp=yes",
    "PrivateDevices=yes",
    ...(n.network ? [] : ["PrivateNetwork=yes"]),
    "PrivateIPC=yes",
    "NoNewPrivileges=yes",
    `CapabilityBoundingSet=${(n.capabilities ?? []).join(" ")}`,
    `RestrictAddressFamilies=${["AF_UNIX", ...(n.addressFamilies ?? [])].join(" ")}`,
    "RestrictNamespaces=yes",
    "RestrictRealtime=yes",
    ...(n.suidSgid ? [] : ["RestrictSUIDSGID=yes"]),
    "LockPersonality=yes",
    "ProtectClock=yes",
    "ProtectHostname=yes",
    "ProtectKernelTunables=yes",
    "ProtectKernelModules=yes",
    "ProtectKernelLogs=yes",
    "ProtectControlGroups=yes",
    `SystemCallFilter=${["@system-service", ...(n.syscalls ?? [])].join(" ")}`,
    "SystemCallErrorNumber=EPERM",
    "SystemCallArchitectures=native",
    "KeyringMode=private",
    "UMask=0022",
  ];
  return lines.join("\n") + "\n";
}

// systemd units and the host scripts that install them: FUSE mounts of gluster volumes, the
// sync service and timer, the host firewall, time sync.
import { MOUNT_ROOT, SYNC_UNIT_PREFIX, systemdEscapePath, type Mount, type SyncJob } from "../model/model";
import { sandbox } from "./sandbox";
import { anyAnswersFunction, putFile, script, shq } from "./shell";

export const SYNC_BUNDLE = "/usr/local/lib/glustermesh/glustermesh-sync.js";
export const SYNC_STATE_DIR = "/var/lib/glustermesh/sync";
export const UNIT_DIR = "/etc/systemd/system";

/** Mount units of ours: named after mount points under MOUNT_ROOT, and marked by their Description. */
export const MOUNT_UNIT_GLOB = `${UNIT_DIR}/${systemdEscapePath(MOUNT_ROOT)}-*.mount`;
export const MOUNT_UNIT_MARK = "Description=glustermesh: gluster volume ";

/**
 * `mounted_at PATH`: is PATH a mount point now? By the kernel's table, never by stat: a FUSE mount
 * that is still connecting answers stat and mkdir with "Transport endpoint is not connected".
 * (Mount points here have no characters mountinfo escapes.)
 */
const MOUNTED_AT = `mounted_at() { awk -v m="$1" '$5 == m { found = 1 } END { exit !found }' /proc/self/mountinfo; }`;

/** Seconds systemd gives mount.glusterfs (the mount unit's TimeoutSec). */
export const MOUNT_TIMEOUT = 90;

export function mountUnit(m: Mount, tincService: string): string {
  const options = ["_netdev", ...(m.backupServers.length ? [`backup-volfile-servers=${m.backupServers.join(":")}`] : []), "log-level=WARNING"];
  return `[Unit]
${MOUNT_UNIT_MARK}${m.volume} of ${m.dc}
Documentation=man:mount.glusterfs(8)
Wants=network-online.target ${tincService}
After=network-online.target ${tincService} glusterd.service

[Mount]
What=${m.server}:/${m.volume}
Where=${m.where}
Type=glusterfs
Options=${options.join(",")}
TimeoutSec=${MOUNT_TIMEOUT}

[Install]
WantedBy=remote-fs.target
`;
}

/**
 * How a node's mount step treats the volume's data center:
 * - "own": this DC's volume; it must come up, or the step fails.
 * - "peer": another DC whose nodes this stack knows (it was deployed): wait a while for the
 *   mesh to link to it (its own deploy may be adding this DC's host files right now), then mount.
 * - "peer-not-deployed": another DC not deployed yet: nothing of it can answer, so no attempt.
 * A mount of another DC's volume that cannot come up now is a warning, never a failure: the unit
 * stays enabled, so boot, the next sync pass (its service wants the mount) or this step run again
 * (`glustermesh:reapply`; `pulumi up` runs a step only when it changed) mount it.
 */
export type MountReach = "own" | "peer" | "peer-not-deployed";

/** Seconds a mount of a deployed peer DC's volume waits for one of its volfile servers. */
export const PEER_MOUNT_WAIT = 20;

/** On a node: the mount unit, enabled, and mounted as `reach` says. */
export function mountScript(m: Mount, tincService: string, reach: MountReach): string {
  const unit = shq(m.unit);
  if (/[\s\\]/.test(m.where)) throw new Error(`mount point ${JSON.stringify(m.where)} has a space or backslash (escaped in /proc/self/mountinfo)`);
  const where = shq(m.where);
  const servers = [m.server, ...m.backupServers].map(shq).join(" ");
  const volume = shq(`${m.dc}/${m.volume}`);
  const mountUp = `mount_up() { systemctl start ${unit} && mounted; }`;
  let attempt: string;
  switch (reach) {
    case "own":
      attempt = `${mountUp}
  if retry 7 mount_up; then
    changed "mounted ${m.dc}/${m.volume} at ${m.where}"
  else
    echo "error: ${m.where} did not mount from ${m.server} or its backups:" >&2
    journalctl -u ${unit} -n 20 --no-pager >&2 || true
    exit 1
  fi`;
      break;
    case "peer":
      attempt = `${mountUp}
  # does glusterd answer (port 24007) on any volfile server? All asked at once, 2 s at most.
  ${anyAnswersFunction("volfile_server_answers", 24007, 2)}
  # ${m.dc} may be deploying this DC's host files right now: tincd waits 5 s and more before it
  # tries a failed connection again; SIGALRM makes it try at once.
  wait_for_volfile_server() {
    local deadline=$((SECONDS + ${PEER_MOUNT_WAIT}))
    until volfile_server_answers ${servers}; do
      if (( SECONDS >= deadline )); then return 1; fi
      systemctl kill --kill-whom=main --signal=SIGALRM ${shq(tincService)} 2>/dev/null || true
      sleep 1
    done
  }
  if ! wait_for_volfile_server; then
    printf 'warning: no volfile server of %s answered in ${PEER_MOUNT_WAIT} s; %s is enabled and mounts at boot, at the next sync pass, or when this step runs again (glustermesh:reapply)\\n' ${volume} ${unit} >&2
  elif retry 2 mount_up; then
    changed "mounted ${m.dc}/${m.volume} at ${m.where}"
    # A sync pass that failed while this volume could not be mounted runs again now rather
    # than at its next timer (its service wants this mount).
    for svc in $(systemctl show -p WantedBy --value ${unit}); do
      if [[ $svc == ${SYNC_UNIT_PREFIX}*.service ]] && systemctl is-failed --quiet "$svc"; then
        systemctl start --no-block "$svc"
        changed "started $svc again (its last pass failed while ${m.where} was not mounted)"
      fi
    done
  else
    printf 'warning: %s did not mount yet; %s is enabled and mounts at boot, at the next sync pass, or when this step runs again (glustermesh:reapply)\\n' ${volume} ${unit} >&2
  fi`;
      break;
    case "peer-not-deployed":
      attempt = `printf 'warning: data center %s is not deployed yet; %s is enabled and mounts once it is and this DC is deployed again\\n' ${shq(m.dc)} ${unit} >&2`;
      break;
    default: {
      const never: never = reach;
      throw new Error(`unknown mount reach ${String(never)}`);
    }
  }
  return script(
    `mount of ${m.dc}/${m.volume} on ${m.node}`,
    `
need_packages glusterfs-client
# (a sync pass may have started the mount: it may be in the kernel's table and not answer yet)
${MOUNTED_AT}
mounted() { mounted_at ${where}; }
if ! mounted; then mkdir -p ${where}; fi
${putFile(`${UNIT_DIR}/${m.unit}`, "644", mountUnit(m, tincService), "systemctl daemon-reload")}
if ! systemctl is-enabled --quiet ${unit}; then
  systemctl enable --quiet ${unit}
  changed "enabled ${m.unit}"
fi
${
    reach === "peer-not-deployed"
      ? "# (a mount in progress of a DC not deployed yet cannot come up: not waited for)"
      : `# A mount that a sync pass started (its service wants this mount) may still be in progress: it is
# in the kernel's table before it works, and mount.glusterfs unmounts it again when the volume
# does not answer (found by CI: the step took such a mount for done, then it went away). Wait
# for systemd's mount to end, ${MOUNT_TIMEOUT + 5} s at most (the unit's TimeoutSec=${MOUNT_TIMEOUT}), then look.
for ((i = 0; i < ${2 * (MOUNT_TIMEOUT + 5)}; i++)); do
  [[ $(systemctl show -p ActiveState --value ${unit}) == activating ]] || break
  sleep 0.5
done`
  }
if ! mounted; then
  ${attempt}
fi
`,
  );
}

/** "2min" -> OnCalendar; the secondary copies of a replica set fire half an interval later
 * (for hour intervals: 30 minutes later, so a pass never waits hours for the partner). */
export function calendarFor(every: string, primary: boolean): string {
  const m = /^([1-9][0-9]*)(s|min|h)$/.exec(every);
  if (!m) throw new Error(`sync interval "${every}" is not a time span such as 30s, 2min or 1h`);
  const n = Number(m[1]);
  const unit = m[2] as "s" | "min" | "h";
  switch (unit) {
    case "s":
      return `*:*:${primary ? 0 : Math.floor(n / 2) % 60}/${n}`;
    case "min":
      return `*:${primary ? 0 : Math.floor(n / 2) % 60}/${n}:00`;
    case "h":
      return primary ? `*-*-* 0/${n}:00:00` : `*-*-* 0/${n}:30:00`;
    default: {
      const never: never = unit;
      throw new Error(`unknown unit ${String(never)}`);
    }
  }
}

export function syncService(j: SyncJob): string {
  const state = `${SYNC_STATE_DIR}/${j.unit}.json`;
  return `[Unit]
Description=glustermesh: copy new images of ${j.volume} (replica set ${j.replicaSet}) from ${j.source} to ${j.targetDc}
Wants=${j.mountUnit}
After=${j.mountUnit}

[Service]
Type=oneshot
ExecStart=/usr/bin/node ${SYNC_BUNDLE} ${j.source} ${j.target} --require-mount --json --state ${state}
IOSchedulingClass=idle
Nice=10
TimeoutStartSec=6h
${SYNC_SANDBOX(j.target)}`;
}

/**
 * The sync pass reads its brick and writes only the other DC's volume (a FUSE mount every DC's
 * compute nodes write to) and its own state. It keeps the capabilities that copy ownership and
 * modes, and nothing else; no network (the mount's client is another process). Not used, on
 * purpose: RestrictSUIDSGID (a file's mode is copied as it is), MemoryDenyWriteExecute (Node's
 * JIT). Node asks for memory protection keys (@pkey).
 */
const SYNC_SANDBOX = (target: string) =>
  sandbox({
    readWrite: [`-${target}`],
    stateDirectory: SYNC_STATE_DIR.replace(/^\/var\/lib\//, ""),
    capabilities: ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID"],
    syscalls: ["@pkey"],
    suidSgid: true,
  });

export function syncTimer(j: SyncJob): string {
  return `[Unit]
Description=glustermesh: copy new images of ${j.volume} to ${j.targetDc} every ${j.every}

[Timer]
OnCalendar=${calendarFor(j.every, j.primary)}
RandomizedDelaySec=${j.primary ? 10 : 20}
AccuracySec=1s
Persistent=true

[Install]
WantedBy=timers.target
`;
}

/** On a brick node: Node, the sync units of its jobs, timers enabled. The bundle arrives separately. */
export function syncTimersScript(node: string, jobs: SyncJob[]): string {
  const files = jobs
    .map((j) => [putFile(`${UNIT_DIR}/${j.unit}.service`, "644", syncService(j), "reload=1"), putFile(`${UNIT_DIR}/${j.unit}.timer`, "644", syncTimer(j), "reload=1")].join("\n"))
    .join("\n");
  return script(
    `sync timers on ${node}`,
    `
command -v node >/dev/null || need_packages nodejs
need_packages e2fsprogs # filefrag: where a sparse image's data lies, for the tool's direct-I/O copies
if [[ ! -s ${SYNC_BUNDLE} ]]; then
  echo "error: the sync tool ${SYNC_BUNDLE} is missing on ${node}" >&2
  exit 1
fi
mkdir -p ${SYNC_STATE_DIR}
reload=0
${files}
if (( reload )); then systemctl daemon-reload; fi
timers=(${jobs.map((j) => shq(`${j.unit}.timer`)).join(" ")})
for timer in "\${timers[@]}"; do
  if ! systemctl is-enabled --quiet "$timer"; then
    systemctl enable --quiet "$timer"
    changed "enabled $timer"
  fi
  if ! systemctl is-active --quiet "$timer"; then
    systemctl start "$timer"
    changed "started $timer"
  fi
done
`,
  );
}

/**
 * On every node: stop and remove the sync timers and gluster mounts of ours that the inventory
 * no longer declares for it (a volume, a data center, a brick or the node's compute role
 * removed). Timers go first, so no pass starts on a mount about to go. Nothing is deleted on any
 * volume: unmounting removes no data.
 */
export function retiredUnitsScript(node: string, jobs: SyncJob[], mounts: Mount[]): string {
  return script(
    `sync timers and mounts ${node} no longer has`,
    `
in_list() { local x=$1 u; shift; for u in "$@"; do [[ $u == "$x" ]] && return 0; done; return 1; }
removed=0
# Sync units: the timer is stopped, disabled and removed with its service. A pass running now
# is left to finish (stopped halfway, it would leave its temporary file at a target no later
# pass of the pair cleans up); its service file goes when this step runs again.
declared_sync_units=(${jobs.map((j) => shq(j.unit)).join(" ")})
for sync_unit in ${UNIT_DIR}/${SYNC_UNIT_PREFIX}*.timer ${UNIT_DIR}/${SYNC_UNIT_PREFIX}*.service; do
  [[ -e $sync_unit ]] || continue
  base=$(basename "$sync_unit")
  if in_list "\${base%.*}" "\${declared_sync_units[@]}"; then continue; fi
  if [[ $base == *.timer ]]; then
    systemctl disable --now --quiet "$base" 2>/dev/null || true
  elif systemctl is-active --quiet "$base"; then
    echo "warning: $base is running a pass; its timer is gone, and its unit file is removed when this step runs again (glustermesh:reapply)" >&2
    continue
  fi
  rm -f "$sync_unit"
  removed=1
  changed "removed $base: the inventory no longer declares it"
done
# Mounts: disabled (no mount at boot), unmounted, unit file removed. A mount in use (an image
# open on it, a pass still running) cannot be unmounted: it stays mounted, disabled, with a
# warning, and this step removes it when it runs again once the mount is free. Only units with
# our Description (its spaces matched as [ ], so that no line here reads as a gluster command).
declared_mounts=(${mounts.map((m) => shq(m.unit)).join(" ")})
${MOUNTED_AT}
for mount_unit in ${MOUNT_UNIT_GLOB}; do
  [[ -e $mount_unit ]] || continue
  base=$(basename "$mount_unit")
  if in_list "$base" "\${declared_mounts[@]}" || ! grep -q ${shq(`^${MOUNT_UNIT_MARK.replace(/ /g, "[ ]")}`)} "$mount_unit"; then continue; fi
  where=$(sed -n 's/^Where=//p' "$mount_unit")
  systemctl disable --quiet "$base" 2>/dev/null || true
  if mounted_at "$where" && ! { systemctl stop "$base" && ! mounted_at "$where"; }; then
    echo "warning: $where ($base) is no longer in the inventory but is in use: left mounted, disabled; this step removes it when it runs again once the mount is free (with pulumi: set a new glustermesh:reapply)" >&2
    continue
  fi
  rm -f "$mount_unit"
  removed=1
  changed "removed $base ($where): the inventory no longer declares it"
done
if (( removed )); then systemctl daemon-reload; fi
`,
  );
}

/**
 * gluster's ports (management, bricks, and the NFS/portmapper ones) answer only on the mesh.
 * Off the mesh only connection attempts (a SYN without ACK) to them are dropped: the bricks'
 * range 49152-60999 is also the upper part of Linux's ephemeral ports, so dropping every packet
 * to it would drop the replies to about 40% of the host's own outgoing TCP connections (tinc's
 * meta connections, apt, ...). Stateless on purpose: no conntrack table to fill or to lose.
 */
export function firewallRules(meshInterface: string): string {
  return `# glustermesh: gluster answers only on the tinc mesh. Only this table is ours; nothing else is touched.
table inet glustermesh
delete table inet glustermesh
table inet glustermesh {
	chain input {
		type filter hook input priority filter; policy accept;
		iifname "lo" accept
		iifname "${meshInterface}" accept
		tcp flags & (fin | syn | rst | ack) == syn tcp dport { 111, 2049, 24007-24008, 38465-38469, 49152-60999 } drop
		udp dport { 111, 2049, 24007-24008 } drop
	}
}
`;
}

export const FIREWALL_RULES = "/etc/glustermesh/firewall.nft";
export const FIREWALL_UNIT = "glustermesh-firewall.service";

/**
 * The table is loaded at start and on reload (`nft -f` replaces it in one transaction, so a bad
 * rules file leaves the table that was there). Stopping the unit leaves the table: glusterd,
 * which requires this unit, stops with it, but its bricks run on, and stay behind the table.
 */
export function firewallUnit(): string {
  return `[Unit]
Description=glustermesh: gluster's ports answer only on the tinc mesh
Before=glusterd.service
After=network-pre.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/sbin/nft -f ${FIREWALL_RULES}
ExecReload=/usr/sbin/nft -f ${FIREWALL_RULES}

[Install]
WantedBy=multi-user.target
`;
}

export function firewallScript(node: string, meshInterface: string): string {
  return script(
    `host firewall on ${node}`,
    `
need_packages nftables
apply=0
${putFile(FIREWALL_RULES, "644", firewallRules(meshInterface), "apply=1")}
${putFile(`${UNIT_DIR}/${FIREWALL_UNIT}`, "644", firewallUnit(), "systemctl daemon-reload; apply=1")}
if ! systemctl is-enabled --quiet ${FIREWALL_UNIT}; then
  systemctl enable --quiet ${FIREWALL_UNIT}
  changed "enabled ${FIREWALL_UNIT}"
fi
if ! nft list table inet glustermesh >/dev/null 2>&1; then apply=1; fi
if (( apply )); then
  # a reload when it runs: a restart would restart glusterd, which requires it
  systemctl reload-or-restart ${FIREWALL_UNIT}
  changed "applied the gluster firewall"
fi
`,
  );
}

/** Clocks in step: the sync compares mtimes, so drifting clocks would lose updates. */
export function timeSyncScript(node: string): string {
  return script(
    `time sync on ${node}`,
    `
need_packages chrony
if ! systemctl is-enabled --quiet chrony.service; then
  systemctl enable --quiet chrony.service
  changed "enabled chrony"
fi
# In a container without CAP_SYS_TIME chrony's condition skips it: the host's clock rules there.
systemctl start chrony.service
`,
  );
}

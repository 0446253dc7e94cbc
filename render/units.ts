// systemd units and the host scripts that install them: FUSE mounts of gluster volumes, the
// sync service and timer, the host firewall, time sync.
import type { Mount, SyncJob } from "../model/model";
import { putFile, script, shq } from "./shell";

export const SYNC_BUNDLE = "/usr/local/lib/glustermesh/glustermesh-sync.js";
export const SYNC_STATE_DIR = "/var/lib/glustermesh/sync";
export const UNIT_DIR = "/etc/systemd/system";

export function mountUnit(m: Mount, tincService: string): string {
  const options = ["_netdev", ...(m.backupServers.length ? [`backup-volfile-servers=${m.backupServers.join(":")}`] : []), "log-level=WARNING"];
  return `[Unit]
Description=glustermesh: gluster volume ${m.volume} of ${m.dc}
Documentation=man:mount.glusterfs(8)
Wants=network-online.target ${tincService}
After=network-online.target ${tincService} glusterd.service

[Mount]
What=${m.server}:/${m.volume}
Where=${m.where}
Type=glusterfs
Options=${options.join(",")}
TimeoutSec=90

[Install]
WantedBy=remote-fs.target
`;
}

/**
 * On a node: the mount unit, enabled and mounted. A mount of this DC's own volume must come up;
 * one of another DC's volume may wait (that DC may not be deployed yet): the unit stays
 * enabled and the sync service starts it again on every pass.
 */
export function mountScript(m: Mount, tincService: string, required: boolean): string {
  const unit = shq(m.unit);
  return script(
    `mount of ${m.dc}/${m.volume} on ${m.node}`,
    `
need_packages glusterfs-client
mkdir -p ${shq(m.where)}
${putFile(`${UNIT_DIR}/${m.unit}`, "644", mountUnit(m, tincService), "systemctl daemon-reload")}
if ! systemctl is-enabled --quiet ${unit}; then
  systemctl enable --quiet ${unit}
  changed "enabled ${m.unit}"
fi
if ! mountpoint -q ${shq(m.where)}; then
  mount_up() { systemctl start ${unit} && mountpoint -q ${shq(m.where)}; }
  # does glusterd answer (port 24007) on any volfile server? All asked at once, 2 s at most.
  volfile_server_answers() {
    local h p pids=()
    for h in "$@"; do
      # shellcheck disable=SC2016 # $1 expands in the inner shell
      timeout 2 bash -c ': </dev/tcp/"$1"/24007' _ "$h" >/dev/null 2>&1 &
      pids+=("$!")
    done
    for p in "\${pids[@]}"; do
      if wait "$p"; then return 0; fi
    done
    return 1
  }
  if ${required ? "false" : "true"} && ! volfile_server_answers ${[m.server, ...m.backupServers].map(shq).join(" ")}; then
    printf 'warning: no volfile server of %s answers yet; %s is enabled and mounts when one does\\n' ${shq(`${m.dc}/${m.volume}`)} ${unit} >&2
  elif retry ${required ? 7 : 2} mount_up; then
    changed "mounted ${m.dc}/${m.volume} at ${m.where}"
  elif ${required ? "true" : "false"}; then
    echo "error: ${m.where} did not mount from ${m.server} or its backups:" >&2
    journalctl -u ${unit} -n 20 --no-pager >&2 || true
    exit 1
  else
    printf 'warning: %s is not reachable yet; %s is enabled and mounts when it is\\n' ${shq(`${m.dc}/${m.volume}`)} ${unit} >&2
  fi
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
`;
}

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

/** gluster's ports (management, bricks, and the NFS/portmapper ones) answer only on the mesh. */
export function firewallRules(meshInterface: string): string {
  return `# glustermesh: gluster answers only on the tinc mesh. Only this table is ours; nothing else is touched.
table inet glustermesh
delete table inet glustermesh
table inet glustermesh {
	chain input {
		type filter hook input priority filter; policy accept;
		iifname "lo" accept
		iifname "${meshInterface}" accept
		tcp dport { 111, 2049, 24007-24008, 38465-38469, 49152-60999 } drop
		udp dport { 111, 2049, 24007-24008 } drop
	}
}
`;
}

export const FIREWALL_RULES = "/etc/glustermesh/firewall.nft";
export const FIREWALL_UNIT = "glustermesh-firewall.service";

export function firewallUnit(): string {
  return `[Unit]
Description=glustermesh: gluster's ports answer only on the tinc mesh
Before=glusterd.service
After=network-pre.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/sbin/nft -f ${FIREWALL_RULES}
ExecStop=/usr/sbin/nft delete table inet glustermesh

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
  systemctl restart ${FIREWALL_UNIT}
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

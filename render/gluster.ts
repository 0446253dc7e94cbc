// Gluster host scripts: glusterd, peers, bricks, volume create / add-brick / start / options
// (rebalance: rebalance.ts). Each checks, then acts; `--mode=script` everywhere; never `force`;
// waits retry with backoff; nothing here removes a brick, a volume or a file.
import type { Brick, ReplicaSet, Volume } from "../model/model";
import { VIRT_GROUP, VIRT_GROUP_FILE } from "../model/options";
import { sandbox } from "./sandbox";
import { dataHeader, enableAndStart, hostFile, putFile, script, shq, withHeader } from "./shell";
import { FIREWALL_UNIT, UNIT_DIR } from "./units";

const GLUSTER = "gluster --mode=script";

/** Shell functions reading gluster's state, shared by the scripts below. */
const READERS = String.raw`
# peer_state IP: "connected", "known" (in the pool, not connected) or "" (unknown).
peer_state() {
  ${GLUSTER} peer status 2>/dev/null | awk -v ip="$1" '
    BEGIN { RS = ""; FS = "\n" }
    {
      hit = 0; ok = 0
      for (i = 1; i <= NF; i++) {
        if ($i == "Hostname: " ip || $i == ip) hit = 1
        if ($i == "State: Peer in Cluster (Connected)") ok = 1
      }
      if (hit) state = ok ? "connected" : "known"
    }
    END { print state }'
}
# diagnose_peer IP: for an error message, what the mesh and the kernel say of a peer glustermesh
# waited for in vain: a closed port points at the mesh (or the peer's glusterd), an open one at glusterd.
diagnose_peer() {
  # shellcheck disable=SC2016 # $1 expands in the inner shell
  if timeout 2 bash -c ': </dev/tcp/"$1"/24007' _ "$1" >/dev/null 2>&1; then
    echo "glusterd's port 24007 at $1 answers over the mesh now; this node's TCP connections with it:"
  else
    echo "glusterd's port 24007 at $1 does not answer over the mesh (tinc link or the peer's glusterd down); this node's TCP connections with it:"
  fi
  ss -tna dst "$1" || true
}
volume_exists() { ${GLUSTER} volume list 2>/dev/null | grep -qxF -- "$1"; }
# volume_bricks VOLUME: one brick per line, as gluster names it (host:path).
volume_bricks() { ${GLUSTER} volume info "$1" | awk '/^Brick[0-9]+: / { print $2 }'; }
# option_value VOLUME KEY: the value gluster reports, normalised like glustermesh's model.
option_value() {
  ${GLUSTER} volume get "$1" "$2" | awk -v key="$2" '$1 == key { print $2 }' | normalise "$2"
}
normalise() {
  local v
  v=$(tr '[:upper:]' '[:lower:]')
  case $1 in
    auth.allow|auth.reject) printf '%s\n' "$v" | tr ',' '\n' | sed '/^$/d' | sort | paste -sd, - ;;
    *) case $v in
         on|yes|true|enable|enabled|1) echo on ;;
         off|no|false|disable|disabled|0) echo off ;;
         *) printf '%s\n' "$v" ;;
       esac ;;
  esac
}
`;

/** Where a storage node keeps the script that runs before glusterd starts (GLUSTERD_MESH_WAIT_UNIT). */
export const GLUSTERD_MESH_WAIT = "/usr/local/lib/glustermesh/glusterd-wait-for-mesh";
/** glustermesh's drop-in for the distribution's glusterd.service. */
export const GLUSTERD_DROP_IN = "/etc/systemd/system/glusterd.service.d/glustermesh.conf";
/** Seconds glusterd waits at most for the mesh to reach every peer of its pool before it starts anyway. */
export const GLUSTERD_MESH_WAIT_SECONDS = 20;
/** Seconds of silent peers after which the wait restarts tincd, once (see the script). */
export const GLUSTERD_MESH_RESTART_SECONDS = 10;

export interface GlusterdMeshArgs {
  node: string;
  /** This node's tinc address, the mesh interface, tincd's port and unit. */
  tinc: string;
  interface: string;
  port: number;
  tincService: string;
}

/** Where glusterd keeps its trusted pool: one file per peer, `hostname1=` the address it was probed by. */
export const GLUSTERD_PEERS_DIR = "/var/lib/glusterd/peers";

/**
 * Run before glusterd starts: wait until the mesh has this node's address and reaches every
 * peer of glusterd's pool (tincd's port at each peer's address; the pool as glusterd stored it,
 * so nodes added later need no change here), GLUSTERD_MESH_WAIT_SECONDS at most, nudging tincd
 * to retry its connections meanwhile. Why, seen in the lab (gluster 10.3): a glusterd started
 * before the mesh finds every peer unreachable, counts server quorum lost, and when the peers
 * then answer in one burst it may start the node's brick twice; the second start fails on the
 * first one's pidfile lock, and glusterd marks the brick stopped while it runs: `volume status`
 * shows it offline with no port, and heals wait on it. Never fails: peers may be down, and
 * glusterd must start anyway.
 */
export function glusterdMeshWaitScript(a: GlusterdMeshArgs): string {
  return withHeader(hostFile("glusterd-wait-for-mesh"), {
    TINC_SERVICE: a.tincService,
    MESH_INTERFACE: a.interface,
    TINC_ADDRESS: a.tinc,
    TINC_PORT: a.port,
    WAIT_SECONDS: GLUSTERD_MESH_WAIT_SECONDS,
    RESTART_SECONDS: GLUSTERD_MESH_RESTART_SECONDS,
    PEERS_DIR: GLUSTERD_PEERS_DIR,
  });
}

/** The unit that runs the mesh wait each time glusterd starts (glusterd wants it, after it). */
export const GLUSTERD_MESH_WAIT_UNIT = "glustermesh-mesh-wait.service";

/**
 * The mesh wait, its own sandboxed oneshot (an ExecStartPre would run with glusterd's rights):
 * it reads glusterd's pool, looks at the mesh interface (netlink), knocks at tincd's port over
 * the mesh (inet) and signals or restarts tincd (systemd's socket). It writes nothing.
 */
export function glusterdMeshWaitService(tincService: string): string {
  return `[Unit]
Description=glustermesh: before glusterd starts, wait until the tinc mesh reaches its pool
Wants=${tincService}
After=${tincService}
Before=glusterd.service

[Service]
Type=oneshot
ExecStart=/bin/bash ${GLUSTERD_MESH_WAIT}
TimeoutStartSec=2min
${sandbox({ network: true, addressFamilies: ["AF_INET", "AF_NETLINK"] })}`;
}

/** glustermesh's drop-in for glusterd.service: after the mesh, and only once it reaches the pool. */
export function glusterdDropIn(tincService: string): string {
  return `# glustermesh: glusterd reaches its peers over the tinc mesh; it starts once the mesh reaches them,
# and never without the firewall that keeps its ports off every other network.
[Unit]
Wants=${tincService} ${GLUSTERD_MESH_WAIT_UNIT}
After=${tincService} ${FIREWALL_UNIT} ${GLUSTERD_MESH_WAIT_UNIT}
Requires=${FIREWALL_UNIT}

[Service]
ExecStartPre=/bin/bash ${GLUSTERD_FIREWALL_CHECK}
`;
}

/** Where a storage node keeps the check that glusterd's firewall table is in place (ExecStartPre). */
export const GLUSTERD_FIREWALL_CHECK = "/usr/local/lib/glustermesh/glusterd-firewall-check";

/** glusterd starts only with the firewall's table loaded (its unit may be active with the table deleted by hand). */
export function glusterdFirewallCheckScript(): string {
  return withHeader(hostFile("glusterd-firewall-check"), { FIREWALL_UNIT });
}

/** The script the brick check timer runs, and its units. */
export const BRICK_CHECK = "/usr/local/lib/glustermesh/brick-check";
export const BRICK_CHECK_UNIT = "glustermesh-brick-check";
/** Where glusterd's log is, and where a brick's glusterfsd keeps its pid. */
export const GLUSTER_LOG_DIR = "/var/log/glusterfs";
export const GLUSTERD_LOG = `${GLUSTER_LOG_DIR}/glusterd.log`;
/** Where the brick check keeps its last repair's time (its RuntimeDirectory: gone at reboot). */
export const BRICK_CHECK_RUN_DIR = "/run/glustermesh/brick-check";
export const GLUSTER_RUN_DIR = "/var/run/gluster";
/** Minutes between two repairs on one node, at least: a repair that does not help is not repeated in a loop. */
export const BRICK_REPAIR_MINUTES = 5;

/** glusterd's pidfile of a brick: <run dir>/vols/VOLUME/<host>-<path with / as ->.pid */
export function brickPidfile(volume: string, b: Pick<Brick, "spec" | "path">): string {
  const host = b.spec.slice(0, b.spec.length - b.path.length - 1);
  return `${GLUSTER_RUN_DIR}/vols/${volume}/${host}${b.path.replace(/\//g, "-")}.pid`;
}

export interface BrickCheckArgs {
  node: string;
  bricks: Array<{ volume: string; brick: Pick<Brick, "spec" | "path"> }>;
}

/**
 * Gluster 10 may start a brick twice when server quorum comes back (gluster issue 4080, open,
 * no fix merged; seen in the lab): the second glusterfsd fails on the first one's pidfile lock,
 * glusterd logs "Unable to start brick" and then shows the brick offline or without a port
 * while the first process runs. Clients and heals that connect anew ask glusterd for the port
 * and get none: the replica set silently serves from one brick. This check, every minute,
 * finds exactly that (the brick's process runs, glusterd gave up a start of it after that
 * process began, and `volume status` still shows it offline or portless) and repairs it the
 * only way without `force`: stop that process, restart glusterd, which starts the brick afresh.
 * At most once per BRICK_REPAIR_MINUTES. A brick stopped for a reason (server quorum lost, a
 * disk gone) has no running process and is left alone. Never fails.
 */
export function brickCheckScript(a: BrickCheckArgs): string {
  return withHeader(hostFile("brick-check"), {
    BRICKS: a.bricks.map(({ volume, brick }) => `${volume}|${brick.spec}|${brickPidfile(volume, brick)}`),
    GLUSTERD_LOG,
    RUN_DIR: BRICK_CHECK_RUN_DIR,
    REPAIR_MINUTES: BRICK_REPAIR_MINUTES,
  });
}

/**
 * The check reads glusterd's log and pidfiles, asks glusterd over its unix socket, may stop a
 * brick process (root's own, no capability needed) and restart glusterd (systemd's socket).
 * It writes only gluster's CLI log and its repair stamp.
 */
export function brickCheckService(): string {
  return `[Unit]
Description=glustermesh: restart a brick that glusterd lost track of (gluster issue 4080)
After=glusterd.service

[Service]
Type=oneshot
ExecStart=/bin/bash ${BRICK_CHECK}
TimeoutStartSec=2min
${sandbox({ readWrite: [GLUSTER_LOG_DIR], runtimeDirectory: BRICK_CHECK_RUN_DIR.replace(/^\/run\//, "") })}`;
}

export function brickCheckTimer(): string {
  return `[Unit]
Description=glustermesh: check every minute that glusterd keeps track of this node's bricks

[Timer]
OnBootSec=30s
OnUnitActiveSec=1min
AccuracySec=5s

[Install]
WantedBy=timers.target
`;
}

/** glusterd, started once the mesh reaches its pool, and the check that repairs a brick it lost track of. */
export function glusterdScript(a: GlusterdMeshArgs & BrickCheckArgs): string {
  const node = a.node;
  const timer = `${BRICK_CHECK_UNIT}.timer`;
  const brickCheck = a.bricks.length
    ? `${putFile(BRICK_CHECK, "755", brickCheckScript(a))}
reload=0
${putFile(`${UNIT_DIR}/${BRICK_CHECK_UNIT}.service`, "644", brickCheckService(), "reload=1")}
${putFile(`${UNIT_DIR}/${timer}`, "644", brickCheckTimer(), "reload=1")}
if (( reload )); then systemctl daemon-reload; fi
${enableAndStart(timer)}`
    : "";
  return script(
    `glusterd on ${node}`,
    `
# the drop-in first: the package's own start of glusterd already waits for the mesh
${putFile(GLUSTERD_MESH_WAIT, "755", glusterdMeshWaitScript(a))}
${putFile(GLUSTERD_FIREWALL_CHECK, "755", glusterdFirewallCheckScript())}
reload=0
${putFile(`${UNIT_DIR}/${GLUSTERD_MESH_WAIT_UNIT}`, "644", glusterdMeshWaitService(a.tincService), "reload=1")}
${putFile(GLUSTERD_DROP_IN, "644", glusterdDropIn(a.tincService), "reload=1")}
if (( reload )); then systemctl daemon-reload; fi
${brickCheck}
need_packages glusterfs-server
if ! systemctl is-enabled --quiet glusterd.service; then
  systemctl enable --quiet glusterd.service
  changed "enabled glusterd"
fi
if ! systemctl is-active --quiet glusterd.service; then
  systemctl start glusterd.service
  changed "started glusterd"
fi
glusterd_answers() { ${GLUSTER} pool list >/dev/null 2>&1; }
if ! retry 8 glusterd_answers; then
  echo "error: glusterd on ${node} does not answer; journalctl -u glusterd:" >&2
  journalctl -u glusterd -n 20 --no-pager >&2 || true
  exit 1
fi
`,
  );
}

/** Run on the DC's lead node: probe one peer by its tinc address and wait until it is in the pool. */
export function peerProbeScript(args: { lead: string; peer: string; peerTinc: string; tincService: string }): string {
  const ip = shq(args.peerTinc);
  return script(
    `peer probe of ${args.peer} (${args.peerTinc}) from ${args.lead}`,
    `${READERS}
if [[ -z $(peer_state ${ip}) ]]; then
  # Right after a rollout the tinc link to the peer may still be coming up, and the probe fails
  # with "Transport endpoint is not connected": retry with backoff. tincd waits 5 s and more
  # before it tries a failed connection again; SIGALRM makes it try at once.
  probe() {
    ${GLUSTER} peer probe ${ip} && return 0
    systemctl kill --kill-whom=main --signal=SIGALRM ${shq(args.tincService)} 2>/dev/null || true
    return 1
  }
  if ! retry 8 probe; then
    echo "error: gluster peer probe ${args.peerTinc} (${args.peer}) from ${args.lead} kept failing" >&2
    exit 1
  fi
  changed "probed peer ${args.peer} at ${args.peerTinc}"
fi
# A probed peer is not at once "Peer in Cluster": wait with backoff before anything uses it.
peer_connected() { [[ $(peer_state ${ip}) == connected ]]; }
if ! retry 10 peer_connected; then
  echo "error: peer ${args.peer} (${args.peerTinc}) is not connected to ${args.lead}'s pool:" >&2
  ${GLUSTER} peer status >&2 || true
  diagnose_peer ${ip} >&2
  exit 1
fi
`,
  );
}

/** On every storage node: wait until this node sees all the other peers of its DC connected. */
export function poolReadyScript(node: string, storageNodes: number): string {
  const others = storageNodes - 1;
  return script(
    `${node} sees the whole trusted pool`,
    `${READERS}
connected_peers() {
  ${GLUSTER} peer status 2>/dev/null | grep -cx 'State: Peer in Cluster (Connected)' || true
}
pool_ready() { (( $(connected_peers) >= ${others} )); }
if ! retry 10 pool_ready; then
  echo "error: ${node} sees $(connected_peers) of the ${others} other peers of its pool connected; a volume command now would fail half way:" >&2
  ${GLUSTER} peer status >&2 || true
  for ip in $(${GLUSTER} peer status 2>/dev/null | awk 'BEGIN { RS = ""; FS = "\\n" } /Disconnected/ { for (i = 1; i <= NF; i++) if ($i ~ /^Hostname: /) print substr($i, 11) }'); do
    diagnose_peer "$ip" >&2
  done
  exit 1
fi
`,
  );
}

/**
 * On a brick's node: the brick directory exists, on a filesystem of its own (never the root one).
 * A volume create that failed half way leaves gluster's "in use" marks on the bricks it staged,
 * and every later create then refuses them. A mark is cleared only when no volume of the pool
 * owns it and the brick holds no file: nothing that holds data is ever touched.
 */
export function brickDirScript(node: string, bricks: Brick[]): string {
  return script(
    `brick directories on ${node}`,
    `need_packages attr\n` +
    bricks
      .map(
        (b) => `
brick=${shq(b.path)}
parent=$(dirname "$brick")
mkdir -p "$parent"
if [[ $(stat -c %d "$parent") == $(stat -c %d /) ]]; then
  echo "error: brick $brick on ${node} would be on the root filesystem; gluster refuses that without force, which glustermesh never uses. Mount a disk of its own at $parent (or at $brick's parent) first." >&2
  exit 1
fi
if [[ ! -d $brick ]]; then
  mkdir -p "$brick"
  changed "made brick directory $brick"
fi
mark=$(getfattr --absolute-names -e hex -n trusted.glusterfs.volume-id "$brick" 2>/dev/null | sed -n 's/^trusted.glusterfs.volume-id=0x//p' || true)
if [[ -n $mark ]]; then
  id=$mark
  id=\${id:0:8}-\${id:8:4}-\${id:12:4}-\${id:16:4}-\${id:20:12}
  if ! ${GLUSTER} volume info 2>/dev/null | grep -qix "Volume ID: $id"; then
    if [[ -z $(find "$brick" -mindepth 1 -maxdepth 1 ! -name .glusterfs -print -quit) ]] && [[ -z $(find "$brick/.glusterfs" -type f -links +1 -print -quit 2>/dev/null) ]]; then
      setfattr -x trusted.glusterfs.volume-id "$brick"
      setfattr -x trusted.gfid "$brick" 2>/dev/null || true
      changed "cleared the mark a failed volume create left on empty brick $brick"
    else
      echo "error: brick $brick on ${node} belongs to volume ID $id, which this pool does not know, and holds files; glustermesh will not touch it. Inspect it, and move its files away before reusing it." >&2
      exit 1
    fi
  fi
fi`,
      )
      .join("\n"),
  );
}

function replicaClause(v: Volume): string {
  return v.arbiter ? `replica 3 arbiter 1` : `replica ${v.replica}`;
}

/** On the lead: create the volume with its first replica set, if it does not exist. */
export function volumeCreateScript(v: Volume): string {
  const first = v.replicaSets[0];
  return script(
    `create volume ${v.name} of ${v.dc} with replica set ${first.name}`,
    `${READERS}
if ! volume_exists ${shq(v.name)}; then
  ${GLUSTER} volume create ${shq(v.name)} ${replicaClause(v)} transport tcp ${first.bricks.map((b) => shq(b.spec)).join(" ")}
  changed "created volume ${v.name} with replica set ${first.name}"
fi
`,
  );
}

/** On the lead: add one whole replica set, if none of its bricks is in the volume yet. */
export function addBrickScript(v: Volume, set: ReplicaSet): string {
  const specs = set.bricks.map((b) => shq(b.spec)).join(" ");
  return script(
    `add replica set ${set.name} to volume ${v.name} of ${v.dc}`,
    `${READERS}
present=0
for brick in ${specs}; do
  if volume_bricks ${shq(v.name)} | grep -qxF -- "$brick"; then present=$((present + 1)); fi
done
if (( present == ${set.bricks.length} )); then
  exit 0
elif (( present > 0 )); then
  echo "error: volume ${v.name} holds only some bricks of replica set ${set.name} (${set.bricks.map((b) => b.spec).join(" ")}); glustermesh adds whole replica sets and will not guess. Compare 'gluster volume info ${v.name}' with the inventory." >&2
  exit 1
fi
# A whole replica set at a time, with the replica count (without it gluster refuses).
${GLUSTER} volume add-brick ${shq(v.name)} ${replicaClause(v)} ${specs}
changed "added replica set ${set.name} to volume ${v.name}"
`,
  );
}

export function volumeStartScript(v: Volume): string {
  return script(
    `start volume ${v.name} of ${v.dc}`,
    `
if ! ${GLUSTER} volume info ${shq(v.name)} | grep -qx 'Status: Started'; then
  ${GLUSTER} volume start ${shq(v.name)}
  changed "started volume ${v.name}"
fi
`,
  );
}

/** The group file, with the fully qualified keys gluster requires. */
export function virtGroupFile(): string {
  return VIRT_GROUP.map(([k, v]) => `${k}=${v}`).join("\n") + "\n";
}

export const GROUP_DIR = "/var/lib/glusterd/groups";

/** On the lead: the group file, then every option that differs from what gluster reports. */
export function volumeOptionsScript(v: Volume): string {
  const groupKeys = new Set<string>(VIRT_GROUP.map(([k]) => k));
  const group = v.options.filter(([k]) => groupKeys.has(k));
  return script(
    `options of volume ${v.name} of ${v.dc}`,
    `${READERS}
${v.virtGroup ? putFile(`${GROUP_DIR}/${VIRT_GROUP_FILE}`, "644", virtGroupFile()) : ""}
differs() { [[ $(option_value ${shq(v.name)} "$1") != "$2" ]]; }
${dataHeader({ OPTIONS: v.options.flat() })}
${
  v.virtGroup
    ? `${dataHeader({ GROUP: group.flat() })}
group_differs=0
for ((i = 0; i < \${#GROUP[@]}; i += 2)); do
  if differs "\${GROUP[i]}" "\${GROUP[i + 1]}"; then group_differs=1; fi
done
if (( group_differs )); then
  ${GLUSTER} volume set ${shq(v.name)} group ${VIRT_GROUP_FILE} >/dev/null
  changed "applied option group ${VIRT_GROUP_FILE} to ${v.name}"
fi`
    : ""
}
# every option that differs, set in one gluster command (one volfile change for the clients)
pending=()
for ((i = 0; i < \${#OPTIONS[@]}; i += 2)); do
  if differs "\${OPTIONS[i]}" "\${OPTIONS[i + 1]}"; then pending+=("\${OPTIONS[i]}" "\${OPTIONS[i + 1]}"); fi
done
if (( \${#pending[@]} > 0 )); then
  ${GLUSTER} volume set ${shq(v.name)} "\${pending[@]}" >/dev/null
  for ((i = 0; i < \${#pending[@]}; i += 2)); do
    changed "set \${pending[i]}=\${pending[i + 1]} on ${v.name}"
  done
fi
`,
  );
}

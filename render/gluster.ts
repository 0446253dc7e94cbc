// Gluster host scripts: glusterd, peers, bricks, volume create / add-brick / start / options
// / rebalance. Each checks, then acts; `--mode=script` everywhere; never `force`; waits retry
// with backoff; nothing here removes a brick, a volume or a file.
import type { Brick, ReplicaSet, Volume } from "../model/model";
import { VIRT_GROUP, VIRT_GROUP_FILE } from "../model/options";
import { putFile, script, shq } from "./shell";

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

export function glusterdScript(node: string): string {
  return script(
    `glusterd on ${node}`,
    `
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
  const lines = v.options.map(([k, val]) => `${shq(k)} ${shq(val)}`).join("\n");
  return script(
    `options of volume ${v.name} of ${v.dc}`,
    `${READERS}
${v.virtGroup ? putFile(`${GROUP_DIR}/${VIRT_GROUP_FILE}`, "644", virtGroupFile()) : ""}
differs() { [[ $(option_value ${shq(v.name)} "$1") != "$2" ]]; }
${
  v.virtGroup
    ? `group_differs=0
while read -r key value; do
  if differs "$key" "$value"; then group_differs=1; fi
done <<'OPTIONS'
${v.options.filter(([k]) => groupKeys.has(k)).map(([k, val]) => `${k} ${val}`).join("\n")}
OPTIONS
if (( group_differs )); then
  ${GLUSTER} volume set ${shq(v.name)} group ${VIRT_GROUP_FILE} >/dev/null
  changed "applied option group ${VIRT_GROUP_FILE} to ${v.name}"
fi`
    : ""
}
# every option that differs, set in one gluster command (one volfile change for the clients)
pending=()
while read -r key value; do
  if differs "$key" "$value"; then pending+=("$key" "$value"); fi
done <<'OPTIONS'
${lines}
OPTIONS
if (( \${#pending[@]} > 0 )); then
  ${GLUSTER} volume set ${shq(v.name)} "\${pending[@]}" >/dev/null
  for ((i = 0; i < \${#pending[@]}; i += 2)); do
    changed "set \${pending[i]}=\${pending[i + 1]} on ${v.name}"
  done
fi
`,
  );
}

export const REBALANCE_STATE = "/var/lib/glustermesh/rebalance";

/** On the lead: after replica sets were added, spread the data over them (started, not awaited). */
export function rebalanceScript(v: Volume): string {
  const layout = v.replicaSets.map((s) => s.bricks.map((b) => b.spec).join(" ")).join("\n");
  const marker = `${REBALANCE_STATE}/${v.name}`;
  return script(
    `rebalance volume ${v.name} of ${v.dc} after its replica sets changed`,
    `
mkdir -p ${shq(REBALANCE_STATE)}
layout=$(cat <<'LAYOUT'
${layout}
LAYOUT
)
if [[ ${v.replicaSets.length} -lt 2 ]] || { [[ -f ${shq(marker)} ]] && [[ $(cat ${shq(marker)}) == "$layout" ]]; }; then
  exit 0
fi
if ! ${GLUSTER} volume rebalance ${shq(v.name)} status 2>/dev/null | grep -q 'in progress'; then
  ${GLUSTER} volume rebalance ${shq(v.name)} start
fi
printf '%s\\n' "$layout" > ${shq(marker)}
changed "started rebalance of ${v.name} over ${v.replicaSets.length} replica sets"
`,
  );
}

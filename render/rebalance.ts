// Rebalance after replica sets were added: spread a volume's files over all its sets, and see
// the rebalance through. Under the Pulumi engine the rebalance step runs only when its script
// changes, so a rebalance that fails or is stopped after the step ran would never be started
// again: a timer on the volume's lead runs the same check every few minutes. Per volume, on the
// lead: the layout the deploy wants (REBALANCE_LAYOUT_DIR/VOL.layout), the layout the last
// start was for (REBALANCE_STATE/VOL.started), and the layout a completed rebalance was seen
// for (REBALANCE_STATE/VOL, the marker): done when the marker is the layout.
import type { DataCenter, Volume } from "../model/model";
import { GLUSTER_LOG_DIR } from "./gluster";
import { sandbox } from "./sandbox";
import { CHANGED_MARK, enableAndStart, putFile, script, shq } from "./shell";
import { UNIT_DIR } from "./units";

export const REBALANCE_STATE = "/var/lib/glustermesh/rebalance";
export const REBALANCE_LAYOUT_DIR = "/etc/glustermesh/rebalance";
export const REBALANCE_CHECK = "/usr/local/lib/glustermesh/rebalance-check";
export const REBALANCE_CHECK_UNIT = "glustermesh-rebalance-check";
/** Minutes between two checks: a failed or stopped rebalance is started again within this. */
export const REBALANCE_CHECK_MINUTES = 5;

/** The volume's replica sets, one line each (brick specs); what the check compares. */
export function rebalanceLayout(v: Volume): string {
  return v.replicaSets.map((s) => s.bricks.map((b) => b.spec).join(" ")).join("\n");
}

export function rebalanceLayoutFile(volume: string): string {
  return `${REBALANCE_LAYOUT_DIR}/${volume}.layout`;
}

/** The volumes a node leads that have something to spread: where the check and its timer are. */
export function rebalancedVolumes(dc: DataCenter, node: string): Volume[] {
  return dc.volumes.filter((v) => v.lead === node && v.replicaSets.length >= 2);
}

/**
 * The check, the same text on every node: its only input is the layout files. A rebalance is
 * started once for a layout; again when gluster reports it failed or stopped (gluster 10.3
 * reports a stopped one as "not started"), or completed for an older layout (that status
 * outlives an add-brick); left alone while it runs. The marker is written only once gluster
 * reports completed for a rebalance started for this layout. At most one start per volume and
 * run. Status codes: gluster's gf_defrag_status_t (rpc/xdr/src/cli1-xdr.x).
 */
export function rebalanceCheckScript(): string {
  return `#!/bin/bash
# glustermesh: see each volume's rebalance through, on the node that leads it. For each volume VOL
# with a layout (${REBALANCE_LAYOUT_DIR}/VOL.layout: its replica sets, as the deploy wrote them):
# start a rebalance if none was started for that layout, start it again if it failed or was
# stopped, leave one in progress alone, and record the layout in ${REBALANCE_STATE}/VOL once
# gluster reports the rebalance started for it (VOL.started) completed.
# Run by ${REBALANCE_CHECK_UNIT}.timer every ${REBALANCE_CHECK_MINUTES} minutes and by the volume's rebalance step.
# Arguments: the volumes to check (default: every layout). Exit 1 if one was not checked or not started.
set -u
export LC_ALL=C
layouts=${REBALANCE_LAYOUT_DIR}
state=${REBALANCE_STATE}
changed() { printf '${CHANGED_MARK} %s\\n' "$*"; }
mkdir -p "$state"
# one check at a time: the timer's and a deploy's would both start a rebalance
exec 9>>"$state/.lock"
if ! flock -w 60 9; then
  echo "warning: another rebalance check holds $state/.lock; nothing checked" >&2
  exit 1
fi
# gluster's aggregate over the pool (0 not started, 1 in progress, 2 stopped, 3 completed,
# 4 failed, 5-8 the fix-layout ones, 9-10 reset by a brick replaced), from its --xml answer
aggregate='<aggregate>.*<status>([0-9]+)</status>.*<statusStr>([^<]*)</statusStr>'
check() {
  local vol=$1 layout sets started xml code name out
  if ! layout=$(cat "$layouts/$vol.layout" 2>/dev/null); then
    echo "warning: $layouts/$vol.layout is missing: $vol not checked" >&2
    return 1
  fi
  sets=$(grep -c . <<<"$layout")
  if (( sets < 2 )); then return 0; fi
  # glustermesh before this check wrote the marker at the start: a start still to see through
  if [[ -f $state/$vol && ! -f $state/$vol.started ]]; then mv "$state/$vol" "$state/$vol.started"; fi
  if [[ $(cat "$state/$vol" 2>/dev/null) == "$layout" ]]; then return 0; fi
  started=$(cat "$state/$vol.started" 2>/dev/null)
  xml=$(gluster --mode=script --xml volume rebalance "$vol" status 2>&1 | tr -d '\\n')
  if [[ $xml =~ $aggregate ]]; then
    code=\${BASH_REMATCH[1]} name=\${BASH_REMATCH[2]}
  elif [[ $xml == *"<opRet>-1</opRet>"*"Rebalance not started"* ]]; then
    code=0 name="not started"
  else
    echo "warning: the rebalance status of $vol is unknown (gluster says: \${xml:0:300}); asked again at the next check" >&2
    return 1
  fi
  case $code in
    1|5) return 0 ;; # running: one for an older layout is followed by a start once it ends
    3) if [[ $started == "$layout" ]]; then
         printf '%s\\n' "$layout" >"$state/$vol"
         echo "the rebalance of $vol over $sets replica sets completed"
         return 0
       fi
       name="completed for an older layout" ;;
  esac
  if [[ $code != 0 || $started == "$layout" ]]; then echo "the rebalance of $vol: gluster reports it $name; starting it again"; fi
  if ! out=$(gluster --mode=script volume rebalance "$vol" start 2>&1); then
    echo "warning: gluster volume rebalance $vol start failed: $out" >&2
    return 1
  fi
  printf '%s\\n' "$layout" >"$state/$vol.started"
  changed "started rebalance of $vol over $sets replica sets"
}
vols=("$@")
if (( $# == 0 )); then
  for f in "$layouts"/*.layout; do
    if [[ -e $f ]]; then f=\${f##*/}; vols+=("\${f%.layout}"); fi
  done
fi
rc=0
for vol in "\${vols[@]}"; do
  if ! [[ $vol =~ ^[A-Za-z][A-Za-z0-9_]*$ ]]; then
    echo "warning: $vol is not a volume name" >&2
    rc=1
  elif ! check "$vol"; then
    rc=1
  fi
done
exit "$rc"
`;
}

/**
 * The check asks glusterd over its unix socket (the CLI's default: no network), writes only
 * the CLI's log and its state; it needs no capability (root owns all three).
 */
export function rebalanceCheckService(): string {
  return `[Unit]
Description=glustermesh: see the rebalance of the volumes this node leads through
After=glusterd.service

[Service]
Type=oneshot
ExecStart=/bin/bash ${REBALANCE_CHECK}
TimeoutStartSec=5min
${sandbox({ readWrite: [GLUSTER_LOG_DIR], stateDirectory: REBALANCE_STATE.replace(/^\/var\/lib\//, "") })}`;
}

export function rebalanceCheckTimer(): string {
  return `[Unit]
Description=glustermesh: check every ${REBALANCE_CHECK_MINUTES} minutes that the rebalance of this node's volumes completes

[Timer]
OnBootSec=2min
OnUnitActiveSec=${REBALANCE_CHECK_MINUTES}min
AccuracySec=30s

[Install]
WantedBy=timers.target
`;
}

/**
 * On the lead, for a volume of 2 or more replica sets: the layout, the check, the check once
 * (a start now, not at the timer), its timer. Fails when the check fails (gluster does not
 * answer, or refuses the start); the timer, enabled all the same, tries again meanwhile.
 */
export function rebalanceScript(v: Volume): string {
  const title = `rebalance volume ${v.name} of ${v.dc} after its replica sets changed`;
  if (v.replicaSets.length < 2) return script(title, `# one replica set: nothing to spread the files over\n:`);
  const timer = `${REBALANCE_CHECK_UNIT}.timer`;
  return script(
    title,
    `
# the replica sets, one line each: quoted words, never a heredoc of inventory data
layout=(${v.replicaSets.map((set) => shq(set.bricks.map((b) => b.spec).join(" "))).join(" ")})
if printf '%s\\n' "\${layout[@]}" | put_file ${shq(rebalanceLayoutFile(v.name))} 644; then :; fi
${putFile(REBALANCE_CHECK, "755", rebalanceCheckScript())}
reload=0
${putFile(`${UNIT_DIR}/${REBALANCE_CHECK_UNIT}.service`, "644", rebalanceCheckService(), "reload=1")}
${putFile(`${UNIT_DIR}/${timer}`, "644", rebalanceCheckTimer(), "reload=1")}
if (( reload )); then systemctl daemon-reload; fi
# The check before its timer: a timer started for the first time runs it at once, and a start
# made there would show in the journal, not here. gluster may be busy with another volume
# command for a moment: a few tries.
checked=1
if ! retry 4 bash ${REBALANCE_CHECK} ${shq(v.name)}; then checked=0; fi
${enableAndStart(timer)}
if (( ! checked )); then
  echo "error: the rebalance of ${v.name} was not started or its status not read (above); ${timer} tries again every ${REBALANCE_CHECK_MINUTES} minutes" >&2
  exit 1
fi
`,
  );
}

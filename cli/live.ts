// What `drift` reads on a live node: one read-only bash script that prints every section at
// once between markers, and the parsers of its output (gluster's --xml, /proc/mounts,
// systemctl). Pure: no I/O here; cli/drift.ts runs the script over SSH and compares.
import { SYNC_UNIT_PREFIX, type DataCenter, type MeshNode, type Model } from "../model/model";
import { BRICK_CHECK, BRICK_CHECK_UNIT, GLUSTERD_DROP_IN, GLUSTERD_MESH_WAIT, GLUSTERD_MESH_WAIT_UNIT } from "../render/gluster";
import { DRIFT_KEYS_FILE, DRIFT_READ, DRIFT_SSHD_CONFIG } from "../render/access";
import { REBALANCE_CHECK, REBALANCE_CHECK_UNIT, rebalancedVolumes, rebalanceLayoutFile } from "../render/rebalance";
import { shq } from "../render/shell";
import { unescapeMount } from "../sync/mount";
import { dcLead, nodeBricks } from "../render/steps";
import { tincDir, tincService } from "../render/tinc";
import { FIREWALL_RULES, MOUNT_UNIT_GLOB, MOUNT_UNIT_MARK, UNIT_DIR } from "../render/units";

export const MARK = "@@glustermesh-live@@";

export interface Section {
  name: string;
  stdout: string;
  stderr: string;
  rc: number;
}

export interface LiveOutput {
  sections: Map<string, Section>;
  /** The script ran to its end (its last marker is present). */
  complete: boolean;
}

/** Everything the node should report: which sections the script asks for. */
export function liveScript(model: Model, dc: DataCenter, node: MeshNode): string {
  const net = model.mesh.name;
  const dir = tincDir(net);
  const lines: string[] = [];
  const sec = (name: string, cmd: string) => lines.push(`sec ${shq(name)} ${cmd}`);
  sec("clock", "date +%s.%N");
  sec("hostname", "hostname");
  sec("tinc-conf", `cat ${shq(`${dir}/tinc.conf`)}`);
  sec("tinc-up", `cat ${shq(`${dir}/tinc-up`)}`);
  sec("tinc-key", `cat ${shq(`${dir}/rsa_key.pub`)}`);
  sec("tinc-hosts", `ls -1 ${shq(`${dir}/hosts`)}`);
  lines.push(`for f in ${shq(`${dir}/hosts`)}/*; do [[ -f $f ]] && sec "tinc-host:\${f##*/}" cat -- "$f"; done`);
  sec("tinc-active", `systemctl is-active ${shq(tincService(net))}`);
  sec("mounts", "cat /proc/self/mounts");
  for (const f of [DRIFT_READ, DRIFT_KEYS_FILE, DRIFT_SSHD_CONFIG]) sec(`file:${f}`, `cat ${shq(f)}`);
  if (node.storage) {
    sec("glusterd-active", "systemctl is-active glusterd.service");
    sec("peer-status", "as_root peer-status");
    sec("volume-info", "as_root volume-info");
    for (const v of dc.volumes.filter((x) => x.lead === node.name)) sec(`volume-get:${v.name}`, `as_root volume-get ${shq(v.name)}`);
    if (dcLead(dc)?.name === node.name) sec("volume-status", "as_root volume-status");
    sec(`file:${GLUSTERD_DROP_IN}`, `cat ${shq(GLUSTERD_DROP_IN)}`);
    sec(`file:${GLUSTERD_MESH_WAIT}`, `cat ${shq(GLUSTERD_MESH_WAIT)}`);
    sec(`file:${UNIT_DIR}/${GLUSTERD_MESH_WAIT_UNIT}`, `cat ${shq(`${UNIT_DIR}/${GLUSTERD_MESH_WAIT_UNIT}`)}`);
    if (nodeBricks(dc, node).length) {
      sec(`file:${BRICK_CHECK}`, `cat ${shq(BRICK_CHECK)}`);
      for (const ext of ["service", "timer"]) sec(`file:${UNIT_DIR}/${BRICK_CHECK_UNIT}.${ext}`, `cat ${shq(`${UNIT_DIR}/${BRICK_CHECK_UNIT}.${ext}`)}`);
      sec(`unit:${BRICK_CHECK_UNIT}.timer`, `unit_state ${shq(`${BRICK_CHECK_UNIT}.timer`)}`);
    }
    // the check that sees a rebalance through, and each rebalance's status (on the volume's lead)
    const rebalanced = rebalancedVolumes(dc, node.name);
    if (rebalanced.length) {
      for (const f of [REBALANCE_CHECK, `${UNIT_DIR}/${REBALANCE_CHECK_UNIT}.service`, `${UNIT_DIR}/${REBALANCE_CHECK_UNIT}.timer`]) sec(`file:${f}`, `cat ${shq(f)}`);
      sec(`unit:${REBALANCE_CHECK_UNIT}.timer`, `unit_state ${shq(`${REBALANCE_CHECK_UNIT}.timer`)}`);
    }
    for (const v of rebalanced) {
      sec(`file:${rebalanceLayoutFile(v.name)}`, `cat ${shq(rebalanceLayoutFile(v.name))}`);
      sec(`rebalance-status:${v.name}`, `as_root rebalance-status ${shq(v.name)}`);
    }
    sec("firewall-table", "as_root firewall-table");
    sec(`file:${FIREWALL_RULES}`, `cat ${shq(FIREWALL_RULES)}`);
  }
  for (const m of dc.mounts.filter((x) => x.node === node.name)) {
    sec(`file:${UNIT_DIR}/${m.unit}`, `cat ${shq(`${UNIT_DIR}/${m.unit}`)}`);
    sec(`unit:${m.unit}`, `unit_state ${shq(m.unit)}`);
  }
  // every mount unit of ours on the node, declared or not (one left from a removed mount is drift)
  sec("mount-units", `find ${UNIT_DIR} -maxdepth 1 -name ${shq(MOUNT_UNIT_GLOB.slice(UNIT_DIR.length + 1))} -exec grep -q ${shq(`^${MOUNT_UNIT_MARK}`)} {} \\; -printf '%f\\n'`);
  // every sync timer of ours on the node, declared or not (one left from a removed job is drift)
  sec("sync-timers", `find ${UNIT_DIR} -maxdepth 1 -name ${shq(`${SYNC_UNIT_PREFIX}*.timer`)} -printf '%f\\n'`);
  for (const j of dc.syncJobs.filter((x) => x.node === node.name)) {
    sec(`file:${UNIT_DIR}/${j.unit}.service`, `cat ${shq(`${UNIT_DIR}/${j.unit}.service`)}`);
    sec(`file:${UNIT_DIR}/${j.unit}.timer`, `cat ${shq(`${UNIT_DIR}/${j.unit}.timer`)}`);
    sec(`unit:${j.unit}.timer`, `unit_state ${shq(`${j.unit}.timer`)}`);
    sec(`result:${j.unit}.service`, `systemctl show -p Result,ExecMainStatus ${shq(`${j.unit}.service`)}`);
  }
  return `#!/bin/bash
# glustermesh drift: read-only report of ${node.name}; changes nothing
set +e
export LC_ALL=C
M=${shq(MARK)}
err=$(mktemp) || exit 1
trap 'rm -f "$err"' EXIT
sec() {
  local name=$1 rc
  shift
  printf '%s begin %s\\n' "$M" "$name"
  "$@" 2>"$err"
  rc=$?
  printf '\\n%s stderr %s\\n' "$M" "$name"
  head -c 4000 "$err"
  printf '\\n%s end %s %d\\n' "$M" "$name" "$rc"
}
# what only root may read (gluster, nft), through the one helper the drift account may sudo
as_root() {
  if (( EUID == 0 )); then ${DRIFT_READ} "$@"; else sudo -n ${DRIFT_READ} "$@"; fi
}
unit_state() {
  printf 'enabled=%s\\n' "$(systemctl is-enabled "$1" 2>/dev/null)"
  printf 'active=%s\\n' "$(systemctl is-active "$1" 2>/dev/null)"
}
${lines.join("\n")}
printf '%s done\\n' "$M"
`;
}

/** Split the script's output into its sections. */
export function parseLiveOutput(text: string): LiveOutput {
  const sections = new Map<string, Section>();
  const begin = `${MARK} begin `;
  let at = 0;
  for (;;) {
    const b = text.indexOf(begin, at);
    if (b < 0) break;
    const nl = text.indexOf("\n", b);
    if (nl < 0) break;
    const name = text.slice(b + begin.length, nl);
    const errMark = `\n${MARK} stderr ${name}\n`;
    const e = text.indexOf(errMark, nl);
    if (e < 0) break;
    const endRe = new RegExp(`\\n${escapeRe(MARK)} end ${escapeRe(name)} (\\d+)\\n`, "g");
    endRe.lastIndex = e + errMark.length - 1;
    const end = endRe.exec(text);
    if (!end) break;
    sections.set(name, { name, stdout: text.slice(nl + 1, e), stderr: text.slice(e + errMark.length, end.index), rc: Number(end[1]) });
    at = end.index + end[0].length - 1;
  }
  return { sections, complete: new RegExp(`^${escapeRe(MARK)} done$`, "m").test(text.slice(Math.max(0, at))) };
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

// ---- gluster --xml -------------------------------------------------------------------------

function unescapeXml(s: string): string {
  return s.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, "&");
}

/** Texts of every `<tag>...</tag>` directly found in `xml` (not nested tags of the same name). */
function elements(xml: string, tag: string): string[] {
  const out: string[] = [];
  const re = new RegExp(`<${tag}(?:\\s[^>]*)?>([\\s\\S]*?)</${tag}>`, "g");
  for (let m = re.exec(xml); m; m = re.exec(xml)) out.push(m[1]);
  return out;
}

function first(xml: string, tag: string): string | undefined {
  const e = elements(xml, tag)[0];
  return e === undefined ? undefined : unescapeXml(e.trim());
}

/** A gluster CLI answer: opRet 0, or the error it reports. */
export function xmlStatus(xml: string): { ok: true } | { ok: false; message: string } {
  const ret = first(xml, "opRet");
  if (ret === undefined) return { ok: false, message: `no gluster XML answer${xml.trim() ? `: ${xml.trim().slice(0, 200)}` : ""}` };
  if (ret !== "0") return { ok: false, message: `gluster says: ${first(xml, "opErrstr") || `opRet ${ret}`}` };
  return { ok: true };
}

export interface LivePeer {
  hostnames: string[];
  connected: boolean;
  state: string;
}

export function parsePeerStatus(xml: string): LivePeer[] {
  return elements(xml, "peer").map((p) => {
    const names = elements(p, "hostnames").flatMap((h) => elements(h, "hostname")).map((h) => unescapeXml(h.trim()));
    const main = p.replace(/<hostnames>[\s\S]*?<\/hostnames>/, "");
    const host = first(main, "hostname");
    return { hostnames: [...new Set([...(host ? [host] : []), ...names])], connected: first(p, "connected") === "1", state: first(p, "stateStr") ?? "?" };
  });
}

export interface LiveVolume {
  name: string;
  status: string;
  type: string;
  replicaCount: number;
  arbiterCount: number;
  bricks: string[];
  /** Options reconfigured (as `volume info` lists them). */
  options: Record<string, string>;
}

export function parseVolumeInfo(xml: string): LiveVolume[] {
  return elements(xml, "volume").map((v) => {
    const bricks = elements(v, "brick").map((b) => first(b, "name") ?? unescapeXml(b.replace(/<[\s\S]*$/, "").trim()));
    const options: Record<string, string> = {};
    for (const o of elements(v, "option")) options[first(o, "name") ?? ""] = first(o, "value") ?? "";
    return {
      name: first(v, "name") ?? "?",
      status: first(v, "statusStr") ?? "?",
      type: first(v, "typeStr") ?? "?",
      replicaCount: Number(first(v, "replicaCount") ?? 0),
      arbiterCount: Number(first(v, "arbiterCount") ?? 0),
      bricks,
      options,
    };
  });
}

export interface LiveBrick {
  volume: string;
  /** host:path, as gluster names the brick. */
  spec: string;
  online: boolean;
  /** The TCP port glusterd hands to clients; undefined when it shows none ("N/A"). */
  port?: number;
}

/** `volume status all`: the bricks of every started volume (the daemons' rows left out). */
export function parseVolumeStatus(xml: string): LiveBrick[] {
  return elements(xml, "volume").flatMap((v) => {
    const volume = first(v, "volName") ?? "?";
    return elements(v, "node")
      .map((n) => ({ host: first(n, "hostname") ?? "", path: first(n, "path") ?? "", status: first(n, "status"), port: first(n, "port") }))
      .filter((n) => n.path.startsWith("/"))
      .map((n) => {
        const port = Number(n.port);
        return { volume, spec: `${n.host}:${n.path}`, online: n.status === "1", ...(Number.isInteger(port) && port > 0 ? { port } : {}) };
      });
  });
}

/**
 * `volume rebalance VOL status`: the pool's aggregate, gluster's code and name (1 in progress,
 * 3 completed, 4 failed...). gluster 10.3 answers "Rebalance not started" (opRet -1) for a
 * volume never rebalanced and after `rebalance VOL stop`: code 0. Undefined: no answer.
 */
export function parseRebalanceStatus(xml: string): { code: number; status: string } | undefined {
  const aggregate = elements(xml, "aggregate")[0];
  const code = aggregate === undefined ? NaN : Number(first(aggregate, "status"));
  if (Number.isInteger(code)) return { code, status: first(aggregate, "statusStr") ?? `status ${code}` };
  if (/^Rebalance not started/.test(first(xml, "opErrstr") ?? "")) return { code: 0, status: "not started" };
  return undefined;
}

/** `volume get VOL all`: every option's effective value, without gluster's " (DEFAULT)" mark. */
export function parseVolumeGet(xml: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const o of elements(xml, "Opt")) {
    const key = first(o, "Option");
    if (key) out[key] = (first(o, "Value") ?? "").replace(/ \(DEFAULT\)$/, "");
  }
  return out;
}

// ---- the rest ------------------------------------------------------------------------------

export interface LiveMount {
  source: string;
  target: string;
  fstype: string;
}

/** /proc/mounts lines (octal escapes such as \040 decoded). */
export function parseProcMounts(text: string): LiveMount[] {
  return text
    .split("\n")
    .map((l) => l.split(" "))
    .filter((f) => f.length >= 3)
    .map((f) => ({ source: unescapeMount(f[0]), target: unescapeMount(f[1]), fstype: f[2] }));
}

/** `key=value` lines (unit_state, systemctl show). */
export function parseKeyValues(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const eq = line.indexOf("=");
    if (eq > 0) out[line.slice(0, eq)] = line.slice(eq + 1).trim();
  }
  return out;
}

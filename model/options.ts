// Gluster volume options: the keys we know, their short names, and how gluster normalises
// values, so that what the inventory asks for and what `gluster volume get` reports compare
// equal when they mean the same (field-facts 7: naive comparison looks changed forever),
// and the form each value takes.
import { parseCidr } from "./net";

/** Full keys of the options glustermesh lets an inventory set. */
export const KNOWN_OPTIONS = [
  "auth.allow",
  "auth.reject",
  "cluster.choose-local",
  "cluster.data-self-heal-algorithm",
  "cluster.eager-lock",
  "cluster.favorite-child-policy",
  "cluster.granular-entry-heal",
  "cluster.heal-timeout",
  "cluster.lookup-optimize",
  "cluster.min-free-disk",
  "cluster.quorum-count",
  "cluster.quorum-type",
  "cluster.self-heal-daemon",
  "cluster.server-quorum-ratio",
  "cluster.server-quorum-type",
  "cluster.shd-max-threads",
  "cluster.shd-wait-qlength",
  "diagnostics.brick-log-level",
  "diagnostics.client-log-level",
  "features.shard",
  "features.shard-block-size",
  "network.ping-timeout",
  "network.remote-dio",
  "nfs.disable",
  "performance.cache-size",
  "performance.client-io-threads",
  "performance.io-cache",
  "performance.io-thread-count",
  "performance.low-prio-threads",
  "performance.quick-read",
  "performance.read-ahead",
  "performance.stat-prefetch",
  "performance.strict-o-direct",
  "performance.write-behind",
  "performance.write-behind-window-size",
  "server.event-threads",
  "client.event-threads",
  "storage.owner-gid",
  "storage.owner-uid",
] as const;

export type OptionKey = (typeof KNOWN_OPTIONS)[number];

const BY_SHORT_NAME: ReadonlyMap<string, OptionKey> = (() => {
  const m = new Map<string, OptionKey>();
  for (const key of KNOWN_OPTIONS) m.set(key.slice(key.indexOf(".") + 1), key);
  return m;
})();

/** `quick-read` -> `performance.quick-read`; a full key stays; unknown gives undefined. */
export function fullOptionKey(key: string): OptionKey | undefined {
  if ((KNOWN_OPTIONS as readonly string[]).includes(key)) return key as OptionKey;
  return BY_SHORT_NAME.get(key);
}

/** The known key closest to a mistyped one, for "did you mean". */
export function suggestOptionKey(key: string): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of KNOWN_OPTIONS) {
    for (const form of [candidate, candidate.slice(candidate.indexOf(".") + 1)]) {
      const d = editDistance(key, form);
      if (d < bestDistance) {
        bestDistance = d;
        best = candidate;
      }
    }
  }
  return bestDistance <= Math.max(2, Math.floor(key.length / 4)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length];
}

const BOOLEAN_WORDS: Record<string, string> = {
  on: "on", yes: "on", true: "on", enable: "on", enabled: "on", "1": "on",
  off: "off", no: "off", false: "off", disable: "off", disabled: "off", "0": "off",
};

/**
 * A value as gluster means it: booleans in any spelling become on/off, everything else is
 * trimmed and lower-cased except auth lists, whose order does not matter.
 */
export function normaliseOptionValue(key: string, value: string): string {
  const v = String(value).trim();
  if (key === "auth.allow" || key === "auth.reject") {
    return v.split(",").map((s) => s.trim()).filter(Boolean).sort().join(",");
  }
  const lower = v.toLowerCase();
  return BOOLEAN_WORDS[lower] ?? lower;
}

/**
 * The virt group of the original notes (storage-plan.txt), for VM images on gluster, with the
 * fully qualified keys a group file must use or gluster rejects the whole group.
 */
export const VIRT_GROUP: ReadonlyArray<readonly [OptionKey, string]> = [
  ["performance.quick-read", "off"],
  ["performance.read-ahead", "off"],
  ["performance.io-cache", "off"],
  ["performance.stat-prefetch", "off"],
  ["cluster.eager-lock", "enable"],
  ["network.remote-dio", "enable"],
  ["cluster.quorum-type", "auto"],
  ["cluster.server-quorum-type", "server"],
];

/** Name of the group file we write to /var/lib/glusterd/groups/ (gluster ships its own `virt`). */
export const VIRT_GROUP_FILE = "glustermesh-virt";

/**
 * What a value of each known key must look like, as gluster parses it: a value of the wrong
 * form is refused here, with the form it takes, rather than by `gluster volume set` half way
 * through a deploy. A Record over every key, so that a new key must say its form.
 */
export type OptionType =
  | { kind: "boolean" }
  | { kind: "integer"; min: number; max?: number; unit?: string }
  | { kind: "size"; min?: number; max?: number }
  | { kind: "percent" }
  | { kind: "percent-or-size" }
  | { kind: "choice"; values: readonly string[] }
  | { kind: "addresses" };

const BOOL: OptionType = { kind: "boolean" };
const threads = (max?: number): OptionType => ({ kind: "integer", min: 1, max, unit: "threads" });
const LOG_LEVELS = ["DEBUG", "WARNING", "ERROR", "INFO", "CRITICAL", "NONE", "TRACE"];
const MB = 1024 ** 2;
const TB = 1024 ** 4;

export const OPTION_TYPES: Readonly<Record<OptionKey, OptionType>> = {
  "auth.allow": { kind: "addresses" },
  "auth.reject": { kind: "addresses" },
  "cluster.choose-local": BOOL,
  "cluster.data-self-heal-algorithm": { kind: "choice", values: ["full", "diff", "reset"] },
  "cluster.eager-lock": BOOL,
  "cluster.favorite-child-policy": { kind: "choice", values: ["none", "size", "ctime", "mtime", "majority"] },
  "cluster.granular-entry-heal": BOOL,
  "cluster.heal-timeout": { kind: "integer", min: 5, unit: "seconds" },
  "cluster.lookup-optimize": BOOL,
  "cluster.min-free-disk": { kind: "percent-or-size" },
  "cluster.quorum-count": { kind: "integer", min: 1, unit: "bricks" },
  "cluster.quorum-type": { kind: "choice", values: ["none", "auto", "fixed"] },
  "cluster.self-heal-daemon": BOOL,
  "cluster.server-quorum-ratio": { kind: "percent" },
  "cluster.server-quorum-type": { kind: "choice", values: ["none", "server"] },
  "cluster.shd-max-threads": threads(64),
  "cluster.shd-wait-qlength": { kind: "integer", min: 1, unit: "entries" },
  "diagnostics.brick-log-level": { kind: "choice", values: LOG_LEVELS },
  "diagnostics.client-log-level": { kind: "choice", values: LOG_LEVELS },
  "features.shard": BOOL,
  "features.shard-block-size": { kind: "size", min: 4 * MB, max: 4 * TB },
  "network.ping-timeout": { kind: "integer", min: 0, max: 1013, unit: "seconds" },
  "network.remote-dio": BOOL,
  "nfs.disable": BOOL,
  "performance.cache-size": { kind: "size" },
  "performance.client-io-threads": BOOL,
  "performance.io-cache": BOOL,
  "performance.io-thread-count": threads(64),
  "performance.low-prio-threads": threads(64),
  "performance.quick-read": BOOL,
  "performance.read-ahead": BOOL,
  "performance.stat-prefetch": BOOL,
  "performance.strict-o-direct": BOOL,
  "performance.write-behind": BOOL,
  "performance.write-behind-window-size": { kind: "size" },
  "server.event-threads": threads(),
  "client.event-threads": threads(),
  // -1 leaves the owner as it is
  "storage.owner-gid": { kind: "integer", min: -1, unit: "a group id, or -1 for none" },
  "storage.owner-uid": { kind: "integer", min: -1, unit: "a user id, or -1 for none" },
};

/** The spellings gluster's gf_string2boolean accepts (any case). */
export const GLUSTER_BOOLEANS = ["on", "off", "yes", "no", "true", "false", "enable", "disable", "1", "0"] as const;
const SIZE = /^([0-9]+(?:\.[0-9]+)?)(B|KB|MB|GB|TB|PB)?$/i;
const UNIT: Record<string, number> = { B: 1, KB: 1024, MB: MB, GB: 1024 ** 3, TB: TB, PB: 1024 ** 5 };
const PERCENT = /^([0-9]+(?:\.[0-9]+)?)%?$/;

/** Bytes of a gluster size (`64MB`, `512KB`, `1048576`), undefined when it is not one. */
export function parseSize(s: string): number | undefined {
  const m = SIZE.exec(s);
  return m ? Number(m[1]) * UNIT[(m[2] ?? "B").toUpperCase()] : undefined;
}

function isPercent(s: string): boolean {
  const m = PERCENT.exec(s);
  return m !== null && Number(m[1]) <= 100;
}

/** One auth.allow/auth.reject entry: `*`, an address, a `10.1.*` pattern or a subnet. */
export function isAddressPattern(entry: string): boolean {
  if (entry === "*") return true;
  if (entry.includes("/")) return parseCidr(entry) !== undefined;
  const parts = entry.split(".");
  if (parts.length > 4 || !parts.every((p) => /^(\*|[0-9]{1,3}\*?)$/.test(p))) return false;
  // every plain number an octet; fewer than four parts only when a * ends it (10.1.*)
  if (parts.some((p) => /^[0-9]+$/.test(p) && (Number(p) > 255 || (p.length > 1 && p.startsWith("0"))))) return false;
  return parts.length === 4 || entry.endsWith("*");
}

/** What is wrong with a value of a known key, with the form it should take; undefined when fine. */
export function optionValueProblem(key: OptionKey, value: string | number | boolean): string | undefined {
  const t = OPTION_TYPES[key];
  const v = String(value).trim();
  const shown = JSON.stringify(String(value));
  switch (t.kind) {
    case "boolean":
      if (GLUSTER_BOOLEANS.includes(v.toLowerCase() as (typeof GLUSTER_BOOLEANS)[number])) return undefined;
      return `${key} is on or off (gluster also takes yes/no, true/false, enable/disable, 1/0), not ${shown}`;
    case "integer": {
      const n = /^-?[0-9]+$/.test(v) ? Number(v) : NaN;
      if (n >= t.min && (t.max === undefined || n <= t.max)) return undefined;
      const range = t.max === undefined ? `${t.min} or more` : `from ${t.min} to ${t.max}`;
      return `${key} is a whole number ${range} (${t.unit}), not ${shown}`;
    }
    case "size": {
      const bytes = parseSize(v);
      const inRange = bytes !== undefined && (t.min === undefined || bytes >= t.min) && (t.max === undefined || bytes <= t.max);
      if (inRange) return undefined;
      const range = t.min !== undefined && t.max !== undefined ? `, from ${t.min / MB}MB to ${t.max / TB}TB` : "";
      return `${key} is a size such as 64MB or 512KB (a number with B, KB, MB, GB, TB or PB, no space${range}), not ${shown}`;
    }
    case "percent":
      return isPercent(v) ? undefined : `${key} is a percentage from 0 to 100 such as 51%, not ${shown}`;
    case "percent-or-size":
      return isPercent(v) || parseSize(v) !== undefined ? undefined : `${key} is a percentage such as 10% or a size such as 5GB, not ${shown}`;
    case "choice":
      return t.values.some((c) => c.toLowerCase() === v.toLowerCase()) ? undefined : `${key} is one of ${t.values.join(", ")}, not ${shown}`;
    case "addresses": {
      const entries = v.split(",").map((s) => s.trim());
      if (entries.every((e) => e !== "" && isAddressPattern(e))) return undefined;
      return `${key} is a comma-separated list of IPv4 addresses (10.1.1.1,10.1.1.2), patterns with * (10.1.*) or subnets (10.1.0.0/16), or * for every address, not ${shown}`;
    }
  }
}

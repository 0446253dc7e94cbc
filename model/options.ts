// Gluster volume options: the keys we know, their short names, and how gluster normalises
// values, so that what the inventory asks for and what `gluster volume get` reports compare
// equal when they mean the same (field-facts 7: naive comparison looks changed forever).

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

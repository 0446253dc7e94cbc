// A small valid 2-DC inventory as in-memory texts, helpers to break it one edit at a time,
// and the real inventory folder read as texts.
import * as fs from "node:fs";
import * as path from "node:path";
import { validateTexts, type LoadResult } from "../../model/load";
import type { Inventory } from "../../model/schema";

export const repo = path.resolve(__dirname, "../..");
export const REAL_DIR = path.join(repo, "inventory");
/** The folder name the fixture pretends to live in (problems carry it in `file`). */
export const FIXTURE_DIR = "/fixture";

export const MESH = `# test mesh
mesh:
  name: testmesh
  subnet: 10.9.0.0/16
  port: 655
  connectToPerDc: 2
`;

// metal DC: lines are referred to by number in the tests, keep them stable.
export const EAST = `nodes:
  east1:
    address: 192.0.2.1
    tinc: 10.9.1.1
    roles: [storage, compute]
  east2:
    address: 192.0.2.2
    tinc: 10.9.1.2
    roles: [storage, compute]
  east3:
    address: 192.0.2.3
    tinc: 10.9.1.3
    roles: [compute]
volumes:
  data:
    replica: 2
    brickPath: /srv/gluster/data
    replicaSets:
      - [east1, east2]
    options:
      group: virt
      network.ping-timeout: 20
    sync: { every: 5min }
`;

// gce DC: replica 3 arbiter 1.
export const WEST = `provider: gce
gce:
  machineType: e2-standard-2
nodes:
  west1: { tinc: 10.9.2.1, roles: [storage, compute] }
  west2: { tinc: 10.9.2.2, roles: [storage, compute] }
  west3: { tinc: 10.9.2.3, roles: [storage] }
volumes:
  data:
    replica: 3
    arbiter: 1
    brickPath: /srv/gluster/data
    diskGb: 20
    replicaSets:
      - [west1, west2, west3]
    sync: { every: 30s }
`;

export function fixtureTexts(): Record<string, string> {
  return { "mesh.yaml": MESH, "east.yaml": EAST, "west.yaml": WEST };
}

export function realTexts(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of fs.readdirSync(REAL_DIR).sort()) if (name.endsWith(".yaml")) out[name] = fs.readFileSync(path.join(REAL_DIR, name), "utf8");
  return out;
}

/** Replace the one occurrence of `from` in `text`; a missing or repeated `from` is a bug in the test. */
export function replaceOnce(text: string, from: string, to: string): string {
  const first = text.indexOf(from);
  if (first < 0) throw new Error(`test edit: ${JSON.stringify(from)} not found`);
  if (text.indexOf(from, first + 1) >= 0) throw new Error(`test edit: ${JSON.stringify(from)} occurs more than once`);
  return text.slice(0, first) + to + text.slice(first + from.length);
}

export function validInventory(texts: Record<string, string>, dir = FIXTURE_DIR): Inventory {
  const r: LoadResult = validateTexts(dir, texts);
  if (!r.ok) throw new Error(`expected a valid inventory, got:\n${r.problems.map((p) => `${p.file}:${p.line}:${p.column} ${p.field}: ${p.message}`).join("\n")}`);
  return r.inventory;
}

export function fixtureInventory(): Inventory {
  return validInventory(fixtureTexts());
}

export function realInventory(): Inventory {
  return validInventory(realTexts(), REAL_DIR);
}

// A small two-DC inventory as in-memory texts (the laba/labb names of the lab), and helpers
// to edit it for plan and drift tests. The gluster samples in samples/ were recorded from
// real glusterd 10.3 processes serving exactly this inventory's DC laba (volume-status-laba1.xml
// was recorded from the lab's laba1 and edited to this inventory's two bricks).
import * as fs from "node:fs";
import * as path from "node:path";

export const MESH = `mesh:
  name: glustermesh
  subnet: 10.1.0.0/16
  port: 655
  connectToPerDc: 3
`;

export const LABA = `nodes:
  laba1: { address: 192.0.2.11, tinc: 10.1.1.1, roles: [storage, compute] }
  laba2: { address: 192.0.2.12, tinc: 10.1.1.2, roles: [storage, compute] }
volumes:
  projects:
    replica: 2
    brickPath: /mnt/bricks/projects
    replicaSets:
      - [laba1, laba2]
    options:
      group: virt
      network.ping-timeout: 20
    sync: { every: 2min }
`;

export const LABB = `nodes:
  labb1: { address: 192.0.2.21, tinc: 10.1.2.1, roles: [storage] }
  labb2: { address: 192.0.2.22, tinc: 10.1.2.2, roles: [storage] }
volumes:
  projects:
    replica: 2
    brickPath: /srv/gluster/projects
    replicaSets:
      - [labb1, labb2]
    options:
      group: virt
    sync: { every: 2min }
`;

export function baseTexts(): Record<string, string> {
  return { "mesh.yaml": MESH, "laba.yaml": LABA, "labb.yaml": LABB };
}

/** The base texts with one file's text edited by string replacement (each `from` must occur). */
export function edit(file: string, ...pairs: Array<[string | RegExp, string]>): Record<string, string> {
  const texts = baseTexts();
  let t = texts[file];
  for (const [from, to] of pairs) {
    const next = t.replace(from, to);
    if (next === t) throw new Error(`fixture edit: ${String(from)} not found in ${file}`);
    t = next;
  }
  texts[file] = t;
  return texts;
}

export const SAMPLES = path.join(__dirname, "samples");
export function sample(name: string): string {
  return fs.readFileSync(path.join(SAMPLES, name), "utf8");
}

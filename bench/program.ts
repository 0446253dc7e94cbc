// Mocked runs of the real Pulumi program (index.ts) under pulumi.runtime.setMocks, one process
// per run: the metal stacks with the real inventory, and a synthetic 200-node DC.
// Usage: npm run bench:program [RUNS]   (default 3). Prints figures, asserts nothing.
//   load ms: importing the program's modules; run ms: from `import index` until every
//   resource is registered with the mock engine; wall ms: the whole child process.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { REPO, runScenario, type Scenario } from "../test/program/harness";

const RUNS = Number(process.argv[2] ?? 3);
if (!Number.isInteger(RUNS) || RUNS < 1) {
  console.error("usage: npm run bench:program [RUNS>=1]");
  process.exit(2);
}

/** The real inventory plus `synth200`: 200 storage+compute nodes in 100 replica sets of 2. */
function syntheticInventory(nodes = 200): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "glustermesh-bench-inventory-"));
  for (const f of fs.readdirSync(path.join(REPO, "inventory"))) fs.copyFileSync(path.join(REPO, "inventory", f), path.join(dir, f));
  const names = Array.from({ length: nodes }, (_, i) => `syn${i + 1}`);
  const lines = [
    "# synthetic DC for bench/program.ts",
    "nodes:",
    ...names.map((n, i) => `  ${n}: { address: 198.18.${Math.floor((i + 1) / 250)}.${((i + 1) % 250) + 1}, tinc: 10.1.${100 + Math.floor((i + 1) / 250)}.${((i + 1) % 250) + 1}, roles: [storage, compute] }`),
    "volumes:",
    "  projects:",
    "    replica: 2",
    "    brickPath: /srv/gluster/projects",
    "    replicaSets:",
    ...Array.from({ length: nodes / 2 }, (_, k) => `      - [${names[2 * k]}, ${names[2 * k + 1]}]`),
    "    options:",
    "      group: virt",
    "    sync: { every: 2min }",
    "",
  ];
  fs.writeFileSync(path.join(dir, "synth200.yaml"), lines.join("\n"));
  return dir;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main() {
  const synth = syntheticInventory();
  const cases: { label: string; scenario: Scenario }[] = [
    { label: "4545 (12 nodes)", scenario: { stack: "4545" } },
    { label: "padelford (7 nodes)", scenario: { stack: "padelford" } },
    { label: "synth200 (200 nodes, 100 sets)", scenario: { stack: "synth200", inventoryDir: synth } },
  ];
  console.log(`mocked program runs, median of ${RUNS} (node ${process.version})`);
  console.log(["stack", "mode", "resources", "commands", "load ms", "run ms", "wall ms"].join("\t"));
  try {
    for (const c of cases) {
      for (const preview of [false, true]) {
        const load: number[] = [];
        const run: number[] = [];
        const wall: number[] = [];
        let resources = 0;
        let commands = 0;
        for (let i = 0; i < RUNS; i++) {
          const t = performance.now();
          const r = await runScenario({ ...c.scenario, preview }, 600_000);
          wall.push(performance.now() - t);
          if (!r.ok) throw new Error(`${c.label}: ${r.error?.message}`);
          load.push(r.loadMs);
          run.push(r.runMs);
          resources = r.resources.length;
          commands = r.resources.filter((x) => x.type.startsWith("command:")).length;
        }
        console.log([c.label, preview ? "preview" : "update", resources, commands, median(load).toFixed(0), median(run).toFixed(0), median(wall).toFixed(0)].join("\t"));
      }
    }
  } finally {
    fs.rmSync(synth, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

// Benchmark of `glustermesh drift` on a 12-node DC: checkDrift with a fake ssh that replays
// outputs recorded from the lab's real hosts after a per-connection delay (ssh set-up round
// trips at a chosen RTT, plus the time the live script took on the real host). Shows the wall
// time of the parallel check against the sum of the per-node times. Figures only, no asserts.
//
// Usage: npm run bench:drift [-- --rtt 1,50,150] [--handshake-rtts 6] [--runs 3]
//                            [--recording DIR] [--record]
//   The recording (default $TMPDIR/glustermesh-drift-recording) is made from the running lab
//   (`npm run lab`, DC laba deployed) when it is missing or with --record: each laba node's live
//   script is run over real ssh and its output and on-host run time kept.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { stringify } from "yaml";
import { checkDrift, compareDc, type NodeCapture } from "../cli/drift";
import { liveScript } from "../cli/live";
import { validateTexts } from "../model/load";
import { buildModel, type Model } from "../model/model";

interface Recorded {
  node: string;
  role: "lead" | "storage" | "compute";
  hostMs: number; // the live script's run time on the host
  output: string;
}

const argv = process.argv.slice(2);
const opt = (name: string, dflt: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1] : dflt;
};
const RTTS = opt("rtt", "1,50,150").split(",").map(Number);
const HANDSHAKE_RTTS = Number(opt("handshake-rtts", "6")); // TCP 1 + SSH version/KEX 2 + auth 2 + channel/exec 1
const RUNS = Number(opt("runs", "3"));
const REC_DIR = opt("recording", path.join(os.tmpdir(), "glustermesh-drift-recording"));
const NODES = 12;
if (RTTS.some((x) => !Number.isFinite(x) || x < 0) || !(HANDSHAKE_RTTS >= 0) || !(RUNS >= 1)) {
  console.error("usage: npm run bench:drift [-- --rtt MS[,MS...]] [--handshake-rtts N] [--runs N] [--recording DIR] [--record]");
  process.exit(2);
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// ---- recording from the lab ------------------------------------------------------------------

async function record(): Promise<Recorded[]> {
  const { attach } = await import("../lab/hosts");
  const { INVENTORY_DIR } = await import("../lab/deploy");
  const { loadInventory } = await import("../model/load");
  const lab = attach();
  const loaded = loadInventory(INVENTORY_DIR);
  if (!loaded.ok) throw new Error("the lab inventory is invalid");
  const model = buildModel(loaded.inventory);
  const dc = model.dcs.find((d) => d.name === "laba")!;
  const out: Recorded[] = [];
  for (const n of dc.nodes) {
    // the script as drift sends it, timed on the host itself (ssh set-up not included)
    const script = liveScript(model, dc, n);
    const wrapped = `f=$(mktemp); cat > "$f" <<'GM_BENCH_EOF'\n${script}\nGM_BENCH_EOF\ns=$(date +%s%N); bash "$f" > "$f.out"; e=$(date +%s%N)\ncat "$f.out"; echo "hostMs=$(( (e - s) / 1000000 ))" >&2; rm -f "$f" "$f.out"`;
    const r = await lab.exec(n.name, wrapped, { timeoutMs: 60_000 });
    const ms = /hostMs=(\d+)/.exec(r.stderr);
    if (r.code !== 0 || !ms) throw new Error(`${n.name}: recording failed: ${r.stderr}`);
    const role = !n.storage ? "compute" : dc.volumes.some((v) => v.lead === n.name) ? "lead" : "storage";
    out.push({ node: n.name, role, hostMs: Number(ms[1]), output: r.stdout });
  }
  fs.mkdirSync(REC_DIR, { recursive: true });
  fs.writeFileSync(path.join(REC_DIR, "laba.json"), JSON.stringify({ recordedAt: new Date().toISOString(), nodes: out }, null, 1));
  return out;
}

function loadRecording(): Recorded[] | undefined {
  const f = path.join(REC_DIR, "laba.json");
  if (!fs.existsSync(f)) return undefined;
  const j = JSON.parse(fs.readFileSync(f, "utf8")) as { recordedAt: string; nodes: Recorded[] };
  console.log(`recording: ${f} (made ${j.recordedAt})`);
  return j.nodes;
}

// ---- a 12-node DC ------------------------------------------------------------------------------

/** DC big: 9 storage nodes (projects: 3 replica sets of replica 3 arbiter 1; scratch on the last set), 3 compute; DC far for the mounts and sync. */
function bigModel(): Model {
  const node = (i: number, roles: string[]) => ({ address: `192.0.2.${i}`, tinc: `10.250.1.${i}`, roles });
  const name = (i: number) => `big${i}`;
  const big = {
    nodes: Object.fromEntries(Array.from({ length: NODES }, (_, k) => [name(k + 1), node(k + 1, k < 9 ? ["storage"] : ["compute"])])),
    volumes: {
      projects: {
        replica: 3,
        arbiter: 1,
        brickPath: "/bricks/projects",
        replicaSets: [[1, 2, 3], [4, 5, 6], [7, 8, 9]].map((s) => s.map(name)),
        options: { group: "virt", "network.ping-timeout": 10 },
        sync: { every: "5min" },
      },
      scratch: { replica: 3, arbiter: 1, brickPath: "/bricks/scratch", replicaSets: [[name(7), name(8), name(9)]], options: { group: "virt" }, sync: false },
    },
  };
  const far = {
    nodes: { far1: { address: "192.0.2.101", tinc: "10.250.2.1", roles: ["storage"] }, far2: { address: "192.0.2.102", tinc: "10.250.2.2", roles: ["storage"] } },
    volumes: { projects: { replica: 2, brickPath: "/bricks/projects", replicaSets: [["far1", "far2"]], options: { "cluster.quorum-type": "none" }, sync: { every: "5min" } } },
  };
  const r = validateTexts("/bench", {
    "mesh.yaml": stringify({ mesh: { name: "glustermesh", subnet: "10.250.0.0/16", port: 655, connectToPerDc: 3 } }),
    "big.yaml": stringify(big),
    "far.yaml": stringify(far),
  });
  if (!r.ok) throw new Error(JSON.stringify(r.problems, null, 2));
  return buildModel(r.inventory);
}

// ---- the fake ssh --------------------------------------------------------------------------------

/** Files per address: the recorded output and the delay; the fake ssh reads the script, waits, answers. */
function fakeSsh(dir: string, model: Model, rec: Recorded[], rttMs: number): { ssh: string; perNodeMs: Map<string, number> } {
  const dc = model.dcs.find((d) => d.name === "big")!;
  // each node answers with a recorded answer of a lab node of its role, in turn
  const pick = (role: Recorded["role"], k: number) => {
    const same = rec.filter((r) => r.role === role);
    const xs = same.length ? same : rec;
    return xs[k % xs.length];
  };
  const perNodeMs = new Map<string, number>();
  let k = 0;
  for (const n of dc.nodes) {
    const role: Recorded["role"] = !n.storage ? "compute" : dc.volumes.some((v) => v.lead === n.name) ? "lead" : "storage";
    const r = pick(role, k++);
    // set-up round trips, the script's run time on a real host, half a round trip for the answer
    const ms = HANDSHAKE_RTTS * rttMs + r.hostMs + rttMs / 2;
    perNodeMs.set(n.name, ms);
    // the clock section is the recorded one: refresh it so the clock check sees "now"
    fs.writeFileSync(path.join(dir, `${n.address}.out`), r.output.replace(/(@@glustermesh-live@@ begin clock\n)[0-9.]+\n/, "$1@NOW@\n"));
    fs.writeFileSync(path.join(dir, `${n.address}.delay`), (ms / 1000).toFixed(3));
  }
  const ssh = path.join(dir, "ssh");
  fs.writeFileSync(
    ssh,
    `#!/bin/bash
host=\${@: -2:1}
cat > /dev/null
sleep "$(< "${dir}/$host.delay")"
sed "s/^@NOW@$/$(date +%s.%N)/" "${dir}/$host.out"
`,
    { mode: 0o755 },
  );
  return { ssh, perNodeMs };
}

async function main(): Promise<void> {
  let rec = argv.includes("--record") ? undefined : loadRecording();
  if (!rec) {
    console.log("recording the live script's output of each laba node from the running lab ...");
    rec = await record();
  }
  for (const r of rec) console.log(`  ${r.node.padEnd(6)} ${r.role.padEnd(7)} ${String(r.output.length).padStart(6)} bytes, ${r.hostMs} ms on the host`);
  const model = bigModel();
  const dc = model.dcs.find((d) => d.name === "big")!;
  console.log(`DC big: ${dc.nodes.length} nodes (${dc.storageNodes.length} storage), ssh set-up ${HANDSHAKE_RTTS} RTTs, ${os.cpus().length} CPUs, load ${fs.readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")}`);
  console.log("(replayed answers belong to the lab's nodes, so the report has drift: this measures time, not the verdict; the fake ssh costs no crypto CPU)");

  // the comparison alone, on the replayed answers
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "gm-bench-drift-"));
  try {
    const { perNodeMs } = fakeSsh(tmp, model, rec, 0);
    const now = Date.now() / 1000;
    const caps: NodeCapture[] = dc.nodes.map((n) => ({ node: n.name, output: fs.readFileSync(path.join(tmp, `${n.address}.out`), "utf8").replace(/^@NOW@$/m, String(now)), sentAt: now, receivedAt: now }));
    const cmp: number[] = [];
    let drift = 0;
    for (let i = 0; i < 5; i++) {
      const t = process.hrtime.bigint();
      drift = compareDc(model, "big", caps).drift.length;
      cmp.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    console.log(`compareDc alone (12 answers, ${caps.reduce((a, c) => a + c.output!.length, 0)} bytes): median ${median(cmp).toFixed(1)} ms of 5; ${drift} drift items; slowest node at RTT 0: ${Math.max(...perNodeMs.values()).toFixed(0)} ms`);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }

  console.log("RTT ms | per node ms (min..max) | sum of nodes s | parallel check wall s (median of runs)");
  for (const rtt of RTTS) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gm-bench-drift-"));
    try {
      const { ssh, perNodeMs } = fakeSsh(dir, model, rec, rtt);
      const walls: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        const t = process.hrtime.bigint();
        const r = await checkDrift(model, "big", { sshCommand: [ssh], timeoutSec: 60 });
        walls.push(Number(process.hrtime.bigint() - t) / 1e9);
        const unread = Object.values(r.nodes).filter((n) => !n.reachable).length;
        if (unread) throw new Error(`${unread} nodes not read: ${r.errors.join("; ")}`);
      }
      const per = [...perNodeMs.values()];
      const sum = per.reduce((a, b) => a + b, 0) / 1000;
      console.log(`${String(rtt).padStart(6)} | ${Math.min(...per).toFixed(0).padStart(5)}..${Math.max(...per).toFixed(0).padEnd(14)} | ${sum.toFixed(2).padStart(14)} | ${median(walls).toFixed(2)} (${walls.map((w) => w.toFixed(2)).join(", ")})`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exit(1);
});

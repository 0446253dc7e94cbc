// Benchmark of `glustermesh sync` against `cp -a -u --sparse=always` and `rsync -uaxH --sparse`.
// Usage: npm run bench:sync [N]   (N projects, default 2000; BENCH_DIR picks the filesystem,
// default /var/tmp). Prints figures, asserts nothing, removes everything it made.
import { spawn, spawnSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";

const N = Number(process.argv[2] ?? 2000);
const ROUNDS = Number(process.argv[3] ?? 3); // first-pass and 1% rounds, ours and cp alternating
if (!Number.isInteger(N) || N < 10 || !Number.isInteger(ROUNDS) || ROUNDS < 1) {
  console.error("usage: npm run bench:sync [N>=10] [ROUNDS>=1]");
  process.exit(2);
}
const root = fs.mkdtempSync(path.join(process.env.BENCH_DIR ?? "/var/tmp", "gm-bench-sync-"));
const repo = path.resolve(__dirname, "..");
const GiB = 1024 ** 3;
const DATA = 2 * 1024 * 1024; // per image, written as 4 chunks of 512 KiB
const RSYNC_SUBSET = 5;

const HAVE_TIME = fs.existsSync("/usr/bin/time");
const CAN_DROP_CACHES = (() => {
  try {
    fs.accessSync("/proc/sys/vm/drop_caches", fs.constants.W_OK);
    return process.getuid?.() === 0;
  } catch {
    return false;
  }
})();
// Run a command; wall seconds, and CPU seconds (user+sys, from /usr/bin/time) when available.
function sh(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): { s: number; cpu: number; out: string } {
  const t = process.hrtime.bigint();
  const o = { cwd: opts.cwd, env: opts.env, encoding: "utf8" as const, maxBuffer: 64 << 20 };
  const r = HAVE_TIME ? spawnSync("/usr/bin/time", ["-f", "@cpu %U %S", cmd, ...args], o) : spawnSync(cmd, args, o);
  const s = Number(process.hrtime.bigint() - t) / 1e9;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status}): ${r.stderr}`);
  const m = /@cpu ([0-9.]+) ([0-9.]+)\s*$/.exec(r.stderr ?? "");
  return { s, cpu: m ? Number(m[1]) + Number(m[2]) : NaN, out: r.stdout };
}
// Ours runs as the timer's service runs it: with systemd's environment, not this shell's. (On
// this machine the shell sets NODE_EXTRA_CA_CERTS, which makes every node start read and parse
// a CA bundle: about 35 ms more per start, which the service never pays.)
const SERVICE_ENV: NodeJS.ProcessEnv = { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", LANG: "C.UTF-8" };
const load = () => fs.readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
const syncDisk = () => sh("sync", []).s;
const du = (p: string) => Number(sh("du", ["-s", "-B1", p]).out.split(/\s/)[0]);
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const f2 = (x: number) => x.toFixed(x < 1 ? 3 : 2);

function makeImage(file: string, rnd: Buffer): void {
  // like `dd if=/dev/zero of=0.img seek=1G bs=1 count=1`: one byte written at 1 GiB (not truncate)
  const fd = fs.openSync(file, "w", 0o600);
  fs.writeSync(fd, Buffer.alloc(1), 0, 1, GiB);
  for (let k = 0; k < 4; k++) {
    const off = crypto.randomInt(0, rnd.length - DATA / 4);
    fs.writeSync(fd, rnd, off, DATA / 4, crypto.randomInt(0, 1024) * 1024 * 1024);
  }
  fs.closeSync(fd);
}

async function main(): Promise<void> {
  const results: [string, string, string, string, string][] = [];
  try {
    const fsType = sh("df", ["-T", root]).out.trim().split("\n")[1].split(/\s+/)[1];
    console.log(`bench: ${N} projects in ${root} (filesystem ${fsType}), ${require("node:os").cpus().length} CPUs, node ${process.version}`);
    const dd = spawnSync("dd", ["if=/dev/zero", `of=${root}/dd.test`, "bs=1M", "count=256", "conv=fdatasync"], { encoding: "utf8" });
    const ddLine = dd.stderr.trim().split("\n").pop() ?? "";
    fs.rmSync(`${root}/dd.test`);
    console.log(`disk write speed (dd 256 MB, conv=fdatasync): ${ddLine.split(",").pop()?.trim()}`);

    const startup = (env?: NodeJS.ProcessEnv) => median([0, 1, 2, 3, 4].map(() => sh(process.execPath, ["-e", "0"], { env }).s * 1000)).toFixed(0);
    const extraCa = process.env.NODE_EXTRA_CA_CERTS ? ` (NODE_EXTRA_CA_CERTS is set here: read at every node start)` : "";
    console.log(`node start-up (node -e 0, median of 5): ${startup(SERVICE_ENV)} ms in the sync service's environment, which ours runs in; ${startup()} ms in this shell's${extraCa}`);

    const bundle = path.join(root, "glustermesh-sync.js");
    sh(path.join(repo, "node_modules/.bin/esbuild"), ["sync/main.ts", "--bundle", "--platform=node", "--target=node18", `--outfile=${bundle}`, "--log-level=warning"], { cwd: repo });

    const SRC = path.join(root, "src");
    fs.mkdirSync(SRC);
    const rnd = crypto.randomBytes(64 << 20);
    const names: string[] = [];
    let t = Date.now();
    for (let i = 0; i < N; i++) {
      const name = crypto.randomUUID();
      names.push(name);
      fs.mkdirSync(path.join(SRC, name));
      makeImage(path.join(SRC, name, "0.img"), rnd);
    }
    syncDisk();
    const srcAlloc = du(SRC);
    console.log(`built source in ${((Date.now() - t) / 1000).toFixed(1)} s: ${(srcAlloc / 1e9).toFixed(2)} GB allocated, ${((N * (GiB + 1)) / 1e12).toFixed(2)} TB apparent`);

    const ours = (dst: string, extra: string[] = []) => {
      const r = sh(process.execPath, [bundle, SRC, dst, "--state", `${dst}.state.json`, "--json", ...extra], { env: SERVICE_ENV });
      return { s: r.s, cpu: r.cpu, sum: JSON.parse(r.out.trim().split("\n").pop()!) };
    };
    const cpUx = (dst: string) => sh("cp", ["-a", "-u", "--sparse=always", `${SRC}/.`, dst]);
    const cpU = (dst: string) => cpUx(dst).s;
    const rsync = (src: string, dst: string) => sh("rsync", ["-uaxH", "--sparse", `${src}/`, `${dst}/`]).s;

    // 1. First full pass.
    // Every copy goes to a new target directory, and nothing is deleted until the end: on ext4,
    // creating an inode skips the inodes deleted in the last minute or five (`recently_deleted`
    // in ext4's inode allocator, which reads their inode table blocks), so copying 4000 files right
    // after deleting 4000 spent up to half its CPU time there (`perf`, 2026-11-26): a cost of
    // the bench's clean-up, paid by whichever tool came next, that no real first pass pays.
    const copies = 2 * ROUNDS + 4 + (CAN_DROP_CACHES ? 2 : 0);
    const need = copies * srcAlloc;
    const avail = fs.statfsSync(root).bavail * fs.statfsSync(root).bsize;
    if (avail < need * 1.05) throw new Error(`the bench keeps ${copies} copies of the source (${(need / 1e9).toFixed(1)} GB) until it ends; ${root} has ${(avail / 1e9).toFixed(1)} GB free: use a smaller N or ROUNDS`);
    let T_OURS = "";
    let T_CP = "";
    console.log(`load average before the first pass: ${load()}`);
    // This machine is shared: several rounds, alternating which tool goes first; medians.
    const firstRounds: { o: number; oc: number; os: number; c: number; cc: number; cs: number }[] = [];
    let o1 = { s: 0, cpu: 0, sum: {} as Record<string, number> };
    for (let k = 0; k < ROUNDS; k++) {
      T_OURS = path.join(root, `t-ours-${k + 1}`);
      T_CP = path.join(root, `t-cp-${k + 1}`);
      fs.mkdirSync(T_OURS);
      fs.mkdirSync(T_CP);
      syncDisk();
      const round = { o: 0, oc: 0, os: 0, c: 0, cc: 0, cs: 0 };
      const runOurs = () => {
        o1 = ours(T_OURS);
        round.o = o1.s;
        round.oc = o1.cpu;
        round.os = syncDisk();
      };
      const runCp = () => {
        const x = cpUx(T_CP);
        round.c = x.s;
        round.cc = x.cpu;
        round.cs = syncDisk();
      };
      if (k % 2 === 0) {
        runOurs();
        runCp();
      } else {
        runCp();
        runOurs();
      }
      firstRounds.push(round);
      console.log(`first pass round ${k + 1}: ours ${f2(round.o)} s (${f2(round.oc)} s CPU), cp ${f2(round.c)} s (${f2(round.cc)} s CPU, then sync ${f2(round.cs)} s) = ${(round.o / round.c).toFixed(2)}x; load ${load()}`);
    }
    const c1x = { s: median(firstRounds.map((r) => r.c)), cpu: median(firstRounds.map((r) => r.cc)) };
    const c1 = c1x.s;
    const c1sync = median(firstRounds.map((r) => r.cs));
    const o1sync = median(firstRounds.map((r) => r.os));
    const o1med = { s: median(firstRounds.map((r) => r.o)), cpu: median(firstRounds.map((r) => r.oc)) };
    // two cp processes in parallel, each on half of the projects
    const T_CP2 = path.join(root, "t-cp2");
    fs.mkdirSync(T_CP2);
    const halves = [names.filter((_, i) => i % 2 === 0), names.filter((_, i) => i % 2 === 1)];
    const t2 = process.hrtime.bigint();
    await Promise.all(halves.map((h) => new Promise((r) => spawn("cp", ["-a", "-u", "--sparse=always", ...h, T_CP2], { cwd: SRC, stdio: "ignore" }).on("close", r))));
    const c2 = Number(process.hrtime.bigint() - t2) / 1e9;
    syncDisk();
    const T_NF = path.join(root, "t-nofsync");
    fs.mkdirSync(T_NF);
    const onf = ours(T_NF, ["--no-fsync"]);
    const onfSync = syncDisk();
    const T_CPONLY = path.join(root, "t-cp-only");
    fs.mkdirSync(T_CPONLY);
    const ocp = ours(T_CPONLY, ["--no-direct-io"]);
    const ocpSync = syncDisk();
    // rsync reads every zero: a subset, scaled up.
    const SUB = path.join(root, "src-subset");
    fs.mkdirSync(SUB);
    for (const n of names.slice(0, RSYNC_SUBSET)) fs.renameSync(path.join(SRC, n), path.join(SUB, n));
    const T_RS_SUB = path.join(root, "t-rsync-subset");
    const r1sub = rsync(SUB, T_RS_SUB);
    for (const n of names.slice(0, RSYNC_SUBSET)) fs.renameSync(path.join(SUB, n), path.join(SRC, n));
    const r1 = (r1sub * N) / RSYNC_SUBSET;
    syncDisk();

    // First pass from a cold cache: what a data center catching up after an outage, or a new
    // one, reads from bricks whose images are not in memory. The page cache is dropped before
    // each tool (root only).
    let cold: { o: number; c: number } | undefined;
    if (CAN_DROP_CACHES) {
      const dropCaches = () => {
        syncDisk();
        fs.writeFileSync("/proc/sys/vm/drop_caches", "3");
      };
      const T_OC = path.join(root, "t-ours-cold");
      const T_CC = path.join(root, "t-cp-cold");
      fs.mkdirSync(T_OC);
      fs.mkdirSync(T_CC);
      dropCaches();
      const oc = ours(T_OC);
      dropCaches();
      const cc = cpU(T_CC);
      syncDisk();
      cold = { o: oc.s, c: cc };
      console.log(`first pass from a cold cache (page cache dropped before each): ours ${f2(oc.s)} s (copied ${oc.sum.copied}, failed ${oc.sum.failed}), cp ${f2(cc)} s = ${(oc.s / cc).toFixed(2)}x`);
    } else console.log("first pass from a cold cache: skipped (dropping the page cache needs root)");

    const aOurs = du(T_OURS);
    const aCp = du(T_CP);
    results.push([`first full pass (median of ${ROUNDS})`, `${f2(o1med.s)} (+${f2(o1sync)} sync)`, `${f2(c1)} (+${f2(c1sync)} sync)`, `~${f2(r1)} (${RSYNC_SUBSET} projects: ${f2(r1sub)} s, scaled)`, `${(o1med.s / c1).toFixed(2)}x / ${(o1med.s / r1).toFixed(4)}x`]);
    if (cold) results.push(["first full pass, cold cache", f2(cold.o), f2(cold.c), "-", `${(cold.o / cold.c).toFixed(2)}x / -`]);
    // On this VM a tool's time also depends on the guest's memory state (writing into page
    // cache the host has taken back faults on first touch), which drifts within a round.
    // Compare each tool in the same position, then combine.
    const pos = (first: boolean) => firstRounds.filter((_, k) => (k % 2 === 0) === first);
    const byPos = [true, false]
      .map((oursFirst) => {
        const rs = pos(oursFirst);
        if (rs.length === 0) return undefined;
        const o = median(rs.map((r) => r.o));
        // cp ran in the same position as ours in the other kind of round
        const cs = pos(!oursFirst).map((r) => r.c);
        return cs.length ? { oursFirst, o, c: median(cs) } : undefined;
      })
      .filter((x): x is { oursFirst: boolean; o: number; c: number } => x !== undefined);
    if (byPos.length === 2) {
      const g = Math.sqrt((byPos[0].o / byPos[0].c) * (byPos[1].o / byPos[1].c));
      console.log(
        `first pass, each tool in the same position: running first ours ${f2(byPos[0].o)} s vs cp ${f2(byPos[0].c)} s = ${(byPos[0].o / byPos[0].c).toFixed(2)}x; ` +
          `running second ours ${f2(byPos[1].o)} s vs cp ${f2(byPos[1].c)} s = ${(byPos[1].o / byPos[1].c).toFixed(2)}x; geometric mean ${g.toFixed(2)}x`,
      );
    }
    console.log(`first pass: ours ${f2(o1med.s)} s (durable) against cp + sync ${f2(c1 + c1sync)} s = ${(o1med.s / (c1 + c1sync)).toFixed(2)}x`);
    console.log(`first pass: median CPU time (user+sys) ours ${f2(o1med.cpu)} s, cp ${f2(c1x.cpu)} s (cp's writeback happens later in kernel threads, not counted); load average now ${load()}`);
    console.log(`first pass: ours copied ${o1.sum.copied}, failed ${o1.sum.failed}; ours --no-fsync ${f2(onf.s)} s (+${f2(onfSync)} s sync) = ${(onf.s / c1).toFixed(2)}x cp; two cp in parallel ${f2(c2)} s = ${(c2 / c1).toFixed(2)}x cp`);
    console.log(`first pass: ours --no-direct-io (batches of cp) ${f2(ocp.s)} s (+${f2(ocpSync)} s sync) = ${(ocp.s / c1).toFixed(2)}x cp, copied ${ocp.sum.copied}`);

    // 2. No changes, warm cache. rsync gets a full copy of the target made with hard links.
    const T_RS = path.join(root, "t-rsync");
    sh("cp", ["-al", T_CP, T_RS]);
    const oN: number[] = [], cN: number[] = [], rN: number[] = [], oC: number[] = [];
    let oNs = o1.sum;
    // warm-up, not timed: the cold-cache passes dropped the page cache
    ours(T_OURS);
    cpU(T_CP);
    for (let i = 0; i < 5; i++) {
      const r = ours(T_OURS);
      oN.push(r.s);
      oC.push(r.cpu);
      oNs = r.sum;
      cN.push(cpU(T_CP));
      rN.push(rsync(SRC, T_RS));
    }
    results.push(["no changes (warm, median of 5)", f2(median(oN)), f2(median(cN)), f2(median(rN)), `${(median(oN) / median(cN)).toFixed(2)}x / ${(median(oN) / median(rN)).toFixed(2)}x`]);
    console.log(`no-change pass: ours copied ${oNs.copied}, skipped ${oNs.skipped}; runs ${oN.map(f2).join(" ")} s wall, ${oC.map(f2).join(" ")} s CPU; load average ${load()}`);

    // 3. 1% of the projects changed: 2 MB rewritten, mtime 5 s later. Several rounds
    // (another 1% each time) for ours and cp; rsync once, at the end, over all of them.
    const rnd2 = crypto.randomBytes(DATA);
    const o3s: number[] = [], c3s: number[] = [], c3sync: number[] = [];
    let o3 = o1;
    let nChanged = 0;
    for (let k = 0; k < ROUNDS; k++) {
      const changed = names.filter((_, i) => i % 100 === (50 + k) % 100);
      nChanged = changed.length;
      for (const n of changed) {
        const f = path.join(SRC, n, "0.img");
        const st = fs.statSync(f);
        const fd = fs.openSync(f, "r+");
        fs.writeSync(fd, rnd2, 0, DATA, 100 * 1024 * 1024);
        fs.closeSync(fd);
        fs.utimesSync(f, st.atime, new Date(st.mtimeMs + 5000));
      }
      syncDisk();
      const runOurs = () => {
        o3 = ours(T_OURS);
        o3s.push(o3.s);
        syncDisk();
      };
      const runCp = () => {
        c3s.push(cpU(T_CP));
        c3sync.push(syncDisk()); // what making cp's copies durable costs: ours fsyncs every copy
      };
      if (k % 2 === 0) {
        runOurs();
        runCp();
      } else {
        runCp();
        runOurs();
      }
      console.log(`1% pass round ${k + 1}: ours ${f2(o3s[k])} s (copied ${o3.sum.copied}, failed ${o3.sum.failed}), cp ${f2(c3s[k])} s, then sync ${f2(c3sync[k])} s`);
    }
    const c3d = c3s.map((c, k) => c + c3sync[k]);
    console.log(`1% pass: ours ${f2(median(o3s))} s (durable) against cp -u && sync ${f2(median(c3d))} s = ${(median(o3s) / median(c3d)).toFixed(2)}x (medians)`);
    // rsync has not run since the no-change passes: it copies all ROUNDS x 1% at once; scaled to 1%.
    const r3all = rsync(SRC, T_RS);
    const r3 = r3all / ROUNDS;
    results.push([`after 1% changed (${nChanged} projects, median of ${ROUNDS})`, f2(median(o3s)), f2(median(c3s)), `~${f2(r3)} (${ROUNDS}% in ${f2(r3all)} s, scaled)`, `${(median(o3s) / median(c3s)).toFixed(2)}x / ${(median(o3s) / r3).toFixed(3)}x`]);

    console.log("");
    console.log(`| pass (${N} projects) | ours (s) | cp -a -u --sparse=always (s) | rsync -uaxH --sparse (s) | ours/cp / ours/rsync |`);
    console.log("|---|---|---|---|---|");
    for (const r of results) console.log(`| ${r.join(" | ")} |`);
    console.log("");
    console.log(`allocated bytes: source ${srcAlloc}, ours ${aOurs} (${(aOurs / srcAlloc).toFixed(3)}x), cp ${aCp} (${(aCp / srcAlloc).toFixed(3)}x)`);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});

// The real Pulumi engine on the running lab (`npm run lab` first): a no-change `pulumi up` and
// `pulumi preview --expect-no-changes` per lab DC, and the engine's own start (`pulumi version`).
// Usage: npm run bench:engine [ROUNDS]   (default 3). Prints min / median / max; asserts nothing.
import { attach } from "../lab/hosts";
import { pulumi, upStack } from "../lab/pulumi";

const ROUNDS = Number(process.argv[2] ?? 3);
if (!Number.isInteger(ROUNDS) || ROUNDS < 1) {
  console.error("usage: npm run bench:engine [ROUNDS>=1]");
  process.exit(2);
}

const fmt = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return `${s[0].toFixed(2)} / ${s[Math.floor(s.length / 2)].toFixed(2)} / ${s[s.length - 1].toFixed(2)} s`;
};

async function timed(f: () => Promise<{ code: number; detail?: string }>): Promise<number> {
  const t0 = performance.now();
  const r = await f();
  if (r.code !== 0) throw new Error(`failed (exit ${r.code}): ${r.detail ?? ""}`);
  return (performance.now() - t0) / 1000;
}

async function main() {
  const lab = attach();
  console.log(`real Pulumi engine on the lab, ${ROUNDS} rounds (min / median / max), node ${process.version}`);
  const version: number[] = [];
  for (let i = 0; i < ROUNDS; i++) version.push(await timed(() => pulumi(lab, ["version"])));
  console.log(`pulumi version (CLI start)\t${fmt(version)}`);
  for (const dc of ["laba", "labb"]) {
    const preview: number[] = [];
    const up: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      preview.push(await timed(async () => {
        const r = await pulumi(lab, ["preview", "--stack", dc, "--non-interactive", "--expect-no-changes"]);
        return { code: r.code, detail: r.stdout + r.stderr };
      }));
      up.push(await timed(async () => {
        const r = await upStack(lab, dc);
        const ran = r.resources.length;
        return { code: r.ok && ran === 0 ? 0 : 1, detail: `${ran} steps ran\n${r.output}` };
      }));
    }
    console.log(`${dc}: preview --expect-no-changes\t${fmt(preview)}`);
    console.log(`${dc}: pulumi up, no change\t${fmt(up)}`);
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exit(1);
});

// The sync tool as the one JavaScript file hosts run with Node: built from sync/ when missing
// or older than its sources, so `pulumi up` never ships a stale tool.
import * as fs from "node:fs";
import * as path from "node:path";

export const SYNC_BUNDLE_PATH = "dist/glustermesh-sync.js";

export function ensureSyncBundle(projectRoot: string): string {
  const out = path.join(projectRoot, SYNC_BUNDLE_PATH);
  const srcDir = path.join(projectRoot, "sync");
  const newest = fs
    .readdirSync(srcDir)
    .filter((f) => f.endsWith(".ts"))
    .reduce((t, f) => Math.max(t, fs.statSync(path.join(srcDir, f)).mtimeMs), 0);
  if (!fs.existsSync(out) || fs.statSync(out).mtimeMs < newest) {
    // esbuild is a dependency of the project; loaded only when a build is needed.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const esbuild = require("esbuild") as typeof import("esbuild");
    esbuild.buildSync({
      entryPoints: [path.join(srcDir, "main.ts")],
      bundle: true,
      platform: "node",
      target: "node18",
      outfile: out,
      logLevel: "error",
    });
  }
  return out;
}

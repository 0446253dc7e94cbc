// One DC deploy with the lab's mock engine (lab/engine.ts): node --import tsx lab/engine-runner.ts CONFIG.json
// Runs inside the lab's driver network namespace; prints JSON progress events on stdout and
// writes the report file named in the config. Exit code 0 when every resource succeeded.
import * as fs from "node:fs";
import { runEngine, type EngineConfig } from "./engine";

const cfg = JSON.parse(fs.readFileSync(process.argv[2], "utf8")) as EngineConfig;
runEngine(cfg).then(
  (r) => process.exit(r.ok ? 0 : 1),
  (e: unknown) => {
    process.stderr.write(`engine: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(2);
  },
);

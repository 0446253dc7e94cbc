// One scenario of the program in this process (spawned by harness.runScenario).
import * as fs from "node:fs";
import { runProgram, type Scenario } from "./harness";

async function main() {
  const scenario = JSON.parse(process.env.GLUSTERMESH_SCENARIO ?? "{}") as Scenario;
  const result = await runProgram(scenario);
  fs.writeFileSync(process.env.GLUSTERMESH_SCENARIO_OUT!, JSON.stringify(result));
  // Pulumi's runtime may keep handles open; the result is written.
  process.exit(0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

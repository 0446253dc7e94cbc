// One scenario of a gce stack in this process (spawned by harness.runScenario).
import * as fs from "node:fs";
import { runProgram, type Scenario } from "./harness";

runProgram(JSON.parse(process.env.GM_GCE_SCENARIO ?? "{}") as Scenario)
  .then((result) => {
    fs.writeFileSync(process.env.GM_GCE_OUT!, JSON.stringify(result));
    process.exit(0); // Pulumi's runtime may keep handles open; the result is written.
  })
  .catch((e) => {
    console.error(e);
    process.exit(1);
  });

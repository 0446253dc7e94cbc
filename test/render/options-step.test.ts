// The options step run for real under bash with a stand-in gluster: every value reaches
// `gluster volume set` exactly as written, whatever its bytes, and nothing in a value runs.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import type { Volume } from "../../model/model";
import { volumeOptionsScript } from "../../render/gluster";
import { models, tmpdir } from "./helpers";

/** Run the options script of `v` with a gluster that reports no option set and records each `volume set`. */
function runOptions(v: Volume): { status: number | null; stderr: string; sets: string[][]; dir: string } {
  const dir = tmpdir("options");
  const bin = path.join(dir, "bin");
  fs.mkdirSync(bin);
  const calls = path.join(dir, "calls");
  // each volume set: one file, its arguments NUL-separated (a value may hold any other byte)
  fs.mkdirSync(calls);
  fs.writeFileSync(path.join(bin, "gluster"), `#!/bin/bash\nif [[ $3 == set ]]; then printf '%s\\0' "$@" > ${calls}/$RANDOM$RANDOM; fi\nexit 0\n`, { mode: 0o755 });
  fs.writeFileSync(path.join(bin, "dpkg-query"), `#!/bin/bash\necho "install ok installed"\n`, { mode: 0o755 });
  const text = volumeOptionsScript(v).replace(/^if put_file .*?^fi$/ms, ":"); // no group file written in /var/lib
  const r = spawnSync("bash", ["-c", text], { cwd: dir, encoding: "utf8", env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } });
  const sets = fs.readdirSync(calls).map((f) => fs.readFileSync(path.join(calls, f), "utf8").split("\0").slice(0, -1));
  return { status: r.status, stderr: r.stderr, sets, dir };
}

const HOSTILE = [
  "10.1.*",
  "'10.1.*'",
  'a"b',
  "$(touch CANARY)",
  "`touch CANARY`",
  "x\nOPTIONS\ntouch CANARY\n",
  "x; touch CANARY",
  "${IFS}touch${IFS}CANARY",
  "\\",
  " leading and trailing ",
  Buffer.from(Array.from({ length: 255 }, (_, i) => i + 1)).toString("latin1"),
];

test("every option value reaches gluster volume set exactly as written, and nothing in it runs", () => {
  const base: Volume = { ...models()[0].model.dcs[0].volumes[0], virtGroup: false };
  for (const value of HOSTILE) {
    const v: Volume = { ...base, options: [["auth.reject", value], ["nfs.disable", "on"]] };
    const r = runOptions(v);
    assert.equal(r.status, 0, `${JSON.stringify(value)}: ${r.stderr}`);
    assert.equal(fs.existsSync(path.join(r.dir, "CANARY")), false, `${JSON.stringify(value)} ran`);
    assert.deepEqual(r.sets, [["--mode=script", "volume", "set", v.name, "auth.reject", value, "nfs.disable", "on"]], JSON.stringify(value));
    fs.rmSync(r.dir, { recursive: true, force: true });
  }
});

test("the options script carries no heredoc of inventory data", () => {
  for (const { model } of models()) {
    for (const v of model.dcs.flatMap((d) => d.volumes)) {
      const text = volumeOptionsScript(v);
      const heredocs = [...text.matchAll(/<<-?'?(\w+)'?/g)].map((m) => m[1]);
      assert.deepEqual(heredocs.filter((h) => h !== "GLUSTERMESH_EOF"), [], v.name);
    }
  }
});

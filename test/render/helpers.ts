// Shared by the render tests: the models (real inventory and fixture), fake facts, scripts of steps.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { buildModel, type Model } from "../../model/model";
import { dcSteps, type Facts, type Step } from "../../render/steps";
import { fixtureInventory, realInventory } from "../inventory/fixtures";

export function models(): Array<{ label: string; model: Model }> {
  return [
    { label: "real", model: buildModel(realInventory()) },
    { label: "fixture", model: buildModel(fixtureInventory()) },
  ];
}

/** Fake tinc public keys for every node, and fake public addresses for nodes a gce stack creates. */
export function fakeFacts(model: Model): Facts {
  const publicKeys: Record<string, string> = {};
  const addresses: Record<string, string | undefined> = {};
  model.nodes.forEach((n, i) => {
    publicKeys[n.name] = `-----BEGIN RSA PUBLIC KEY-----\nMIIBCgKCAQEA${Buffer.from(n.name).toString("base64").replace(/=/g, "")}AAAA\nIDAQAB\n-----END RSA PUBLIC KEY-----`;
    if (n.address === undefined) addresses[n.name] = `192.0.2.${100 + i}`;
  });
  return { publicKeys, addresses };
}

/** The facts of a DC's first deploy: only its own nodes' keys (no other DC deployed yet). */
export function ownFacts(model: Model, dc: string, facts: Facts): Facts {
  const own = new Set(model.nodes.filter((n) => n.dc === dc).map((n) => n.name));
  return { publicKeys: Object.fromEntries(Object.entries(facts.publicKeys).filter(([n]) => own.has(n))), addresses: facts.addresses };
}

export function scriptOf(step: Step, facts: Facts): string | undefined {
  if (step.kind !== "command") return undefined;
  return typeof step.script === "string" ? step.script : step.script(facts);
}

/** Every step of every DC of a model. */
export function allSteps(model: Model): Step[] {
  return model.dcs.flatMap((dc) => dcSteps(model, dc.name));
}

export function tmpdir(tag: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `gm-render-${tag}-`));
}

/**
 * Stand-ins for a step script run under bash in a test: `dpkg-query` (every package installed)
 * and `systemctl`, which appends each call to `calls` and then runs `systemctlBody` (bash, with
 * "$@" the call's arguments). Returns the directory to put first on PATH, and the calls file.
 */
export function standIns(dir: string, systemctlBody: string): { bin: string; calls: string } {
  const bin = path.join(dir, "bin");
  const calls = path.join(dir, "calls");
  fs.mkdirSync(bin);
  fs.writeFileSync(path.join(bin, "dpkg-query"), `#!/bin/bash\necho "install ok installed"\n`, { mode: 0o755 });
  fs.writeFileSync(path.join(bin, "systemctl"), `#!/bin/bash\necho "systemctl $*" >> ${calls}\n${systemctlBody}\n`, { mode: 0o755 });
  return { bin, calls };
}

/** The calls the stand-in systemctl recorded, one per line. */
export function callsOf(calls: string): string[] {
  return fs.existsSync(calls) ? fs.readFileSync(calls, "utf8").trim().split("\n") : [];
}

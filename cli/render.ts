// `glustermesh render --stack DC --out DIR`: every script and file the stack would send to
// each node of a DC, one folder per node, for review. The files are read back out of the
// scripts themselves, so what is reviewed is byte for byte what runs.
import * as fs from "node:fs";
import * as path from "node:path";
import type { Model } from "../model/model";
import { orderSteps, stackSteps, type Facts } from "../render/steps";

/** Files a script writes with put_file, by absolute path. */
export function filesWrittenBy(script: string): Array<{ path: string; mode: string; content: string }> {
  const out: Array<{ path: string; mode: string; content: string }> = [];
  const re = /^if put_file (\S+) (\S+) <<'GLUSTERMESH_EOF'\n([\s\S]*?)^GLUSTERMESH_EOF$/gm;
  for (let m = re.exec(script); m; m = re.exec(script)) {
    out.push({ path: unquote(m[1]), mode: unquote(m[2]), content: m[3] });
  }
  return out;
}

function unquote(s: string): string {
  return s.startsWith("'") ? s.slice(1, -1).replace(/'\\''/g, "'") : s;
}

/** Stand-ins for what only hosts know: keys are made on the nodes, addresses by the cloud. */
export function placeholderFacts(model: Model): Facts {
  return {
    publicKeys: Object.fromEntries(
      model.nodes.map((n) => [n.name, `-----BEGIN RSA PUBLIC KEY-----\n(the key ${n.name} makes on itself at its first deploy)\n-----END RSA PUBLIC KEY-----`]),
    ),
    addresses: Object.fromEntries(model.nodes.map((n) => [n.name, n.address ?? `<static address of ${n.name}>`])),
  };
}

export function renderDc(model: Model, dc: string, outDir: string): { nodes: number; scripts: number; files: number } {
  const facts = placeholderFacts(model);
  const steps = orderSteps(stackSteps(model, dc));
  const counters = new Map<string, number>();
  let scripts = 0;
  let files = 0;
  fs.rmSync(outDir, { recursive: true, force: true });
  for (const step of steps) {
    const nodeDir = path.join(outDir, step.node);
    const n = (counters.get(step.node) ?? 0) + 1;
    counters.set(step.node, n);
    const base = `${String(n).padStart(2, "0")}-${step.name.split("/").slice(1).join("-")}`;
    fs.mkdirSync(path.join(nodeDir, "scripts"), { recursive: true });
    if (step.kind === "copy") {
      fs.writeFileSync(path.join(nodeDir, "scripts", `${base}.copy`), `copy ${step.source} to ${step.remotePath}\n`);
      continue;
    }
    const text = typeof step.script === "string" ? step.script : step.script(facts);
    fs.writeFileSync(path.join(nodeDir, "scripts", `${base}.sh`), text, { mode: 0o755 });
    scripts++;
    for (const f of filesWrittenBy(text)) {
      const target = path.join(nodeDir, "files", f.path);
      fs.mkdirSync(path.dirname(target), { recursive: true });
      fs.writeFileSync(target, f.content, { mode: parseInt(f.mode, 8) });
      files++;
    }
  }
  return { nodes: counters.size, scripts, files };
}

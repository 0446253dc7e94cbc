// `glustermesh render --stack DC --out DIR`: every script and file the stack would send to
// each node of a DC, one folder per node, for review. The files are read back out of the
// scripts themselves, so what is reviewed is byte for byte what runs.
import type { Model } from "../model/model";
import { orderSteps, stackSteps, type Facts } from "../render/steps";
import { writeOutput, type OutFile } from "./outdir";

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

export interface Rendered {
  files: OutFile[];
  nodes: number;
  /** How many scripts and how many of the files they write. */
  scripts: number;
  written: number;
}

/** Every script of a DC's stack and every file they write, by path inside the output folder. */
export function renderFiles(model: Model, dc: string): Rendered {
  const facts = placeholderFacts(model);
  const counters = new Map<string, number>();
  const out: Rendered = { files: [], nodes: 0, scripts: 0, written: 0 };
  const files = new Map<string, { content: string; mode: number }>();
  for (const step of orderSteps(stackSteps(model, dc))) {
    const n = (counters.get(step.node) ?? 0) + 1;
    counters.set(step.node, n);
    const base = `${step.node}/scripts/${String(n).padStart(2, "0")}-${step.name.split("/").slice(1).join("-")}`;
    if (step.kind === "copy") {
      out.files.push({ rel: `${base}.copy`, content: `copy ${step.source} to ${step.remotePath}\n`, mode: 0o644 });
      continue;
    }
    const text = typeof step.script === "string" ? step.script : step.script(facts);
    out.files.push({ rel: `${base}.sh`, content: text, mode: 0o755 });
    out.scripts++;
    for (const f of filesWrittenBy(text)) {
      files.set(`${step.node}/files/${f.path.replace(/^\/+/, "")}`, { content: f.content, mode: parseInt(f.mode, 8) });
      out.written++;
    }
  }
  out.nodes = counters.size;
  // a file two scripts write appears once, as the later one writes it
  out.files = [...out.files, ...[...files].map(([rel, f]) => ({ rel, ...f }))];
  return out;
}

/** Render a DC into `outDir` (see cli/outdir.ts for what it may replace there); throws OutputError. */
export function renderDc(model: Model, dc: string, outDir: string): { nodes: number; scripts: number; files: number } {
  const r = renderFiles(model, dc);
  writeOutput(outDir, r.files);
  return { nodes: r.nodes, scripts: r.scripts, files: r.written };
}

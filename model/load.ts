// Reading the inventory folder: `mesh.yaml` plus one `<dc>.yaml` per data center. Every
// problem comes back at once, located (file, line, column, field), never as an exception.
import * as fs from "node:fs";
import * as path from "node:path";
import { LineCounter, parseDocument, isMap, isSeq, isPair, isScalar, type Node as YamlNode, type Document } from "yaml";
import type { z } from "zod";
import { InventorySchema, type Inventory } from "./schema";

export interface Problem {
  file: string;
  line: number;
  column: number;
  /** Dotted path of the field, e.g. `volumes.projects.replicaSets[3][1]`. */
  field: string;
  message: string;
}

export type LoadResult = { ok: true; inventory: Inventory; files: Record<string, string> } | { ok: false; problems: Problem[] };

interface SourceFile {
  file: string;
  doc: Document;
  lines: LineCounter;
}

export const MESH_FILE = "mesh.yaml";
/** What mesh.yaml holds: the mesh, and who may read every node (the drift account's keys). */
const MESH_FILE_KEYS = ["mesh", "drift"];

/** Load and validate an inventory folder. `overrides` replaces file contents (used by `plan` to read a git revision). */
export function loadInventory(dir: string, overrides?: Record<string, string>): LoadResult {
  const texts: Record<string, string> = {};
  if (overrides) Object.assign(texts, overrides);
  else {
    const folderProblem = (message: string): LoadResult => ({ ok: false, problems: [{ file: dir, line: 0, column: 0, field: "", message }] });
    if (!fs.existsSync(dir)) {
      return folderProblem(`inventory folder ${dir} does not exist: pass --inventory DIR or create it with ${MESH_FILE} and one <dc>.yaml per data center`);
    }
    if (!fs.statSync(dir).isDirectory()) {
      return folderProblem(`${dir} is a file, not a folder: --inventory takes the inventory folder, which holds ${MESH_FILE} and one <dc>.yaml per data center (--inventory ${path.dirname(dir)})`);
    }
    for (const name of fs.readdirSync(dir).sort()) {
      if (name.endsWith(".yaml") || name.endsWith(".yml")) texts[name] = fs.readFileSync(path.join(dir, name), "utf8");
    }
  }
  return validateTexts(dir, texts);
}

/** The files as YAML documents and as one raw inventory, with the problems of reading them. */
interface Read {
  problems: Problem[];
  sources: Map<string, SourceFile>; // key: "mesh" or "dcs/<name>"
  /** Files that could not be read (syntax errors, not a mapping): their fields are not checked. */
  unreadable: Set<string>;
  raw: { mesh?: unknown; drift?: unknown; dcs: Record<string, unknown> };
}

export function validateTexts(dir: string, texts: Record<string, string>): LoadResult {
  const read = readTexts(dir, texts);
  const parsed = InventorySchema.safeParse(read.raw);
  if (parsed.success && read.problems.length === 0) return { ok: true, inventory: parsed.data, files: texts };
  // A file that could not be read hides none of the others' problems.
  const problems = [...read.problems, ...(parsed.success ? [] : schemaProblems(dir, read, parsed.error.issues))];
  problems.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column);
  // A name or value quoted in a message may hold anything: every problem stays one line.
  return { ok: false, problems: dedupe(problems.map((p) => ({ ...p, message: printable(p.message) }))) };
}

function readTexts(dir: string, texts: Record<string, string>): Read {
  const read: Read = { problems: [], sources: new Map(), unreadable: new Set(), raw: { dcs: {} } };
  const { problems, raw } = read;
  for (const name of Object.keys(texts).sort()) {
    const file = path.join(dir, name);
    const stem = name.replace(/\.ya?ml$/, "");
    const key = name === MESH_FILE ? "mesh" : `dcs/${stem}`;
    if (name.endsWith(".yml") && `${stem}.yaml` in texts) {
      // Both would define the same data center; .yaml is the name glustermesh documents.
      problems.push({ file, line: 1, column: 1, field: "", message: `${stem}.yaml and ${stem}.yml are both here and only one is read: keep ${stem}.yaml (move anything you need from ${stem}.yml into it) and remove ${stem}.yml` });
      continue;
    }
    const lines = new LineCounter();
    const doc = parseDocument(texts[name], { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
    for (const err of doc.errors) {
      // linePos is only filled with prettyErrors; the offset always is.
      const pos = err.linePos?.[0] ?? lines.linePos(err.pos[0]);
      problems.push({ file, line: pos.line, column: pos.col, field: "", message: `YAML syntax: ${err.message.split("\n")[0]}` });
    }
    if (doc.errors.length > 0) {
      read.unreadable.add(key);
      continue;
    }
    const value = doc.toJS() ?? {};
    if (key === "mesh") {
      if (typeof value !== "object" || Array.isArray(value)) {
        problems.push({ file, line: 1, column: 1, field: "", message: "mesh.yaml must be a mapping with a `mesh:` section" });
        read.unreadable.add(key);
        continue;
      }
      raw.mesh = (value as Record<string, unknown>).mesh;
      raw.drift = (value as Record<string, unknown>).drift;
      const extra = Object.keys(value as object).filter((k) => !MESH_FILE_KEYS.includes(k));
      for (const k of extra) problems.push({ ...locate({ file, doc, lines }, [k], true), field: fieldName([k]), message: `unknown top-level key "${k}" in mesh.yaml: only ${MESH_FILE_KEYS.map((x) => `${x}:`).join(" and ")} belong here` });
    } else raw.dcs[stem] = value;
    read.sources.set(key, { file, doc, lines });
  }
  if (!(MESH_FILE in texts)) {
    problems.push({ file: path.join(dir, MESH_FILE), line: 0, column: 0, field: "", message: `${MESH_FILE} is missing: it declares the tinc mesh (name, subnet, port) that joins every data center` });
    read.unreadable.add("mesh");
  }
  return read;
}

/** The file a schema path lies in, and the path inside that file's document. */
function sourceOf(dir: string, read: Read, p: (string | number)[]): { key: string; source: SourceFile | undefined; docPath: (string | number)[]; fallbackFile: string } {
  if (p[0] === "mesh" || p[0] === "drift") return { key: "mesh", source: read.sources.get("mesh"), docPath: p, fallbackFile: path.join(dir, MESH_FILE) };
  const key = `dcs/${String(p[1])}`;
  return { key, source: read.sources.get(key), docPath: p.slice(2), fallbackFile: path.join(dir, `${String(p[1])}.yaml`) };
}

type Issue = z.core.$ZodIssue;

function schemaProblems(dir: string, read: Read, allIssues: Issue[]): Problem[] {
  const problems: Problem[] = [];
  for (const issue of preferControlCharacters(allIssues)) {
    const p = issue.path.map((s) => (typeof s === "symbol" ? String(s) : s));
    const { key, source, docPath, fallbackFile } = sourceOf(dir, read, p);
    if (read.unreadable.has(key)) continue; // its own problem is reported already
    const custom = issue.code === "custom" ? (issue.params ?? {}) : {};
    // A problem with a name (node, volume) points at the name, not at the value under it.
    const keyIssue = issue.code === "invalid_key" || issue.code === "unrecognized_keys" || custom.at === "key";
    const keys = issue.code === "unrecognized_keys" ? issue.keys : [];
    if (keys.length > 0) {
      for (const k of keys) {
        const loc = source ? locate(source, [...docPath, k], true) : { file: fallbackFile, line: 0, column: 0 };
        problems.push({ ...loc, field: fieldName([...docPath, k]), message: `unknown field "${k}": remove it or check its spelling${hintFor(k)}` });
      }
      continue;
    }
    const loc = source ? locate(source, docPath, keyIssue) : { file: fallbackFile, line: 0, column: 0 };
    const missing = issue.code !== "custom" && docPath.length > 0 && valueAt(read.raw, p) === undefined;
    const also = Array.isArray(custom.also) ? ` (the other is at ${otherPlace(dir, read, custom.also)})` : "";
    problems.push({ ...loc, field: fieldName(docPath), message: explain(issue.message, issue.code, docPath, missing) + also });
  }
  return problems;
}

/** A control character makes every other message about the same value noise: keep only it. */
function preferControlCharacters(issues: Issue[]): Issue[] {
  const isControl = (i: Issue) => i.code === "custom" && i.params?.control === true;
  const controlled = new Set(issues.filter(isControl).map((i) => JSON.stringify(i.path)));
  return issues.filter((i) => isControl(i) || !controlled.has(JSON.stringify(i.path)));
}

/** `east.yaml:10:3`: where the other party of a clash is. */
function otherPlace(dir: string, read: Read, p: (string | number)[]): string {
  const { source, docPath, fallbackFile } = sourceOf(dir, read, p);
  const loc = source ? locate(source, docPath, true) : { file: fallbackFile, line: 0, column: 0 };
  return `${path.basename(loc.file)}:${loc.line}:${loc.column}`;
}

/** The raw value at a schema path (`undefined` when the field is absent), to tell "missing" from "wrong". */
function valueAt(root: unknown, p: (string | number)[]): unknown {
  let v: unknown = root;
  for (const seg of p) {
    if (typeof v !== "object" || v === null) return undefined;
    v = (v as Record<string | number, unknown>)[seg];
  }
  return v;
}

function dedupe(problems: Problem[]): Problem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const k = `${p.file}:${p.line}:${p.column}:${p.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function hintFor(key: string): string {
  const known: Record<string, string> = { replicas: "replica", brick: "replicaSets", bricks: "replicaSets", ip: "tinc", role: "roles", option: "options", path: "brickPath", hostkey: "ssh.hostKey" };
  const k = known[key.toLowerCase()];
  return k ? ` (did you mean ${k}?)` : "";
}

function explain(message: string, code: string, docPath: (string | number)[], missing = false): string {
  const required = `${String(docPath[docPath.length - 1] ?? "value")} is required`;
  if (code === "invalid_type" && /received undefined/.test(message)) return required;
  // Fields with their own message ("must be an IPv4 address") say first that they are absent.
  return missing ? `${required}: ${message}` : message;
}

export function fieldName(p: (string | number)[]): string {
  let out = "";
  for (const seg of p) out += typeof seg === "number" ? `[${seg}]` : out === "" ? printable(seg) : `.${printable(seg)}`;
  return out;
}

const ESCAPES: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

/** Control characters escaped (`\n`, `\u001b`), so that every problem stays one line. */
function printable(s: string): string {
  return s.replace(/[\x00-\x1f\x7f]/g, (c) => ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** Find a path in a YAML document; point at the key (for key problems or missing values) or the value. */
function locate(src: SourceFile, docPath: (string | number)[], atKey: boolean): { file: string; line: number; column: number } {
  let node: YamlNode | null | undefined = src.doc.contents as YamlNode | null;
  let lastPos: [number, number] | undefined = node?.range ? [node.range[0], node.range[1]] : undefined;
  // The key whose value is `node`: a field missing from that value is reported at this key.
  let ownerKey: [number, number] | undefined;
  for (let i = 0; i < docPath.length; i++) {
    const seg = docPath[i];
    const last = i === docPath.length - 1;
    if (isMap(node)) {
      const pair = node.items.find((it) => isPair(it) && isScalar(it.key) && String(it.key.value) === String(seg));
      if (!pair) {
        if (ownerKey) lastPos = ownerKey;
        break;
      }
      const key = pair.key as YamlNode;
      const value = pair.value as YamlNode | null;
      ownerKey = key.range ? [key.range[0], key.range[1]] : undefined;
      if ((last && atKey) || !value || !value.range) {
        if (key.range) lastPos = [key.range[0], key.range[1]];
        node = last ? key : value;
        if (!value) break;
      } else {
        lastPos = [value.range[0], value.range[1]];
        node = value;
      }
    } else if (isSeq(node) && typeof seg === "number") {
      const item = node.items[seg] as YamlNode | undefined;
      if (!item || !item.range) break;
      lastPos = [item.range[0], item.range[1]];
      ownerKey = lastPos;
      node = item;
    } else break;
  }
  const pos = lastPos ? src.lines.linePos(lastPos[0]) : { line: 1, col: 1 };
  return { file: src.file, line: pos.line, column: pos.col };
}

/** `file:line:col: field: message` lines, the format every command prints. */
export function formatProblems(problems: Problem[], cwd = process.cwd()): string {
  return problems
    .map((p) => {
      const file = path.relative(cwd, p.file) || p.file;
      const where = p.line > 0 ? `${file}:${p.line}:${p.column}` : file;
      return `${where}: ${p.field ? `${p.field}: ` : ""}${p.message}`;
    })
    .join("\n");
}

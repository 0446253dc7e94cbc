// Command-line flags: one convention for every glustermesh command (the sync tool included).
// - `--name value` or `--name=value`. A flag that takes one value may be given once: twice is a
//   usage error (silently taking the first or the last hides a mistake), unless the command
//   lists it as repeatable (drift's --ssh-option and --address).
// - `--switch` takes no value; giving it twice changes nothing. `--` ends the flags.
// - Usage errors (unknown flag, missing or bad value, missing required flag, wrong arguments)
//   print `PREFIX: message` and the command's usage on stderr, and exit 2.
// - `--help` or `-h` before any `--` prints the usage on stdout and exits 0.
// No imports but types: the sync tool's bundle carries this file.
import type { DataCenter, Model } from "../model/model";

export const EXIT_USAGE = 2;

/** A mistake in how the command was called: reported with the usage, exit 2. */
export class UsageError extends Error {}

export interface CommandSpec {
  /** The command's name in messages ("render"). */
  name: string;
  /** What starts each message; default `glustermesh NAME`. */
  prefix?: string;
  usage: string;
  /** Flags that take one value, with what the value is (`stack: "DC"`). */
  values?: Readonly<Record<string, string>>;
  /** Flags that take a value and may be given any number of times. */
  lists?: Readonly<Record<string, string>>;
  switches?: readonly string[];
  /** Value flags that must be given. */
  required?: readonly string[];
  /** Names of the positional arguments, all required (default: none). */
  positional?: readonly string[];
}

export interface ParsedArgs {
  values: Partial<Record<string, string>>;
  lists: Record<string, string[]>;
  switches: Set<string>;
  positional: string[];
}

export interface CommandIO {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

const PROCESS_IO: CommandIO = { stdout: process.stdout, stderr: process.stderr };

/** The parsed flags, or "help"; throws UsageError. */
export function parseArgs(argv: readonly string[], spec: CommandSpec): ParsedArgs | "help" {
  const end = argv.indexOf("--");
  const flags = end < 0 ? argv : argv.slice(0, end);
  if (flags.includes("--help") || flags.includes("-h")) return "help";
  const out: ParsedArgs = { values: {}, lists: {}, switches: new Set(), positional: [] };
  const args = [...flags];
  while (args.length > 0) {
    const a = args.shift()!;
    if (!a.startsWith("-") || a === "-") out.positional.push(a);
    else if (!a.startsWith("--")) throw new UsageError(`unknown option ${a}`);
    else takeFlag(a, args, spec, out);
  }
  if (end >= 0) out.positional.push(...argv.slice(end + 1));
  checkComplete(spec, out);
  return out;
}

function takeFlag(a: string, rest: string[], spec: CommandSpec, out: ParsedArgs): void {
  const eq = a.indexOf("=");
  const name = eq > 0 ? a.slice(2, eq) : a.slice(2);
  if (spec.switches?.includes(name)) {
    if (eq > 0) throw new UsageError(`--${name} takes no value`);
    out.switches.add(name);
    return;
  }
  const repeatable = spec.lists?.[name] !== undefined;
  const meta = spec.values?.[name] ?? spec.lists?.[name];
  if (meta === undefined) throw new UsageError(`unknown option --${name}`);
  // A next word that is a flag is not this flag's value: `--out --stack x` is a missing value.
  const value = eq > 0 ? a.slice(eq + 1) : rest[0]?.startsWith("--") ? undefined : rest.shift();
  if (value === undefined || value === "") throw new UsageError(`--${name} needs a value (--${name} ${meta})`);
  if (repeatable) (out.lists[name] ??= []).push(value);
  else if (out.values[name] !== undefined) throw new UsageError(`--${name} given twice (${out.values[name]} and ${value}): give it once`);
  else out.values[name] = value;
}

function checkComplete(spec: CommandSpec, out: ParsedArgs): void {
  const missing = (spec.required ?? []).filter((f) => out.values[f] === undefined).map((f) => `--${f} ${spec.values?.[f] ?? ""}`.trim());
  const names = spec.positional ?? [];
  if (out.positional.length < names.length) missing.push(...names.slice(out.positional.length));
  if (missing.length > 0) throw new UsageError(`${missing.join(" and ")} ${missing.length > 1 ? "are" : "is"} required`);
  if (out.positional.length > names.length) throw new UsageError(`unexpected argument ${JSON.stringify(out.positional[names.length])}`);
}

/** Print the usage for `--help`: stdout, exit 0. */
export function printHelp(spec: CommandSpec, io: CommandIO = PROCESS_IO): number {
  io.stdout.write(`${spec.usage}\n`);
  return 0;
}

/** Print a usage error: the message and the usage on stderr, exit 2. */
export function printUsageError(spec: CommandSpec, message: string, io: CommandIO = PROCESS_IO): number {
  io.stderr.write(`${spec.prefix ?? `glustermesh ${spec.name}`}: ${message}\n${spec.usage}\n`);
  return EXIT_USAGE;
}

/** Parse, then run `body`; help and usage errors (thrown by either) as the convention says. */
export async function runCommand(spec: CommandSpec, argv: readonly string[], body: (args: ParsedArgs) => number | Promise<number>, io: CommandIO = PROCESS_IO): Promise<number> {
  try {
    const args = parseArgs(argv, spec);
    return args === "help" ? printHelp(spec, io) : await body(args);
  } catch (e) {
    if (e instanceof UsageError) return printUsageError(spec, e.message, io);
    throw e;
  }
}

/** The inventory folder: --inventory, else $GLUSTERMESH_INVENTORY, else ./inventory. */
export function inventoryFlag(args: ParsedArgs): string {
  return args.values.inventory ?? process.env.GLUSTERMESH_INVENTORY ?? "inventory";
}

/** The data center --stack names; an unknown one is a usage error. */
export function knownDc(model: Model, name: string): DataCenter {
  const dc = model.dcs.find((d) => d.name === name);
  if (!dc) throw new UsageError(`no data center "${name}" in the inventory (known: ${model.dcs.map((d) => d.name).join(", ")})`);
  return dc;
}

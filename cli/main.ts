// The glustermesh command. User mistakes get one clear message and an exit code, never a
// stack trace.
import * as path from "node:path";
import { loadInventory, formatProblems } from "../model/load";
import { buildModel, modelWarnings } from "../model/model";
import { renderDc } from "./render";
import { parseArgs, type ParsedArgs } from "./args";

const USAGE = `usage: glustermesh COMMAND [options]

  validate [--inventory DIR]               check the inventory; exit 0 valid (warnings printed), 1 invalid
  render --stack DC --out DIR [--inventory DIR]
                                           write every script and file the DC's stack sends, one folder per node
  plan --stack DC [--base GITREF]          what deploying the inventory change will do; exit 3 if dangerous
  drift --stack DC [--json]                compare live hosts with the inventory; exit 2 on drift, 1 if unchecked
  sync SOURCE TARGET [options]             copy new images from a local brick to another DC's volume

The inventory folder defaults to ./inventory (or $GLUSTERMESH_INVENTORY).`;


function inventoryDir(flags: ParsedArgs): string {
  return path.resolve(flags.values.inventory?.[0] ?? process.env.GLUSTERMESH_INVENTORY ?? "inventory");
}

function validate(argv: string[]): number {
  const flags = parseArgs(argv, ["inventory"], []);
  if (typeof flags === "string") return usageError(flags);
  if (flags.positional.length > 0) return usageError(`validate takes no arguments (got ${flags.positional.join(" ")})`);
  const dir = inventoryDir(flags);
  const loaded = loadInventory(dir);
  if (!loaded.ok) {
    process.stderr.write(`${formatProblems(loaded.problems)}\n${loaded.problems.length} problem${loaded.problems.length === 1 ? "" : "s"} in ${path.relative(process.cwd(), dir) || dir}; nothing was changed.\n`);
    return 1;
  }
  const model = buildModel(loaded.inventory);
  const warnings = modelWarnings(model);
  for (const w of warnings) process.stderr.write(`warning: ${w.dc}${w.volume ? `/${w.volume}` : ""}: ${w.message}\n`);
  const bricks = model.dcs.reduce((n, d) => n + d.volumes.reduce((m, v) => m + v.replicaSets.reduce((k, s) => k + s.bricks.length, 0), 0), 0);
  process.stdout.write(
    `inventory valid: ${model.dcs.length} data centers (${model.dcs.map((d) => d.name).join(", ")}), ${model.nodes.length} nodes, ` +
      `${model.dcs.reduce((n, d) => n + d.volumes.length, 0)} volumes, ${bricks} bricks${warnings.length ? `, ${warnings.length} warning${warnings.length === 1 ? "" : "s"}` : ""}\n`,
  );
  return 0;
}

function render(argv: string[]): number {
  const flags = parseArgs(argv, ["inventory", "stack", "out"], []);
  if (typeof flags === "string") return usageError(flags);
  const dc = flags.values.stack?.[0];
  const out = flags.values.out?.[0];
  if (!dc || !out) return usageError("render needs --stack DC and --out DIR");
  const loaded = loadInventory(inventoryDir(flags));
  if (!loaded.ok) {
    process.stderr.write(`${formatProblems(loaded.problems)}\nthe inventory is invalid; nothing was rendered.\n`);
    return 1;
  }
  const model = buildModel(loaded.inventory);
  if (!model.dcs.some((d) => d.name === dc)) return usageError(`no data center "${dc}" in the inventory (known: ${model.dcs.map((d) => d.name).join(", ")})`);
  const r = renderDc(model, dc, path.resolve(out));
  process.stdout.write(`rendered ${dc}: ${r.scripts} scripts and ${r.files} files for ${r.nodes} nodes in ${out}\n`);
  return 0;
}

function usageError(message: string): number {
  process.stderr.write(`glustermesh: ${message}\n${USAGE}\n`);
  return 2;
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case "validate":
      return validate(rest);
    case "render":
      return render(rest);
    case "plan":
      return (await import("./plan")).planCommand(rest);
    case "drift":
      return (await import("./drift")).driftCommand(rest);
    case "sync":
      return (await import("../sync/main")).main(rest);
    case undefined:
    case "help":
    case "--help":
    case "-h":
      process.stdout.write(`${USAGE}\n`);
      return cmd === undefined ? 2 : 0;
    default:
      return usageError(`unknown command "${cmd}"`);
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`glustermesh: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(70);
    },
  );
}

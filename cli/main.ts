// The glustermesh command. User mistakes get one clear message and an exit code, never a
// stack trace.
import * as path from "node:path";
import { loadInventory, formatProblems } from "../model/load";
import { buildModel, modelWarnings } from "../model/model";
import { renderDc } from "./render";
import { MARKER, OutputError } from "./outdir";
import { inventoryFlag, knownDc, printHelp, printUsageError, runCommand, type CommandSpec, type ParsedArgs } from "./args";

const USAGE = `usage: glustermesh COMMAND [options]

  validate [--inventory DIR]               check the inventory; exit 0 valid (warnings printed), 1 invalid
  render --stack DC --out DIR [--inventory DIR]
                                           write every script and file the DC's stack sends, one folder per node
  plan --stack DC [--base GITREF]          what deploying the inventory change will do; exit 3 if dangerous
  drift --stack DC [--json]                compare live hosts with the inventory; exit 2 on drift, 1 if unchecked
  sync SOURCE TARGET [options]             copy new images from a local brick to another DC's volume
  help [COMMAND]                           this text, or a command's (as COMMAND --help)

The inventory folder defaults to ./inventory (or $GLUSTERMESH_INVENTORY).
Every command: --help or -h prints its usage; a usage error (unknown or repeated flag, missing
or bad value) prints the usage on stderr and exits 2.`;

const MAIN: CommandSpec = { name: "", prefix: "glustermesh", usage: USAGE };

const VALIDATE: CommandSpec = {
  name: "validate",
  usage: `usage: glustermesh validate [--inventory DIR]
  Checks the inventory: every problem with file, line and what to do.
  Exit 0: valid (warnings printed); 1: invalid; 2: usage error.`,
  values: { inventory: "DIR" },
};

const RENDER: CommandSpec = {
  name: "render",
  usage: `usage: glustermesh render --stack DC --out DIR [--inventory DIR]
  Writes every script and file DC's stack sends, one folder per node, into DIR. DIR must be new,
  empty, or made by an earlier render (${MARKER} in it): a re-run replaces only what render
  wrote there, and nothing else is ever removed.
  Exit 0: rendered; 1: invalid inventory or DIR unusable; 2: usage error.`,
  values: { stack: "DC", out: "DIR", inventory: "DIR" },
  required: ["stack", "out"],
};

function validate(args: ParsedArgs): number {
  const dir = path.resolve(inventoryFlag(args));
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

function render(args: ParsedArgs): number {
  const dc = args.values.stack!;
  const out = args.values.out!;
  const loaded = loadInventory(path.resolve(inventoryFlag(args)));
  if (!loaded.ok) {
    process.stderr.write(`${formatProblems(loaded.problems)}\nthe inventory is invalid; nothing was rendered.\n`);
    return 1;
  }
  const model = buildModel(loaded.inventory);
  knownDc(model, dc);
  try {
    const r = renderDc(model, dc, path.resolve(out));
    process.stdout.write(`rendered ${dc}: ${r.scripts} scripts and ${r.files} files for ${r.nodes} nodes in ${out}\n`);
    return 0;
  } catch (err) {
    if (!(err instanceof OutputError)) throw err;
    process.stderr.write(`glustermesh render: ${err.message}\n`);
    return 1;
  }
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case "validate":
      return runCommand(VALIDATE, rest, validate);
    case "render":
      return runCommand(RENDER, rest, render);
    case "plan":
      return (await import("./plan")).planCommand(rest);
    case "drift":
      return (await import("./drift")).driftCommand(rest);
    case "sync":
      return (await import("../sync/main")).main(rest);
    case "help":
    case "--help":
    case "-h":
      return rest[0] && rest[0] !== "help" && !rest[0].startsWith("-") ? main([rest[0], "--help"]) : printHelp(MAIN);
    case undefined:
      return printUsageError(MAIN, "no command given");
    default:
      return printUsageError(MAIN, `unknown command ${JSON.stringify(cmd)}`);
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

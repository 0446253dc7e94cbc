// Command-line flags shared by every glustermesh command.

export interface ParsedArgs {
  values: Record<string, string[]>;
  switches: Set<string>;
  positional: string[];
}

/** `--name value`, `--name=value` (repeatable), `--switch`; a string is the usage error. */
export function parseArgs(argv: string[], valueFlags: string[], switchFlags: string[]): ParsedArgs | string {
  const out: ParsedArgs = { values: {}, switches: new Set(), positional: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith("--") || a === "--") {
      out.positional.push(a);
      continue;
    }
    const eq = a.indexOf("=");
    const name = eq > 0 ? a.slice(2, eq) : a.slice(2);
    if (valueFlags.includes(name)) {
      const v = eq > 0 ? a.slice(eq + 1) : argv[++i];
      if (v === undefined || v === "") return `--${name} needs a value`;
      (out.values[name] ??= []).push(v);
    } else if (switchFlags.includes(name) && eq < 0) out.switches.add(name);
    else return `unknown option ${a}`;
  }
  return out;
}

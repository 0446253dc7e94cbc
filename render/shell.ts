// Shell building blocks shared by every rendered host script: quoting, the prelude (strict
// mode, change reporting, retries with backoff) and idempotent file writes.
import * as fs from "node:fs";
import * as path from "node:path";

/** Quote one value for bash: every interpolated value in a script goes through this. */
export function shq(s: string | number): string {
  const v = String(s);
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(v)) return v;
  return `'${v.replace(/'/g, `'\\''`)}'`;
}

/** The line a script prints for every change it makes; the lab and tests count these. */
export const CHANGED_MARK = "glustermesh: changed:";

const PRELUDE = `set -euo pipefail
export LC_ALL=C
# Every change a script makes is reported; a re-run that finds nothing to do prints none.
changed() { printf '${CHANGED_MARK} %s\\n' "$*"; }
# retry ATTEMPTS COMMAND...: run until it succeeds, waiting 0.5, 1, 2, 4, 8, 10, 10... seconds.
retry() {
  local attempts=$1 n=1
  local -a delays=(0.5 1 2 4 8)
  shift
  until "$@"; do
    if (( n >= attempts )); then return 1; fi
    sleep "\${delays[n - 1]:-10}"
    n=$((n + 1))
  done
}
# put_file PATH MODE < CONTENT: replace PATH atomically, only when content or mode differ.
# Returns 0 when it wrote the file, 1 when it was already right.
put_file() {
  local path=$1 mode=$2 tmp
  mkdir -p "$(dirname "$path")"
  tmp=$(mktemp "$path.glustermesh.XXXXXX")
  cat > "$tmp"
  if [[ -f $path ]] && cmp -s "$tmp" "$path" && [[ $(stat -c %a "$path") == "$mode" ]]; then
    rm -f "$tmp"
    return 1
  fi
  chmod "$mode" "$tmp"
  mv -f "$tmp" "$path"
  changed "wrote $path"
}
# need_packages PKG...: install the Debian packages that are missing, and only those.
need_packages() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='\${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if (( \${#missing[@]} > 0 )); then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "\${missing[@]}" >/dev/null
    changed "installed \${missing[*]}"
  fi
}
`;

/** A whole bash script: shebang, a comment saying what it is, the prelude, the body. */
export function script(title: string, body: string): string {
  return `#!/bin/bash\n# glustermesh: ${title}\n${PRELUDE}\n${body.trim()}\n`;
}

/** A heredoc feeding `put_file`; `then` runs only when the file changed. */
export function putFile(path: string, mode: string, content: string, then?: string): string {
  const delimiter = "GLUSTERMESH_EOF";
  if (content.split("\n").includes(delimiter)) throw new Error(`file ${path} contains the heredoc delimiter ${delimiter}`);
  const body = content.endsWith("\n") ? content : content + "\n";
  return `if put_file ${shq(path)} ${shq(mode)} <<'${delimiter}'\n${body}${delimiter}\nthen\n  ${then ?? ":"}\nfi`;
}

/**
 * A bash function NAME HOST...: does any HOST accept a TCP connection on `port`? All are asked
 * at once, each for `seconds` at most; true as soon as one answers.
 */
export function anyAnswersFunction(name: string, port: number, seconds: number, indent = "  "): string {
  return `${name}() {
  local h p pids=()
  for h in "$@"; do
    # shellcheck disable=SC2016 # $1 expands in the inner shell
    timeout ${seconds} bash -c ': </dev/tcp/"$1"/${port}' _ "$h" >/dev/null 2>&1 &
    pids+=("$!")
  done
  for p in "\${pids[@]}"; do
    if wait "$p"; then return 0; fi
  done
  return 1
}`.replace(/\n/g, `\n${indent}`);
}

/** Enable a unit and start it, each only when it is not already; says what it changed. */
export function enableAndStart(unit: string): string {
  return `if ! systemctl is-enabled --quiet ${unit}; then
  systemctl enable --quiet ${unit}
  changed "enabled ${unit}"
fi
if ! systemctl is-active --quiet ${unit}; then
  systemctl start ${unit}
  changed "started ${unit}"
fi`;
}

/** A value a host script's data header carries: a word, or a list of words. */
export type HeaderValue = string | number | ReadonlyArray<string | number>;

/**
 * The one way data reaches a host script: `readonly` bash variables and arrays, every value
 * through `shq`. The script's code is a real file; the data comes before it, never inside it.
 */
export function dataHeader(vars: Record<string, HeaderValue>): string {
  return Object.entries(vars)
    .map(([name, value]) => {
      if (!/^[A-Z][A-Z0-9_]*$/.test(name)) throw new Error(`not a header variable name: ${name}`);
      if (typeof value === "string" || typeof value === "number") return `readonly ${name}=${shq(value)}`;
      const words = value.map((x) => shq(x));
      // shellcheck takes a comma in a word for a mistaken separator; here it is the value's own
      const note = words.some((w) => w.includes(",")) ? "# shellcheck disable=SC2054\n" : "";
      return `${note}readonly -a ${name}=(${words.join(" ")})`;
    })
    .join("\n");
}

/** A host script: the file's shebang line, then its data header, then the rest of the file. */
export function withHeader(file: string, vars: Record<string, HeaderValue>): string {
  const nl = file.indexOf("\n");
  if (!file.startsWith("#!") || nl < 0) throw new Error("a host script file starts with its #! line");
  return `${file.slice(0, nl + 1)}# data (generated by glustermesh):\n${dataHeader(vars)}\n${file.slice(nl + 1)}`;
}

const hostFiles = new Map<string, string>();

/** A host script kept as a real file in render/files/ (read once). */
export function hostFile(name: string): string {
  let text = hostFiles.get(name);
  if (text === undefined) {
    text = fs.readFileSync(path.join(__dirname, "files", name), "utf8");
    hostFiles.set(name, text);
  }
  return text;
}

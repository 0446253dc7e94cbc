// tinc 1.0 mesh files and the scripts that put them on a host. Keys are made on the host and
// never regenerated; host files are rewritten whole, never appended to.
import { anyAnswersFunction, putFile, script, shq } from "./shell";

export interface TincHost {
  name: string;
  /** Public address peers connect to; undefined: this node only connects out. */
  address: string | undefined;
  tinc: string;
  publicKey: string;
}

export interface TincNodeArgs {
  network: string;
  interface: string;
  port: number;
  prefix: number;
  name: string;
  tinc: string;
  connectTo: string[];
  /** Every node of the mesh whose key is known, this node included. */
  hosts: TincHost[];
}

export const tincDir = (network: string) => `/etc/tinc/${network}`;
export const tincService = (network: string) => `tinc@${network}.service`;

const PEM = /-----BEGIN RSA PUBLIC KEY-----\n[A-Za-z0-9+/=\n]+-----END RSA PUBLIC KEY-----/;

/** The public key the key script printed, or an error naming the node. */
export function parsePublicKey(node: string, stdout: string): string {
  const m = PEM.exec(stdout);
  if (!m) throw new Error(`tinc key script on ${node} printed no RSA public key; its output was:\n${stdout}`);
  return m[0];
}

/**
 * Packet protection of tinc 1.0, in every host file (each node encrypts what it sends with the
 * settings its peer's host file names): AES-256 and a 16-byte HMAC-SHA256 instead of the
 * defaults (Blowfish and a 4-byte MAC).
 */
export const TINC_CRYPTO = ["Cipher = aes-256-cbc", "Digest = sha256", "MACLength = 16"];

export function tincConf(a: TincNodeArgs): string {
  return [
    `# glustermesh: tinc configuration of ${a.name}`,
    `Name = ${a.name}`,
    `Interface = ${a.interface}`,
    "Mode = router",
    "AddressFamily = ipv4",
    // Only the Subnet lines of our own host files route: a node cannot announce another's
    // address (auth.allow trusts those addresses).
    "StrictSubnets = yes",
    `Port = ${a.port}`,
    ...a.connectTo.map((n) => `ConnectTo = ${n}`),
    "",
  ].join("\n");
}

export function hostFile(h: TincHost, port: number): string {
  return [
    `# glustermesh: tinc host ${h.name}`,
    ...(h.address ? [`Address = ${h.address} ${port}`] : []),
    `Subnet = ${h.tinc}/32`,
    ...TINC_CRYPTO,
    h.publicKey.trim(),
    "",
  ].join("\n");
}

export function tincUp(a: Pick<TincNodeArgs, "tinc" | "prefix">): string {
  return `#!/bin/sh
# glustermesh: bring up the mesh interface
ip link set "$INTERFACE" up
ip addr replace ${a.tinc}/${a.prefix} dev "$INTERFACE"
`;
}

export function tincDown(a: Pick<TincNodeArgs, "tinc" | "prefix">): string {
  return `#!/bin/sh
# glustermesh: take down the mesh interface
ip addr del ${a.tinc}/${a.prefix} dev "$INTERFACE" || true
ip link set "$INTERFACE" down
`;
}

/**
 * Makes the node's key pair if it has none, then prints its public key. An existing private key
 * is never replaced: a lost public half is recovered from it, or the script stops.
 */
export function tincKeyScript(network: string, name: string): string {
  const dir = tincDir(network);
  return script(
    `tinc key of ${name}`,
    `
need_packages tinc
dir=${shq(dir)}
mkdir -p "$dir/hosts"
if [[ ! -s $dir/rsa_key.priv ]]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  mkdir -p "$tmp/hosts"
  printf 'Name = %s\\n' ${shq(name)} > "$tmp/tinc.conf"
  tincd -c "$tmp" -K2048 </dev/null >/dev/null 2>&1
  install -m 600 "$tmp/rsa_key.priv" "$dir/rsa_key.priv"
  sed -n '/-----BEGIN RSA PUBLIC KEY-----/,/-----END RSA PUBLIC KEY-----/p' "$tmp/hosts/"${shq(name)} > "$dir/rsa_key.pub"
  changed "made the tinc key pair of ${name}"
elif [[ ! -s $dir/rsa_key.pub ]]; then
  # Never regenerate: every peer trusts the existing key. Recover its public half.
  if [[ -s $dir/hosts/${name} ]] && grep -q 'BEGIN RSA PUBLIC KEY' "$dir/hosts/${name}"; then
    sed -n '/-----BEGIN RSA PUBLIC KEY-----/,/-----END RSA PUBLIC KEY-----/p' "$dir/hosts/${name}" > "$dir/rsa_key.pub"
  elif command -v openssl >/dev/null; then
    openssl rsa -in "$dir/rsa_key.priv" -RSAPublicKey_out 2>/dev/null > "$dir/rsa_key.pub"
  else
    echo "error: $dir/rsa_key.priv exists but its public key is lost; install openssl or restore $dir/rsa_key.pub (the key is never regenerated)" >&2
    exit 1
  fi
  changed "recovered the tinc public key of ${name}"
fi
cat "$dir/rsa_key.pub"
`,
  );
}

/** Seconds a node's mesh step nudges its freshly (re)started tincd until a ConnectTo peer answers. */
export const MESH_LINK_WAIT = 8;

/**
 * After tincd (re)started or reloaded: tincd tries a peer it could not reach again only after
 * 5 s, and longer each time, so a peer whose tincd was not listening yet (it is being deployed
 * at the same moment) would wait. SIGALRM makes tincd retry at once: nudge it until one of its
 * ConnectTo peers answers over the mesh (tincd's own port at the peer's tinc address), for
 * MESH_LINK_WAIT s at most. Never an error: peers may be down; tincd keeps trying.
 */
function linkWait(a: TincNodeArgs, service: string): string {
  const peers = a.hosts.filter((h) => h.name !== a.name && a.connectTo.includes(h.name));
  if (peers.length === 0) return "";
  return `if (( nudge )); then
  ${anyAnswersFunction("peer_answers", a.port, 1)}
  deadline=$((SECONDS + ${MESH_LINK_WAIT}))
  until peer_answers ${peers.map((h) => shq(h.tinc)).join(" ")}; do
    if (( SECONDS >= deadline )); then
      echo ${shq(`warning: none of ${a.name}'s ConnectTo peers (${peers.map((h) => h.name).join(", ")}) answers over the mesh yet; tincd keeps trying`)} >&2
      break
    fi
    systemctl kill --kill-whom=main --signal=SIGALRM ${shq(service)} 2>/dev/null || true
    sleep 0.5
  done
fi
`;
}

/** Writes tinc.conf, tinc-up/down and every host file, then runs tincd and waits for the address. */
export function tincConfigScript(a: TincNodeArgs): string {
  const dir = tincDir(a.network);
  const service = tincService(a.network);
  const hostFiles = a.hosts
    .slice()
    .sort((x, y) => x.name.localeCompare(y.name))
    .map((h) => putFile(`${dir}/hosts/${h.name}`, "644", hostFile(h, a.port), "reload=1"))
    .join("\n");
  return script(
    `tinc mesh configuration of ${a.name}`,
    `
need_packages tinc
reload=0
restart=0
${putFile(`${dir}/tinc.conf`, "644", tincConf(a), "reload=1")}
${putFile(`${dir}/tinc-up`, "755", tincUp(a), "restart=1")}
${putFile(`${dir}/tinc-down`, "755", tincDown(a), "restart=1")}
# A changed host file needs a HUP: with StrictSubnets, tincd routes only the Subnet lines it
# read from its host files at its start or last reload (and drops the changed peer's link).
${hostFiles}
# tinc@NET is wanted by tinc.service: both must be enabled to come back after a reboot.
for unit in tinc.service ${shq(service)}; do
  if ! systemctl is-enabled --quiet "$unit"; then
    systemctl enable --quiet "$unit"
    changed "enabled $unit"
  fi
done
nudge=0
if ! systemctl is-active --quiet ${shq(service)}; then
  systemctl start ${shq(service)}
  changed "started ${service}"
  nudge=1
elif (( restart )); then
  systemctl restart ${shq(service)}
  changed "restarted ${service}"
  nudge=1
elif (( reload )); then
  # tinc.conf and host file changes need a HUP.
  systemctl reload ${shq(service)}
  changed "reloaded ${service}"
  nudge=1
fi
has_address() { ip -4 -o addr show dev ${shq(a.interface)} 2>/dev/null | grep -q ${shq(` ${a.tinc}/`)}; }
if ! retry 8 has_address; then
  echo "error: tinc interface ${a.interface} did not get ${a.tinc}; journalctl -u ${service} says:" >&2
  journalctl -u ${shq(service)} -n 20 --no-pager >&2 || true
  exit 1
fi
${linkWait(a, service)}`,
  );
}

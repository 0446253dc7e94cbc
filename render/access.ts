// The read-only drift account on every node: `glustermesh drift` logs in as DRIFT_ACCOUNT with
// its own key (CI holds it, not the deploy key). The account reads what any user may read, and
// runs as root only DRIFT_READ, a fixed file of read-only gluster and nft queries (sudo).
import { DRIFT_ACCOUNT } from "../model/model";
import { hostFile, putFile, script } from "./shell";

/** The helper the drift account may run as root, as a real file in this repository. */
export const DRIFT_READ = "/usr/local/lib/glustermesh/drift-read";
export const DRIFT_KEYS_FILE = "/etc/glustermesh/drift/authorized_keys";
export const DRIFT_SSHD_CONFIG = "/etc/ssh/sshd_config.d/glustermesh-drift.conf";
export const DRIFT_SUDOERS = "/etc/sudoers.d/glustermesh-drift";
/** Its home: root's, so the account cannot add keys or files of its own. */
export const DRIFT_HOME = "/var/lib/glustermesh-drift";

export function driftRead(): string {
  return hostFile("drift-read");
}

/** Each key may open a session that runs a command, and nothing else (no forwarding, no pty). */
export function driftAuthorizedKeys(keys: string[]): string {
  return keys.map((k) => `restrict ${k}\n`).join("");
}

/** sshd: the account's keys come only from our root-owned file; no password, no forwarding. */
export function driftSshdConfig(): string {
  return `# glustermesh: ${DRIFT_ACCOUNT} logs in with the keys of the inventory's drift: section only.
Match User ${DRIFT_ACCOUNT}
    AuthorizedKeysFile ${DRIFT_KEYS_FILE}
    AuthenticationMethods publickey
    PasswordAuthentication no
    KbdInteractiveAuthentication no
    AllowTcpForwarding no
    AllowAgentForwarding no
    AllowStreamLocalForwarding no
    X11Forwarding no
    PermitTTY no
    PermitTunnel no
    PermitUserRC no
`;
}

export function driftSudoers(): string {
  return `# glustermesh: ${DRIFT_ACCOUNT} may run as root only the read-only queries of glustermesh drift.
${DRIFT_ACCOUNT} ALL=(root) NOPASSWD: ${DRIFT_READ}
`;
}

/** Create or update the drift account on a node; checks, then acts; safe to run again. */
export function driftAccountScript(node: string, keys: string[]): string {
  return script(
    `the read-only drift account ${DRIFT_ACCOUNT} on ${node}`,
    `
need_packages sudo
if ! id -u ${DRIFT_ACCOUNT} >/dev/null 2>&1; then
  # '*': no password can ever match, yet sshd does not count the account as locked
  useradd --system --user-group --password '*' --home-dir ${DRIFT_HOME} --no-create-home --shell /bin/bash --comment 'glustermesh drift, read-only' ${DRIFT_ACCOUNT}
  changed "created account ${DRIFT_ACCOUNT}"
fi
if [[ ! -d ${DRIFT_HOME} ]]; then
  install -d -m 0755 -o root -g root ${DRIFT_HOME}
  changed "made ${DRIFT_HOME} (root's)"
fi
${putFile(DRIFT_READ, "755", driftRead())}
${putFile(DRIFT_KEYS_FILE, "644", driftAuthorizedKeys(keys))}
# sudo refuses to run at all with a broken file in sudoers.d: check it before it goes there
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
cat > "$tmp" <<'GLUSTERMESH_EOF'
${driftSudoers()}GLUSTERMESH_EOF
visudo -cqf "$tmp"
put_file ${DRIFT_SUDOERS} 440 < "$tmp" || true
${putFile(DRIFT_SSHD_CONFIG, "644", driftSshdConfig(), "reload_sshd=1")}
if [[ -n \${reload_sshd:-} ]]; then
  if ! sshd -t; then
    # kept beside for a look; sshd reads only *.conf there
    mv -f ${DRIFT_SSHD_CONFIG} ${DRIFT_SSHD_CONFIG}.rejected
    echo "error: sshd rejects its configuration with ${DRIFT_SSHD_CONFIG}; moved it to ${DRIFT_SSHD_CONFIG}.rejected, sshd not reloaded" >&2
    exit 1
  fi
  systemctl reload ssh.service
  changed "reloaded sshd"
fi
`,
  );
}

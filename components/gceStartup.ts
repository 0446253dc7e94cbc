// The startup script of every machine a gce stack creates (metadata `startup-script`, run by
// the guest agent at every boot): let root log in with the deploy key only, then publish the
// machine's SSH host key as the guest attribute the deploy pins. Publishing comes last, so a
// published key also means the machine is ready for the deploy's SSH.
import { shq } from "../render/shell";

/** Guest attribute the startup script writes and the deploy reads (namespace/key). */
export const HOST_KEY_ATTRIBUTE = "glustermesh/ssh-ed25519";

export function startupScript(args: { node: string; user: string; publicKey: string }): string {
  if (args.user !== "root") throw new Error("gce machines are configured as root");
  return `#!/bin/bash
# glustermesh: first steps of ${args.node} at every boot: the deploy key for root, then the host key published
set -euo pipefail
key=${shq(args.publicKey)}
install -d -m 700 /root/.ssh
touch /root/.ssh/authorized_keys
chmod 600 /root/.ssh/authorized_keys
if ! grep -qxF -- "$key" /root/.ssh/authorized_keys; then
  printf '%s\\n' "$key" >> /root/.ssh/authorized_keys
fi
conf=/etc/ssh/sshd_config.d/10-glustermesh.conf
want=$'# glustermesh: root logs in with the deploy key, never with a password\\nPermitRootLogin prohibit-password\\nPasswordAuthentication no'
if [[ ! -f $conf ]] || [[ $(cat "$conf") != "$want" ]]; then
  install -d /etc/ssh/sshd_config.d
  printf '%s\\n' "$want" > "$conf"
  systemctl reload ssh || systemctl reload sshd
fi
pub=$(cut -d' ' -f2 /etc/ssh/ssh_host_ed25519_key.pub)
curl -fsS --retry 5 -X PUT --data "$pub" -H 'Metadata-Flavor: Google' \\
  http://metadata.google.internal/computeMetadata/v1/instance/guest-attributes/${HOST_KEY_ATTRIBUTE}
`;
}

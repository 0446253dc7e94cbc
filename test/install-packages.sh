#!/usr/bin/env bash
# Before `npm test`: the Debian packages the tests need (shellcheck, and the lab's gluster, tinc,
# sshd, systemd-nspawn, ...). Installs only what is missing; says what to do when it cannot.
set -euo pipefail
packages=(shellcheck glusterfs-server glusterfs-client tinc openssh-server openssh-client
  fuse3 xfsprogs iproute2 systemd-container rsync nftables chrony attr psmisc util-linux kmod sudo)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
(( ${#missing[@]} == 0 )) && exit 0
if [[ $(id -u) != 0 ]]; then
  echo "npm test needs these Debian packages: ${missing[*]}" >&2
  echo "install them as root: apt-get install --no-install-recommends ${missing[*]}" >&2
  exit 1
fi
echo "installing Debian packages the tests need: ${missing[*]}"
apt-get update -qq
# --no-install-recommends: systemd-container's recommends would edit /etc/nsswitch.conf.
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

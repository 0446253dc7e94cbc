#!/usr/bin/env bash
# The Pulumi engine the lab and the tests deploy with: prints the folder that holds `pulumi`,
# `pulumi-language-nodejs` and `pulumi-resource-command`, building them first when needed.
#
#   bash engine/build.sh          the folder (stdout); progress on stderr
#   bash engine/build.sh --check  exit 0 when nothing needs building
#
# A `pulumi` on PATH at the version package.json pins for @pulumi/pulumi is used as it is, with
# the plugins that installation has (what a user who installed Pulumi runs). Otherwise the three
# binaries are built from this folder's Go module (versions pinned in go.mod and go.sum) into a
# cache keyed on everything that goes into them; a build happens again only when a pin, a source
# file or the Go version changes. Nothing is downloaded but Go modules.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
say() { printf 'engine: %s\n' "$*" >&2; }

# The pins: the CLI at @pulumi/pulumi's version, the provider at @pulumi/command's.
pinned() { sed -n "s/^[[:space:]]*\"@pulumi\/$1\": \"\([0-9][^\"]*\)\".*/\1/p" "$repo/package.json"; }
sdk_version=$(pinned pulumi)
command_version=$(pinned command)
go_pkg_version=$(sed -n 's/^[[:space:]]*github.com\/pulumi\/pulumi\/pkg\/v3 v\([^ ]*\).*/\1/p' "$here/go.mod")
if [[ -z $sdk_version || -z $command_version ]]; then
  say "package.json must pin @pulumi/pulumi and @pulumi/command to exact versions"
  exit 2
fi
if [[ $go_pkg_version != "$sdk_version" ]]; then
  say "engine/go.mod has github.com/pulumi/pulumi/pkg/v3 v$go_pkg_version but package.json pins @pulumi/pulumi $sdk_version:"
  say "  cd engine && go get github.com/pulumi/pulumi/pkg/v3@v$sdk_version github.com/pulumi/pulumi/sdk/v3@v$sdk_version && go mod tidy"
  exit 2
fi

# A user's own Pulumi at the pinned version.
if user_pulumi=$(command -v pulumi 2>/dev/null) && [[ $user_pulumi != "${GLUSTERMESH_ENGINE_CACHE:-/nonexistent}"/* ]]; then
  if [[ $("$user_pulumi" version 2>/dev/null) == "v$sdk_version" ]]; then
    [[ ${1:-} == --check ]] && exit 0
    say "using $user_pulumi (v$sdk_version)"
    dirname "$user_pulumi"
    exit 0
  fi
fi

if ! command -v go >/dev/null; then
  say "building the engine needs Go (1.26 or later) and the Go module proxy; or install Pulumi v$sdk_version"
  exit 2
fi
key=$( {
  go version
  echo "$sdk_version $command_version"
  cd "$here" && find go.mod go.sum tools.go cmd -type f -print0 | sort -z | xargs -0 sha256sum
} | sha256sum | cut -c1-16)
cache=${GLUSTERMESH_ENGINE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/glustermesh/engine}
bin=$cache/$key
if [[ -x $bin/pulumi && -x $bin/pulumi-language-nodejs && -x $bin/pulumi-resource-command ]]; then
  [[ ${1:-} == --check ]] && exit 0
  echo "$bin"
  exit 0
fi
[[ ${1:-} == --check ]] && exit 1

# go build -v names each package as it compiles it: one progress line per 100 packages.
progress() {
  local what=$1 n=0 t0=$SECONDS
  while IFS= read -r _; do
    n=$((n + 1))
    ((n % 100 == 0)) && say "$what: $n packages compiled ($((SECONDS - t0)) s)"
  done
  say "$what: $n packages compiled ($((SECONDS - t0)) s)"
}
build() {
  local what=$1 ldflags=$2 pkg=$3
  say "building $what"
  # shellcheck disable=SC2094 # -v output goes to stderr, read by progress; the log keeps errors
  if ! (cd "$here" && CGO_ENABLED=0 go build -v -trimpath -tags osusergo,grpcnotrace \
    -ldflags "$ldflags" -o "$tmp/" "$pkg" 2> >(tee "$tmp/$what.log" | progress "$what")); then
    wait
    say "building $what failed:"
    grep -v '^[a-z0-9./_-]*$' "$tmp/$what.log" >&2 || cat "$tmp/$what.log" >&2
    exit 1
  fi
  wait
}

mkdir -p "$cache"
tmp=$(mktemp -d "$cache/.build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
t0=$SECONDS
say "building Pulumi v$sdk_version and its plugins into $bin (with no Go module cache yet: about 4 minutes and 1.5 GB of modules)"
say "downloading Go modules"
(cd "$here" && go mod download) || {
  say "go mod download failed: is the Go module proxy reachable?"
  exit 1
}
build pulumi "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$sdk_version" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
build pulumi-language-nodejs "-X main.Version=$sdk_version" ./cmd/pulumi-language-nodejs
build pulumi-resource-command "-X main.Version=$command_version" ./cmd/pulumi-resource-command
rm -f "$tmp"/*.log
rm -rf "$bin"
mv "$tmp" "$bin"
trap - EXIT
say "built in $((SECONDS - t0)) s"
echo "$bin"

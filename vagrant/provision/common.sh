#!/usr/bin/env bash
# Every lab VM: system packages, and Shoal installed from the synced repo into a venv.
#   common.sh ROLE        ROLE is controlplane or node (only logged and checked today)
# Environment: SHOAL_SRC [/opt/shoal], SHOAL_VENV [/opt/shoal-venv],
#   SHOAL_PROVISION_SKIP_DOCKER=1 leaves docker.io out. Only the test suite sets it: it runs
#   these scripts in a container where dockerd cannot run anyway and the package is big.
set -euo pipefail
# shellcheck source=lib.sh
source "${SHOAL_SRC:-/opt/shoal}/vagrant/provision/lib.sh"

[ $# -eq 1 ] || die "usage: common.sh ROLE (controlplane or node)"
role=$1
case "$role" in
  controlplane | node) ;;
  *) die "ROLE: expected controlplane or node, got '$role'" ;;
esac
say "role $role, source $SHOAL_SRC, venv $SHOAL_VENV"

packages=(ca-certificates curl python3-venv python3-pip busybox-static)
if [ "${SHOAL_PROVISION_SKIP_DOCKER:-0}" = 1 ]; then
  say "SHOAL_PROVISION_SKIP_DOCKER=1: not installing docker.io (test mode; agents need it on real nodes)"
else
  packages+=(docker.io)
fi
apt_install "${packages[@]}"

if [ ! -x "$SHOAL_VENV/bin/python" ]; then
  say "creating venv $SHOAL_VENV"
  python3 -m venv "$SHOAL_VENV"
fi

# pip builds a local project in place (build/, *.egg-info), and the synced repo is the
# host's working tree (or read-only): build from a private copy instead. Reinstalling only
# when that copy's content changed keeps a re-provision fast.
stage=$(mktemp -d /tmp/shoal-src.XXXXXX)
trap 'rm -rf "$stage"' EXIT
tar -C "$SHOAL_SRC" -cf - \
  --exclude=./.git --exclude=./.venv --exclude=./build --exclude='*.egg-info' --exclude=__pycache__ \
  --exclude=./.pytest_cache --exclude=./.ruff_cache --exclude=./.hypothesis --exclude=./.benchmarks \
  --exclude=./vagrant/.vagrant --exclude=./vagrant/.shoal --exclude=./tests --exclude=./bench . \
  | tar -C "$stage" -xf -
want=$(cd "$stage" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
stamp="$SHOAL_VENV/.shoal-source-sha256"
if [ "$(cat "$stamp" 2>/dev/null || true)" = "$want" ] && "$SHOAL_VENV/bin/shoal" --help >/dev/null 2>&1; then
  say "shoal in $SHOAL_VENV is up to date with $SHOAL_SRC"
else
  say "installing shoal from $SHOAL_SRC into $SHOAL_VENV"
  "$SHOAL_VENV/bin/python" -m pip install -q --disable-pip-version-check --no-input "$stage"
  echo "$want" > "$stamp"
fi
if [ "$(readlink /usr/local/bin/shoal 2>/dev/null || true)" != "$SHOAL_VENV/bin/shoal" ]; then
  ln -sfn "$SHOAL_VENV/bin/shoal" /usr/local/bin/shoal
  say "linked /usr/local/bin/shoal"
fi
"$SHOAL_VENV/bin/shoal" --help >/dev/null || die "$SHOAL_VENV/bin/shoal --help failed after install"
say "done"

#!/usr/bin/env bash
# CI hook for the Vagrant lab (vagrant/): installs what its tests need, Debian's `vagrant`
# (for `vagrant validate`) and `debootstrap` (for the Debian rootfs the provisioning
# scripts run in), then runs tests/integration/test_vagrant_lab.py with CI=true, under
# which a missing tool fails the tests instead of skipping them.
#   scripts/ci-vagrant.sh [PYTEST ARGS...]   install if needed, then run the lab tests
#   scripts/ci-vagrant.sh --install-only     install if needed (scripts/test.sh calls this
#                                            before its pytest run, which includes them)
# Needs dockerd (scripts/bootstrap.sh starts it). Safe to run again: it installs only what
# is missing. The debootstrapped rootfs and apt/pip caches go to SHOAL_TEST_CACHE
# (/var/cache/shoal-test) on the tests' first run.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "ci-vagrant: $*"; }
die() { echo "ci-vagrant: error: $*" >&2; exit 1; }

install_only=0
if [ "${1:-}" = "--install-only" ]; then
  install_only=1
  shift
fi

if [ "$(id -u)" -eq 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1; then
  SUDO=(sudo)
else
  die "not root and sudo is not installed: run this as root"
fi

missing=()
command -v vagrant >/dev/null 2>&1 || missing+=(vagrant)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
if [ ${#missing[@]} -gt 0 ]; then
  # Same lock as scripts/bootstrap.sh: two apt runs at once fail on apt's own lock.
  lock=/run/lock/shoal-bootstrap.lock
  [ -d /run/lock ] || lock=/tmp/shoal-bootstrap.lock
  exec 9>>"$lock"
  if command -v flock >/dev/null 2>&1; then
    flock -w 600 9 || die "another bootstrap holds $lock for over 10 minutes"
  fi
  say "installing ${missing[*]}"
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  for pkg in "${missing[@]}"; do
    candidate=$(apt-cache policy "$pkg" | awk '/Candidate:/ { print $2 }')
    if [ -z "$candidate" ] || [ "$candidate" = "(none)" ]; then
      die "apt has no candidate for $pkg (is this Debian 12?)"
    fi
  done
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  exec 9>&-
else
  say "vagrant and debootstrap already installed"
fi
[ "$install_only" = 1 ] && exit 0

python=python3
[ -x .venv/bin/python ] && python=.venv/bin/python
export CI=true
exec "$python" -m pytest -q -p no:cacheprovider tests/integration/test_vagrant_lab.py "$@"

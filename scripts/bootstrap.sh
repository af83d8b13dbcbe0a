#!/usr/bin/env bash
# Makes a Debian 12 machine ready to build, test and run Shoal: the system packages
# (dockerd, etcd, Prometheus, busybox, HAProxy for the node proxy, wrk for bench/traffic.py),
# a running dockerd, and a venv at .venv with Shoal installed editable. Safe to run again:
# it only does what is missing, and says what it did.
#
# Works as root or through sudo; works with or without systemd (containers and CI boxes
# often have none, so dockerd is then started in the background, logging to
# /var/log/dockerd.log).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

say() { echo "bootstrap: $*"; }
die() { echo "bootstrap: error: $*" >&2; exit 1; }

if [ "$(id -u)" -eq 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1; then
  SUDO=(sudo)
else
  die "not root and sudo is not installed: run this as root"
fi
as_root() { "${SUDO[@]}" "$@"; }

# Parallel test runs may call bootstrap at once: serialise them so two never run apt or
# start two dockerds.
lock=/run/lock/shoal-bootstrap.lock
[ -d /run/lock ] || lock=/tmp/shoal-bootstrap.lock
# The braces keep 2>/dev/null to this one attempt: on a bare `exec` it would silence the
# rest of the script (every apt, pip and die message).
if ! { exec 9>>"$lock"; } 2>/dev/null; then
  lock="/tmp/shoal-bootstrap-$(id -u).lock"
  exec 9>>"$lock"
fi
if command -v flock >/dev/null 2>&1; then
  flock -w 600 9 || die "another bootstrap holds $lock for over 10 minutes"
fi

have_systemd() { [ -d /run/systemd/system ]; }

# --- system packages -------------------------------------------------------------------
# package -> a file it provides, to tell whether it is there without asking dpkg about
# packages that may be installed some other way (e.g. a newer docker CLI in /usr/local).
declare -A provides=(
  [docker.io]=/usr/sbin/dockerd
  [etcd-server]=/usr/bin/etcd
  [prometheus]=/usr/bin/prometheus
  [docker-registry]=/usr/bin/docker-registry
  [busybox-static]=/bin/busybox
  [haproxy]=/usr/sbin/haproxy
  [wrk]=/usr/bin/wrk
  [iproute2]=/sbin/ip
  # The lab forwards task ports in its hosts' namespaces and lets its bridge through FORWARD.
  [iptables]=/usr/sbin/iptables
  [python3-venv]=""
  [ca-certificates]=/etc/ssl/certs/ca-certificates.crt
  # The web console's browser tests drive Debian's Chromium through its own driver.
  [chromium]=/usr/bin/chromium
  [chromium-driver]=/usr/bin/chromedriver
  # Lints the host install script `shoal node install-script` generates (its unit test).
  [shellcheck]=/usr/bin/shellcheck
)
missing=()
for pkg in "${!provides[@]}"; do
  file=${provides[$pkg]}
  if [ -n "$file" ]; then
    [ -e "$file" ] || missing+=("$pkg")
  elif ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed"; then
    missing+=("$pkg")
  fi
done
# The docker CLI is what tests and people use to look at containers; docker.io brings it.
command -v docker >/dev/null 2>&1 || missing+=(docker.io)

if [ ${#missing[@]} -gt 0 ]; then
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  say "installing ${missing[*]}"
  # Debian starts a package's service on install; we run our own etcd, Prometheus and
  # HAProxy (each agent its own) on ports of our choosing, so keep the packaged ones from
  # starting (policy-rc.d is what invoke-rc.d and deb-systemd-invoke consult).
  created_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    as_root sh -c 'printf "#!/bin/sh\nexit 101\n" > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d'
    created_policy=1
  fi
  restore_policy() { [ "$created_policy" = 1 ] && as_root rm -f /usr/sbin/policy-rc.d; return 0; }
  trap restore_policy EXIT
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  restore_policy
  trap - EXIT
else
  say "system packages already installed"
fi

# The packaged etcd and Prometheus would hold 2379 and 9090 (Prometheus' port is also
# `shoal up`'s default), the packaged registry 5000 with no authentication at all, and the
# packaged HAProxy would run beside the agents' own: make sure they are not running, without
# touching anyone else's. `shoal up` runs its own registry and each agent its own HAProxy.
for svc in etcd prometheus prometheus-node-exporter docker-registry haproxy; do
  if have_systemd && systemctl is-enabled --quiet "$svc" 2>/dev/null; then
    as_root systemctl disable --now "$svc" >/dev/null 2>&1 && say "disabled packaged service $svc"
  elif have_systemd && systemctl is-active --quiet "$svc" 2>/dev/null; then
    as_root systemctl stop "$svc" && say "stopped packaged service $svc"
  elif ! have_systemd && [ -x "/etc/init.d/$svc" ] && as_root "/etc/init.d/$svc" status >/dev/null 2>&1; then
    as_root "/etc/init.d/$svc" stop >/dev/null 2>&1 && say "stopped packaged service $svc"
  fi
done

# --- dockerd ---------------------------------------------------------------------------
docker_ready() { as_root docker info >/dev/null 2>&1; }
if docker_ready; then
  say "dockerd already running"
else
  if have_systemd; then
    say "starting docker with systemd"
    as_root systemctl enable --now docker >/dev/null 2>&1 || as_root systemctl start docker || true
  else
    say "no systemd: starting dockerd in the background (log: /var/log/dockerd.log)"
    # setsid: dockerd must outlive this script and the terminal that ran it; 9>&- so it
    # does not inherit (and hold forever) the bootstrap lock.
    as_root sh -c 'setsid nohup dockerd >>/var/log/dockerd.log 2>&1 < /dev/null 9>&- &'
  fi
  deadline=$((SECONDS + 90))
  until docker_ready; do
    [ $SECONDS -lt $deadline ] || die "dockerd did not become ready in 90s; see /var/log/dockerd.log"
    sleep 0.5
  done
  say "dockerd is ready"
fi
if [ "$(id -u)" -ne 0 ] && ! docker info >/dev/null 2>&1; then
  say "note: your user cannot reach dockerd; run shoal as root or add yourself to the docker group"
fi

# --- Python venv -----------------------------------------------------------------------
python=${PYTHON:-python3}
command -v "$python" >/dev/null 2>&1 || die "$python not found"
if [ ! -x .venv/bin/python ]; then
  say "creating .venv with $($python --version 2>&1)"
  "$python" -m venv .venv || die "'$python -m venv' failed: install python3-venv"
fi
# Reinstall only when the dependencies changed: a stamp holds pyproject.toml's hash.
stamp=.venv/.shoal-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] && .venv/bin/python -c 'import shoal' 2>/dev/null; then
  say "python packages up to date in .venv"
else
  say "installing shoal and its dev dependencies into .venv"
  .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev]'
  echo "$want" > "$stamp"
fi
say "ready: $repo/.venv/bin/shoal"

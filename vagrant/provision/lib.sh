# shellcheck shell=bash disable=SC2034  # the variables are for the scripts that source this
# Shared by the provisioning scripts (sourced, never run). Vagrant uploads each script on
# its own, so they find this file in the synced repo: ${SHOAL_SRC:-/opt/shoal}.
#
# Every step is idempotent: files are rewritten only when their content changes, services
# are restarted only when their configuration did. Without systemd as PID 1 (a container,
# as in the tests) units are installed but not started, and the scripts say what they
# would have started.

SHOAL_SRC=${SHOAL_SRC:-/opt/shoal}
SHOAL_VENV=${SHOAL_VENV:-/opt/shoal-venv}
SHOAL_GRPC_PORT=7400
SHOAL_METRICS_PORT=7401
# The control plane unit's StateDirectory (DynamicUser: /var/lib/private/shoal-controlplane).
SHOAL_PKI_DIR=/var/lib/shoal-controlplane/pki
SHOAL_AGENT_METRICS_PORT=7402
# The node proxy's (HAProxy's) Prometheus exporter, on the node's address.
SHOAL_PROXY_METRICS_PORT=7403
# etcd's own CA, server and client certificates (python -m shoalctl.local.etcdcerts).
SHOAL_ETCD_PKI=/etc/shoal/etcd
# Where systemd puts etcd's client key for the control plane (LoadCredential).
SHOAL_ETCD_CLIENT_KEY=/run/credentials/shoal-controlplane.service/etcd-client.key
# The cluster registry: image names start with CP_ADDRESS:5000 (the control plane's front,
# TLS), the control plane issues its tokens on :5001, and docker-registry itself listens on
# loopback behind the front.
SHOAL_REGISTRY_PORT=5000
SHOAL_REGISTRY_TOKEN_PORT=5001
SHOAL_REGISTRY_UPSTREAM_PORT=5002
SHOAL_REGISTRY_DIR=/var/lib/shoal-registry
# The NFS export the control-plane VM serves, and the file system name it is registered as.
SHOAL_SHARE_DIR=/srv/shoal-share
SHOAL_SHARE_NAME=lab-share
# The lab's join token expires after this many hours.
SHOAL_TOKEN_TTL_HOURS=24

say() { echo "provision[${0##*/}]: $*"; }
die() { echo "provision[${0##*/}]: error: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (vagrant's shell provisioner does)"
[ -f "$SHOAL_SRC/pyproject.toml" ] || die "SHOAL_SRC=$SHOAL_SRC does not hold the Shoal repo (no pyproject.toml)"

# sd_booted(3): systemd is PID 1 exactly when this directory exists.
have_systemd() { [ -d /run/systemd/system ]; }

# Arguments arrive from the Vagrantfile (or a person); each is checked against a strict
# pattern before use, so nothing in them can become shell syntax or a second flag.
check_ipv4() {
  local name=$1 value=$2 octet
  [[ $value =~ ^([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})$ ]] \
    || die "$name: expected an IPv4 address like 192.168.56.10, got '$value'"
  for octet in "${BASH_REMATCH[@]:1}"; do
    [ "$((10#$octet))" -le 255 ] || die "$name: octet $octet of '$value' is over 255"
  done
}
check_word() {  # name value: lowercase letters, digits and inner dashes, like a zone or hostname
  local name=$1 value=$2
  [[ $value =~ ^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$ ]] \
    || die "$name: expected lowercase letters, digits and dashes (at most 63), got '$value'"
}

# apt_install PKG...: installs the packages that are not installed yet (one apt run).
apt_install() {
  local pkg missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    say "packages already installed: $*"
    return 0
  fi
  say "installing ${missing[*]}"
  local made_policy=0
  # Without systemd, maintainer scripts would start etcd, Prometheus and dockerd through
  # their init scripts inside whatever runs us; policy-rc.d tells invoke-rc.d not to.
  if ! have_systemd && [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    made_policy=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends -o Dpkg::Use-Pty=0 "${missing[@]}"
  if [ "$made_policy" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
}

# put_file DEST MODE < content: writes DEST only when the content or mode differs, and
# sets WROTE to 1 when it wrote, 0 when DEST was already right. (A status return would
# have to be tested in an `if`, where bash ignores `set -e` for the whole function.)
WROTE=0
put_file() {
  local dest=$1 mode=$2 tmp
  mkdir -p "${dest%/*}"
  tmp=$(mktemp "${dest%/*}/.${dest##*/}.XXXXXX")
  cat > "$tmp"
  chmod "$mode" "$tmp"
  if [ -f "$dest" ] && cmp -s "$tmp" "$dest" && [ "$(stat -c %a "$dest")" = "$mode" ]; then
    rm -f "$tmp"
    WROTE=0
    return 0
  fi
  mv -f "$tmp" "$dest"
  say "wrote $dest"
  WROTE=1
}

# install_unit NAME: copies deploy/systemd/NAME from the repo; sets WROTE like put_file.
install_unit() {
  local src="$SHOAL_SRC/deploy/systemd/$1"
  [ -f "$src" ] || die "missing unit file $src"
  put_file "/etc/systemd/system/$1" 644 < "$src"
}

# service_up NAME CHANGED: enables and starts NAME, restarting it when CHANGED is 1.
service_up() {
  local name=$1 changed=$2
  if ! have_systemd; then
    say "no systemd as PID 1 (PID 1 is $(cat /proc/1/comm 2>/dev/null || echo unknown)):" \
        "would run: systemctl enable --now $name$([ "$changed" = 1 ] && echo " && systemctl restart $name")"
    return 0
  fi
  systemctl daemon-reload
  systemctl enable --quiet "$name"
  if [ "$changed" = 1 ]; then
    systemctl restart "$name"
    say "restarted $name (its configuration changed)"
  elif systemctl is-active --quiet "$name"; then
    say "$name already running"
  else
    systemctl start "$name"
    say "started $name"
  fi
}

# The join-token feature (TLS + `shoal token`) may or may not be in this checkout; the
# scripts ask the installed CLI instead of guessing from the version.
have_join_tokens() { "$SHOAL_VENV/bin/shoal" token --help >/dev/null 2>&1; }

# The lab's join token, and the node count it was made for.
SHOAL_TOKEN_FILE=/var/lib/shoal/join-token
SHOAL_TOKEN_FOR=/var/lib/shoal/join-token.for

# join_token_fresh NODES: the token file holds a token made for NODES nodes, younger than
# half its life (older ones are made again, so a node provisioned late still finds one).
join_token_fresh() {
  [ -s "$SHOAL_TOKEN_FILE" ] && [ "$(cat "$SHOAL_TOKEN_FOR" 2>/dev/null)" = "$1" ] \
    && [ -n "$(find "$SHOAL_TOKEN_FILE" -mmin "-$((SHOAL_TOKEN_TTL_HOURS * 30))")" ]
}

# admin_shoal ARGS...: `shoal` as the cluster admin, on the control-plane VM.
admin_shoal() {
  SHOAL_ENDPOINT="127.0.0.1:$SHOAL_GRPC_PORT" SHOAL_CA="$SHOAL_PKI_DIR/ca.crt" \
    SHOAL_CERT="$SHOAL_PKI_DIR/admin.crt" SHOAL_KEY="$SHOAL_PKI_DIR/admin.key" "$SHOAL_VENV/bin/shoal" "$@"
}

# setup_registry CP_ADDRESS: once the control plane (started with --registry, which makes
# the token issuer) serves, writes the registry's config and certificates with `shoal
# registry host-setup` (the code `shoal up` uses), unless they exist, and copies the
# cluster CA to /vagrant/.shoal for the nodes' dockerd.
setup_registry() {
  local addr="$1:$SHOAL_REGISTRY_PORT"
  for _ in $(seq 1 120); do
    curl -fsS -o /dev/null "http://127.0.0.1:$SHOAL_METRICS_PORT/healthz" && break
    sleep 1
  done
  if [ -s "$SHOAL_REGISTRY_DIR/config.yml" ] && [ -s "/etc/docker/certs.d/$addr/ca.crt" ]; then
    say "registry already configured ($SHOAL_REGISTRY_DIR/config.yml)"
  else
    "$SHOAL_VENV/bin/shoal" registry host-setup "$SHOAL_REGISTRY_DIR" --address "$addr" \
      --token-url "https://$1:$SHOAL_REGISTRY_TOKEN_PORT/token" --upstream-port "$SHOAL_REGISTRY_UPSTREAM_PORT" \
      --etcd https://127.0.0.1:2379 --etcd-ca "$SHOAL_ETCD_PKI/ca.crt" --etcd-cert "$SHOAL_ETCD_PKI/client.crt" \
      --etcd-key "$SHOAL_ETCD_PKI/client.key" --pki-dir "$SHOAL_PKI_DIR" \
      || die "'shoal registry host-setup' failed (is shoal-controlplane running with --registry?)"
    say "configured the registry in $SHOAL_REGISTRY_DIR"
  fi
  chown -R docker-registry:docker-registry "$SHOAL_REGISTRY_DIR"
  if [ -d /vagrant ]; then
    install -d -m 700 /vagrant/.shoal
    install -m 644 "/etc/docker/certs.d/$addr/ca.crt" /vagrant/.shoal/cluster-ca.crt
  fi
}

# ensure_lab_share CP_ADDRESS: registers the NFS export as the file system SHOAL_SHARE_NAME
# unless it already is (for this address and export); a record of that name pointing
# elsewhere is an error, never silently replaced (task definitions may name it).
ensure_lab_share() {
  local want="$1:$SHOAL_SHARE_DIR" have
  for _ in $(seq 1 120); do
    curl -fsS -o /dev/null "http://127.0.0.1:$SHOAL_METRICS_PORT/healthz" && break
    sleep 1
  done
  have=$(admin_shoal fs list -o json | "$SHOAL_VENV/bin/python" -c '
import json, sys
for fs in json.load(sys.stdin):
    if fs["fileSystemId"] == sys.argv[1]:
        nfs = fs.get("nfs")
        print(nfs["host"] + ":" + nfs["export"] if nfs else "bind " + fs.get("bind", ""))
' "$SHOAL_SHARE_NAME") || die "'shoal fs list' failed (is shoal-controlplane running? journalctl -u shoal-controlplane)"
  if [ "$have" = "$want" ]; then
    say "file system $SHOAL_SHARE_NAME already registered (nfs $want)"
  elif [ -n "$have" ]; then
    die "file system $SHOAL_SHARE_NAME exists for $have, not $want: shoal fs delete $SHOAL_SHARE_NAME, then provision again"
  else
    admin_shoal fs create "$SHOAL_SHARE_NAME" --nfs "$want" >/dev/null || die "'shoal fs create $SHOAL_SHARE_NAME' failed"
    say "registered file system $SHOAL_SHARE_NAME (nfs $want)"
  fi
}

# create_join_token NODES: once the local control plane serves, a join token that expires
# after SHOAL_TOKEN_TTL_HOURS and serves NODES joins, into SHOAL_TOKEN_FILE (0600). The
# token passes through files and pipes only, never a command line.
create_join_token() {
  local nodes=$1 out token
  say "waiting for the control plane to serve before creating a join token"
  for _ in $(seq 1 120); do
    curl -fsS -o /dev/null "http://127.0.0.1:$SHOAL_METRICS_PORT/healthz" && break
    sleep 1
  done
  curl -fsS -o /dev/null "http://127.0.0.1:$SHOAL_METRICS_PORT/healthz" \
    || die "shoal-controlplane not healthy after 120s: journalctl -u shoal-controlplane"
  out=$(SHOAL_ENDPOINT="127.0.0.1:$SHOAL_GRPC_PORT" SHOAL_CA="$SHOAL_PKI_DIR/ca.crt" \
        SHOAL_CERT="$SHOAL_PKI_DIR/admin.crt" SHOAL_KEY="$SHOAL_PKI_DIR/admin.key" \
        "$SHOAL_VENV/bin/shoal" token create --ttl "${SHOAL_TOKEN_TTL_HOURS}h" --uses "$nodes" \
        --description vagrant-lab) \
    || die "'shoal token create' failed"
  token=$(printf '%s\n' "$out" | awk 'NF { last = $NF } END { print last }')
  check_token "$token"
  install -d -m 700 "${SHOAL_TOKEN_FILE%/*}"
  (umask 077 && printf '%s\n' "$token" > "$SHOAL_TOKEN_FILE" && printf '%s\n' "$nodes" > "$SHOAL_TOKEN_FOR")
  say "created a join token in $SHOAL_TOKEN_FILE (expires in ${SHOAL_TOKEN_TTL_HOURS}h, $nodes joins)"
}

check_token() {
  [[ $1 =~ ^[A-Za-z0-9._~+/=:-]{16,512}$ ]] || die "join token: expected 16-512 characters of [A-Za-z0-9._~+/=:-]"
}

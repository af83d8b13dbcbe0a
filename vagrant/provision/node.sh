#!/usr/bin/env bash
# A node VM: `shoal agent` as a systemd service, joining the control plane on boot.
#   node.sh CP_ADDRESS ZONE NODE_ADDRESS
# CP_ADDRESS: the control plane's IPv4; ZONE: ecs.availability-zone (a, b, c, ...);
# NODE_ADDRESS: this VM's private IPv4, which the agent registers so Prometheus (told by
# the control plane's /sd) scrapes its metrics there. The node name is the hostname.
# The agent is installed by the install script `shoal node install-script` renders (what a
# user runs on a host of their own), joining with the token from SHOAL_JOIN_TOKEN_FILE
# [/vagrant/.shoal/join-token], which the control-plane VM wrote; this script adds what a lab
# node needs beyond it: HAProxy for the node proxy, and dockerd's trust in the cluster registry
# through the cluster CA from SHOAL_REGISTRY_CA_FILE [/vagrant/.shoal/cluster-ca.crt] (no
# insecure-registries). Run common.sh first.
set -euo pipefail
# shellcheck source=lib.sh
source "${SHOAL_SRC:-/opt/shoal}/vagrant/provision/lib.sh"

[ $# -eq 3 ] || die "usage: node.sh CP_ADDRESS ZONE NODE_ADDRESS"
cp_ip=$1 zone=$2 node_ip=$3
check_ipv4 CP_ADDRESS "$cp_ip"
check_word ZONE "$zone"
check_ipv4 NODE_ADDRESS "$node_ip"
name=$(hostname)
check_word hostname "$name"
[ -x "$SHOAL_VENV/bin/shoal" ] || die "$SHOAL_VENV/bin/shoal missing: run common.sh first"

# The node proxy: the agent starts and supervises its own HAProxy, so the packaged service
# must not run beside it.
apt_install haproxy
if have_systemd && systemctl is-enabled --quiet haproxy 2>/dev/null; then
  systemctl disable --now haproxy >/dev/null 2>&1 && say "disabled the packaged haproxy service (the agent runs its own)"
fi

# The cluster registry (CP_ADDRESS:5000, the control plane's front, TLS from the cluster CA):
# dockerd reads certs.d at every pull, so no restart.
ca_file=${SHOAL_REGISTRY_CA_FILE:-/vagrant/.shoal/cluster-ca.crt}
if [ -s "$ca_file" ]; then
  grep -q -- "-----BEGIN CERTIFICATE-----" "$ca_file" || die "$ca_file: expected the cluster CA (PEM certificates)"
  put_file "/etc/docker/certs.d/$cp_ip:$SHOAL_REGISTRY_PORT/ca.crt" 644 < "$ca_file"
  say "dockerd trusts the cluster registry $cp_ip:$SHOAL_REGISTRY_PORT through the cluster CA"
else
  say "no cluster CA at $ca_file (bring up cp first): dockerd cannot pull from the cluster registry yet"
fi

# The agent itself is installed the way a user installs a host: `shoal node install-script`
# renders the per-host install script (Docker, the agent's venv, its unit and environment
# file, the one-cluster marker), and this VM runs it.
"$SHOAL_VENV/bin/shoal" node install-script --help >/dev/null 2>&1 \
  || die "$SHOAL_VENV/bin/shoal has no 'node install-script' (run common.sh with this checkout first)"
token_file=${SHOAL_JOIN_TOKEN_FILE:-/vagrant/.shoal/join-token}
[ -s "$token_file" ] || die "no join token at $token_file: bring up cp first (vagrant up cp), then" \
                            "'vagrant provision $name' (rsync folders: 'vagrant reload $name --provision')"
check_token "$(tr -d '[:space:]' < "$token_file")"
say "joining $cp_ip:$SHOAL_GRPC_PORT with the token from $token_file"
# The package the script installs: the shoal common.sh installed from $SHOAL_SRC into the same
# venv, so pip finds it satisfied (a user passes a wheel or NAME==VERSION from an index).
version=$("$SHOAL_VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("shoal"))') \
  || die "no shoal package in $SHOAL_VENV: run common.sh first"

work=$(mktemp -d /tmp/shoal-install.XXXXXX)
trap 'rm -rf "$work"' EXIT
# The script holds the token: -o writes it mode 600, the token comes from its file (never
# argv), and the script is removed once it has run.
out=$("$SHOAL_VENV/bin/shoal" node install-script --token-file "$token_file" --join "$cp_ip:$SHOAL_GRPC_PORT" \
  --package "shoal==$version" --name "$name" --address "$node_ip" --attribute "ecs.availability-zone=$zone" \
  --metrics-port "$SHOAL_AGENT_METRICS_PORT" --proxy --proxy-metrics-port "$SHOAL_PROXY_METRICS_PORT" \
  -o "$work/install.sh" 2>&1) || die "'shoal node install-script' failed: $out"
if ! have_systemd; then
  # A container (the tests): the script's systemctl calls are said, not run.
  mkdir "$work/bin"
  printf '#!/bin/sh\necho "provision[node.sh]: no systemd as PID 1: would run: systemctl $*"\n' > "$work/bin/systemctl"
  chmod 755 "$work/bin/systemctl"
  export PATH="$work/bin:$PATH"
elif [ "${SHOAL_PROVISION_SKIP_DOCKER:-0}" = 1 ]; then
  say "warning: SHOAL_PROVISION_SKIP_DOCKER=1 on a real node: the agent will wait for a Docker engine"
fi
SHOAL_SKIP_DOCKER=${SHOAL_PROVISION_SKIP_DOCKER:-0} bash "$work/install.sh" 2>&1 \
  || die "the install script failed (see its lines above)"
say "done: node $name in zone $zone, metrics on $node_ip:$SHOAL_AGENT_METRICS_PORT, node proxy metrics on $node_ip:$SHOAL_PROXY_METRICS_PORT"

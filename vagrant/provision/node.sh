#!/usr/bin/env bash
# A node VM: `shoal agent` as a systemd service, joining the control plane on boot.
#   node.sh CP_ADDRESS ZONE NODE_ADDRESS
# CP_ADDRESS: the control plane's IPv4; ZONE: ecs.availability-zone (a, b, c, ...);
# NODE_ADDRESS: this VM's private IPv4, which the agent registers so Prometheus (told by
# the control plane's /sd) scrapes its metrics there. The node name is the hostname.
# When `shoal token` exists, the agent joins with the token from SHOAL_JOIN_TOKEN_FILE
# [/vagrant/.shoal/join-token], which the control-plane VM wrote, and dockerd trusts the
# cluster registry through the cluster CA from SHOAL_REGISTRY_CA_FILE
# [/vagrant/.shoal/cluster-ca.crt] (no insecure-registries). Run common.sh first.
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

if have_join_tokens; then
  token_file=${SHOAL_JOIN_TOKEN_FILE:-/vagrant/.shoal/join-token}
  [ -s "$token_file" ] || die "no join token at $token_file: bring up cp first (vagrant up cp), then" \
                              "'vagrant provision $name' (rsync folders: 'vagrant reload $name --provision')"
  token=$(tr -d '[:space:]' < "$token_file")
  check_token "$token"
  join=(--join "$cp_ip:$SHOAL_GRPC_PORT")
  say "joining $cp_ip:$SHOAL_GRPC_PORT with the token from $token_file"
else
  token=""
  join=(--endpoint "$cp_ip:$SHOAL_GRPC_PORT")
  say "this shoal has no 'shoal token' command: connecting to $cp_ip:$SHOAL_GRPC_PORT without a token"
fi
args=("${join[@]}" --name "$name" --zone "$zone" --address "$node_ip"
      --metrics-address 0.0.0.0 --metrics-port "$SHOAL_AGENT_METRICS_PORT"
      --proxy --proxy-metrics-port "$SHOAL_PROXY_METRICS_PORT")

# The token goes to the agent's environment, never its arguments (which `ps` shows every
# user); 600: this file holds it.
put_file /etc/default/shoal-agent 600 <<EOF
# Written by Shoal's vagrant/provision/node.sh; see deploy/systemd/shoal-agent.default.
SHOAL_AGENT_ARGS="${args[*]}"
${token:+SHOAL_JOIN_TOKEN=$token}
EOF
changed=$WROTE
install_unit shoal-agent.service
changed=$((changed | WROTE))

if [ "${SHOAL_PROVISION_SKIP_DOCKER:-0}" != 1 ]; then
  service_up docker 0
elif have_systemd; then
  say "warning: SHOAL_PROVISION_SKIP_DOCKER=1 on a real node: the agent will wait for a Docker engine"
fi
service_up shoal-agent "$changed"
say "done: node $name in zone $zone, metrics on $node_ip:$SHOAL_AGENT_METRICS_PORT, node proxy metrics on $node_ip:$SHOAL_PROXY_METRICS_PORT"

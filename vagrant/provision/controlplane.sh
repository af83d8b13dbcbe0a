#!/usr/bin/env bash
# The control-plane VM: etcd (loopback + the private address), `shoal controlplane`, and
# Prometheus scraping the control plane and, through its /sd endpoint, every agent.
#   controlplane.sh CP_ADDRESS       the VM's private IPv4 address
# When `shoal token` exists (TLS + join tokens), also creates a join token once, keeps it
# in /var/lib/shoal/join-token and copies it to /vagrant/.shoal/join-token for the nodes.
# Run common.sh first.
set -euo pipefail
# shellcheck source=lib.sh
source "${SHOAL_SRC:-/opt/shoal}/vagrant/provision/lib.sh"

[ $# -eq 1 ] || die "usage: controlplane.sh CP_ADDRESS"
cp_ip=$1
check_ipv4 CP_ADDRESS "$cp_ip"
name=$(hostname)
check_word hostname "$name"
[ -x "$SHOAL_VENV/bin/shoal" ] || die "$SHOAL_VENV/bin/shoal missing: run common.sh first"

apt_install etcd-server prometheus

# --- etcd ------------------------------------------------------------------------------
# Debian's etcd.service reads /etc/default/etcd (a conffile we leave alone); a drop-in adds
# a second environment file, read later, so ours wins.
put_file /etc/default/shoal-etcd 644 <<EOF
# Written by Shoal's vagrant/provision/controlplane.sh; read by etcd.service via a drop-in.
ETCD_LISTEN_CLIENT_URLS=http://127.0.0.1:2379,http://$cp_ip:2379
ETCD_ADVERTISE_CLIENT_URLS=http://$cp_ip:2379
EOF
etcd_changed=$WROTE
put_file /etc/systemd/system/etcd.service.d/shoal.conf 644 <<'EOF'
[Service]
EnvironmentFile=/etc/default/shoal-etcd
EOF
etcd_changed=$((etcd_changed | WROTE))

# --- shoal controlplane ----------------------------------------------------------------
put_file /etc/default/shoal-controlplane 644 <<EOF
# Written by Shoal's vagrant/provision/controlplane.sh; see deploy/systemd/shoal-controlplane.default.
# The cluster CA, its master key and the admin identity live in the unit's StateDirectory.
SHOAL_CONTROLPLANE_ARGS="--etcd http://127.0.0.1:2379 --listen 0.0.0.0:$SHOAL_GRPC_PORT --metrics-listen 0.0.0.0:$SHOAL_METRICS_PORT --name $name --pki-dir $SHOAL_PKI_DIR --san $cp_ip"
EOF
cp_changed=$WROTE
install_unit shoal-controlplane.service
cp_changed=$((cp_changed | WROTE))

# --- Prometheus ------------------------------------------------------------------------
# Our own config file and a drop-in pointing the packaged service at it, again leaving the
# package's conffiles untouched.
put_file /etc/prometheus/shoal.yml 644 <<EOF
# Written by Shoal's vagrant/provision/controlplane.sh.
global:
  scrape_interval: 5s
  evaluation_interval: 5s
scrape_configs:
  - job_name: shoal-controlplane
    static_configs:
      - targets: ["127.0.0.1:$SHOAL_METRICS_PORT"]
        labels: {replica: "$name"}
  # The control plane lists every connected agent's metrics endpoint (its --address and
  # metrics port) in Prometheus' HTTP service-discovery format.
  - job_name: shoal-agents
    http_sd_configs:
      - url: "http://127.0.0.1:$SHOAL_METRICS_PORT/sd"
        refresh_interval: 10s
  - job_name: prometheus
    static_configs:
      - targets: ["127.0.0.1:9090"]
EOF
prom_changed=$WROTE
put_file /etc/default/shoal-prometheus 644 <<'EOF'
# Written by Shoal's vagrant/provision/controlplane.sh; read by prometheus.service via a drop-in.
ARGS="--config.file=/etc/prometheus/shoal.yml --storage.tsdb.retention.time=2d"
EOF
prom_changed=$((prom_changed | WROTE))
put_file /etc/systemd/system/prometheus.service.d/shoal.conf 644 <<'EOF'
[Service]
EnvironmentFile=/etc/default/shoal-prometheus
EOF
prom_changed=$((prom_changed | WROTE))
if command -v promtool >/dev/null 2>&1; then
  promtool check config /etc/prometheus/shoal.yml >/dev/null || die "promtool rejects /etc/prometheus/shoal.yml"
  say "promtool accepts /etc/prometheus/shoal.yml"
fi

service_up etcd "$etcd_changed"
service_up shoal-controlplane "$cp_changed"
service_up prometheus "$prom_changed"

# --- join token ------------------------------------------------------------------------
token_file=/var/lib/shoal/join-token
shared_token=/vagrant/.shoal/join-token
if ! have_join_tokens; then
  say "this shoal has no 'shoal token' command: agents join without a token"
elif [ -s "$token_file" ]; then
  say "join token already created ($token_file)"
elif ! have_systemd; then
  say "no systemd: the control plane is not running, so no join token; would run: shoal token create"
else
  say "waiting for the control plane to serve before creating a join token"
  for _ in $(seq 1 120); do
    curl -fsS -o /dev/null "http://127.0.0.1:$SHOAL_METRICS_PORT/healthz" && break
    sleep 1
  done
  curl -fsS -o /dev/null "http://127.0.0.1:$SHOAL_METRICS_PORT/healthz" \
    || die "shoal-controlplane not healthy after 120s: journalctl -u shoal-controlplane"
  out=$(SHOAL_ENDPOINT="127.0.0.1:$SHOAL_GRPC_PORT" SHOAL_CA="$SHOAL_PKI_DIR/ca.crt" \
        SHOAL_CERT="$SHOAL_PKI_DIR/admin.crt" SHOAL_KEY="$SHOAL_PKI_DIR/admin.key" \
        "$SHOAL_VENV/bin/shoal" token create --ttl 0 --uses 0 --description vagrant-lab) \
    || die "'shoal token create' failed"
  token=$(printf '%s\n' "$out" | awk 'NF { last = $NF } END { print last }')
  check_token "$token"
  install -d -m 700 /var/lib/shoal
  (umask 077 && printf '%s\n' "$token" > "$token_file")
  say "created a join token in $token_file"
fi
if [ -s "$token_file" ] && [ -d /vagrant ]; then
  # With a two-way synced folder this reaches the nodes directly; with rsync the
  # Vagrantfile's trigger fetches $token_file to the host instead.
  install -d -m 700 /vagrant/.shoal
  (umask 077 && cp "$token_file" "$shared_token")
fi
say "done: gRPC on $cp_ip:$SHOAL_GRPC_PORT, metrics and /sd on :$SHOAL_METRICS_PORT, Prometheus on :9090"

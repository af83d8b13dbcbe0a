#!/usr/bin/env bash
# The control-plane VM: etcd (on loopback only, TLS, a client certificate required),
# `shoal controlplane`, Prometheus scraping the control plane and, through its /sd
# endpoint, every agent, and an NFS export registered as the file system 'lab-share'.
#   controlplane.sh CP_ADDRESS [NODES]   the VM's private IPv4 address; how many nodes will
#                                        join (the join token's use count, default 1)
# When `shoal token` exists (TLS + join tokens), also creates a join token that expires
# after SHOAL_TOKEN_TTL_HOURS and serves NODES joins, keeps it in /var/lib/shoal/join-token
# and copies it to /vagrant/.shoal/join-token for the nodes. Run common.sh first.
set -euo pipefail
# shellcheck source=lib.sh
source "${SHOAL_SRC:-/opt/shoal}/vagrant/provision/lib.sh"

[ $# -eq 1 ] || [ $# -eq 2 ] || die "usage: controlplane.sh CP_ADDRESS [NODES]"
cp_ip=$1 nodes=${2:-1}
check_ipv4 CP_ADDRESS "$cp_ip"
[[ $nodes =~ ^[1-9][0-9]{0,2}$ ]] || die "NODES: expected a whole number from 1 to 999, got '$nodes'"
name=$(hostname)
check_word hostname "$name"
[ -x "$SHOAL_VENV/bin/shoal" ] || die "$SHOAL_VENV/bin/shoal missing: run common.sh first"

apt_install etcd-server prometheus nfs-kernel-server docker-registry
# Shoal runs its own registry (shoal-registry.service, below): the packaged one would take
# port 5000 with a config of its own.
if have_systemd && systemctl is-enabled --quiet docker-registry 2>/dev/null; then
  systemctl disable --now docker-registry >/dev/null 2>&1 && say "disabled the packaged docker-registry service"
fi

# --- etcd ------------------------------------------------------------------------------
# Only the control plane on this VM talks to etcd: it listens on loopback, over TLS, and
# requires a client certificate from its own CA (not the cluster CA, which every node
# holds a certificate of). etcd (user etcd) reads its key through the group; the control
# plane (a DynamicUser) gets the client key as a systemd credential.
"$SHOAL_VENV/bin/python" -m shoalctl.local.etcdcerts "$SHOAL_ETCD_PKI"
if getent group etcd >/dev/null; then
  chgrp etcd "$SHOAL_ETCD_PKI" "$SHOAL_ETCD_PKI/server.key"
  chmod 750 "$SHOAL_ETCD_PKI"
  chmod 640 "$SHOAL_ETCD_PKI/server.key"
fi
# Debian's etcd.service reads /etc/default/etcd (a conffile we leave alone); a drop-in adds
# a second environment file, read later, so ours wins.
put_file /etc/default/shoal-etcd 644 <<EOF
# Written by Shoal's vagrant/provision/controlplane.sh; read by etcd.service via a drop-in.
ETCD_LISTEN_CLIENT_URLS=https://127.0.0.1:2379
ETCD_ADVERTISE_CLIENT_URLS=https://127.0.0.1:2379
ETCD_CERT_FILE=$SHOAL_ETCD_PKI/server.crt
ETCD_KEY_FILE=$SHOAL_ETCD_PKI/server.key
ETCD_TRUSTED_CA_FILE=$SHOAL_ETCD_PKI/ca.crt
ETCD_CLIENT_CERT_AUTH=true
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
SHOAL_CONTROLPLANE_ARGS="--etcd https://127.0.0.1:2379 --etcd-ca $SHOAL_ETCD_PKI/ca.crt --etcd-cert $SHOAL_ETCD_PKI/client.crt --etcd-key $SHOAL_ETCD_CLIENT_KEY --listen 0.0.0.0:$SHOAL_GRPC_PORT --metrics-listen 0.0.0.0:$SHOAL_METRICS_PORT --name $name --pki-dir $SHOAL_PKI_DIR --san $cp_ip --registry $cp_ip:$SHOAL_REGISTRY_PORT --registry-token-listen $cp_ip:$SHOAL_REGISTRY_TOKEN_PORT --registry-front-listen $cp_ip:$SHOAL_REGISTRY_PORT --registry-upstream 127.0.0.1:$SHOAL_REGISTRY_UPSTREAM_PORT"
EOF
cp_changed=$WROTE
install_unit shoal-controlplane.service
cp_changed=$((cp_changed | WROTE))
put_file /etc/systemd/system/shoal-controlplane.service.d/etcd-client.conf 644 <<EOF
# Written by Shoal's vagrant/provision/controlplane.sh: etcd's client key, which systemd
# hands the replica's DynamicUser as \$CREDENTIALS_DIRECTORY/etcd-client.key.
[Service]
LoadCredential=etcd-client.key:$SHOAL_ETCD_PKI/client.key
EOF
cp_changed=$((cp_changed | WROTE))

# --- the cluster registry ------------------------------------------------------------------
# Its config comes from the cluster CA, which exists once the control plane has run: see
# setup_registry below. Its unit and environment are written now.
install_unit shoal-registry.service
reg_changed=$WROTE
put_file /etc/default/shoal-registry 644 <<EOF
# Written by Shoal's vagrant/provision/controlplane.sh; see deploy/systemd/shoal-registry.default.
SSL_CERT_FILE=/etc/docker/certs.d/$cp_ip:$SHOAL_REGISTRY_PORT/ca.crt
EOF
reg_changed=$((reg_changed | WROTE))

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

# --- NFS: the lab's shared file system (EFS's job) --------------------------------------
# One export, readable and writable from the lab's private network (the /24 the Vagrantfile
# puts every VM on) and nowhere else. Root in a container is squashed to nobody, so the
# directory is world-writable with the sticky bit, like /tmp. Our own file in exports.d
# leaves the package's /etc/exports alone.
install -d -m 1777 "$SHOAL_SHARE_DIR"
put_file /etc/exports.d/shoal.exports 644 <<EOF
# Written by Shoal's vagrant/provision/controlplane.sh: the lab's shared file system,
# registered with the control plane as '$SHOAL_SHARE_NAME' (shoal fs list).
$SHOAL_SHARE_DIR ${cp_ip%.*}.0/24(rw,sync,no_subtree_check,root_squash)
EOF
nfs_changed=$WROTE

service_up etcd "$etcd_changed"
service_up shoal-controlplane "$cp_changed"
service_up prometheus "$prom_changed"
service_up nfs-server "$nfs_changed"

# --- join token ------------------------------------------------------------------------
# A token that expires and serves only this lab's joins (see create_join_token in lib.sh):
# a copy left in /vagrant or the host's vagrant/.shoal is worthless after that.
token_file=$SHOAL_TOKEN_FILE
shared_token=/vagrant/.shoal/join-token
if ! have_join_tokens; then
  say "this shoal has no 'shoal token' command: agents join without a token"
elif join_token_fresh "$nodes"; then
  say "join token already created ($token_file, for $nodes nodes)"
elif ! have_systemd; then
  say "no systemd: the control plane is not running, so no join token; would run: create_join_token $nodes"
else
  create_join_token "$nodes"
fi
if [ -s "$token_file" ] && [ -d /vagrant ]; then
  # With a two-way synced folder this reaches the nodes directly; with rsync the
  # Vagrantfile's trigger fetches $token_file to the host instead.
  install -d -m 700 /vagrant/.shoal
  (umask 077 && cp "$token_file" "$shared_token")
fi
# --- the file system record, once the control plane serves -------------------------------
if ! have_systemd; then
  say "no systemd: the control plane is not running, so no file system record; would run: ensure_lab_share $cp_ip"
  say "no systemd: no registry config; would run: setup_registry $cp_ip && systemctl enable --now shoal-registry"
else
  ensure_lab_share "$cp_ip"
  setup_registry "$cp_ip"
  service_up shoal-registry "$reg_changed"
fi
say "done: gRPC on $cp_ip:$SHOAL_GRPC_PORT, metrics and /sd on :$SHOAL_METRICS_PORT, Prometheus on :9090, registry $cp_ip:$SHOAL_REGISTRY_PORT, NFS $cp_ip:$SHOAL_SHARE_DIR"

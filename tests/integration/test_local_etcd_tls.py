"""The etcd a local cluster starts (`shoal up`, the lab, the tests' clusters) is a door only
for what holds the client certificate Shoal made for it: a local user reaching its port
with no certificate, over plaintext, or with a certificate from the cluster CA (which every
node holds one of) is refused, while the cluster itself works on it."""

from __future__ import annotations

import json
import os
import socket
import ssl
import stat

import psutil
import pytest

from shoal import keys
from shoal.v1 import operator_pb2 as op
from tests.etcd_door import REFUSED, range_read
from tests.fixtures.cluster import MakeCluster

pytestmark = pytest.mark.integration

TASKDEF = {"family": "door", "containerDefinitions": [{"name": "c", "image": "shoal/busybox:latest", "memory": 16}]}


def test_etcd_refuses_clients_without_its_certificate(make_cluster: MakeCluster) -> None:
    cluster = make_cluster(agents=1)
    cluster.operator.RegisterTaskDefinition(op.RegisterTaskDefinitionRequest(json=json.dumps(TASKDEF)), timeout=10)
    url, tls = cluster.etcd_url or "", cluster.etcd_set.tls
    assert tls is not None and url.startswith("https://")

    # The cluster works on it, and its own client certificate reads the task definition.
    answer = range_read(url, tls.ca, (tls.client_cert, tls.client_key))
    assert answer.get("kvs"), answer
    store = cluster.etcd_store()
    try:
        assert store.list(keys.TASKDEFS).kvs, "the task definition is in etcd"
    finally:
        store.close()

    with pytest.raises(REFUSED):
        range_read(url, scheme="http")
    with pytest.raises(REFUSED):
        range_read(url, tls.ca)
    # A certificate from the cluster CA (here the admin's; every node holds one) is not
    # one etcd trusts.
    pki = cluster.pki_dir
    with pytest.raises(REFUSED):
        range_read(url, tls.ca, (str(pki / "admin.crt"), str(pki / "admin.key")))

    for key in ("ca.key", "server.key", "client.key"):
        mode = stat.S_IMODE(os.stat(pki / "etcd" / key).st_mode)
        assert mode == 0o600, f"{key} is {oct(mode)}"
    # The control plane was told where the client certificate is (its flags, not the key).
    cmdline = psutil.Process(cluster.controlplane.pid).cmdline()
    assert cmdline[cmdline.index("--etcd-cert") + 1] == tls.client_cert
    # No secret on a command line, where `ps` shows it to every user: the agents get the
    # join token in their environment.
    token = (pki / "local-join-token").read_text().strip()
    argvs = [" ".join(psutil.Process(r.pid).cmdline()) for r in cluster.records()]
    assert any(" -m agent " in a for a in argvs) and not [a for a in argvs if token in a]


def test_etcd_members_talk_to_each_other_over_tls(make_cluster: MakeCluster) -> None:
    cluster = make_cluster(agents=1, etcd_members=3)
    tls = cluster.etcd_set.tls
    assert tls is not None and tls.peer
    member = cluster.etcd_member(2)
    assert member.peer_url.startswith("https://")
    # A would-be member with no certificate is refused at the peer port; the members'
    # own certificate is let in.
    assert peer_get(member.peer_port, tls.ca, (tls.cert, tls.key)).startswith(b"HTTP/1.1 200")
    with pytest.raises(REFUSED):
        peer_get(member.peer_port, tls.ca)
    # The members agree while the control plane runs on them, even when the member killed
    # is etcd's leader: the control plane's store rides out the election on the two left.
    store = cluster.etcd_store()
    try:
        leader = store._client.status().leader
    finally:
        store.close()
    assert leader is not None, "the members have a leader"
    [index] = [i for i, m in enumerate(cluster.etcd_members, start=1) if m.client_url in leader.client_urls]
    cluster.kill_etcd_member(index)
    cluster.operator.RegisterTaskDefinition(op.RegisterTaskDefinitionRequest(json=json.dumps(TASKDEF)), timeout=30)


def peer_get(port: int, ca: str, cert: tuple[str, str] | None = None) -> bytes:
    """GET /members on an etcd peer port over TLS; the first bytes of the answer."""
    context = ssl.create_default_context(cafile=ca)
    if cert is not None:
        context.load_cert_chain(*cert)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, \
            context.wrap_socket(raw, server_hostname="127.0.0.1") as conn:
        conn.sendall(b"GET /members HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        head = conn.recv(64)
    if not head:
        raise ConnectionError("closed without an answer")
    return head

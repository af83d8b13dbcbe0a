"""`shoal user revoke NAME` on a real two-replica cluster with mTLS and the cluster registry:
the revoked certificates are refused by both replicas, an open event stream of the user ends,
its console session ends, a certificate issued afterwards works, and a viewer's registry login
stops."""

from __future__ import annotations

import base64
import json
import re
import ssl
import threading
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import grpc
import pytest

from controlplane.registry_setup import DEFAULT_SERVICE
from shoal.security.channels import ClientTLS, client_channel
from shoal.v1 import accesskeys_pb2 as ak
from shoal.v1 import accesskeys_pb2_grpc, events_pb2_grpc, operator_pb2_grpc, registry_pb2_grpc
from shoal.v1 import events_pb2 as ev
from shoal.v1 import operator_pb2 as op
from shoal.v1 import registry_pb2 as rg
from shoalctl.local import statefiles
from tests import aws_clients
from tests.cli import ok, shoal
from tests.headless import connect
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

TASKDEF = {"family": "idle", "containerDefinitions": [
    {"name": "app", "image": "shoal/busybox:latest", "memory": 16, "cpu": 16, "command": ["sleep", "3600"]}]}


def user(cluster, name: str, role: str, out: Path) -> ClientTLS:
    made = shoal(cluster, "user", "create", name, "--role", role, "--out", str(out))
    assert made.returncode == 0, made.stderr
    return ClientTLS.from_dir(out, name)


def refusal(endpoint: str, tls: ClientTLS) -> grpc.RpcError | None:
    """How ``ListClusters`` as ``tls`` at ``endpoint`` is refused, or None when it is answered."""
    with client_channel(endpoint, tls) as channel:
        try:
            operator_pb2_grpc.OperatorStub(channel).ListClusters(op.ListRequest(), timeout=10)
        except grpc.RpcError as exc:
            return exc
    return None


def token_status(cluster, password: str) -> int:
    """The registry token endpoint's answer to a pull token asked for with a login credential."""
    context = ssl.create_default_context(cafile=str(cluster.pki_dir / "ca.crt"))
    basic = base64.b64encode(f"shoal:{password}".encode()).decode()
    req = urllib.request.Request(
        f"https://{cluster.cluster_registry.token_listen}/token?service={DEFAULT_SERVICE}"
        "&scope=repository:team/app:pull", headers={"Authorization": f"Basic {basic}"})
    try:
        with urllib.request.urlopen(req, timeout=10, context=context) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def denied_revoked(cluster, replica: int) -> float:
    """``shoal_auth_denied_total{reason="revoked"}`` on the replica's /metrics."""
    with urllib.request.urlopen(cluster.replica_metrics_url(replica), timeout=5) as resp:
        text = resp.read().decode()
    m = re.search(r'^shoal_auth_denied_total\{reason="revoked"\} ([0-9.e+]+)$', text, re.M)
    return float(m.group(1)) if m else 0.0


def console_session(link: str, ca: Path) -> str:
    """The session cookie a browser gets by following a one-time console link."""
    url = urllib.parse.urlsplit(link)
    conn = connect(url, ca, 10)
    conn.request("GET", f"{url.path}?{url.query}")
    resp = conn.getresponse()
    resp.read()
    conn.close()
    cookie = resp.getheader("Set-Cookie") or ""
    assert cookie, f"no session from {url.path}: {resp.status}"
    return cookie.split(";")[0]


def console_status(link: str, cookie: str, ca: Path) -> int:
    url = urllib.parse.urlsplit(link)
    conn = connect(url, ca, 10)
    conn.request("GET", "/api/overview", headers={"Cookie": cookie})
    resp = conn.getresponse()
    resp.read()
    conn.close()
    return resp.status


def test_a_revoked_operator_is_refused_by_every_replica_and_its_streams_and_logins_end(
        make_cluster, tmp_path: Path) -> None:
    cluster = make_cluster(agents=0, replicas=2, registry=True, console_port=0, ecs_port=0)
    first, second = cluster.endpoints
    ann = user(cluster, "ann", "admin", tmp_path / "ann")
    vera = user(cluster, "vera", "viewer", tmp_path / "vera")
    assert refusal(first, ann) is None and refusal(second, ann) is None

    with client_channel(first, vera) as channel:
        login = registry_pb2_grpc.RegistryStub(channel).GetLoginCredential(rg.GetLoginCredentialRequest(),
                                                                          timeout=10)
    assert token_status(cluster, login.password) == 200
    with client_channel(first, ann) as channel:  # the console is served by the first replica
        link = events_pb2_grpc.ConsoleStub(channel).CreateConsoleLink(ev.CreateConsoleLinkRequest(), timeout=10)
    ca = cluster.pki_dir / "ca.crt"
    cookie = console_session(link.url, ca)
    assert console_status(link.url, cookie, ca) == 200
    # ann's own access key for the ECS gateway: revoking ann must stop it too.
    config = json.loads(statefiles.config_path(cluster.state_dir).read_text())
    with client_channel(first, ann) as channel:
        ann_ecs = aws_clients.client("ecs", config, aws_clients.access_key(channel, "ann's"))
    assert ann_ecs.list_clusters()["clusterArns"]

    # ann follows the events on the second replica; the admin makes one, so the stream is open.
    ended: list[grpc.StatusCode] = []
    seen = threading.Event()
    channel = client_channel(second, ann)
    stream = events_pb2_grpc.EventsStub(channel).WatchEvents(ev.ListEventsRequest())

    def follow() -> None:
        try:
            for _ in stream:
                seen.set()
        except grpc.RpcError as exc:
            ended.append(exc.code())

    reader = threading.Thread(target=follow, daemon=True)
    reader.start()
    try:
        cluster.operator.RegisterTaskDefinition(op.RegisterTaskDefinitionRequest(json=json.dumps(TASKDEF)))
        cluster.operator.CreateService(op.CreateServiceRequest(cluster="default", service_name="idle",
                                                               task_definition="idle", desired_count=0))
        wait_for(seen.is_set, 60, "ann's event stream to deliver the service's event")

        revoked = ok(cluster, "user", "revoke", "ann")
        assert "revoked every certificate and access key issued to ann before" in revoked
        ok(cluster, "user", "revoke", "vera")
        reader.join(timeout=10)
        assert not reader.is_alive(), "ann's open event stream did not end"
        assert ended == [grpc.StatusCode.CANCELLED]
    finally:
        stream.cancel()
        channel.close()

    for i, endpoint in enumerate((first, second), start=1):
        exc = wait_for(lambda e=endpoint: refusal(e, ann), 10, f"{endpoint} to refuse ann's revoked certificate")
        assert exc.code() == grpc.StatusCode.UNAUTHENTICATED and "was revoked" in exc.details(), exc.details()
        assert refusal(endpoint, vera) is not None
        assert denied_revoked(cluster, i) >= 2, f"replica {i} counts its refusals"
    assert token_status(cluster, login.password) == 401
    assert console_status(link.url, cookie, ca) == 401
    assert "invalid" in aws_clients.refused(ann_ecs.list_clusters, "UnrecognizedClientException")

    listed = ok(cluster, "user", "list")
    assert "ann" in listed and "vera" in listed, listed
    # A certificate issued now for the same name works at once, on both replicas.
    ann_again = user(cluster, "ann", "viewer", tmp_path / "ann-again")
    assert refusal(first, ann_again) is None and refusal(second, ann_again) is None
    # So does a key the admin makes for her now, with her new role.
    new_key = accesskeys_pb2_grpc.AccessKeysStub(cluster.channel).CreateAccessKey(
        ak.CreateAccessKeyRequest(user="ann", role="viewer"), timeout=10)
    assert aws_clients.client("ecs", config, new_key).list_clusters()["clusterArns"]

"""The security building blocks on in-memory stores: CA and identities, sealing, join tokens,
the CA's persistence and rotation, authorization decisions, secrets, and the joining node's
check of the chain a server presents."""

from __future__ import annotations

import argparse
import os
import threading
from pathlib import Path

import grpc
import pytest

from controlplane import security_setup
from controlplane.api import accesskeys, secrets
from controlplane.api.accesskeys import active
from controlplane.api.context import ApiContext
from controlplane.authz import PERMISSIONS, Denied, check_node_cluster, decide, permission
from controlplane.errors import ApiError
from shoal.security import ca, pki, sealing, tokens
from shoal.security.ca import CertificateAuthority, Identity
from shoal.security.joining import JoinError, verified_ca
from shoal.store.memory import MemoryStore
from shoal.v1 import (
    accesskeys_pb2,
    agent_pb2,
    events_pb2,
    logs_pb2,
    operator_pb2,
    registry_pb2,
    roles_pb2,
    scaling_pb2,
    security_pb2,
    traffic_pb2,
)
from shoal.v1 import accesskeys_pb2 as ak
from shoal.v1 import resources_pb2 as r
from shoal.v1 import security_pb2 as sec


@pytest.fixture
def store():
    s = MemoryStore()
    yield s
    s.close()


# ---- CA ---------------------------------------------------------------------------------

def test_client_certificates_name_the_identity_the_ca_chose() -> None:
    authority = CertificateAuthority.create()
    key = ca.new_key()
    # Whatever the CSR asks for, the CA writes the subject.
    csr_key = ca.csr_public_key(ca.make_csr(key, cn="shoal:admin:mallory"))
    cert = authority.issue_client(csr_key, Identity("node", "n1", cluster="prod"))
    state = pki.TrustState([authority])
    assert state.identity_of(cert) == Identity("node", "n1", cluster="prod")
    assert ca.parse_identity("shoal:viewer:bob") == Identity("viewer", "bob")
    for bad in ("shoal:root:x", "shoal:admin:", "admin:x", "shoal:admin:a b", "shoal:admin:x:y"):
        assert ca.parse_identity(bad) is None


def test_only_a_cluster_ca_key_makes_an_identity() -> None:
    ours, theirs = CertificateAuthority.create(), CertificateAuthority.create()
    key = ca.new_key()
    forged = theirs.issue_client(key.public_key(), Identity("admin", "eve"))
    anon = ca.anonymous_ca().issue_client(key.public_key(), Identity("admin", "eve"))
    state = pki.TrustState([ours])
    assert state.identity_of(forged) is None
    assert state.identity_of(anon) is None


def test_csr_checks() -> None:
    with pytest.raises(ca.CertError, match="csrPem"):
        ca.csr_public_key("not a csr")
    with pytest.raises(ca.CertError, match="csrPem"):
        ca.csr_public_key(b"x" * 20000)


def test_server_certificate_lists_names() -> None:
    authority = CertificateAuthority.create()
    cert = authority.issue_server(ca.new_key().public_key(), ["127.0.0.1", "localhost", "::1", "cp.example"])
    from cryptography import x509

    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {str(n.value) for n in san} == {"127.0.0.1", "localhost", "::1", "cp.example"}


# ---- sealing ----------------------------------------------------------------------------

def test_sealing_binds_to_key_and_context(tmp_path: Path) -> None:
    key = sealing.create_master_key(tmp_path)
    assert os.stat(tmp_path / "master.key").st_mode & 0o777 == 0o600
    assert sealing.load_master_key(tmp_path) == key
    # A second creator gets the first one's key.
    assert sealing.create_master_key(tmp_path) == key
    s = sealing.Sealer(key)
    sealed = s.seal(b"canary-123", "/a")
    assert b"canary-123" not in sealed
    assert s.unseal(sealed, "/a") == b"canary-123"
    with pytest.raises(sealing.SealError):
        s.unseal(sealed, "/b")
    with pytest.raises(sealing.SealError):
        sealing.Sealer(os.urandom(32)).unseal(sealed, "/a")
    os.chmod(tmp_path / "master.key", 0o644)
    with pytest.raises(sealing.SealError, match="chmod 600"):
        sealing.load_master_key(tmp_path)


# ---- tokens -----------------------------------------------------------------------------

FP = "ab" * 32


def test_token_format_and_hashing(store) -> None:
    text, record = tokens.create(store, FP, ttl=60, max_uses=2, description="d", now=1000)
    parsed = tokens.parse(text)
    assert parsed.ca_fingerprint == FP and parsed.token_id == record.id
    assert parsed.secret not in store.get(tokens.key(record.id)).value.decode(errors="replace")
    for bad in ("", "SHL10xyz", text + "x", text.replace("SHL10", "SHL20")):
        with pytest.raises(tokens.TokenError, match="token:"):
            tokens.parse(bad)


def test_token_use_expiry_revocation(store) -> None:
    text, record = tokens.create(store, FP, ttl=60, max_uses=2, now=1000)
    parsed = tokens.parse(text)
    assert tokens.consume(store, parsed, now=1001).used == 1
    assert tokens.consume(store, parsed, now=1002).used == 2
    with pytest.raises(tokens.TokenError) as err:
        tokens.consume(store, parsed, now=1003)
    assert err.value.reason == "used_up"

    text, record = tokens.create(store, FP, ttl=60, now=1000)
    with pytest.raises(tokens.TokenError) as err:
        tokens.consume(store, tokens.parse(text), now=1061)
    assert err.value.reason == "expired"

    text, record = tokens.create(store, FP, now=1000)
    tokens.revoke(store, record.id)
    with pytest.raises(tokens.TokenError) as err:
        tokens.consume(store, tokens.parse(text), now=1001)
    assert err.value.reason == "revoked"

    wrong = tokens.ParsedToken(FP, record.id, "0" * 16)
    with pytest.raises(tokens.TokenError) as err:
        tokens.consume(store, wrong)
    assert err.value.reason == "bad_token"


def test_last_use_of_a_token_goes_to_exactly_one_racer(store) -> None:
    text, _ = tokens.create(store, FP, max_uses=1)
    parsed = tokens.parse(text)
    wins: list[bool] = []

    def racer() -> None:
        try:
            tokens.consume(store, parsed)
            wins.append(True)
        except tokens.TokenError:
            wins.append(False)

    threads = [threading.Thread(target=racer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wins.count(True) == 1


def test_token_input_checks(store) -> None:
    with pytest.raises(tokens.TokenError, match="ttlSeconds"):
        tokens.create(store, FP, ttl=-1)
    with pytest.raises(tokens.TokenError, match="maxUses"):
        tokens.create(store, FP, max_uses=-1)
    with pytest.raises(tokens.TokenError, match="description"):
        tokens.create(store, FP, description="\x00")
    with pytest.raises(tokens.TokenError, match="id:"):
        tokens.revoke(store, "../x")


# ---- the CA in the store ------------------------------------------------------------------

def test_ca_created_once_shared_and_rotated(store, tmp_path: Path) -> None:
    state, sealer, created = pki.load_or_create(store, tmp_path / "a")
    assert created
    raw = store.get(pki.CA_KEY).value
    assert b"PRIVATE KEY" not in raw
    # A second replica with a copy of the master key reads the same CA.
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "master.key").write_bytes((tmp_path / "a" / "master.key").read_bytes())
    os.chmod(tmp_path / "b" / "master.key", 0o600)
    again, _, created = pki.load_or_create(store, tmp_path / "b")
    assert not created and again.fingerprints() == state.fingerprints()
    # Without the master key it refuses, saying what to copy.
    with pytest.raises(pki.PkiError, match="master.key"):
        pki.load_or_create(store, tmp_path / "c")

    old_node = state.current.issue_client(ca.new_key().public_key(), Identity("node", "old"))
    rotated = pki.rotate(store, sealer)
    assert rotated.fingerprints()[1] == state.current.fingerprint
    # Old certificates stay valid; the new CA signs; old clients follow the cross certificate.
    # A node certificate from before cluster binding is bound to the default cluster.
    assert rotated.identity_of(old_node) == Identity("node", "old", cluster="default")
    key, chain = rotated.server_identity(["127.0.0.1"])
    certs = ca.load_bundle(chain)
    assert verified_ca(certs, state.current.fingerprint, "cp") == state.current.cert
    assert verified_ca(certs, rotated.current.fingerprint, "cp") == rotated.current.cert
    pki.rotate(store, sealer)
    assert len(pki.load(store, sealer).authorities) == pki.MAX_AUTHORITIES


def test_joining_node_refuses_a_server_its_token_does_not_name() -> None:
    ours, mitm = CertificateAuthority.create(), CertificateAuthority.create()
    leaf = mitm.issue_server(ca.new_key().public_key(), ["127.0.0.1"])
    # A man in the middle may replay our (public) CA certificate, but cannot sign with it.
    with pytest.raises(JoinError, match="not signed"):
        verified_ca([leaf, mitm.cert, ours.cert], ours.fingerprint, "cp")
    with pytest.raises(JoinError, match="does not present"):
        verified_ca([leaf, mitm.cert], ours.fingerprint, "cp")


# ---- authorization ----------------------------------------------------------------------

ADMIN, VIEWER, NODE = Identity("admin", "a"), Identity("viewer", "v"), Identity("node", "n", cluster="default")
LOG_VIEWER = Identity("viewer", "l", grants=frozenset({"logs"}))


@pytest.mark.parametrize("method,identity,allowed", [
    ("/shoal.v1.Operator/CreateService", ADMIN, True),
    ("/shoal.v1.Operator/CreateService", VIEWER, False),
    ("/shoal.v1.Operator/ListServices", VIEWER, True),
    ("/shoal.v1.Operator/DescribeTasks", VIEWER, True),
    ("/shoal.v1.Operator/ListServices", NODE, False),
    ("/shoal.v1.Operator/ListServices", None, False),
    ("/shoal.v1.AgentGateway/Connect", NODE, True),
    ("/shoal.v1.AgentGateway/Connect", ADMIN, False),
    ("/shoal.v1.Security/JoinNode", None, True),
    ("/shoal.v1.Security/GetTaskSecrets", NODE, True),
    ("/shoal.v1.Security/GetTaskSecrets", VIEWER, False),
    ("/shoal.v1.Security/GetTaskSecrets", ADMIN, False),
    ("/shoal.v1.Security/PutSecret", VIEWER, False),
    ("/shoal.v1.Security/ListSecrets", VIEWER, False),
    ("/shoal.v1.Security/ListSecrets", ADMIN, True),
    ("/shoal.v1.Security/ListSecrets", LOG_VIEWER, False),
    ("/shoal.v1.Logs/GetTaskLogs", VIEWER, False),
    ("/shoal.v1.Logs/GetTaskLogs", LOG_VIEWER, True),
    ("/shoal.v1.Logs/GetTaskLogs", ADMIN, True),
    ("/shoal.v1.Logs/GetTaskLogs", NODE, False),
    ("/shoal.v1.Operator/DeleteCluster", LOG_VIEWER, False),
    ("/shoal.v1.Scaling/DescribeScalingActivities", VIEWER, True),
    ("/shoal.v1.Traffic/DescribeTargetHealth", VIEWER, True),
    ("/shoal.v1.Traffic/ListNamespaces", VIEWER, True),
    ("/shoal.v1.Traffic/CreateLoadBalancer", VIEWER, False),
    ("/shoal.v1.Traffic/DeleteTargetGroup", VIEWER, False),
    ("/shoal.v1.Traffic/CreateListener", ADMIN, True),
    ("/shoal.v1.Traffic/DescribeLoadBalancers", NODE, False),
    ("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", VIEWER, False),
    ("/shoal.v1.Operator/GetAnything", VIEWER, False),
    ("/shoal.v1.Security/CreateJoinToken", VIEWER, False),
    ("/shoal.v1.Scaling/PutScalingPolicy", VIEWER, False),
    ("/shoal.v1.AccessKeys/CreateAccessKey", VIEWER, False),
    ("/shoal.v1.Security/WhoAmI", NODE, True),
    ("/grpc.health.v1.Health/Check", None, True),
])
def test_decide(method: str, identity: Identity | None, allowed: bool) -> None:
    if allowed:
        decide(method, identity)
        return
    with pytest.raises(Denied) as err:
        decide(method, identity)
    want = grpc.StatusCode.UNAUTHENTICATED if identity is None else grpc.StatusCode.PERMISSION_DENIED
    assert err.value.code == want and err.value.message


def test_every_method_has_a_permission_and_reads_are_only_describe_and_list() -> None:

    methods = [f"/shoal.v1.{svc.name}/{m.name}"
               for mod in (accesskeys_pb2, agent_pb2, events_pb2, logs_pb2, operator_pb2, registry_pb2, roles_pb2,
                           scaling_pb2, security_pb2, traffic_pb2)
               for svc in mod.DESCRIPTOR.services_by_name.values() for m in svc.methods]
    assert set(PERMISSIONS) - {"/grpc.health.v1.Health/Check", "/grpc.health.v1.Health/Watch"} <= set(methods)
    # A console link logs in as its maker with the maker's own role: a viewer's link makes a
    # viewer's session (tests/integration/test_console.py), so asking for one is a read.
    console_link = "/shoal.v1.Console/CreateConsoleLink"
    assert permission(console_link) == "read"
    for method in methods:
        name = method.rsplit("/", 1)[-1]
        if method == console_link:
            continue
        if permission(method) == "read":
            # A registry login credential stands for the caller's own identity, no wider; a
            # task's protection is part of what DescribeTasks shows.
            assert name.startswith(("Describe", "List", "Watch")) or name in ("GetLoginCredential",
                                                                              "GetTaskProtection"), method
        # Every write, and everything not listed, needs an admin.
        if method in ("/shoal.v1.Logs/ExecuteCommand", "/shoal.v1.Logs/ExecuteInteractive"):
            continue
        if not name.startswith(("Describe", "List", "Watch", "Get", "Join", "Renew", "WhoAmI", "Register", "Connect")):
            assert permission(method) == "admin", method
    assert permission("/shoal.v1.Logs/GetTaskLogs") == "logs"
    # Running a command is its own permission: neither reading nor logs includes it.
    assert permission("/shoal.v1.Logs/ExecuteCommand") == "exec"
    assert permission("/shoal.v1.Logs/ExecuteInteractive") == "exec"
    assert permission("/shoal.v1.Security/ListSecrets") == "secrets"


def test_grants_and_cluster_are_written_by_the_ca_and_read_back() -> None:
    authority = CertificateAuthority.create()
    state = pki.TrustState([authority])
    key = ca.new_key().public_key()
    viewer = authority.issue_client(key, Identity("viewer", "v", grants=frozenset({"logs", "secrets"})))
    assert state.identity_of(viewer) == Identity("viewer", "v", grants=frozenset({"logs", "secrets"}))
    with pytest.raises(ca.CertError, match="grants: unknown permission 'root'"):
        authority.issue_client(key, Identity("viewer", "v", grants=frozenset({"root"})))
    # Grants mean nothing on a node, a cluster nothing on a viewer.
    node = authority.issue_client(key, Identity("node", "n", cluster="blue", grants=frozenset({"logs"})))
    assert state.identity_of(node) == Identity("node", "n", cluster="blue")
    check_node_cluster(state.identity_of(node), "blue", "cluster")
    check_node_cluster(state.identity_of(node), "arn:aws:ecs:local:000000000000:cluster/blue", "cluster")
    for other in ("", "default", "green"):
        with pytest.raises(Denied, match="joined cluster 'blue'") as err:
            check_node_cluster(state.identity_of(node), other, "cluster")
        assert err.value.reason == "other_cluster"


def test_a_token_names_a_valid_cluster(store) -> None:
    _, record = tokens.create(store, FP, cluster="blue")
    assert record.cluster == "blue"
    assert tokens.create(store, FP)[1].cluster == "default"
    with pytest.raises(tokens.TokenError, match="cluster"):
        tokens.create(store, FP, cluster="no/such name")


# ---- secrets ----------------------------------------------------------------------------

def test_secrets_sealed_listed_without_values_and_resolved(store) -> None:
    sealer = sealing.Sealer(os.urandom(32))
    secrets.put(store, sealer, sec.PutSecretRequest(name="db/password", value="canary-xyz"))
    info = secrets.put(store, sealer, sec.PutSecretRequest(name="db/password", value="canary-xyz2"))
    assert info.version == 2
    assert all(b"canary" not in kv.value for kv in store.list("").kvs)
    listed = secrets.list_(store, sealer)
    assert [s.name for s in listed.secrets] == ["db/password"]
    assert "canary" not in str(listed)
    td = r.TaskDefinition(container_definitions=[
        r.ContainerDefinition(name="app", secrets=[r.Secret(name="DB_PASSWORD", value_from="db/password")]),
        r.ContainerDefinition(name="side")])
    resp = secrets.values_for(store, sealer, td)
    assert [(c.container_name, dict(c.values)) for c in resp.containers] == [("app", {"DB_PASSWORD": "canary-xyz2"})]
    td.container_definitions[1].secrets.add(name="X", value_from="missing")
    with pytest.raises(ApiError, match=r"containerDefinitions\[1\].secrets\[0\].valueFrom"):
        secrets.values_for(store, sealer, td)
    for bad in ("", "/x", "a//b", "a b", "x" * 200):
        with pytest.raises(ApiError, match="name"):
            secrets.put(store, sealer, sec.PutSecretRequest(name=bad, value="v"))
    with pytest.raises(ApiError, match="--pki-dir"):
        secrets.put(store, None, sec.PutSecretRequest(name="a", value="v"))


def test_an_insecure_control_plane_still_seals_access_keys_and_secrets(tmp_path: Path, monkeypatch) -> None:
    store = MemoryStore()
    monkeypatch.setattr(security_setup, "DEFAULT_PKI_DIR", str(tmp_path / "pki"))
    parser = argparse.ArgumentParser()
    security_setup.add_flags(parser)
    args = parser.parse_args(["--insecure"])  # and no --pki-dir
    args.listen, args.name = "127.0.0.1:0", "cp"
    sec_setup = security_setup.Security.setup(args, store, "127.0.0.1")
    assert sec_setup.sealer is not None and (tmp_path / "pki" / "master.key").exists()
    ctx = ApiContext(store)
    key = accesskeys.create(ctx, ak.CreateAccessKeyRequest(description="d", user="ops", role="admin"))
    secrets.put(store, sec_setup.sealer, sec.PutSecretRequest(name="db", value="canary-insecure-secret"))
    raw = b"".join(kv.value for kv in store.list("").kvs)
    assert key.secret_access_key.encode() not in raw and b"canary-insecure-secret" not in raw
    assert active(ctx, key.access_key_id).secret_access_key == key.secret_access_key
    # A pki dir it cannot make is refused at start, naming the flag.
    blocker = tmp_path / "file"
    blocker.write_text("")
    args.pki_dir = str(blocker / "pki")
    with pytest.raises(SystemExit, match="--pki-dir"):
        security_setup.Security.setup(args, store, "127.0.0.1")

"""The cluster registry's token issuer, pure parts: JWT signing and checking, who gets which
actions, the /token answer for good and bad requests, and which images are the registry's."""

from __future__ import annotations

import base64
import json
import re

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from controlplane.api import accesskeys, repositories
from controlplane.api.context import ApiContext
from controlplane.api.repositories import image_repository
from controlplane.errors import ApiError
from controlplane.registry.access import ScopeError, grant, parse_scope
from controlplane.registry.events import EventError, record_pushes
from controlplane.registry.logins import CACHE_SECONDS, Logins
from controlplane.registry.settings import RegistrySettings
from controlplane.registry.token_server import TokenRefused, issue
from shoal import keys
from shoal.security import registry_issuer
from shoal.security.ca import CertificateAuthority, Identity
from shoal.security.registry_issuer import Issuer, TokenError
from shoal.security.sealing import Sealer
from shoal.store.memory import MemoryStore
from shoal.v1 import accesskeys_pb2 as ak
from shoal.v1 import registry_pb2 as rg

SERVICE = "shoal-registry"
NOW = 1_800_000_000.0


@pytest.fixture(scope="module")
def issuer() -> Issuer:
    return registry_issuer.create(CertificateAuthority.create())


def basic(password: str, user: str = "shoal") -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def login(issuer: Issuer, role: str, ttl: float = 3600, now: float = NOW, **extra: str) -> str:
    return issuer.sign(registry_issuer.claims(f"shoal:{role}:x", registry_issuer.LOGIN_AUDIENCE, ttl, now, role=role,
                                              **extra))


def standing(claims: dict) -> str | None:
    return None


def test_a_token_verifies_only_for_its_audience_while_valid_and_from_its_issuer(issuer: Issuer) -> None:
    token = login(issuer, "admin")
    assert issuer.verify(token, registry_issuer.LOGIN_AUDIENCE, NOW + 10)["role"] == "admin"
    with pytest.raises(TokenError, match="issued for"):
        issuer.verify(token, SERVICE, NOW + 10)
    with pytest.raises(TokenError, match="expired"):
        issuer.verify(token, registry_issuer.LOGIN_AUDIENCE, NOW + 3600)
    other = registry_issuer.create(CertificateAuthority.create())
    with pytest.raises(TokenError, match="signature"):
        other.verify(token, registry_issuer.LOGIN_AUDIENCE, NOW + 10)
    header, claims, sig = token.split(".")
    raised = base64.urlsafe_b64encode(json.dumps({**json.loads(base64.urlsafe_b64decode(claims + "==")),
                                                  "role": "admin", "sub": "shoal:admin:root"}).encode())
    with pytest.raises(TokenError, match="signature"):
        issuer.verify(f"{header}.{raised.decode().rstrip('=')}.{sig}", registry_issuer.LOGIN_AUDIENCE, NOW + 10)
    for junk in ("", "a.b", "x.y.z", f"{header}.{claims}.AAAA"):
        with pytest.raises(TokenError):
            issuer.verify(junk, registry_issuer.LOGIN_AUDIENCE, NOW)


def test_the_registry_sees_the_issuer_certificate_and_a_signing_usage(issuer: Issuer) -> None:
    header = json.loads(base64.urlsafe_b64decode(issuer.sign({}).split(".")[0] + "=="))
    assert header["alg"] == "ES256"
    assert base64.b64decode(header["x5c"][0]) == issuer.cert.public_bytes(Encoding.DER)
    usage = issuer.cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and not usage.key_cert_sign


@pytest.mark.parametrize(("role", "asked", "granted"), [
    ("admin", "pull,push", ["pull", "push"]),
    ("viewer", "pull,push", ["pull"]),
    ("node", "pull,push,delete", ["pull"]),
    ("admin", "delete", []),
    ("nobody", "pull", []),
])
def test_roles_map_to_registry_actions(role: str, asked: str, granted: list[str]) -> None:
    access = grant(role, [parse_scope(f"repository:team/app:{asked}")], lambda name: True)
    assert access == ([{"type": "repository", "name": "team/app", "actions": granted}] if granted else [])


def test_push_needs_the_repository_record_and_names_are_checked() -> None:
    with pytest.raises(ScopeError, match="does not exist.*shoal repo create team/app"):
        grant("admin", [parse_scope("repository:team/app:pull,push")], lambda name: False)
    # A viewer asking to push a missing repository is just not granted the push.
    assert grant("viewer", [parse_scope("repository:team/app:pull,push")], lambda name: False)[0]["actions"] == ["pull"]
    for bad in ("repository:Team/App:pull", "repository:../x:pull", "repository:a//b:pull"):
        with pytest.raises(ScopeError):
            grant("admin", [parse_scope(bad)], lambda name: True)
    with pytest.raises(ScopeError, match="TYPE:NAME:ACTIONS"):
        parse_scope("repository")
    assert grant("admin", [parse_scope("registry:catalog:*")], lambda name: True) == []


def test_token_endpoint_answers_and_refusals(issuer: Issuer) -> None:
    query = f"service={SERVICE}&scope=repository:team/app:pull,push"
    body = issue(issuer, SERVICE, basic(login(issuer, "viewer")), query, lambda name: True, standing, NOW)
    claims = issuer.verify(body["token"], SERVICE, NOW)
    assert claims["sub"] == "shoal:viewer:x" and claims["access"][0]["actions"] == ["pull"]
    assert body["expires_in"] == 300 and claims["exp"] - claims["iat"] == 300
    # docker login asks with no scope at all: a token granting nothing.
    assert issuer.verify(issue(issuer, SERVICE, basic(login(issuer, "admin")), f"service={SERVICE}",
                               lambda name: True, standing, NOW)["token"], SERVICE, NOW)["access"] == []
    cases = [
        ("", query, 401, "shoal registry login"),
        ("Bearer abc", query, 401, "shoal registry login"),
        ("Basic !!!", query, 401, "login credential refused"),
        (basic("not-a-jwt"), query, 401, "login credential refused"),
        (basic(login(issuer, "admin", ttl=10, now=NOW - 100)), query, 401, "expired"),
        (basic(issuer.sign(registry_issuer.claims("t", SERVICE, 60, NOW, access=[]))), query, 401, "issued for"),
        (basic(login(issuer, "admin")), "service=other", 400, "service:"),
    ]
    for authorization, q, status, words in cases:
        with pytest.raises(TokenRefused) as refused:
            issue(issuer, SERVICE, authorization, q, lambda name: True, standing, NOW)
        assert (refused.value.status, words in refused.value.message) == (status, True), refused.value.message


KEY = "AKSH" + "A" * 16


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_login_made_with_an_access_key_stops_with_the_key(issuer: Issuer) -> None:
    """A login lives up to 12 hours: a key deleted, or one that stands for another user or
    role now, must stop it at the token endpoint, read again within a few seconds."""
    keys_now = {KEY: ak.AccessKey(access_key_id=KEY, user="x", role="admin", status="Active")}
    asked: list[str] = []

    def lookup(key_id: str) -> ak.AccessKey | None:
        asked.append(key_id)
        return keys_now.get(key_id)

    # What the ECS gateway makes of a signed request: the identity names its key.
    assert accesskeys.identity(keys_now[KEY]) == Identity("admin", "x", access_key=KEY)
    clock = Clock()
    logins = Logins(lookup, clock)
    query = f"service={SERVICE}&scope=repository:team/app:pull,push"
    password = basic(login(issuer, "admin", key=KEY))
    body = issue(issuer, SERVICE, password, query, lambda name: True, logins.refusal, NOW)
    claims = issuer.verify(body["token"], SERVICE, NOW)
    assert claims["key"] == KEY and claims["access"][0]["actions"] == ["pull", "push"]

    del keys_now[KEY]
    clock.now += CACHE_SECONDS - 0.1  # still the key read a moment ago
    issue(issuer, SERVICE, password, query, lambda name: True, logins.refusal, NOW)
    clock.now += 0.2
    with pytest.raises(TokenRefused) as refused:
        issue(issuer, SERVICE, password, query, lambda name: True, logins.refusal, NOW)
    assert refused.value.status == 401 and f"access key {KEY} was deleted or made inactive" in refused.value.message
    assert asked == [KEY, KEY]

    # The same key id standing for a viewer (or another user) now: the admin login is refused.
    keys_now[KEY] = ak.AccessKey(access_key_id=KEY, user="x", role="viewer", status="Active")
    clock.now += CACHE_SECONDS
    with pytest.raises(TokenRefused, match="stands for shoal:viewer:x now, not shoal:admin:x"):
        issue(issuer, SERVICE, password, query, lambda name: True, logins.refusal, NOW)
    # A login made with a certificate names no key: nothing to look up.
    issue(issuer, SERVICE, basic(login(issuer, "admin")), query, lambda name: True, logins.refusal, NOW)
    assert len(asked) == 3


def test_a_registry_token_is_judged_by_its_key_and_other_tokens_left_to_the_registry(issuer: Issuer) -> None:
    keys_now = {KEY: ak.AccessKey(access_key_id=KEY, user="x", role="admin", status="Active")}
    logins = Logins(keys_now.get, Clock(), cache_seconds=0)
    token = issuer.sign(registry_issuer.claims("shoal:admin:x", SERVICE, 300, key=KEY, access=[]))
    assert logins.bearer_refusal(issuer, SERVICE, f"Bearer {token}") is None
    del keys_now[KEY]
    assert "was deleted" in (logins.bearer_refusal(issuer, SERVICE, f"Bearer {token}") or "")
    unkeyed = issuer.sign(registry_issuer.claims("shoal:node:n1", SERVICE, 300, access=[]))
    for authorization in ("", "Basic abc", f"Bearer {unkeyed}", "Bearer not-a-jwt",
                          f"Bearer {issuer.sign(registry_issuer.claims('shoal:admin:x', 'other', 300, key=KEY))}"):
        assert logins.bearer_refusal(issuer, SERVICE, authorization) is None, authorization


def test_the_issuer_is_created_once_and_shared(issuer: Issuer) -> None:
    store = MemoryStore()
    sealer = Sealer(b"k" * 32)
    ca = CertificateAuthority.create()
    first = registry_issuer.load_or_create(store, sealer, ca)
    second = registry_issuer.load_or_create(store, sealer, CertificateAuthority.create())
    assert first.cert == second.cert
    assert b"PRIVATE KEY" not in store.get(registry_issuer.ISSUER_KEY).value, "sealed at rest"


@pytest.mark.parametrize(("image", "repository"), [
    ("10.0.0.5:5000/team/app:v1", "team/app"),
    ("10.0.0.5:5000/app", "app"),
    ("10.0.0.5:5000/team/app@sha256:abc", "team/app"),
    ("10.0.0.6:5000/team/app:v1", None),
    ("busybox:latest", None),
    ("docker.io/library/busybox", None),
])
def test_which_images_are_the_cluster_registrys(image: str, repository: str | None) -> None:
    assert image_repository(image, "10.0.0.5:5000") == repository


def _event(action: str, media: str, repository: str = "team/app", digest: str = "sha256:" + "a" * 64,
           timestamp: str = "2026-12-06T04:26:29.727519195Z") -> dict:
    return {"action": action, "timestamp": timestamp,
            "target": {"mediaType": media, "repository": repository, "digest": digest}}


def test_push_notifications_record_manifest_push_times_only() -> None:
    manifest = "application/vnd.docker.distribution.manifest.v2+json"
    store = MemoryStore()
    store.create(keys.repository("team/app"), rg.Repository(name="team/app").SerializeToString())
    body = {"events": [_event("push", manifest), _event("pull", manifest),
                       _event("push", "application/octet-stream"), _event("push", manifest, repository="gone/app")]}
    assert record_pushes(store, body) == "recorded 1 image push(es)"
    repo = rg.Repository.FromString(store.get(keys.repository("team/app")).value)
    assert dict(repo.pushed_at) == {"sha256:" + "a" * 64: pytest.approx(1796531189.727519)}
    assert record_pushes(store, body) == "", "the same push twice changes nothing"
    assert store.get(keys.repository("gone/app")) is None, "no record is made for a deleted repository"
    for bad, words in (([], "events:"), ({"events": [_event("push", manifest, digest="md5:x")]}, "events[0].target"),
                       ({"events": [_event("push", manifest, timestamp="yesterday")]}, "events[0].timestamp")):
        with pytest.raises(EventError, match=re.escape(words)):
            record_pushes(store, bad)


def test_repository_records_and_login_credentials(issuer: Issuer) -> None:
    ctx = ApiContext(MemoryStore())
    admin = Identity("admin", "ann")
    with pytest.raises(ApiError, match="no cluster registry"):
        repositories.login_credential(ctx, admin)
    ctx.registry = RegistrySettings("10.0.0.5:5000", SERVICE, issuer, client=None)  # type: ignore[arg-type]
    cred = repositories.login_credential(ctx, admin, ttl=60)
    claims = issuer.verify(cred.password, registry_issuer.LOGIN_AUDIENCE)
    assert (cred.registry, claims["sub"], claims["role"]) == ("10.0.0.5:5000", "shoal:admin:ann", "admin")
    assert "key" not in claims
    keyed = repositories.login_credential(ctx, Identity("admin", "ann", access_key=KEY), ttl=60)
    assert issuer.verify(keyed.password, registry_issuer.LOGIN_AUDIENCE)["key"] == KEY
    assert claims["exp"] - claims["iat"] == 60
    with pytest.raises(ApiError, match="ttlSeconds"):
        repositories.login_credential(ctx, admin, ttl=13 * 3600)
    with pytest.raises(ApiError, match="--insecure"):
        repositories.login_credential(ctx, None)

    repo = repositories.create(ctx, "team/app", admin)
    assert (repo.uri, repo.created_by) == ("10.0.0.5:5000/team/app", "shoal:admin:ann")
    with pytest.raises(ApiError, match="already exists") as dup:
        repositories.create(ctx, "team/app", admin)
    assert dup.value.ecs_type == "RepositoryAlreadyExistsException"
    with pytest.raises(ApiError, match="repositoryName:"):
        repositories.create(ctx, "Team/App", admin)
    assert [r.name for r in repositories.list_(ctx)] == ["team/app"]
    with pytest.raises(ApiError, match="no repository 'other'") as missing:
        repositories.record(ctx, "other")
    assert missing.value.ecs_type == "RepositoryNotFoundException"


def _tag_push(digest: str, tag: str, timestamp: str) -> dict:
    event = _event("push", "application/vnd.docker.distribution.manifest.v2+json", digest=digest, timestamp=timestamp)
    event["target"]["tag"] = tag
    return {"events": [event]}


@pytest.mark.parametrize("immutable", [False, True])
def test_a_push_that_moves_an_immutable_tag_is_put_back(immutable: bool) -> None:
    first, second = "sha256:" + "1" * 64, "sha256:" + "2" * 64
    store = MemoryStore()
    store.create(keys.repository("team/app"),
                 rg.Repository(name="team/app", immutable_tags=immutable).SerializeToString())
    restored: list[tuple[str, str, str]] = []

    def restore(*args: str) -> bool:
        restored.append(args)
        return True

    assert record_pushes(store, _tag_push(first, "v1", "2026-12-06T04:00:00Z"), restore) == "recorded 1 image push(es)"
    # A new tag is always accepted; moving v1 is accepted only when tags are mutable.
    record_pushes(store, _tag_push(second, "v2", "2026-12-06T04:01:00Z"), restore)
    sentence = record_pushes(store, _tag_push(second, "v1", "2026-12-06T04:02:00Z"), restore)
    repo = rg.Repository.FromString(store.get(keys.repository("team/app")).value)
    if immutable:
        assert restored == [("team/app", "v1", first)]
        assert "restored immutable tag(s) team/app:v1" in sentence
        assert dict(repo.tag_digest) == {"v1": first, "v2": second}
        # The registry's notification of the restoring push itself changes nothing more.
        record_pushes(store, _tag_push(first, "v1", "2026-12-06T04:02:01Z"), restore)
        assert len(restored) == 1
    else:
        assert restored == []
        assert dict(repo.tag_digest) == {"v1": second, "v2": second}
    with pytest.raises(EventError, match=re.escape("events[0].target.tag")):
        record_pushes(store, _tag_push(first, 5, "2026-12-06T04:03:00Z"), restore)  # type: ignore[arg-type]


def test_an_immutable_tag_whose_image_was_deleted_may_be_pushed_again() -> None:
    first, second = "sha256:" + "1" * 64, "sha256:" + "2" * 64
    store = MemoryStore()
    store.create(keys.repository("team/app"), rg.Repository(name="team/app", immutable_tags=True,
                                                            tag_digest={"v1": first}).SerializeToString())
    asked: list[str] = []

    def gone(repository: str, tag: str, digest: str) -> bool:
        asked.append(digest)
        return False

    sentence = record_pushes(store, _tag_push(second, "v1", "2026-12-06T04:00:00Z"), gone)
    assert asked == [first] and "restored" not in sentence
    repo = rg.Repository.FromString(store.get(keys.repository("team/app")).value)
    assert dict(repo.tag_digest) == {"v1": second}

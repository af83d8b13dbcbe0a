"""Operator revocation by name (controlplane/revocations.py): which certificates a tombstone
refuses, the issue time a certificate carries, the watch-fed set and the streams it ends, and
registry logins made with a revoked certificate (controlplane/registry/logins.py)."""

from __future__ import annotations

import base64
import time

import pytest

from controlplane import revocations
from controlplane.registry.logins import CERT_CLAIM, Logins
from controlplane.registry.token_server import TokenRefused, issue
from controlplane.revocations import Revocations, cutoff_after, is_revoked, issue_time
from shoal import keys
from shoal.security import ca, registry_issuer
from shoal.security.ca import CertificateAuthority, Identity
from shoal.security.registry_issuer import Issuer
from shoal.store.memory import MemoryStore

SERVICE = "shoal-registry"
NOW = 1_800_000_000.0


def test_a_tombstone_refuses_operator_certificates_issued_before_it_and_no_others() -> None:
    cutoff = cutoff_after(NOW + 0.7)
    assert cutoff == NOW + 1  # the next whole second: certificates are dated to the second
    # Issued in the same second as the revocation, before it: refused all the same.
    assert is_revoked(Identity("admin", "ann", issued=NOW), cutoff)
    assert is_revoked(Identity("viewer", "ann", issued=NOW - 86400), cutoff)
    assert not is_revoked(Identity("admin", "ann", issued=cutoff), cutoff)
    assert not is_revoked(Identity("admin", "ann", issued=NOW), None)
    # Nodes and replicas have their own revocation (deregistration) or none.
    assert not is_revoked(Identity("node", "ann", issued=NOW), cutoff)
    assert not is_revoked(Identity("replica", "ann"), cutoff)
    # An access key counts from its creation: one made before the tombstone is revoked too.
    assert is_revoked(Identity("admin", "ann", access_key="AKSHEXAMPLE", issued=NOW - 5), cutoff)
    assert not is_revoked(Identity("admin", "ann", access_key="AKSHEXAMPLE", issued=cutoff), cutoff)


def test_a_certificate_issued_after_a_revocation_is_dated_at_or_after_its_tombstone() -> None:
    cutoff = cutoff_after(NOW + 0.2)
    assert issue_time(NOW + 0.3, cutoff) == cutoff  # same second: dated at the tombstone, so it works
    assert issue_time(NOW + 5, cutoff) == NOW + 5
    assert issue_time(NOW, None) == NOW
    authority = CertificateAuthority.create()
    cert = authority.issue_client(ca.new_key().public_key(), Identity("viewer", "vic", grants=frozenset({"logs"})),
                                  days=1, issued=issue_time(NOW + 0.3, cutoff))
    read = ca.identity_of_cert(cert)
    assert read == Identity("viewer", "vic", grants=frozenset({"logs"}))
    assert read is not None and read.issued == cutoff and not is_revoked(read, cutoff)
    # Without a given time the certificate is dated now (to the second), despite its backdated notBefore.
    before = int(time.time())
    fresh = ca.identity_of_cert(authority.issue_client(ca.new_key().public_key(), Identity("admin", "ann")))
    assert fresh is not None and before <= fresh.issued <= before + 2


class FakeContext:
    def __init__(self) -> None:
        self.cancelled = False
        self.callbacks: list = []

    def add_callback(self, callback) -> bool:
        self.callbacks.append(callback)
        return True

    def cancel(self) -> None:
        self.cancelled = True


def test_the_set_follows_the_store_and_ends_the_revoked_users_open_streams() -> None:
    store = MemoryStore()
    held = Revocations(store)
    ann_old, ann_new, bob = Identity("admin", "ann", issued=NOW), Identity("admin", "ann", issued=NOW + 10), \
        Identity("viewer", "bob", issued=NOW)
    contexts = {who: FakeContext() for who in ("ann_old", "ann_new", "bob")}
    held.hold(ann_old, contexts["ann_old"])
    held.hold(ann_new, contexts["ann_new"])
    held.hold(bob, contexts["bob"])
    assert held.refresh() == "" and not held.revoked(ann_old)

    store.put(keys.revoked_user("ann"), revocations.record("ann", int(NOW) + 1, "shoal:admin:root"))
    store.put(keys.revoked_user("garbled"), b"not json")
    sentence = held.refresh()
    assert sentence == "ended 1 streams of revoked operators: shoal:admin:ann"
    assert [c.cancelled for c in contexts.values()] == [True, False, False]
    assert held.revoked(ann_old) and not held.revoked(ann_new) and not held.revoked(bob)
    assert held.cutoff("ann") == int(NOW) + 1 and held.cutoff("garbled") is None

    # A stream that ended on its own is forgotten: a later revocation has nothing to cancel.
    for callback in contexts["bob"].callbacks:
        callback()
    store.put(keys.revoked_user("bob"), revocations.record("bob", int(NOW) + 1, "shoal:admin:root"))
    assert held.refresh() == "" and not contexts["bob"].cancelled and held.revoked(bob)


def test_a_stream_that_ended_before_it_was_held_is_not_kept() -> None:
    class Ended(FakeContext):
        def add_callback(self, callback) -> bool:
            return False

    held = Revocations(MemoryStore())
    held.hold(Identity("admin", "ann", issued=NOW), Ended())
    assert held._streams == {}


@pytest.fixture
def issuer() -> Issuer:
    return registry_issuer.create(CertificateAuthority.create())


def _basic(password: str) -> str:
    return "Basic " + base64.b64encode(f"shoal:{password}".encode()).decode()


def test_a_registry_login_made_with_a_revoked_certificate_is_refused_and_its_tokens_too(issuer: Issuer) -> None:
    cutoffs: dict[str, int] = {}
    logins = Logins(lambda key_id: None, cache_seconds=0, revoked_since=cutoffs.get)
    claims = registry_issuer.claims("shoal:viewer:vic", registry_issuer.LOGIN_AUDIENCE, 3600, NOW, role="viewer",
                                    **{CERT_CLAIM: int(NOW) - 60})
    password = _basic(issuer.sign(claims))
    query = f"service={SERVICE}&scope=repository:team/app:pull"
    body = issue(issuer, SERVICE, password, query, lambda name: True, logins.refusal, NOW)
    token = body["token"]
    assert issuer.verify(token, SERVICE, NOW)[CERT_CLAIM] == int(NOW) - 60  # the registry token names it too
    assert logins.bearer_refusal(issuer, SERVICE, f"Bearer {token}") is None

    cutoffs["vic"] = int(NOW) + 1
    with pytest.raises(TokenRefused, match="certificates of shoal:viewer:vic were revoked") as refused:
        issue(issuer, SERVICE, password, query, lambda name: True, logins.refusal, NOW)
    assert refused.value.status == 401
    assert "were revoked" in (logins.bearer_refusal(issuer, SERVICE, f"Bearer {token}") or "")
    # A login made with the certificate issued afterwards stands; another user's is untouched.
    claims = registry_issuer.claims("shoal:viewer:vic", registry_issuer.LOGIN_AUDIENCE, 3600, NOW, role="viewer",
                                    **{CERT_CLAIM: int(NOW) + 1})
    issue(issuer, SERVICE, _basic(issuer.sign(claims)), query, lambda name: True, logins.refusal, NOW)
    assert logins.refusal({"sub": "shoal:viewer:other", CERT_CLAIM: int(NOW) - 60}) is None

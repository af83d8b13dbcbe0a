"""Console sessions and one-time links, kept in the store: unguessable, expiring with their
lease, a link good once whichever replica redeems it, nothing stored a browser could use."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from controlplane.console.sessions import MAX_LINKS_PER_USER, Sessions
from controlplane.writers import WriterCheck
from shoal import keys
from shoal.security.ca import Identity
from shoal.store.memory import MemoryStore


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(clock: Clock) -> Iterator[MemoryStore]:
    s = MemoryStore(clock=clock)
    yield s
    s.close()


def replicas(store: MemoryStore, clock: Clock, n: int = 2, **kw: float) -> list[Sessions]:
    """``n`` replicas' session keepers over one store, each writing as the control plane's
    store does (the one-writer check on)."""
    return [Sessions(WriterCheck(store), clock=clock, **kw) for _ in range(n)]


def stored_bytes(store: MemoryStore) -> bytes:
    listed = [*store.list(keys.CONSOLE_SESSIONS).kvs, *store.list(keys.CONSOLE_LINKS).kvs]
    return b"".join(kv.key.encode() + kv.value for kv in listed)


def test_a_link_logs_in_once_at_any_replica_and_only_before_it_expires(store: MemoryStore, clock: Clock) -> None:
    one, two = replicas(store, clock, ttl=60, link_ttl=30)
    viewer = Identity("viewer", "vera", grants=frozenset({"logs"}))
    token, expires = one.link(viewer)
    assert expires == 1030.0
    assert token.encode() not in stored_bytes(store), "the store holds a hash of the token, not the token"
    session = two.redeem(token)
    assert session is not None and session.identity == viewer and session.role == "viewer"
    assert one.redeem(token) is None and two.redeem(token) is None, "a link works once, wherever"
    assert one.get(session.id) == session, "the session made at one replica is good at the other"
    late, _ = one.link(viewer)
    clock.now += 31
    assert two.redeem(late) is None, "an expired link is refused"
    assert store.expire_leases() >= 1 and not store.list(keys.CONSOLE_LINKS).kvs, "its lease took its record"
    assert two.redeem("guessed") is None and two.redeem("0123456789abcdef." + "x" * 43) is None


def test_sessions_expire_and_end_everywhere(store: MemoryStore, clock: Clock) -> None:
    one, two = replicas(store, clock, ttl=60)
    s = one.start(Identity("admin", "ada"))
    assert s.id.encode() not in stored_bytes(store)
    assert two.get(s.id) == s and two.get(None) is None and two.get("nope") is None
    clock.now += 59
    assert two.get(s.id) is not None
    clock.now += 2
    assert one.get(s.id) is None and two.get(s.id) is None, "sessions expire"
    store.expire_leases()
    assert not store.list(keys.CONSOLE_SESSIONS).kvs, "with their lease"
    t = one.start(Identity("admin", "ada"))
    two.end(t.id)
    assert one.get(t.id) is None and not store.list(keys.CONSOLE_SESSIONS).kvs, "logout ends it at every replica"


def test_an_insecure_planes_session_is_anonymous_everywhere(store: MemoryStore, clock: Clock) -> None:
    one, two = replicas(store, clock)
    token, _ = one.link(None)
    session = two.redeem(token)
    assert session is not None and session.identity is None and session.role == "admin"
    assert one.get(session.id) == session


def test_csrf_token_must_match_its_own_session_and_is_the_same_at_every_replica(store: MemoryStore,
                                                                                  clock: Clock) -> None:
    one, two = replicas(store, clock)
    a, b = one.start(Identity("admin", "a")), one.start(Identity("admin", "b"))
    assert a.csrf_ok(a.csrf) and two.get(a.id).csrf == a.csrf
    assert not a.csrf_ok(b.csrf) and not a.csrf_ok("") and not a.csrf_ok(None)
    assert a.id != b.id and len(a.id) >= 40 and a.csrf not in a.id


def test_one_users_link_flood_pushes_out_only_that_users_own_links(store: MemoryStore, clock: Clock) -> None:
    one, two = replicas(store, clock)
    ada, _ = one.link(Identity("admin", "ada"))
    flood = []
    for _ in range(1_000):
        flood.append(two.link(Identity("viewer", "mallory"))[0])
        clock.now += 0.001
    assert len(store.list(keys.CONSOLE_LINKS).kvs) == 1 + MAX_LINKS_PER_USER, "the flooder holds at most 5"
    assert all(one.redeem(t) is None for t in flood[:-MAX_LINKS_PER_USER]), "the flooder's oldest went"
    assert all(one.redeem(t) is not None for t in flood[-MAX_LINKS_PER_USER:])
    session = two.redeem(ada)
    assert session is not None and session.user == "ada", "another user's pending link still works"


def test_the_identity_a_session_stands_for_comes_back_whole(store: MemoryStore, clock: Clock) -> None:
    # What a revocation judges by: a certificate's issue time, or the access key logged in with
    # (controlplane/revocations.py). Lost on the way through the store, a certificate made
    # after its user's revocation would read as revoked, and a key's login as a certificate's.
    one, other = replicas(store, clock)
    by_cert = Identity("admin", "ada", issued=1_700_000_123.0)
    by_key = Identity("viewer", "vera", grants=frozenset({"logs"}), access_key="AKIAEXAMPLE")
    for identity in (by_cert, by_key):
        token, _ = one.link(identity)
        session = other.redeem(token)
        assert session is not None
        back = other.get(session.id).identity
        assert back == identity and back.issued == identity.issued

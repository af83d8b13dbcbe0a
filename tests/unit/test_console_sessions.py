"""Console sessions and one-time links: unguessable, expiring, a link good once."""

from __future__ import annotations

from controlplane.console.sessions import Sessions
from shoal.security.ca import Identity


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_link_logs_in_once_and_only_before_it_expires() -> None:
    clock = Clock()
    sessions = Sessions(ttl=60, link_ttl=30, clock=clock)
    viewer = Identity("viewer", "vera")
    token, expires = sessions.link(viewer)
    assert expires == 1030.0
    session = sessions.redeem(token)
    assert session is not None and session.identity == viewer and session.role == "viewer"
    assert sessions.redeem(token) is None, "a link works once"
    late, _ = sessions.link(viewer)
    clock.now += 31
    assert sessions.redeem(late) is None, "an expired link is refused"
    assert sessions.redeem("guessed") is None


def test_sessions_expire_and_end() -> None:
    clock = Clock()
    sessions = Sessions(ttl=60, clock=clock)
    s = sessions.start(Identity("admin", "ada"))
    assert sessions.get(s.id) == s and sessions.get(None) is None and sessions.get("nope") is None
    clock.now += 59
    assert sessions.get(s.id) is not None
    clock.now += 2
    assert sessions.get(s.id) is None, "sessions expire"
    t = sessions.start(Identity("admin", "ada"))
    sessions.end(t.id)
    assert sessions.get(t.id) is None


def test_csrf_token_must_match_its_own_session() -> None:
    sessions = Sessions()
    a, b = sessions.start(Identity("admin", "a")), sessions.start(Identity("admin", "b"))
    assert a.csrf_ok(a.csrf)
    assert not a.csrf_ok(b.csrf) and not a.csrf_ok("") and not a.csrf_ok(None)
    assert a.id != b.id and len(a.id) >= 40

"""Who is logged into this replica's console: sessions (an unguessable id in an HttpOnly,
SameSite=Strict cookie, with its own CSRF token that every action must echo in a header)
and one-time login links (``shoal console``), each good once and for a few minutes.

Both live in this replica's memory only: a link is redeemed, and a session used, at the
replica that made it (the link names that replica's console), and a restart logs everyone
out — a console session is a convenience, the credentials stay the access key or the
certificate that made the link."""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from shoal.security.ca import Identity

SESSION_TTL = 8 * 3600.0
LINK_TTL = 300.0
MAX_SESSIONS = 10_000
MAX_LINKS = 1_000


@dataclass(frozen=True)
class Session:
    id: str
    csrf: str
    # None: an --insecure control plane, where every caller may do everything.
    identity: Identity | None
    expires_at: float

    @property
    def user(self) -> str:
        return self.identity.name if self.identity is not None else "anonymous (insecure control plane)"

    @property
    def role(self) -> str:
        return self.identity.role if self.identity is not None else "admin"

    def csrf_ok(self, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(self.csrf.encode(), (token or "").encode())


class Sessions:
    def __init__(self, ttl: float = SESSION_TTL, link_ttl: float = LINK_TTL,
                 clock: Callable[[], float] = time.time) -> None:
        self.ttl = ttl
        self.link_ttl = link_ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._sessions: dict[str, Session] = {}
        # link token -> (identity, expires_at)
        self._links: dict[str, tuple[Identity | None, float]] = {}

    def start(self, identity: Identity | None) -> Session:
        now = self._clock()
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), identity, now + self.ttl)
        with self._lock:
            self._forget_expired(now)
            if len(self._sessions) >= MAX_SESSIONS:
                # The oldest give way: a flood of logins cannot grow memory without bound.
                oldest = min(self._sessions.values(), key=lambda s: s.expires_at)
                del self._sessions[oldest.id]
            self._sessions[session.id] = session
        return session

    def get(self, session_id: str | None) -> Session | None:
        """The live session of that id, or None (unknown, expired, or no id)."""
        if not session_id:
            return None
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                return None
            if session.expires_at <= self._clock():
                del self._sessions[session_id]
                return None
            return session

    def end(self, session_id: str) -> None:
        with self._lock:
            self._sessions.pop(session_id, None)

    def link(self, identity: Identity | None) -> tuple[str, float]:
        """A new one-time token for ``identity`` and when it expires."""
        now = self._clock()
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._forget_expired(now)
            if len(self._links) >= MAX_LINKS:
                del self._links[min(self._links, key=lambda t: self._links[t][1])]
            self._links[token] = (identity, now + self.link_ttl)
        return token, now + self.link_ttl

    def redeem(self, token: str) -> Session | None:
        """A session for the link's identity, the first time only and before it expires."""
        with self._lock:
            held = self._links.pop(token, None)
        if held is None or held[1] <= self._clock():
            return None
        return self.start(held[0])

    def _forget_expired(self, now: float) -> None:
        for sid in [sid for sid, s in self._sessions.items() if s.expires_at <= now]:
            del self._sessions[sid]
        for token in [t for t, (_, exp) in self._links.items() if exp <= now]:
            del self._links[token]

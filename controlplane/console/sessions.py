"""Who is logged into the web console: sessions (an unguessable token in an HttpOnly,
SameSite=Strict cookie, with a CSRF token derived from it that every action must echo in a
header) and one-time login links (``shoal console``), each good once and for a few minutes.

Both are records in the store, so every replica knows them: a link made at one replica is
redeemed at any, once (the redeemer deletes the record on its revision, and only one
delete wins), and a session started at one is good at all of them until it ends
everywhere at logout or expiry. Each record is bound to a lease of its own lifetime, so
etcd deletes it when it expires, and it is keyed by a SHA-256 of its token: what the store
holds cannot be used as a cookie or a link. A token is ``<user key>.<random>``; the user
key (a hash of the user's name) places the record among that user's own, so the limits
on how many a user may hold are counted, and the oldest dropped, among that user's alone:
a flood from one credential cannot push out another user's session or link."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from controlplane.state import decode
from shoal import keys
from shoal.security.ca import Identity
from shoal.store.base import KV, Conflict, Store
from shoal.v1 import events_pb2 as ev

SESSION_TTL = 8 * 3600.0
LINK_TTL = 300.0
# Per user: one more pushes out that user's oldest.
MAX_SESSIONS_PER_USER = 100
MAX_LINKS_PER_USER = 5
_USER_KEY = re.compile(r"[0-9a-f]{16}")
_TOKEN_BYTES = 32


@dataclass(frozen=True)
class Session:
    # The cookie's token: held only by the browser (and this request), never stored.
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
    def __init__(self, store: Store, ttl: float = SESSION_TTL, link_ttl: float = LINK_TTL,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.ttl = ttl
        self.link_ttl = link_ttl
        self._clock = clock

    def start(self, identity: Identity | None) -> Session:
        token, expires = self._grant(keys.console_session, identity, self.ttl, MAX_SESSIONS_PER_USER)
        return Session(token, csrf_of(token), identity, expires)

    def get(self, token: str | None) -> Session | None:
        """The live session of that token, or None (unknown, ended, expired, or no token)."""
        found = self._read(keys.console_session, token)
        if found is None:
            return None
        grant, _ = found
        return Session(token or "", csrf_of(token or ""), _identity(grant), grant.expires_at)

    def end(self, token: str) -> None:
        """Ends the session at every replica (its lease, and so its record, goes)."""
        key = _key(keys.console_session, token)
        kv = self.store.get(key) if key else None
        if kv is not None:
            self._drop(kv)

    def link(self, identity: Identity | None) -> tuple[str, float]:
        """A new one-time token for ``identity`` and when it expires."""
        return self._grant(keys.console_link, identity, self.link_ttl, MAX_LINKS_PER_USER)

    def redeem(self, token: str) -> Session | None:
        """A session for the link's identity, the first time only (at any replica) and
        before it expires."""
        found = self._read(keys.console_link, token)
        if found is None:
            return None
        grant, kv = found
        try:
            if not self.store.delete(kv.key, mod_revision=kv.mod_revision):
                return None
        except Conflict:
            return None  # another redeemer's delete came first
        self._drop(kv)
        return self.start(_identity(grant))

    # -- records ------------------------------------------------------------------------

    def _grant(self, key_of: Callable[[str, str], str], identity: Identity | None, ttl: float,
               per_user: int) -> tuple[str, float]:
        now = self._clock()
        user_key = _user_key(identity)
        token = f"{user_key}.{secrets.token_urlsafe(_TOKEN_BYTES)}"
        prefix = key_of(user_key, "")
        held = sorted(self.store.list(prefix).kvs, key=lambda kv: kv.create_revision)
        for kv in held[:max(0, len(held) - per_user + 1)]:
            self._drop(kv)
        grant = ev.ConsoleGrant(created_at=now, expires_at=now + ttl, anonymous=identity is None)
        if identity is not None:
            grant.role, grant.user, grant.cluster = identity.role, identity.name, identity.cluster
            grant.grants.extend(sorted(identity.grants))
            grant.access_key, grant.issued = identity.access_key, identity.issued
        lease = self.store.grant_lease(ttl)
        self.store.create(key_of(user_key, _hash(token)), grant.SerializeToString(), lease=lease)
        return token, grant.expires_at

    def _read(self, key_of: Callable[[str, str], str], token: str | None) -> tuple[ev.ConsoleGrant, KV] | None:
        key = _key(key_of, token)
        kv = self.store.get(key) if key else None
        if kv is None:
            return None
        grant = decode(ev.ConsoleGrant, kv.value)
        # etcd ends a lease up to a moment after its ttl: the record's own deadline rules.
        if grant.expires_at <= self._clock():
            return None
        return grant, kv

    def _drop(self, kv: KV) -> None:
        if kv.lease:
            self.store.revoke_lease(kv.lease)
        else:
            self.store.delete(kv.key)


def csrf_of(token: str) -> str:
    """The session's CSRF token: derived from its cookie, so every replica knows it without
    storing it, and the cookie cannot be derived from it."""
    digest = hashlib.sha256(b"shoal console csrf\0" + token.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _user_key(identity: Identity | None) -> str:
    name = identity.name if identity is not None else ""
    return hashlib.sha256(b"shoal console user\0" + name.encode()).hexdigest()[:16]


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _key(key_of: Callable[[str, str], str], token: str | None) -> str | None:
    """The record's key for a token as the browser sent it, or None when it cannot be one."""
    user_key, dot, rest = (token or "").partition(".")
    if not dot or not _USER_KEY.fullmatch(user_key) or not 40 <= len(rest) <= 64:
        return None
    return key_of(user_key, _hash(token or ""))


def _identity(grant: ev.ConsoleGrant) -> Identity | None:
    if grant.anonymous:
        return None
    return Identity(grant.role, grant.user, grant.cluster, frozenset(grant.grants), grant.access_key, grant.issued)

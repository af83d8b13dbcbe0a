"""Operator certificates revoked by name (`shoal user revoke NAME`).

A revocation is one tombstone per user, ``keys.revoked_user(NAME)``: the whole second from
which that user's certificates and access keys count again. Every certificate issued to NAME
before it is refused, wherever an operator certificate is accepted, and every access key made
for NAME before it (controlplane/api/accesskeys.py ``active``); one issued afterwards (`shoal user
create NAME`) works, so a role change is a revoke and a create. By name and time rather than
by serial: a serial denylist needs every serial ever issued, and the bootstrap admin's
certificate (``shoal up``) and any certificate from an older release were never recorded; a
name and a time cover them all. Certificates carry their issue time to the second (notBefore
less the skew allowance), so the tombstone holds the second after the revocation and a
certificate issued in that second is dated at the tombstone's time (``issue_time``).

One writer: the Security API (controlplane/api/security.py). Every replica keeps the
tombstones in memory, fed by a watch on their prefix, so the check on each call reads no
etcd; a revocation counts at every replica as soon as its watch delivers it (milliseconds;
while a watch is broken it is re-armed and re-read within about a second). Streams an
operator holds open on a replica (``events --follow``, ``logs --follow``, ``exec``) are
cancelled there when its tombstone arrives.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time

from controlplane.loop_server import SyncCall
from shoal import keys
from shoal.security.ca import Identity
from shoal.store.base import Store

log = logging.getLogger(__name__)

OPERATOR_ROLES = frozenset({"admin", "viewer"})


def cutoff_after(revoked_at: float) -> int:
    """The tombstone's time for a revocation at ``revoked_at``: the next whole second, since a
    certificate's issue time is truncated to the second."""
    return math.floor(revoked_at) + 1


def issue_time(now: float, cutoff: int | None) -> float:
    """When a certificate issued at ``now`` says it was issued: never before its user's tombstone."""
    return now if cutoff is None else max(now, float(cutoff))


def is_revoked(identity: Identity | None, cutoff: int | None) -> bool:
    """Whether ``identity``'s credential was issued before its user's tombstone ``cutoff``: a
    certificate by its issue time, an access key (the ECS gateway, a console login with a key)
    by its creation time. A revoked user keeps no way in, and a role change (revoke, create)
    leaves no key with the old role."""
    return (identity is not None and cutoff is not None and identity.role in OPERATOR_ROLES
            and identity.issued < cutoff)


def stored_cutoff(store: Store, name: str) -> int | None:
    """``name``'s tombstone as the store holds it now. A credential issued right after a revoke
    through another replica reads it here rather than from the watch-fed copy, so that it is
    dated at or after the tombstone (``issue_time``) however late that replica's watch is."""
    tombstone = store.get(keys.revoked_user(name))
    parsed = parse(tombstone.value) if tombstone is not None else None
    return parsed[1] if parsed else None


def record(name: str, cutoff: int, by: str) -> bytes:
    return json.dumps({"name": name, "notBefore": cutoff, "revokedAt": time.time(), "by": by}).encode()


def parse(value: bytes) -> tuple[str, int] | None:
    """The user and cutoff a tombstone holds, or None for one that does not parse."""
    try:
        data = json.loads(value)
        return str(data["name"]), int(data["notBefore"])
    except (ValueError, TypeError, KeyError):
        return None


class Revocations:
    """The tombstones as this replica's watch last delivered them, and the streams open here."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._cutoffs: dict[str, int] = {}
        self._streams: dict[int, tuple[Identity, SyncCall]] = {}

    def cutoff(self, name: str) -> int | None:
        with self._lock:
            return self._cutoffs.get(name)

    def revoked(self, identity: Identity) -> bool:
        return is_revoked(identity, self.cutoff(identity.name))

    def hold(self, identity: Identity, call: SyncCall) -> None:
        """Remembers an operator's open stream until it ends, to cancel it if revoked."""
        if identity.role not in OPERATOR_ROLES:
            return
        key = id(call)
        with self._lock:
            self._streams[key] = (identity, call)
        if not call.add_callback(lambda: self._release(key)):
            self._release(key)

    def _release(self, key: int) -> None:
        with self._lock:
            self._streams.pop(key, None)

    def refresh(self) -> str:
        """Reads the tombstones again (the watch calls this on each change) and cancels the
        open streams of certificates they revoke. Returns what it did, or ""."""
        cutoffs: dict[str, int] = {}
        for item in self._store.list(keys.REVOKED_USERS).kvs:
            parsed = parse(item.value)
            if parsed is not None:
                cutoffs[parsed[0]] = parsed[1]
        with self._lock:
            self._cutoffs = cutoffs
            ended = [(k, who) for k, (who, _) in self._streams.items() if is_revoked(who, cutoffs.get(who.name))]
            calls = [self._streams.pop(k)[1] for k, _ in ended]
        for call in calls:
            call.cancel()
        if not ended:
            return ""
        return f"ended {len(ended)} streams of revoked operators: {', '.join(sorted({str(w) for _, w in ended}))}"

"""The one read-modify-write of Shoal's state: ``update(store, key, mutate)``.

Every writer that changes a record it read goes through here, so there is one retry limit
and one backoff for all of them, and the loop is written once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from shoal.retry import backoff
from shoal.store.base import KV, Conflict, Store

# Lost races before giving up. A record that changes under us this often is being written
# in a tight loop by someone else; the caller reports "try again" rather than spinning.
ATTEMPTS = 20
# shoal.retry's jittered exponential backoff, from 2 ms up to 100 ms: writers that collided
# spread out and do not collide again.
BACKOFF_FIRST = 0.002
BACKOFF_MAX = 0.1

T = TypeVar("T")
Mutate = Callable[[KV | None], bytes | None]


def update(store: Store, key: str, mutate: Mutate, *, attempts: int = ATTEMPTS,
           sleep: Callable[[float], None] = time.sleep) -> KV | None:
    """Reads ``key`` and writes ``mutate(current)`` back with compare-and-set on the
    revision it read (create-only when the key was absent).

    Contract:
    - ``mutate`` gets the current ``KV`` (None when the key does not exist) and returns
      the new value, or None for "no change": then nothing is written and the current KV
      (or None) is returned.
    - ``mutate`` may raise to refuse (an ``ApiError`` naming the field); nothing is
      written and the exception propagates.
    - When another writer got there first (``Conflict``), the key is read again and
      ``mutate`` is called again on the fresh value: it must compute from its argument
      only, and may run more than once.
    - After ``attempts`` lost races it raises ``Conflict``. Between attempts it sleeps
      ``shoal.retry.backoff(n, BACKOFF_FIRST, BACKOFF_MAX)``.
    - Returns the KV as written (its new ``mod_revision``).
    """
    def once() -> KV | None:
        current = store.get(key)
        value = mutate(current)
        if value is None:
            return current
        revision = store.cas(key, value, current.mod_revision if current else 0)
        return KV(key, value, revision, current.create_revision if current else revision)

    return retrying(once, attempts=attempts, sleep=sleep, what=key)


def retrying(once: Callable[[], T], *, attempts: int = ATTEMPTS, sleep: Callable[[float], None] = time.sleep,
             what: str = "") -> T:
    """Calls ``once`` until it does not raise ``Conflict``, at most ``attempts`` times, with
    ``backoff`` between tries; then raises ``Conflict``. For the writes that are not one
    key's read-modify-write (claiming the next free revision, a fresh random id); ``update``
    is built on it."""
    for attempt in range(attempts):
        if attempt:
            sleep(backoff(attempt - 1, BACKOFF_FIRST, BACKOFF_MAX))
        try:
            return once()
        except Conflict:
            continue
    raise Conflict(f"{what or 'write'}: lost {attempts} races in a row; try again")

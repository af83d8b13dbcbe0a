"""An in-memory ``Store`` with etcd's revision, lease and watch semantics, for unit tests.

It numbers writes exactly as etcd does (an empty store is at revision 1; each write that
changes something takes the next revision; a transaction or a lease expiry applies all its
changes at one revision), so code tested against it behaves the same on etcd. Time is an
injectable clock: tests advance it and call ``expire_leases()`` instead of sleeping.
"""

from __future__ import annotations

import collections
import itertools
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from shoal.store.base import (
    KV,
    Compare,
    Conflict,
    Delete,
    Event,
    Listing,
    Put,
    Store,
    StoreError,
    WatchCallback,
)
from shoal.store.dispatch import WatchDispatcher, WatchHandle, lease_seconds

log = logging.getLogger(__name__)

# How many events a watch can start behind the head; older start revisions count as compacted.
HISTORY_SIZE = 10_000
_EXPIRY_INTERVAL = 0.1


@dataclass
class _Lease:
    ttl: int
    deadline: float
    keys: set[str] = field(default_factory=set)


@dataclass
class _Watch:
    prefix: str
    handle: WatchHandle


class MemoryStore(Store):
    """Thread-safe in-memory store; see the module docstring for what it models."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, history: int = HISTORY_SIZE) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._revision = 1
        self._data: dict[str, KV] = {}
        self._leases: dict[int, _Lease] = {}
        self._lease_ids = itertools.count(0x5E0A1_0000)
        self._history: collections.deque[Event] = collections.deque(maxlen=history)
        # Highest revision some of whose events fell out of the history.
        self._compacted = 0
        self._watches: dict[int, _Watch] = {}
        self._watch_ids = itertools.count(1)
        self._closed = False
        self._dispatcher = WatchDispatcher("memory-store-watch")
        self._stop = threading.Event()
        self._expirer = threading.Thread(target=self._expire_loop, name="memory-store-leases", daemon=True)
        self._expirer.start()

    # -- reads ---------------------------------------------------------------------------

    def get(self, key: str) -> KV | None:
        with self._lock:
            self._check_open()
            return self._data.get(key)

    def list(self, prefix: str) -> Listing:
        with self._lock:
            self._check_open()
            kvs = sorted((kv for k, kv in self._data.items() if k.startswith(prefix)), key=lambda kv: kv.key)
            return Listing(kvs=kvs, revision=self._revision)

    # -- writes --------------------------------------------------------------------------

    def put(self, key: str, value: bytes, lease: int = 0) -> int:
        return self.txn([], [Put(key, value, lease)])

    def create(self, key: str, value: bytes, lease: int = 0) -> int:
        return self.txn([Compare(key, 0, on_create=True)], [Put(key, value, lease)])

    def cas(self, key: str, value: bytes, mod_revision: int, lease: int = 0) -> int:
        return self.txn([Compare(key, mod_revision)], [Put(key, value, lease)])

    def delete(self, key: str, mod_revision: int | None = None) -> bool:
        compares = [] if mod_revision is None else [Compare(key, mod_revision)]
        with self._lock:
            self._check_open()
            self._check_compares(compares)
            existed = key in self._data
            self._apply([Delete(key)])
            return existed

    def txn(self, compares: Sequence[Compare], ops: Sequence[Put | Delete]) -> int:
        with self._lock:
            self._check_open()
            self._check_ops(ops)
            self._check_compares(compares)
            return self._apply(ops)

    # -- leases --------------------------------------------------------------------------

    def grant_lease(self, ttl: float) -> int:
        seconds = lease_seconds(ttl)
        with self._lock:
            self._check_open()
            lease_id = next(self._lease_ids)
            self._leases[lease_id] = _Lease(ttl=seconds, deadline=self._clock() + seconds)
            return lease_id

    def refresh_lease(self, lease: int) -> bool:
        with self._lock:
            self._check_open()
            held = self._leases.get(lease)
            if held is None:
                return False
            now = self._clock()
            if held.deadline <= now:
                # Expired but not yet reaped: reap it now, as etcd would have by the time a
                # keepalive reached it.
                self._end_lease(lease)
                return False
            held.deadline = now + held.ttl
            return True

    def revoke_lease(self, lease: int) -> None:
        with self._lock:
            self._check_open()
            if lease in self._leases:
                self._end_lease(lease)

    def expire_leases(self) -> int:
        """Ends every lease whose deadline has passed on the clock; returns how many."""
        with self._lock:
            if self._closed:
                return 0
            now = self._clock()
            expired = [lid for lid, held in self._leases.items() if held.deadline <= now]
            for lid in expired:
                self._end_lease(lid)
            return len(expired)

    # -- watches -------------------------------------------------------------------------

    def watch(self, prefix: str, start_revision: int, callback: WatchCallback) -> Callable[[], None]:
        handle = WatchHandle(callback)
        with self._lock:
            self._check_open()
            if start_revision <= 0:
                start_revision = self._revision + 1
            if start_revision <= self._compacted:
                self._dispatcher.submit(handle, [])
                return handle.stop
            backlog = [
                e
                for e in self._history
                if e.kv.mod_revision >= start_revision and e.kv.key.startswith(prefix)
            ]
            if backlog:
                self._dispatcher.submit(handle, backlog)
            watch_id = next(self._watch_ids)
            self._watches[watch_id] = _Watch(prefix, handle)

        def cancel() -> None:
            handle.stop()
            with self._lock:
                self._watches.pop(watch_id, None)

        return cancel

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._watches.clear()
        self._stop.set()
        if threading.current_thread() is not self._expirer:
            self._expirer.join(timeout=5)
        self._dispatcher.close()

    # -- internals (called with self._lock held) ------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError("store is closed")

    def _check_compares(self, compares: Sequence[Compare]) -> None:
        for c in compares:
            kv = self._data.get(c.key)
            actual = 0 if kv is None else (kv.create_revision if c.on_create else kv.mod_revision)
            if actual != c.revision:
                what = "create_revision" if c.on_create else "mod_revision"
                raise Conflict(f"{c.key}: {what} is {actual}, expected {c.revision}")

    def _check_ops(self, ops: Sequence[Put | Delete]) -> None:
        # etcd refuses a txn that writes one key twice; refusing here keeps tests honest.
        puts: set[str] = set()
        for op in ops:
            if isinstance(op, Put):
                if op.key in puts:
                    raise StoreError(f"txn writes key {op.key!r} twice")
                puts.add(op.key)
                if op.lease and op.lease not in self._leases:
                    raise StoreError(f"lease {op.lease} not found (expired or revoked)")
            elif not isinstance(op, Delete):
                raise StoreError(f"txn op must be Put or Delete, got {type(op).__name__}")
        for op in ops:
            if isinstance(op, Delete) and any(_covers(op, key) for key in puts):
                raise StoreError(f"txn both deletes and writes under {op.key!r}")

    def _apply(self, ops: Sequence[Put | Delete]) -> int:
        """Applies ``ops`` at the next revision if any of them changes something."""
        rev = self._revision + 1
        events: list[Event] = []
        for op in ops:
            if isinstance(op, Put):
                prev = self._data.get(op.key)
                if prev is not None and prev.lease:
                    self._unbind(prev)
                kv = KV(
                    key=op.key,
                    value=bytes(op.value),
                    mod_revision=rev,
                    create_revision=prev.create_revision if prev is not None else rev,
                    lease=op.lease,
                )
                self._data[op.key] = kv
                if op.lease:
                    self._leases[op.lease].keys.add(op.key)
                events.append(Event("put", kv))
            else:
                doomed = sorted(k for k in self._data if _covers(op, k))
                for key in doomed:
                    prev = self._data.pop(key)
                    if prev.lease:
                        self._unbind(prev)
                    events.append(
                        Event("delete", KV(key=key, value=b"", mod_revision=rev, create_revision=0))
                    )
        if not events:
            return self._revision
        self._revision = rev
        self._publish(events)
        return rev

    def _unbind(self, kv: KV) -> None:
        held = self._leases.get(kv.lease)
        if held is not None:
            held.keys.discard(kv.key)

    def _end_lease(self, lease: int) -> None:
        held = self._leases.pop(lease)
        self._apply([Delete(key) for key in sorted(held.keys)])

    def _publish(self, events: list[Event]) -> None:
        for e in events:
            if len(self._history) == self._history.maxlen:
                self._compacted = self._history[0].kv.mod_revision
            self._history.append(e)
        for w in self._watches.values():
            mine = [e for e in events if e.kv.key.startswith(w.prefix)]
            if mine:
                self._dispatcher.submit(w.handle, mine)

    def _expire_loop(self) -> None:
        while not self._stop.wait(_EXPIRY_INTERVAL):
            try:
                self.expire_leases()
            except Exception:
                log.exception("lease expiry failed")


def _covers(op: Delete, key: str) -> bool:
    return key.startswith(op.key) if op.prefix else key == op.key

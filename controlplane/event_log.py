"""The recent history of the event feed, kept in the store so a replica started later shows
what happened before it: the leader writes the deployment, task and node events its feed
derives (``EventFeed`` tells it through ``offer``) under ``/shoal/v1/events/``, a batch at
a time in transactions fenced by its leadership, each record bound to a lease of about an
hour and the oldest past ``capacity`` deleted; every replica seeds its feed from them when
it starts (``load``). Service events need none of this: they live on the service records.
Chaos runs stay in the feed of the replica that ran them."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from controlplane.state import decode
from shoal import keys
from shoal.store.base import MAX_TXN_OPS, Compare, Conflict, Delete, Put, Store, StoreError
from shoal.v1 import events_pb2 as ev

log = logging.getLogger(__name__)

LOGGED_KINDS = frozenset({"deployment", "task", "node"})
CAPACITY = 1_000
# A record lives between LEASE_TTL - LEASE_REUSE and LEASE_TTL: one lease per LEASE_REUSE
# of events rather than one per record.
LEASE_TTL = 3600.0
LEASE_REUSE = 600.0
FLUSH_INTERVAL = 1.0
TRIM_INTERVAL = 30.0


class EventLog:
    def __init__(self, store: Store, is_leader: Callable[[], bool], fence: Callable[[], Compare],
                 capacity: int = CAPACITY, clock: Callable[[], float] = time.time) -> None:
        self.store, self.is_leader, self.fence, self.capacity = store, is_leader, fence, capacity
        self._clock = clock
        self._lock = threading.Lock()
        self._pending: list[ev.ClusterEvent] = []
        self._lease, self._lease_at = 0, 0.0
        self._n = 0
        self._trimmed = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def load(self) -> list[ev.ClusterEvent]:
        """The stored history, oldest first (the keys sort by time)."""
        return [decode(ev.ClusterEvent, kv.value) for kv in self.store.list(keys.EVENTS).kvs]

    def offer(self, events: list[ev.ClusterEvent]) -> None:
        """Keeps the events to write while this replica leads; a follower's are its own."""
        picked = [e for e in events if e.kind in LOGGED_KINDS]
        if picked and self.is_leader():
            with self._lock:
                self._pending += picked

    def flush(self) -> int:
        """Writes what is pending (fenced: a deposed leader's batch is dropped); returns how
        many were written. Trims to ``capacity`` every TRIM_INTERVAL."""
        with self._lock:
            batch, self._pending = self._pending, []
        written = 0
        try:
            if batch:
                lease = self._current_lease()
                for i in range(0, len(batch), MAX_TXN_OPS):
                    puts = [Put(self._key(e), e.SerializeToString(), lease) for e in batch[i:i + MAX_TXN_OPS]]
                    self.store.txn([self.fence()], puts)
                    written += len(puts)
            if self._clock() - self._trimmed >= TRIM_INTERVAL and self.is_leader():
                self._trimmed = self._clock()
                self._trim()
        except Conflict:
            log.info("event log: no longer leading; %d events left to the new leader's feed", len(batch) - written)
        except StoreError as exc:
            log.warning("event log: %d events not stored: %s", len(batch) - written, exc)
        return written

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="event log", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.wait(FLUSH_INTERVAL):
            self.flush()

    def _current_lease(self) -> int:
        now = self._clock()
        if not self._lease or now - self._lease_at >= LEASE_REUSE:
            self._lease, self._lease_at = self.store.grant_lease(LEASE_TTL), now
        return self._lease

    def _key(self, e: ev.ClusterEvent) -> str:
        self._n += 1
        return keys.event(int(e.created_at * 1e9), self._n)

    def _trim(self) -> None:
        held = self.store.list(keys.EVENTS).kvs
        old = [Delete(kv.key) for kv in held[:max(0, len(held) - self.capacity)]]
        for i in range(0, len(old), MAX_TXN_OPS):
            self.store.txn([], old[i:i + MAX_TXN_OPS])

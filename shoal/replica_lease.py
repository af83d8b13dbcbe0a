"""A replica's etcd lease, kept alive from one thread. A replica holds two: the liveness
keys of the agents whose streams it holds are bound to the first, so a replica that dies
or loses etcd takes all of them down within one TTL, at one keep-alive per replica instead
of one per agent; its leader key is bound to the second, shorter one (shoal/election.py).

Patroni's rule applies: refresh every ttl/3, so two failed refreshes still leave time to
give up leadership before the lease can expire."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from shoal.logs import kv
from shoal.store.base import Store, StoreError
from shoal.worker import Worker

log = logging.getLogger(__name__)


class ReplicaLease:
    def __init__(self, store: Store, ttl: float, clock: Callable[[], float] = time.monotonic,
                 name: str = "replica lease") -> None:
        self.store = store
        self.ttl = ttl
        self.name = name
        self.clock = clock
        self.lease_id = 0
        self._renewed_at = float("-inf")
        self._failing = False  # the last refresh or grant raised StoreError
        self._listeners: list[Callable[[int], None]] = []
        self._worker = Worker(name.replace(" ", "-"), self._run, join_timeout=5)
        self._lock = threading.Lock()

    def on_new_lease(self, listener: Callable[[int], None]) -> None:
        """``listener(lease_id)`` runs after each (re)grant: rewrite lease-bound keys."""
        self._listeners.append(listener)

    def age(self) -> float:
        """Seconds since the lease was last granted or refreshed (infinite before that)."""
        return self.clock() - self._renewed_at

    def cut_off(self) -> bool:
        """True when etcd looks out of reach: the last refresh failed and half a TTL has
        passed since the last good one, or the lease is about to expire whatever the reason.
        A refresh that is only slow (a busy replica or etcd: 1,000 agents connecting at once)
        is not a cut: sending every agent away then only adds a reconnect storm to the load."""
        age = self.age()
        return (self._failing and age > self.ttl / 2) or age > self.ttl * 0.8

    def valid(self) -> bool:
        """True while the lease is certainly alive: refreshed less than ttl ago, with a
        margin for clock skew between us and etcd."""
        return self.lease_id != 0 and self.clock() - self._renewed_at < self.ttl * 0.8

    def start(self) -> None:
        self.keep_alive_once()
        self._worker.start()

    def stop(self) -> None:
        self._worker.stop()
        # Not revoked: the agents' liveness keys stand until the TTL runs out, which gives
        # them time to reconnect to another replica without looking lost.
        self.lease_id = 0

    def keep_alive_once(self) -> str:
        with self._lock:
            started = self.clock()
            try:
                if self.lease_id and self.store.refresh_lease(self.lease_id):
                    self._renewed_at = started
                    self._failing = False
                    return f"refreshed the {self.name}"
                lost = self.lease_id
                self.lease_id = self.store.grant_lease(self.ttl)
                self._renewed_at = started
                self._failing = False
            except StoreError as exc:
                self._failing = True
                return f"could not reach the store to keep the {self.name} ({exc})"
        for listener in self._listeners:
            try:
                listener(self.lease_id)
            except Exception:
                log.exception("lease listener failed")
        if lost:
            return f"{self.name} {lost:x} had expired; granted {self.lease_id:x} and rewrote lease-bound keys"
        return f"granted {self.name} {self.lease_id:x}"

    def _run(self) -> None:
        last = ""
        while not self._worker.stopping.wait(self.ttl / 3):
            sentence = self.keep_alive_once()
            if sentence != last or not sentence.startswith("refreshed"):
                log.info(sentence, extra=kv(lease=f"{self.lease_id:x}"))
            last = sentence

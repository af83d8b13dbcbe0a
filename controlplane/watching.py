"""Level-triggered nudges from etcd watches (see PrefixWatch)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from shoal.store.base import Store, StoreError

log = logging.getLogger(__name__)


class PrefixWatch:
    """Calls ``on_change`` whenever a key under ``key`` (a prefix) changes, and once more
    each time the watch breaks and is re-armed (a change may have been missed meanwhile). Uses: a
    follower campaigns the moment a dead leader's key expires instead of at its next
    resync (failover then costs one leader lease, not that plus a resync interval); a
    replica ends a deregistered node's stream at once."""

    def __init__(self, store: Store, key: str, on_change: Callable[[], None]) -> None:
        self.store = store
        self.key = key
        self.on_change = on_change
        self._cancel: Callable[[], None] | None = None
        self._closed = threading.Event()

    def start(self, call_when_armed: bool = False) -> None:
        """``call_when_armed``: call ``on_change`` once the watch is first armed too, for a
        caller that read the keys before and must not miss a change made in between."""
        self._start(rearm=call_when_armed)

    def _start(self, rearm: bool) -> None:
        threading.Thread(target=self._arm, args=(rearm,), name="prefix-watch", daemon=True).start()

    def _arm(self, rearm: bool) -> None:
        while not self._closed.is_set():
            try:
                listing = self.store.list(self.key)
                self._cancel = self.store.watch(self.key, listing.revision + 1, self._on_events)
            except StoreError as exc:
                log.warning("cannot watch %s yet: %s", self.key, exc)
                self._closed.wait(1.0)
                continue
            if rearm:
                self.on_change()  # whatever changed while the watch was down
            return

    def _on_events(self, events: list) -> None:
        if self._closed.is_set():
            return
        if not events:
            self._start(rearm=True)
            return
        self.on_change()

    def close(self) -> None:
        self._closed.set()
        if self._cancel is not None:
            self._cancel()

"""What both stores share: watch batches reach callbacks through a ``WatchDispatcher``
thread, and lease TTLs are whole seconds as etcd's are."""

from __future__ import annotations

import logging
import math
import queue
import threading

from shoal.store.base import Event, WatchCallback

log = logging.getLogger(__name__)


def lease_seconds(ttl: float) -> int:
    """etcd TTLs are whole seconds: round up, and never below one."""
    return max(1, math.ceil(ttl))


class WatchHandle:
    """One watch as the dispatcher sees it: its callback and whether it may still be called."""

    def __init__(self, callback: WatchCallback) -> None:
        self.callback = callback
        self._stopped = threading.Event()

    @property
    def stopped(self) -> bool:
        return self._stopped.is_set()

    def stop(self) -> None:
        self._stopped.set()


class WatchDispatcher:
    """Runs watch callbacks on one thread of its own, in the order batches were submitted.

    Stores submit while holding their own locks (which keeps batches in revision order) and
    the callbacks run later, outside those locks, so a callback may call the store freely.
    An empty batch tells the watcher to re-list; it is delivered once and ends the watch.
    """

    _CLOSE = object()

    def __init__(self, name: str) -> None:
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, handle: WatchHandle, events: list[Event]) -> None:
        self._queue.put((handle, events))

    def close(self) -> None:
        self._queue.put(self._CLOSE)
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is self._CLOSE:
                return
            handle, events = item  # type: ignore[misc]
            if handle.stopped:
                continue
            if not events:
                handle.stop()
            try:
                handle.callback(events)
            except Exception:
                # A watcher's bug must not stop delivery to every other watcher.
                log.exception("watch callback failed")

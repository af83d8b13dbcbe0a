"""One daemon thread with a stop signal, for the control plane's and agent's loops.

Each loop used to hold its own thread, stop Event and join; this keeps that once. ``wake``,
when given, is set after ``stopping`` so a loop parked on it sees the stop at once instead of
at its next timeout. ``stop`` waits at most ``join_timeout``: a loop stuck in a call that does
not return (etcd out of reach) must not hold up the process's exit, and the thread is a
daemon for the same reason."""

from __future__ import annotations

import threading
from collections.abc import Callable


class Worker:
    def __init__(self, name: str, run: Callable[[], None], *, wake: threading.Event | None = None,
                 join_timeout: float = 10.0) -> None:
        self.name = name
        self.stopping = threading.Event()
        self._run = run
        self._wake = wake
        self._join_timeout = join_timeout
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Signals the loop, and returns once it has ended or ``join_timeout`` has passed."""
        self.stopping.set()
        if self._wake is not None:
            self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=self._join_timeout)

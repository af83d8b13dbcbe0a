"""A bound on connection attempts in flight, shared by the clients of one process (a hollow
fleet's nodes): an attempt holds a slot from before its handshake until its stream is held
or it has failed. A real fleet's machines do not all boot, or come back after a control
plane restart, in the same millisecond; a thousand handshakes, registrations and streams at
once only time out and retry, so a fleet that bounded only its first start stampeded on
every reconnect."""

from __future__ import annotations

import threading


class ConnectGate:
    """At most ``limit`` attempts hold a slot. Waits are on a condition, woken by a release
    or by `close`, never a polling loop: a thousand waiting nodes cost nothing."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"connects in flight: must be at least 1, got {limit}")
        self.limit = limit
        self._held = 0
        self._closed = False
        self._cond = threading.Condition()

    def acquire(self) -> bool:
        """Waits for a slot; False (no slot) once the gate is closed."""
        with self._cond:
            while self._held >= self.limit and not self._closed:
                self._cond.wait()
            if self._closed:
                return False
            self._held += 1
            return True

    def release(self) -> None:
        with self._cond:
            if self._held <= 0:
                raise RuntimeError("connect gate released more often than acquired")
            self._held -= 1
            self._cond.notify()

    def close(self) -> None:
        """Wakes every waiter with no slot: the process is stopping."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def held(self) -> int:
        with self._cond:
            return self._held

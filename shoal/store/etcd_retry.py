"""Riding out an etcd outage: which errors are worth another try, and trying again with
Shoal's one backoff until a deadline.

An etcd leader election makes every member answer UNAVAILABLE ("no leader", "leader
changed") for one to three seconds; a killed member refuses connections until the client
moves to another endpoint. Both pass: ``Retrier.run`` tries again (pyetcd has already moved
to the next endpoint on such an error) as long as the next try would start within ``window``
seconds of the first failure, then gives up with the last error. A try may hang up to its
gRPC timeout (a member holds a write for a leader that just died until etcd's request
timeout, ~5 s), so a call lasts at most about two timeouts plus the window. One outage
logs one line, when it ends: what failed first, how long it lasted, how many retries.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import grpc
from pyetcd import exceptions as etcd_exc

from shoal import logs
from shoal.retry import backoff

log = logging.getLogger(__name__)

T = TypeVar("T")

# An etcd election takes one election timeout (1 s by default, randomised up to 2 s) plus a
# vote, but a write in flight when the leader died is held by the member that took it until
# etcd's request timeout (~5 s, seen in tests/integration/test_etcd_store_outage.py): the
# window covers that hang, the election, and a try on each member left.
DEFAULT_RETRY_WINDOW = 8.0
_BACKOFF_BASE = 0.05
_BACKOFF_CAP = 0.5

_TRANSIENT_CODES = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)

# pyetcd turns UNAVAILABLE, DEADLINE_EXCEEDED and INTERNAL into these, having marked the
# endpoint failed so that the next call goes to another one.
_TRANSIENT_ERRORS = (
    etcd_exc.ConnectionFailedError,
    etcd_exc.ConnectionTimeoutError,
    etcd_exc.NoServerAvailableError,
    etcd_exc.InternalServerError,
)


def is_transient(exc: BaseException) -> bool:
    """True for an error another try (on another endpoint, or after an election) can fix."""
    if isinstance(exc, _TRANSIENT_ERRORS):
        return True
    return isinstance(exc, grpc.RpcError) and exc.code() in _TRANSIENT_CODES  # type: ignore[attr-defined]


def describe(exc: BaseException) -> str:
    """pyetcd raises its errors without a message; the gRPC error it replaced has etcd's."""
    cause = exc.__cause__ or exc.__context__
    if isinstance(cause, grpc.RpcError):
        return f"{cause.code().name}: {cause.details()}"  # type: ignore[attr-defined]
    if isinstance(exc, grpc.RpcError):
        return f"{exc.code().name}: {exc.details()}"  # type: ignore[attr-defined]
    return f"{exc.__class__.__name__} {exc}".strip()


class GaveUp(Exception):
    """Every try within the window failed; ``last`` is the last error."""

    def __init__(self, last: BaseException, seconds: float, tries: int) -> None:
        super().__init__(f"{describe(last)} (still failing after {seconds:.1f} s, {tries} tries)")
        self.last = last


class Retrier:
    """Runs calls, retrying transient errors within ``window`` seconds; keeps the state of
    the current outage (shared by every call of one store) to log it once when it ends."""

    def __init__(
        self,
        window: float = DEFAULT_RETRY_WINDOW,
        on_exhausted: Callable[[], None] = lambda: None,
        where: Callable[[], str] = lambda: "?",
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """``on_exhausted`` runs when every endpoint has been marked failed (so that the next
        try goes to all of them again); ``where`` names the endpoint in use, for the log."""
        if window < 0:
            raise ValueError(f"retry window must be >= 0 seconds, got {window}")
        self.window = window
        self._on_exhausted = on_exhausted
        self._where = where
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._outage_start: float | None = None
        self._outage_first = ""
        self._outage_retries = 0

    def run(self, fn: Callable[[], T], on_transient: Callable[[BaseException], None] = lambda _: None) -> T:
        """``fn()``'s result; retries it on a transient error (after calling
        ``on_transient`` with it) while the next try would start within ``window`` seconds
        of the first failure (``window`` 0: no retry), then raises ``GaveUp``. Any other
        error is raised at once."""
        first_failure: float | None = None
        attempt = 0
        while True:
            try:
                result = fn()
            except Exception as exc:
                if not is_transient(exc):
                    raise
                on_transient(exc)
                if isinstance(exc, etcd_exc.NoServerAvailableError):
                    self._on_exhausted()
                self._note_failure(exc)
                now = self._clock()
                if first_failure is None:
                    first_failure = now
                pause = backoff(attempt, _BACKOFF_BASE, _BACKOFF_CAP)
                if now + pause - first_failure > self.window:
                    raise GaveUp(exc, now - first_failure, attempt + 1) from exc
                self._sleep(pause)
                attempt += 1
                continue
            self._note_success()
            return result

    def _note_failure(self, exc: BaseException) -> None:
        with self._lock:
            if self._outage_start is None:
                self._outage_start = self._clock()
                self._outage_first = describe(exc)
                self._outage_retries = 0
            else:
                self._outage_retries += 1

    def _note_success(self) -> None:
        with self._lock:
            if self._outage_start is None:
                return
            seconds = self._clock() - self._outage_start
            first, retries = self._outage_first, self._outage_retries
            self._outage_start = None
        log.warning(
            f"etcd answered again after {seconds:.2f} s (first error: {first}; {retries} retries)",
            extra=logs.kv(seconds=round(seconds, 3), first_error=first, retries=retries, endpoint=self._where()),
        )

"""Refusing a signed write seen before. A Signature V4 signature is good for the whole
clock window (sigv4.MAX_SKEW_SECONDS either side of its timestamp), so whoever captures a
request could send it again inside that window; the gateway remembers the signature of every
write it accepted until its timestamp leaves the window (reads are not asked about: see
sigv4.verify). Signature V4 has no nonce, so two byte-identical calls within the same second
share a signature too: the second is refused in a way the SDKs retry, re-signed (see
sigv4.replayed).

The memory is bounded: when full, the entry with the oldest timestamp is dropped and that
timestamp becomes a floor: a request signed at or before it is refused too, since the cache
can no longer tell whether it was seen. Only requests whose signature verified are
remembered, so only key holders can fill it. Each replica remembers what it served."""

from __future__ import annotations

import heapq
import threading

DEFAULT_CAPACITY = 100_000


class ReplayCache:
    def __init__(self, window_seconds: float, capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 1:
            raise ValueError("capacity: at least 1")
        self.window = window_seconds
        self.capacity = capacity
        self.floor = float("-inf")
        self._seen: set[str] = set()
        self._by_time: list[tuple[float, str]] = []
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._seen)

    def refusal(self, signature: str, signed_at: float, now: float) -> str | None:
        """Records ``signature`` and returns None, or says why it is refused: seen before,
        or signed at or before the floor, so possibly seen before."""
        with self._lock:
            self._forget_before(now - self.window)
            if signature in self._seen:
                return ("this signature was already used; each request must be signed anew (an identical "
                        "request in the same second signs alike: retry it)")
            if signed_at <= self.floor:
                return ("signed too long ago for this busy gateway to tell whether it was already used "
                        "(its replay cache is full); sign it anew")
            self._seen.add(signature)
            heapq.heappush(self._by_time, (signed_at, signature))
            if len(self._seen) > self.capacity:
                oldest, dropped = heapq.heappop(self._by_time)
                self._seen.discard(dropped)
                self.floor = max(self.floor, oldest)
            return None

    def _forget_before(self, limit: float) -> None:
        # Entries signed before the window can no longer pass the clock check anyway.
        while self._by_time and self._by_time[0][0] < limit:
            _, signature = heapq.heappop(self._by_time)
            self._seen.discard(signature)

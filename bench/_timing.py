"""What the bench/ scripts share: waiting for a condition with a deadline, and percentiles."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")


def wait(cond: Callable[[], T], timeout: float, what: str, interval: float = 0.02, *,
         tolerate: bool = False) -> T:
    """Calls ``cond`` every ``interval`` seconds until it returns something truthy, and returns
    that; ends the bench (SystemExit naming ``what``) once ``timeout`` passes. With ``tolerate``
    an exception counts as "not yet": a replica or agent may be down mid-measurement."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = cond()
        except Exception:  # noqa: BLE001 - only with tolerate, re-raised otherwise
            if not tolerate:
                raise
            value = None
        if value:
            return value
        time.sleep(interval)
    raise SystemExit(f"bench: timed out after {timeout:g}s waiting for {what}")


def pct(samples: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``samples``: the sorted sample at index round(q × (n - 1)),
    so 100 samples give a p99 below their maximum; NaN when there are none."""
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]

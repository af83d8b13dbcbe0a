"""Wait for a condition with a deadline: the only way tests wait (never a fixed sleep)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from shoal.waiting import poll

T = TypeVar("T")


def wait_for(condition: Callable[[], T], timeout: float, what: str, interval: float = 0.1) -> T:
    """Polls ``condition`` until it returns something truthy and returns that; fails the
    test with ``what`` and the last value or error seen once ``timeout`` seconds pass."""
    value, last = poll(condition, timeout, interval)
    if not value:
        raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")
    return value

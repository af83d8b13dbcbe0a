"""Waiting for a condition with a deadline, never for a fixed time."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def poll(condition: Callable[[], T], timeout: float, interval: float = 0.1) -> tuple[T | None, object]:
    """Calls ``condition`` every ``interval`` seconds until it returns something truthy, and
    returns ``(that, None)``; once ``timeout`` seconds pass, ``(None, last)`` with the last
    value or exception seen. An exception counts as "not yet": what is polled may not be up."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            value = condition()
            if value:
                return value, None
            last = value
        except Exception as exc:
            last = exc
        if time.monotonic() >= deadline:
            return None, last
        time.sleep(interval)


def wait_until(condition: Callable[[], object], timeout: float, interval: float = 0.1) -> bool:
    """True once ``condition`` returns something truthy, False when ``timeout`` passes first."""
    value, _ = poll(condition, timeout, interval)
    return bool(value)

"""shoal.waiting: the one wait-until, which `shoal up`, the tests and the port wait share."""

from __future__ import annotations

import itertools

from shoal.waiting import poll, wait_until


def test_returns_the_first_truthy_value_and_counts_exceptions_as_not_yet():
    calls = itertools.count()

    def condition():
        n = next(calls)
        if n == 0:
            raise ConnectionRefusedError("not up yet")
        return n if n >= 2 else 0

    assert poll(condition, timeout=5, interval=0.001) == (2, None)


def test_gives_up_at_the_deadline_with_the_last_thing_seen():
    value, last = poll(lambda: 1 / 0, timeout=0.05, interval=0.01)
    assert value is None and isinstance(last, ZeroDivisionError)
    assert wait_until(lambda: [], timeout=0.05, interval=0.01) is False
    assert wait_until(lambda: "yes", timeout=0.05) is True

"""The autoscaler's loop, as Ray's runs it: one cycle per interval (a slow cycle is not
followed by a burst of catch-up cycles), failures counted and the process given up after
too many in a row, its own time and errors exported. Only the leader acts; followers
campaign each cycle and say whom they follow. Each cycle returns a sentence; it is logged
when it says something new, so an idle autoscaler's log stays quiet."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable

from autoscaler.metrics import LEADER, LOOP_ERRORS, LOOP_SECONDS
from shoal.errors import ApiError

log = logging.getLogger(__name__)

_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def gist(sentence: str) -> str:
    """What a sentence decided, without the readings in it: a metric drifting from 41.2 to
    43.0 within its target is not news; going from "within target" to "would scale out" is."""
    return _NUMBER.sub("#", sentence)


class TooManyFailures(Exception):
    pass


class Loop:
    def __init__(self, campaign: Callable[[], str], is_leader: Callable[[], bool],
                 steps: list[tuple[str, Callable[[], str]]], on_leading: Callable[[], str] | None = None,
                 interval: float = 5.0, max_failures: int = 10) -> None:
        self.campaign = campaign
        self.is_leader = is_leader
        self.steps = steps
        self.on_leading = on_leading
        self.interval = interval
        self.max_failures = max_failures
        self.failures = 0
        self._was_leader = False
        self._seeded = False
        self._last_gist = ""

    def cycle(self) -> str:
        standing = self.campaign()
        leading = self.is_leader()
        LEADER.set(1 if leading else 0)
        if not leading:
            self._was_leader = self._seeded = False
            return standing
        said = []
        if not self._was_leader:
            said.append(standing)
        self._was_leader = True
        if not self._seeded and self.on_leading is not None:
            said.append(self.on_leading())
            self._seeded = True
        for name, step in self.steps:
            said.append(f"{name}: {step()}")
        return "; ".join(s for s in said if s)

    def run_once(self) -> str:
        """One throttled cycle's work; counts failures, raises TooManyFailures past the limit."""
        started = time.perf_counter()
        try:
            sentence = self.cycle()
            self.failures = 0
        except ApiError as exc:
            sentence = self._failed(f"control plane call failed ({exc}); acting again next cycle")
        except Exception:
            log.exception("autoscaler cycle failed (bug)")
            sentence = self._failed("cycle failed; see traceback")
        finally:
            LOOP_SECONDS.observe(time.perf_counter() - started)
        return sentence

    def _failed(self, sentence: str) -> str:
        LOOP_ERRORS.inc()
        self.failures += 1
        # A half-done cycle may have left cooldowns unset: start over as a new leader would.
        self._seeded = False
        if self.max_failures and self.failures >= self.max_failures:
            raise TooManyFailures(f"{self.failures} autoscaler cycles failed in a row; last: {sentence}")
        return f"{sentence} ({self.failures} in a row)"

    def say(self, sentence: str) -> bool:
        """Logs ``sentence`` at INFO when its gist differs from the last one's (else at
        DEBUG); returns whether it was news."""
        news = gist(sentence) != self._last_gist
        self._last_gist = gist(sentence)
        log.log(logging.INFO if news else logging.DEBUG, sentence)
        return news

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            started = time.monotonic()
            self.say(self.run_once())
            stop.wait(max(0.0, self.interval - (time.monotonic() - started)))

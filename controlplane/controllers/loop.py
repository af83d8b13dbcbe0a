"""The leader's control loop: level-triggered. It runs a cycle whenever the cache sees
a change and at least every resync interval, and each cycle compares desired with actual
from scratch, so a missed event is never a lost task. Changes arriving while a cycle runs
or within ``min_interval`` of its start are taken together by the next cycle: during a
rollout the agents' reports arrive by the thousand, and a cycle per report kept the
leader's CPU (and the GIL every API call needs) busy. Nor does a cycle start sooner after
the last one ended than twice what that one took (``DUTY``): a cycle over thousands of tasks
on a busy machine takes long, and back-to-back cycles left the agents' reports and the API
only the interpreter's leftovers. A cycle reads the cache once into a ``View``; each
controller's writes are applied to that View, so later controllers see them. Every cycle
returns a sentence saying what it decided; the loop logs it when it says something new."""

from __future__ import annotations

import logging
import threading
import time

from controlplane.cache import Cache
from controlplane.controllers.view import View
from controlplane.metrics import CONTROLLER_ERRORS, IS_LEADER, RECONCILE_SECONDS
from shoal.election import Election
from shoal.store.base import StoreError
from shoal.worker import Worker

log = logging.getLogger(__name__)

# The least time between a cycle's end and the next cycle's start, as a share of how long
# that cycle took: at most a third of the loop's time is spent in cycles. During a 5,000-task
# rollout a cycle holds the interpreter for ~100 ms at a time; at one half, API calls queued
# behind it (bench/scale.py: ListTasks p99 59-118 ms, against 42-85 ms at one third, the
# rollout no slower).
DUTY = 2.0


def next_start(started: float, ended: float, min_interval: float) -> float:
    """When the cycle after one that ran from ``started`` to ``ended`` may start."""
    return max(started + min_interval, ended + DUTY * (ended - started))


class ControllerLoop:
    def __init__(self, election: Election, cache: Cache, controllers: list, resync: float,
                 on_step_down=None, min_interval: float = 0.0) -> None:
        self.election = election
        self.cache = cache
        self.controllers = controllers
        self.resync = resync
        self.min_interval = min_interval
        self.on_step_down = on_step_down
        self._wake = threading.Event()
        self._worker = Worker("controllers", self._run, wake=self._wake)
        self._last_sentence = ""
        self._was_leader = False

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._worker.start()

    def stop(self) -> None:
        self._worker.stop()

    def _run(self) -> None:
        earliest = 0.0
        while not self._worker.stopping.is_set():
            self._wake.wait(self.resync)
            # Coalesce: let the changes of the next moment join this one's cycle.
            if self._worker.stopping.wait(max(0.0, earliest - time.monotonic())):
                return
            self._wake.clear()
            started = time.monotonic()
            sentence = self.cycle()
            earliest = next_start(started, time.monotonic(), self.min_interval)
            if sentence and sentence != self._last_sentence:
                log.info(sentence)
            self._last_sentence = sentence

    def cycle(self) -> str:
        standing = self.election.campaign()
        leading = self.election.is_leader()
        IS_LEADER.set(1 if leading else 0)
        if not leading:
            if self._was_leader and self.on_step_down:
                self.on_step_down()
            self._was_leader = False
            return standing
        self._was_leader = True
        started = time.perf_counter()
        said = []
        view = View.read(self.cache)
        self.cache.on_own_write = view.apply
        try:
            for controller in self.controllers:
                sentence = controller.reconcile(view)
                if sentence:
                    said.append(sentence)
        except StoreError as exc:
            # Fail safe: stop acting this cycle; the fence makes sure nothing half-done lands twice.
            CONTROLLER_ERRORS.inc()
            said.append(f"paused: store error ({exc})")
        except Exception:
            CONTROLLER_ERRORS.inc()
            log.exception("controller cycle failed (bug)")
            said.append("cycle failed; see traceback")
        finally:
            self.cache.on_own_write = None
            RECONCILE_SECONDS.observe(time.perf_counter() - started)
        return "; ".join(said)

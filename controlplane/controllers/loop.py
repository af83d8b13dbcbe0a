"""The leader's control loop: level-triggered. It runs a cycle whenever the cache sees
a change and at least every resync interval, and each cycle compares desired with actual
from scratch, so a missed event is never a lost task. Every cycle returns a sentence
saying what it decided; the loop logs it when it says something new."""

from __future__ import annotations

import logging
import threading
import time

from controlplane.cache import Cache
from controlplane.controllers.view import View
from controlplane.metrics import CONTROLLER_ERRORS, IS_LEADER, RECONCILE_SECONDS
from shoal.election import Election
from shoal.store.base import StoreError

log = logging.getLogger(__name__)


class ControllerLoop:
    def __init__(self, election: Election, cache: Cache, controllers: list, resync: float,
                 on_step_down=None) -> None:
        self.election = election
        self.cache = cache
        self.controllers = controllers
        self.resync = resync
        self.on_step_down = on_step_down
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_sentence = ""
        self._was_leader = False

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="controllers", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.resync)
            self._wake.clear()
            if self._stop.is_set():
                return
            sentence = self.cycle()
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
        try:
            for controller in self.controllers:
                view = View.read(self.cache)
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
            RECONCILE_SECONDS.observe(time.perf_counter() - started)
        return "; ".join(said)

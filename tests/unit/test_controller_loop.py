"""The leader's control loop on the in-memory store: the order of its controllers, how it
pauses, what it says, and that a follower runs none of them."""

from __future__ import annotations

import time

import pytest

from controlplane.api import services
from controlplane.cache import Cache
from controlplane.controllers.gc import TaskGC
from controlplane.controllers.loop import ControllerLoop, next_start
from controlplane.controllers.nodes import NodeController
from controlplane.controllers.placement import PlacementController
from controlplane.controllers.services import ServiceController
from controlplane.controllers.view import View
from controlplane.metrics import CONTROLLER_ERRORS
from shoal.election import Election
from shoal.replica_lease import ReplicaLease
from shoal.store.base import StoreError
from shoal.v1 import operator_pb2 as op
from tests.fixtures.plane import TTL, Plane
from tests.waiting import wait_for

# ---- the loop --------------------------------------------------------------------------------


def loop_of(plane: Plane, controllers: list, on_step_down=None) -> ControllerLoop:
    cache = Cache(plane.store, on_change=lambda: None)
    cache.start()
    plane.writer.cache = cache
    return ControllerLoop(plane.election, cache, controllers, resync=1.0, on_step_down=on_step_down)


def test_one_cycle_runs_the_controllers_in_order_each_seeing_the_last_ones_writes(plane: Plane) -> None:
    plane.node("n1")
    services.create(plane.api, op.CreateServiceRequest(cluster="default", service_name="web",
                                                       task_definition="web", desired_count=2))
    loop = loop_of(plane, [NodeController(plane.writer, grace=TTL),
                           ServiceController(plane.writer, plane.api.arns), PlacementController(plane.writer),
                           TaskGC(plane.writer, 3600)])
    try:
        # The service controller's new tasks are placed in the same cycle, from the cache.
        assert loop.cycle() == "web: started 2 tasks; placed 2 tasks"
        assert all(t.node_id == "n1" and t.last_status == "PENDING" for t in plane.tasks().values())
    finally:
        loop.cache.close()


class Raising:
    def __init__(self, exc: Exception) -> None:
        self.exc = exc
        self.calls = 0

    def reconcile(self, view: View) -> str:
        self.calls += 1
        raise self.exc


class Saying:
    def __init__(self, sentence: str) -> None:
        self.sentence = sentence
        self.calls = 0
        self.last_call: float | None = None

    def reconcile(self, view: View) -> str:
        self.calls += 1
        self.last_call = time.monotonic()
        return self.sentence


def test_store_errors_pause_the_cycle_and_bugs_are_reported(plane: Plane) -> None:
    after = Saying("never reached")
    for exc, said in ((StoreError("etcd unreachable"), "first; paused: store error (etcd unreachable)"),
                      (KeyError("bug"), "first; cycle failed; see traceback")):
        loop = loop_of(plane, [Saying("first"), Raising(exc), after])
        errors = CONTROLLER_ERRORS._value.get()
        try:
            assert loop.cycle() == said
        finally:
            loop.cache.close()
        assert CONTROLLER_ERRORS._value.get() == errors + 1
    assert after.calls == 0


def test_a_follower_runs_no_controller_and_a_leader_stepping_down_says_so(plane: Plane) -> None:
    stepped_down = []
    work = Saying("did something")
    loop = loop_of(plane, [work], on_step_down=lambda: stepped_down.append(True))
    try:
        assert loop.cycle() == "did something"
        # The leader lease goes unrefreshed past 0.8 x TTL: no longer certainly alive.
        plane.clock.advance(TTL)
        assert loop.cycle() == "stepped down: leader lease is not valid"
        assert stepped_down == [True] and work.calls == 1
        assert loop.cycle() == "not campaigning: no valid leader lease"
        assert stepped_down == [True]
        # Another replica takes over once our key is gone; we follow it.
        plane.store.expire_leases()
        other = ReplicaLease(plane.store, TTL, clock=plane.clock)
        other.keep_alive_once()
        assert Election(plane.store, other, "other").campaign().startswith("became leader")
        plane.lease.keep_alive_once()
        assert loop.cycle() == "following other"
        assert work.calls == 1
    finally:
        loop.cache.close()


def test_changes_arriving_together_are_taken_by_one_cycle_and_none_is_missed(plane: Plane) -> None:
    work = Saying("")
    loop = loop_of(plane, [work])
    loop.min_interval = 0.5
    loop.resync = 3600.0  # only wake-ups start cycles here
    loop.start()
    try:
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            loop.wake()
            time.sleep(0.001)  # changes arriving a millisecond apart, as agents' reports do
        last_wake = time.monotonic()
        loop.wake()
        # The last change still gets a cycle of its own (level-triggered, nothing dropped).
        wait_for(lambda: work.last_call is not None and work.last_call > last_wake, 5, "a cycle after the last change")
        # Without coalescing, each wake-up in that 1.5 s started a cycle (hundreds).
        assert work.calls <= 6
    finally:
        loop.stop()
        loop.cache.close()


def test_a_long_cycle_is_followed_by_a_pause_twice_as_long() -> None:
    # A quick cycle: the next may start once --cycle-interval has passed since its start.
    assert next_start(started=10.0, ended=10.02, min_interval=0.1) == pytest.approx(10.1)
    # A cycle that took 0.4 s (thousands of tasks, a busy machine): the loop waits twice as
    # long, so the reports and API calls get at least two thirds of the time.
    assert next_start(started=10.0, ended=10.4, min_interval=0.1) == pytest.approx(11.2)


def test_a_slow_cycle_does_not_run_back_to_back(plane: Plane) -> None:
    class Slow:
        def __init__(self) -> None:
            self.starts: list[float] = []

        def reconcile(self, view: View) -> str:
            self.starts.append(time.monotonic())
            time.sleep(0.2)  # stands for a long cycle's work; what is tested is the pause after it
            return ""

    work = Slow()
    loop = loop_of(plane, [work])
    loop.min_interval = 0.0
    loop.resync = 3600.0  # only wake-ups start cycles here
    loop.start()
    try:
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            loop.wake()  # always something new: without the pause, cycles would run back to back
            time.sleep(0.01)
        wait_for(lambda: len(work.starts) >= 3, 5, "three cycles")
        gaps = [b - a for a, b in zip(work.starts, work.starts[1:], strict=False)]
        assert all(gap >= 0.39 for gap in gaps), gaps
    finally:
        loop.stop()
        loop.cache.close()

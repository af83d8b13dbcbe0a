"""Keep the better copy on reconnect (a service's replaceOnDisconnect): the pure rule of
controllers/reconnect.py, then the rule applied by the node and service controllers on the
in-memory store — a lost node's tasks are replaced at once, and when the node returns within
the tolerance one copy of each pair is stopped with a reason saying why."""

from __future__ import annotations

import pytest

from controlplane.api import services
from controlplane.controllers.nodes import NodeController
from controlplane.controllers.placement import PlacementController
from controlplane.controllers.reconnect import keep_better
from controlplane.controllers.services import ServiceController
from controlplane.errors import ApiError
from shoal import keys
from shoal.v1 import operator_pb2 as op
from shoal.v1 import resources_pb2 as r
from tests.fixtures.plane import Plane, place_and_run


def _task(task_id: str, status: str = "RUNNING", health: str = "", created: float = 0.0,
          lost: float = 0.0) -> r.Task:
    return r.Task(id=task_id, last_status=status, health_status=health, created_at=created, disconnected_at=lost)


def test_a_healthy_original_is_kept_and_its_replacement_stopped() -> None:
    [stop] = keep_better([_task("orig", created=1, lost=10)], [_task("other", created=1), _task("new", created=11)], 2)
    assert stop.task_id == "new"
    assert "the task orig it replaced came back" in stop.reason


def test_ties_go_to_the_original_both_good_or_both_bad() -> None:
    for status, health in (("RUNNING", "HEALTHY"), ("PENDING", ""), ("RUNNING", "UNHEALTHY")):
        [stop] = keep_better([_task("orig", status, health, created=1, lost=10)],
                             [_task("new", status, health, created=11)], 1)
        assert stop.task_id == "new", (status, health)


def test_the_replacement_wins_when_only_it_is_running_and_healthy() -> None:
    for status, health in (("PENDING", ""), ("RUNNING", "UNHEALTHY"), ("ACTIVATING", "")):
        [stop] = keep_better([_task("orig", status, health, created=1, lost=10)],
                             [_task("new", "RUNNING", "HEALTHY", created=11)], 1)
        assert stop.task_id == "orig"
        assert f"replacement new is RUNNING, HEALTHY while this copy is {status}" in stop.reason


def test_never_below_desired_and_only_tasks_started_after_the_loss_are_replacements() -> None:
    # Desired raised meanwhile: both copies are wanted, none is stopped.
    assert keep_better([_task("orig", lost=10)], [_task("new", created=11)], 2) == []
    # A task older than the loss is no replacement for it.
    assert keep_better([_task("orig", lost=10)], [_task("old", created=5)], 1) == []
    # Two originals back, one replacement started: one pair, one stop; the other original stays.
    stops = keep_better([_task("o1", lost=10), _task("o2", lost=10)], [_task("new", created=12)], 2)
    assert [s.task_id for s in stops] == ["new"]
    # Two of each, desired 3 (scaled down meanwhile by one): only the surplus of one goes.
    stops = keep_better([_task("o1", lost=10), _task("o2", lost=10)],
                        [_task("n1", created=11), _task("n2", created=12)], 3)
    assert len(stops) == 1


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def _lost_and_replaced(plane: Plane) -> tuple[Clock, NodeController, ServiceController, list[r.Task]]:
    """Service of 2 on n1 with a 60 s tolerance and replaceOnDisconnect; n1 is lost, the two
    replacements are placed on n2."""
    plane.node("n1", cpu=4096, memory=4096)
    services.create(plane.api, op.CreateServiceRequest(cluster="default", service_name="web", task_definition="web",
                                                       desired_count=2, disconnect_tolerance_seconds=60,
                                                       replace_on_disconnect=True))
    svc_ctl = ServiceController(plane.writer, plane.api.arns)
    svc_ctl.reconcile(plane.view())
    running = place_and_run(plane)
    plane.node("n2", cpu=4096, memory=4096)
    clock = Clock()
    clock.now = max(t.created_at for t in running) + 1
    nodes = NodeController(plane.writer, grace=0, clock=clock)
    plane.store.delete(keys.alive("n1"))
    assert nodes.reconcile(plane.view()).endswith("2 service tasks on lost nodes are UNKNOWN within their "
                                                  "disconnect tolerance")
    assert svc_ctl.reconcile(plane.view()) == "web: started 2 tasks"
    PlacementController(plane.writer).reconcile(plane.view())
    fresh = [t for t in plane.tasks().values() if t.id not in {o.id for o in running}]
    assert {t.node_id for t in fresh} == {"n2"}, "replacements go to the reachable node"
    # The originals stay UNKNOWN and assigned: the agent keeps running them.
    assert all(plane.task(t.id).last_status == "UNKNOWN" and plane.assignment(plane.task(t.id)) for t in running)
    return clock, nodes, svc_ctl, running


def test_the_node_returns_with_its_tasks_running_the_replacements_are_stopped(plane: Plane) -> None:
    clock, nodes, svc_ctl, running = _lost_and_replaced(plane)
    fresh = [t.id for t in plane.tasks().values() if t.id not in {o.id for o in running}]
    for t in fresh:
        plane.report(t, "RUNNING")
    clock.now += 30
    plane.store.put(keys.alive("n1"), b"127.0.0.1:1")
    said = nodes.reconcile(plane.view())
    assert said == "nodes n1 connected; stopped 2 service tasks (2 the worse copy on a reconnect); " \
                   "2 UNKNOWN tasks are back with their nodes"
    for t in running:
        assert plane.task(t.id).last_status == "RUNNING" and plane.task(t.id).desired_status == "RUNNING"
    for t in fresh:
        gone = plane.task(t)
        assert gone.desired_status == "STOPPED" and gone.stop_code == "ServiceSchedulerInitiated"
        assert "came back with its node within the service's disconnect tolerance" in gone.stopped_reason
    # The service controller then sees exactly its desired count: nothing started or stopped.
    assert svc_ctl.reconcile(plane.view()) == ""
    live = [t for t in plane.tasks().values() if t.desired_status == "RUNNING"]
    assert sorted(t.id for t in live) == sorted(t.id for t in running)


def test_an_original_that_did_not_survive_loses_to_a_running_replacement(plane: Plane) -> None:
    clock, nodes, _, running = _lost_and_replaced(plane)
    fresh = sorted(t.id for t in plane.tasks().values() if t.id not in {o.id for o in running})
    for t in fresh:
        plane.report(t, "RUNNING")
    # The agent's catch-up report on reconnect: one original is restarting, not running.
    sick = plane.task(running[0].id)
    plane.report(sick.id, "PENDING")
    plane.store.put(keys.alive("n1"), b"127.0.0.1:1")
    nodes.reconcile(plane.view())
    lost = plane.task(sick.id)
    assert lost.desired_status == "STOPPED"
    assert "its replacement" in lost.stopped_reason and "while this copy is PENDING" in lost.stopped_reason
    assert plane.task(running[1].id).desired_status == "RUNNING"
    wanted = [t for t in plane.tasks().values() if t.desired_status == "RUNNING"]
    assert len(wanted) == 2, "one copy of each: never more, never fewer than desired"


def test_replace_on_disconnect_needs_a_tolerance_and_a_replica_service(plane: Plane) -> None:
    plane.node("n1")
    with pytest.raises(ApiError, match="replaceOnDisconnect: needs a disconnectToleranceSeconds"):
        services.create(plane.api, op.CreateServiceRequest(cluster="default", service_name="web",
                                                           task_definition="web", replace_on_disconnect=True))
    with pytest.raises(ApiError, match="replaceOnDisconnect: a DAEMON"):
        services.create(plane.api, op.CreateServiceRequest(cluster="default", service_name="d", task_definition="web",
                                                           scheduling_strategy="DAEMON",
                                                           disconnect_tolerance_seconds=5,
                                                           replace_on_disconnect=True))
    services.create(plane.api, op.CreateServiceRequest(cluster="default", service_name="web", task_definition="web",
                                                       disconnect_tolerance_seconds=30))
    services.update(plane.api, op.UpdateServiceRequest(cluster="default", service="web", replace_on_disconnect=True))
    assert plane.service().replace_on_disconnect
    # Taking the tolerance away from under it is refused, nothing half-applied.
    with pytest.raises(ApiError, match="replaceOnDisconnect"):
        services.update(plane.api, op.UpdateServiceRequest(cluster="default", service="web",
                                                           disconnect_tolerance_seconds=0))
    assert plane.service().disconnect_tolerance_seconds == 30
    services.update(plane.api, op.UpdateServiceRequest(cluster="default", service="web",
                                                       disconnect_tolerance_seconds=0, replace_on_disconnect=False))
    assert (plane.service().disconnect_tolerance_seconds, plane.service().replace_on_disconnect) == (0, False)


def test_an_original_stopped_by_hand_meanwhile_is_not_counted_as_a_copy(plane: Plane) -> None:
    _, nodes, _, running = _lost_and_replaced(plane)
    fresh = [t.id for t in plane.tasks().values() if t.id not in {o.id for o in running}]
    for t in fresh:
        plane.report(t, "RUNNING")
    stopped = plane.task(running[0].id)
    stopped.desired_status = "STOPPED"  # StopTask while its node was away
    plane.store.put(keys.task("default", stopped.id), stopped.SerializeToString())
    plane.store.put(keys.alive("n1"), b"127.0.0.1:1")
    nodes.reconcile(plane.view())
    # Only the other original has a surplus copy to settle: one replacement stopped, one kept.
    assert sum(plane.task(t).desired_status == "STOPPED" for t in fresh) == 1
    assert plane.task(running[1].id).desired_status == "RUNNING"
    assert plane.task(stopped.id).disconnected_at == 0

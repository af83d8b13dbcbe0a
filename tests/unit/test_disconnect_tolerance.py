"""Disconnect tolerance (a service's disconnectToleranceSeconds, Nomad's max_client_disconnect)
on the in-memory store with a hand-moved clock: a lost node's tasks read UNKNOWN and are not
replaced within it, come back RUNNING when the node does, and are stopped for replacement
after it; a tolerance of 0 keeps the old behaviour, a deregistered node gets none."""

from __future__ import annotations

import pytest

from controlplane.api import services
from controlplane.api.task_reports import _merge
from controlplane.controllers.nodes import NodeController
from controlplane.controllers.services import ServiceController
from controlplane.errors import ApiError
from shoal import keys
from shoal.v1 import agent_pb2
from shoal.v1 import operator_pb2 as op
from tests.fixtures.plane import Plane, place_and_run


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def _setup(plane: Plane, tolerance: int) -> tuple[Clock, NodeController, ServiceController, list]:
    plane.node("n1", cpu=4096, memory=4096)
    services.create(plane.api, op.CreateServiceRequest(cluster="default", service_name="web", task_definition="web",
                                                       desired_count=2, disconnect_tolerance_seconds=tolerance))
    svc_ctl = ServiceController(plane.writer, plane.api.arns)
    svc_ctl.reconcile(plane.view())
    running = place_and_run(plane)
    clock = Clock()
    return clock, NodeController(plane.writer, grace=0, clock=clock), svc_ctl, running


def test_within_the_tolerance_tasks_are_unknown_and_not_replaced_then_running_again(plane: Plane) -> None:
    clock, nodes, svc_ctl, running = _setup(plane, 60)
    plane.store.delete(keys.alive("n1"))
    said = nodes.reconcile(plane.view())
    assert said == "nodes n1 lost; 2 service tasks on lost nodes are UNKNOWN within their disconnect tolerance"
    for t in running:
        held = plane.task(t.id)
        assert (held.last_status, held.desired_status) == ("UNKNOWN", "RUNNING")
        assert held.disconnected_at == clock.now and held.status_before_disconnect == "RUNNING"
        # Still assigned, whole: the agent keeps running it, and a reconnect finds it wanted.
        assignment = plane.assignment(held)
        assert assignment is not None and assignment.task_definition.task_definition_arn == plane.td.task_definition_arn
    assert svc_ctl.reconcile(plane.view()) == ""  # no replacement started
    assert len(plane.tasks()) == 2
    clock.now += 59
    assert nodes.reconcile(plane.view()) == ""
    # The node comes back in time: the same tasks, RUNNING, nothing started or stopped.
    plane.store.put(keys.alive("n1"), b"127.0.0.1:1")
    said = nodes.reconcile(plane.view())
    assert said == "nodes n1 connected; 2 UNKNOWN tasks are back with their nodes"
    for t in running:
        back = plane.task(t.id)
        assert (back.last_status, back.disconnected_at, back.status_before_disconnect) == ("RUNNING", 0, "")
    svc_ctl.reconcile(plane.view())
    assert len(plane.tasks()) == 2 and plane.service().running_count == 2


def test_after_the_tolerance_the_tasks_are_stopped_and_replaced(plane: Plane) -> None:
    clock, nodes, svc_ctl, running = _setup(plane, 60)
    plane.node("n2", cpu=4096, memory=4096)
    plane.store.delete(keys.alive("n1"))
    nodes.reconcile(plane.view())
    clock.now += 60
    said = nodes.reconcile(plane.view())
    assert said == "stopped 2 service tasks on lost or deregistered nodes for replacement"
    for t in running:
        gone = plane.task(t.id)
        assert (gone.last_status, gone.stop_code) == ("STOPPED", "TerminationNotice")
        assert "longer than its service's disconnect tolerance (60s)" in gone.stopped_reason
        assert plane.assignment(gone) is None  # the agent, when back, removes the containers
    assert svc_ctl.reconcile(plane.view()) == "web: started 2 tasks"


def test_no_tolerance_replaces_at_once_and_a_deregistered_node_gets_none(plane: Plane) -> None:
    _, nodes, _, running = _setup(plane, 0)
    plane.store.delete(keys.alive("n1"))
    assert nodes.reconcile(plane.view()).endswith("stopped 2 service tasks on lost or deregistered nodes "
                                                  "for replacement")
    other = Plane()
    try:
        _, nodes, _, running = _setup(other, 3600)
        other.store.delete(keys.node("default", "n1"))
        other.store.delete(keys.alive("n1"))
        other.store.put(keys.deregistered("n1"), b"1")
        assert nodes.reconcile(other.view()) == "stopped 2 service tasks on lost or deregistered nodes for replacement"
        assert all(other.task(t.id).last_status == "STOPPED" for t in running)
    finally:
        other.close()


def test_the_agents_report_replaces_unknown_and_the_leader_only_clears_its_marks(plane: Plane) -> None:
    _, nodes, _, running = _setup(plane, 60)
    plane.store.delete(keys.alive("n1"))
    nodes.reconcile(plane.view())
    task = plane.task(running[0].id)
    # The gateway's merge of the agent's catch-up report on reconnect.
    _merge(task, agent_pb2.TaskStateChange(task_id=task.id, last_status="DEACTIVATING"))
    assert task.last_status == "DEACTIVATING"
    plane.store.put(keys.task("default", task.id), task.SerializeToString())
    plane.store.put(keys.alive("n1"), b"127.0.0.1:1")
    nodes.reconcile(plane.view())
    back = plane.task(task.id)
    assert (back.last_status, back.disconnected_at) == ("DEACTIVATING", 0)
    assert plane.task(running[1].id).last_status == "RUNNING"


def test_the_tolerance_is_checked_and_updated_through_the_api(plane: Plane) -> None:
    _setup(plane, 0)
    for bad in (-1, 86_401):
        with pytest.raises(ApiError, match="disconnectToleranceSeconds"):
            services.update(plane.api, op.UpdateServiceRequest(cluster="default", service="web",
                                                               disconnect_tolerance_seconds=bad))
        with pytest.raises(ApiError, match="disconnectToleranceSeconds"):
            services.create(plane.api, op.CreateServiceRequest(cluster="default", service_name="other",
                                                               task_definition="web",
                                                               disconnect_tolerance_seconds=bad))
    assert plane.service().disconnect_tolerance_seconds == 0
    services.update(plane.api, op.UpdateServiceRequest(cluster="default", service="web",
                                                       disconnect_tolerance_seconds=90))
    assert plane.service().disconnect_tolerance_seconds == 90
    # An update that does not name it keeps it.
    services.update(plane.api, op.UpdateServiceRequest(cluster="default", service="web", desired_count=1))
    assert plane.service().disconnect_tolerance_seconds == 90

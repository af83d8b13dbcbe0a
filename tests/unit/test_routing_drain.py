"""Drain before stop: the leader's stops of a target (scale-in, StopTask) set
``deregister_until`` in the same write, its assignment carries the target groups the
agent checks, a lost node's targets get no draining, and the draining task no longer
counts for its deployment."""

from __future__ import annotations

import time

import pytest

from controlplane.api import tasks
from controlplane.controllers.assignments import AssignmentController
from controlplane.controllers.nodes import NodeController
from controlplane.controllers.placement import PlacementController
from controlplane.controllers.services import ServiceController
from controlplane.routing import sources
from controlplane.routing.targets import DISCOVERY_DRAIN_SECONDS, deregister_until
from shoal import keys
from shoal.v1 import operator_pb2 as op
from shoal.v1 import resources_pb2 as r
from shoal.v1 import traffic_pb2 as t
from tests.fixtures.plane import WEB, Plane, place_and_run

TG = t.TargetGroup(target_group_arn="arn:tg/web", target_group_name="web", protocol="HTTP", port=80,
                   cluster="default", id="tg1", deregistration_delay_seconds=30,
                   health_check=t.HealthCheckConfig(path="/health", healthy_threshold=2))


def web_service(plane: Plane, count: int) -> None:
    """A service attached to TG, as the API writes it."""
    plane.store.put(sources.TARGETGROUPS + "default/web", TG.SerializeToString())
    svc = r.Service(service_name="web", cluster="default", status="ACTIVE", desired_count=count,
                    task_definition=plane.td.task_definition_arn,
                    service_arn=plane.api.arns.service("default", "web"),
                    load_balancers=[r.ServiceLoadBalancer(target_group_arn=TG.target_group_arn, container_name="web",
                                                          container_port=80)])
    held = plane.store.get(keys.service("default", "web"))
    if held is not None:
        old = r.Service.FromString(held.value)
        old.desired_count = count
        svc = old
    plane.store.put(keys.service("default", "web"), svc.SerializeToString())


def running_service(plane: Plane, count: int) -> list[r.Task]:
    plane.node("n1")
    web_service(plane, count)
    ServiceController(plane.writer, plane.api.arns).reconcile(plane.view())
    return place_and_run(plane)


def test_assignment_carries_the_target_groups_with_elbv2_defaults(plane: Plane) -> None:
    (task,) = running_service(plane, 1)
    (target,) = plane.assignment(task).targets
    assert (target.target_group_arn, target.container_name, target.container_port, target.protocol) == (
        "arn:tg/web", "web", 80, "HTTP")
    # Given: path and healthy threshold; the rest are ELBv2's HTTP defaults.
    assert (target.path, target.matcher, target.interval_seconds, target.timeout_seconds,
            target.healthy_threshold, target.unhealthy_threshold, target.deregistration_delay_seconds) == (
        "/health", "200", 30, 5, 2, 2, 30)


def test_scale_in_drains_the_target_and_does_not_count_it(plane: Plane) -> None:
    running_service(plane, 2)
    web_service(plane, 1)
    before = time.time()
    ServiceController(plane.writer, plane.api.arns).reconcile(plane.view())
    (stopping,) = [t for t in plane.tasks().values() if t.desired_status == "STOPPED"]
    assert before + 30 <= stopping.deregister_until <= time.time() + 30
    # Written with its assignment: the agent sees when it may stop the containers.
    assert plane.assignment(stopping).task.deregister_until == stopping.deregister_until
    # Still running its containers, but no longer counted: the rollout does not wait for it.
    ServiceController(plane.writer, plane.api.arns).reconcile(plane.view())
    assert plane.service().running_count == 1


def test_stop_task_by_the_user_is_drained_by_the_leader(plane: Plane) -> None:
    (task,) = running_service(plane, 1)
    tasks.stop(plane.api, op.StopTaskRequest(cluster="default", task=task.id))
    assert plane.task(task.id).deregister_until == 0  # the API writes the wish only
    assert AssignmentController(plane.writer).reconcile(plane.view()) == "told nodes to stop 1 tasks"
    stopped = plane.task(task.id)
    assert stopped.deregister_until >= time.time() + 29
    assert plane.assignment(stopped).task.deregister_until == stopped.deregister_until


def test_lost_node_targets_are_not_drained(plane: Plane) -> None:
    (task,) = running_service(plane, 1)
    plane.store.delete(keys.alive("n1"))
    ctl = NodeController(plane.writer, grace=0)
    ctl.reconcile(plane.view())
    lost = plane.task(task.id)
    assert lost.last_status == "STOPPED" and lost.deregister_until == 0


NOW = 1000.0
TARGET = r.AssignedTarget(target_group_arn="a", deregistration_delay_seconds=30)


@pytest.mark.parametrize(("case", "last", "node", "targets", "discovered", "expected"), [
    ("running target: the largest delay", "RUNNING", "n1",
     [TARGET, r.AssignedTarget(target_group_arn="b", deregistration_delay_seconds=60)], False, NOW + 60),
    ("never served: at once", "PENDING", "n1", [TARGET], False, 0.0),
    ("not placed: at once", "RUNNING", "", [TARGET], False, 0.0),
    ("no target: at once", "RUNNING", "n1", [], False, 0.0),
    ("delay 0: at once", "RUNNING", "n1", [r.AssignedTarget(target_group_arn="a")], False, 0.0),
    ("discovery only", "RUNNING", "n1", [], True, NOW + DISCOVERY_DRAIN_SECONDS),
])
def test_drain_decision(case, last, node, targets, discovered, expected):
    task = r.Task(last_status=last, node_id=node)
    assert deregister_until(task, targets, discovered, NOW) == expected, case


def observe(plane: Plane, task_id: str, state: str) -> None:
    """The task's target health as the gateway stores what its agent reported."""
    task = plane.task(task_id)
    del task.target_health[:]
    task.target_health.add(target_group_arn=TG.target_group_arn, state=state)
    plane.store.put(keys.task("default", task_id), task.SerializeToString())


def test_a_rollout_stops_no_old_target_before_its_replacement_is_healthy(plane: Plane) -> None:
    (old,) = running_service(plane, 1)
    observe(plane, old.id, "healthy")
    td2 = plane.register({**WEB, "containerDefinitions": [{**WEB["containerDefinitions"][0], "cpu": 128}]})
    svc = plane.service()
    svc.task_definition = td2.task_definition_arn
    svc.deployment_configuration.minimum_healthy_percent = 100
    svc.deployment_configuration.maximum_percent = 200
    plane.store.put(keys.service("default", "web"), svc.SerializeToString())
    ctl = ServiceController(plane.writer, plane.api.arns)
    ctl.reconcile(plane.view())
    (new,) = [t for t in place_and_run(plane) if t.id != old.id]
    # RUNNING, but its target is still being checked: the old one keeps serving.
    observe(plane, new.id, "initial")
    ctl.reconcile(plane.view())
    assert plane.task(old.id).desired_status == "RUNNING"
    observe(plane, new.id, "healthy")
    assert "stopped 1 replaced tasks" in ctl.reconcile(plane.view())
    assert plane.task(old.id).desired_status == "STOPPED" and plane.task(old.id).deregister_until > time.time()


def test_an_unhealthy_target_is_replaced_after_the_grace_period(plane: Plane) -> None:
    (task,) = running_service(plane, 1)
    svc = plane.service()
    svc.health_check_grace_period_seconds = 60
    plane.store.put(keys.service("default", "web"), svc.SerializeToString())
    observe(plane, task.id, "unhealthy")
    ctl = ServiceController(plane.writer, plane.api.arns)
    ctl.reconcile(plane.view())
    assert plane.task(task.id).desired_status == "RUNNING"  # within the grace period
    plane.report(task.id, "RUNNING", started_at=time.time() - 61)
    assert "stopped 1 unhealthy tasks" in ctl.reconcile(plane.view())
    stopped = plane.task(task.id)
    assert stopped.desired_status == "STOPPED"
    assert stopped.stopped_reason == "Task failed ELB health checks in (target-group arn:tg/web)"


def test_a_draining_targets_resources_stay_reserved_until_it_stops(plane: Plane) -> None:
    plane.node("n1", cpu=512)  # room for two tasks of 256
    web_service(plane, 2)
    ctl = ServiceController(plane.writer, plane.api.arns)
    ctl.reconcile(plane.view())
    (first, second) = place_and_run(plane)
    tasks.stop(plane.api, op.StopTaskRequest(cluster="default", task=first.id))
    AssignmentController(plane.writer).reconcile(plane.view())
    plane.report(first.id, "DEACTIVATING")
    ctl.reconcile(plane.view())  # its replacement is started at once...
    said = PlacementController(plane.writer).reconcile(plane.view())
    assert said.startswith("1 tasks wait for capacity")  # ...but waits for the draining one's room
    plane.report(first.id, "STOPPED")
    AssignmentController(plane.writer).reconcile(plane.view())
    assert PlacementController(plane.writer).reconcile(plane.view()) == "placed 1 tasks"


@pytest.mark.parametrize("why", ["service deleted", "node drained"])
def test_every_leader_stop_of_a_target_drains_it(plane: Plane, why: str) -> None:
    (task,) = running_service(plane, 1)
    if why == "service deleted":
        svc = plane.service()
        svc.status, svc.desired_count = "DRAINING", 0
        plane.store.put(keys.service("default", "web"), svc.SerializeToString())
    else:
        node = r.ContainerInstance.FromString(plane.store.get(keys.node("default", "n1")).value)
        node.status = "DRAINING"
        plane.store.put(keys.node("default", "n1"), node.SerializeToString())
    ServiceController(plane.writer, plane.api.arns).reconcile(plane.view())
    stopped = plane.task(task.id)
    assert stopped.desired_status == "STOPPED" and stopped.deregister_until >= time.time() + 29, why

"""availabilityZoneRebalancing: the pure decision (``zone_move``) and the service scheduler
carrying a move out on the in-memory store — start in the light zone, count it only once it
is healthy, then stop from the heavy zone, never below the desired count."""

from __future__ import annotations

import pytest

from controlplane.api import services
from controlplane.controllers.placement import PlacementController
from controlplane.controllers.services import ServiceController
from controlplane.errors import ApiError
from controlplane.scheduler.rebalance import zone_move
from shoal import keys
from shoal.v1 import operator_pb2 as op
from shoal.v1 import resources_pb2 as r
from tests.fixtures.plane import Plane, place_and_run

# ---- the decision ----------------------------------------------------------------------------


def test_balanced_services_do_not_move() -> None:
    assert zone_move([], ["a", "b"]) is None
    assert zone_move(["a", "a", "b"], ["a", "b"]) is None  # one apart is balanced
    assert zone_move(["a", "b", "c", "a"], ["a", "b", "c"]) is None
    assert zone_move(["a", "a", "a"], ["a"]) is None  # nowhere to move to


def test_a_crowded_zone_moves_one_task_to_the_lightest() -> None:
    move = zone_move(["a", "a", "a"], ["a", "b", "c"])
    assert move is not None and (move.start_in, move.stop_from) == ("b", "a")
    assert move.counts == {"a": 3, "b": 0, "c": 0}
    move = zone_move(["a", "a", "b", "b", "b", "b"], ["b", "a", "c"])
    assert (move.start_in, move.stop_from) == ("c", "b")
    # A zone with no usable node is not a place to move to; its tasks do not count.
    assert zone_move(["a", "a", "gone"], ["a", "b"]).counts == {"a": 2, "b": 0}


def test_repeated_moves_reach_balance() -> None:
    zones_of = ["a"] * 7
    moves = 0
    while (move := zone_move(zones_of, ["a", "b", "c"])) is not None:
        zones_of.append(move.start_in)
        zones_of.remove(move.stop_from)
        moves += 1
    assert sorted(zones_of.count(z) for z in "abc") == [2, 2, 3] and moves == 4


# ---- the scheduler ---------------------------------------------------------------------------


def _settle(plane: Plane, ctl: ServiceController) -> str:
    """One scheduler cycle, then placement and the agents' reports of what it decided."""
    said = ctl.reconcile(plane.view())
    PlacementController(plane.writer).reconcile(plane.view())
    for t in plane.tasks().values():
        if t.desired_status == "STOPPED" and t.last_status != "STOPPED":
            plane.report(t.id, "STOPPED")
        elif t.node_id and t.last_status == "PENDING":
            plane.report(t.id, "RUNNING")
    return said


def _zones(plane: Plane) -> dict[str, int]:
    zone = {n.id: next(a.value for a in n.attributes if a.name == "ecs.availability-zone") for n in plane.nodes()}
    out: dict[str, int] = {}
    for t in plane.tasks().values():
        if t.last_status == "RUNNING" and t.desired_status == "RUNNING":
            out[zone[t.node_id]] = out.get(zone[t.node_id], 0) + 1
    return out


def _crowded(plane: Plane, rebalancing: str) -> ServiceController:
    """Three tasks all in zone a (b's node was away), then b's node back."""
    plane.node("a1", zone="a", cpu=4096, memory=4096)
    services.create(plane.api, op.CreateServiceRequest(
        cluster="default", service_name="web", task_definition="web", desired_count=3,
        availability_zone_rebalancing=rebalancing,
        deployment_configuration=r.DeploymentConfiguration(minimum_healthy_percent=100, maximum_percent=200)))
    ctl = ServiceController(plane.writer, plane.api.arns)
    ctl.reconcile(plane.view())
    place_and_run(plane)
    ctl.reconcile(plane.view())
    assert plane.service().deployments[0].rollout_state == "COMPLETED"
    plane.node("b1", zone="b", cpu=4096, memory=4096)
    return ctl


def test_a_crowded_service_is_rebalanced_without_dropping_below_desired(plane: Plane) -> None:
    ctl = _crowded(plane, "ENABLED")
    said = ctl.reconcile(plane.view())
    assert said == "web: rebalancing: start a task in zone b, then stop one in zone a (a: 3, b: 0)"
    svc = plane.service()
    moving = plane.task(svc.rebalancing_task_id)
    assert [c.expression for c in moving.placement_constraints] == ["attribute:ecs.availability-zone == b"]
    assert any("is rebalancing across availability zones: start a task in zone b" in e.message for e in svc.events)
    # Placed but not yet RUNNING: nothing is stopped, and the scheduler does not scale it in.
    PlacementController(plane.writer).reconcile(plane.view())
    assert plane.task(moving.id).node_id == "b1"
    assert ctl.reconcile(plane.view()) == ""
    assert sum(1 for t in plane.tasks().values() if t.desired_status == "STOPPED") == 0
    # Healthy: one task of zone a goes; three stay RUNNING throughout.
    plane.report(moving.id, "RUNNING")
    assert ctl.reconcile(plane.view()) == "web: rebalanced: stopped 1 task in the crowded zone"
    (stopped,) = [t for t in plane.tasks().values() if t.desired_status == "STOPPED"]
    assert stopped.node_id == "a1" and not plane.service().rebalancing_task_id
    assert sum(1 for t in plane.tasks().values()
               if t.last_status == "RUNNING" and t.desired_status == "RUNNING") == 3
    for _ in range(4):
        _settle(plane, ctl)
    assert _zones(plane) == {"a": 2, "b": 1}
    assert ctl.reconcile(plane.view()) == ""  # balanced: no more moves


def test_disabled_leaves_the_service_where_it_is(plane: Plane) -> None:
    ctl = _crowded(plane, "")
    assert plane.service().availability_zone_rebalancing == "DISABLED"
    for _ in range(3):
        assert _settle(plane, ctl) == ""
    assert _zones(plane) == {"a": 3}


def test_a_move_that_cannot_be_placed_is_given_up_and_not_retried_at_once(plane: Plane) -> None:
    ctl = _crowded(plane, "ENABLED")
    # b's node is too small for the task: placement says so, the move is given up.
    plane.store.delete(keys.node("default", "b1"))
    plane.node("b1", zone="b", cpu=64, memory=64)
    ctl.reconcile(plane.view())
    moving = plane.service().rebalancing_task_id
    PlacementController(plane.writer).reconcile(plane.view())
    assert ctl.reconcile(plane.view()) == "web: rebalancing task cannot be placed: move given up"
    assert plane.task(moving).desired_status == "STOPPED"
    svc = plane.service()
    assert not svc.rebalancing_task_id and "unable to rebalance" in svc.events[0].message
    assert ctl.reconcile(plane.view()) == ""  # not retried within RETRY_AFTER
    assert _zones(plane) == {"a": 3}


def test_no_room_within_maximum_percent_is_said_not_forced(plane: Plane) -> None:
    ctl = _crowded(plane, "ENABLED")
    services.update(plane.api, op.UpdateServiceRequest(
        cluster="default", service="web",
        deployment_configuration=r.DeploymentConfiguration(minimum_healthy_percent=50, maximum_percent=100)))
    assert "maximumPercent leaves no room" in ctl.reconcile(plane.view())
    assert not plane.service().rebalancing_task_id


def test_bad_values_are_refused(plane: Plane) -> None:
    plane.node("a1")
    with pytest.raises(ApiError, match="availabilityZoneRebalancing: must be ENABLED or DISABLED"):
        services.create(plane.api, op.CreateServiceRequest(cluster="default", service_name="web",
                                                           task_definition="web", availability_zone_rebalancing="ON"))
    with pytest.raises(ApiError, match="daemon scheduling strategy"):
        services.create(plane.api, op.CreateServiceRequest(cluster="default", service_name="d", task_definition="web",
                                                           scheduling_strategy="DAEMON",
                                                           availability_zone_rebalancing="ENABLED"))
    services.create(plane.api, op.CreateServiceRequest(cluster="default", service_name="web", task_definition="web"))
    with pytest.raises(ApiError, match="availabilityZoneRebalancing"):
        services.update(plane.api, op.UpdateServiceRequest(cluster="default", service="web",
                                                           availability_zone_rebalancing="yes"))
    services.update(plane.api, op.UpdateServiceRequest(cluster="default", service="web",
                                                       availability_zone_rebalancing="ENABLED"))
    assert plane.service().availability_zone_rebalancing == "ENABLED"

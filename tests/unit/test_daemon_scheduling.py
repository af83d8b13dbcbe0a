"""DAEMON services: the pure decisions (which nodes are eligible, whether a pinned daemon
fits its node and which filter refused it, reserved room) and the controllers carrying them
out on the in-memory store: one task per node, daemons placed before replicas, a full node's
daemon reserved, draining stops the daemon last, per-node rolling updates, and the API's
refusals of what ECS refuses for daemons."""

from __future__ import annotations

import grpc
import pytest

from controlplane.api import nodes as node_api
from controlplane.api import scaling, services
from controlplane.api import tasks as tasks_api
from controlplane.controllers.placement import PlacementController
from controlplane.controllers.services import ServiceController
from controlplane.errors import ApiError
from controlplane.scheduler import NodeState, PlacementRequest, Snapshot, schedule
from controlplane.scheduler.daemon import eligible_nodes, pin, pinned_node, place_daemon, reserve
from shoal import keys
from shoal.v1 import operator_pb2 as op
from shoal.v1 import resources_pb2 as r
from shoal.v1 import scaling_pb2 as sc
from tests.fixtures.plane import Plane, place_and_run, stop_told

AGENT = {"family": "agent", "containerDefinitions": [
    {"name": "agent", "image": "busybox", "cpu": 128, "memory": 512}]}


def snap(*nodes: NodeState) -> Snapshot:
    return Snapshot(nodes=list(nodes))


# ---- pure decisions ----------------------------------------------------------------------------


def test_eligible_nodes_are_active_connected_and_match_the_constraints() -> None:
    s = snap(NodeState("a", attributes={"role": "edge"}), NodeState("b", status="DRAINING"),
             NodeState("c", connected=False), NodeState("d", attributes={"role": "core"}),
             NodeState("e", attributes={"role": "edge"}, memory_mib=0))
    assert eligible_nodes(s, []) == ["a", "d", "e"]
    # A node without room stays eligible: its daemon waits there, reserved, never elsewhere.
    assert eligible_nodes(s, [("memberOf", "attribute:role == edge")]) == ["a", "e"]


def test_a_pin_names_its_node_and_a_daemon_is_placed_only_there() -> None:
    assert pinned_node([("distinctInstance", ""), pin("n-2")]) == "n-2"
    assert pinned_node([("memberOf", "attribute:role == edge")]) == ""
    s = snap(NodeState("n-1", cpu_units=1024, memory_mib=2048), NodeState("n-2", cpu_units=1024, memory_mib=256))
    req = PlacementRequest(count=1, cpu=128, memory=512, group="service:agent", constraints=[pin("n-2")])
    plan = place_daemon(s, req, "n-2")
    # n-1 has room, but a daemon is never moved: it waits on its own node and says why.
    assert plan.placements == [] and plan.unplaced == 1
    assert plan.reason.endswith("Reasons: 1 node refused by memory")
    # The pin is a memberOf constraint in the chain too: n-2's task never lands on n-1.
    assert place_daemon(s, req, "n-1").reason.endswith("1 node refused by memberOf(ec2InstanceId == n-2)")
    ok = place_daemon(s, PlacementRequest(count=1, cpu=128, memory=512, group="service:agent",
                                          constraints=[pin("n-1")]), "n-1")
    assert [p.node_id for p in ok.placements] == ["n-1"] and ok.reason == ""


def test_a_daemon_on_a_disconnected_node_is_refused_by_agent_connected() -> None:
    s = snap(NodeState("n-1", connected=False, cpu_units=1024, memory_mib=1024))
    plan = place_daemon(s, PlacementRequest(count=1, cpu=0, memory=0), "n-1")
    assert plan.unplaced == 1 and plan.reason.endswith("1 node refused by agentConnected")


def test_reserved_room_is_not_given_to_replicas() -> None:
    s = snap(NodeState("n-1", cpu_units=1024, memory_mib=1024, used_memory=768))
    daemon = PlacementRequest(count=1, cpu=0, memory=512, group="service:agent")
    replica = PlacementRequest(count=1, cpu=0, memory=256, group="service:web")
    assert schedule(s, replica).unplaced == 0  # without the reservation the replica fits
    assert place_daemon(s, daemon, "n-1").unplaced == 1
    reserve(s, daemon, "n-1")
    plan = schedule(s, replica)
    assert plan.unplaced == 1 and "refused by memory" in plan.reason


# ---- the controllers ---------------------------------------------------------------------------


def daemon_service(plane: Plane, **config) -> ServiceController:
    plane.register(AGENT)
    services.create(plane.api, op.CreateServiceRequest(
        cluster="default", service_name="agent", task_definition="agent:1", scheduling_strategy="DAEMON",
        deployment_configuration=r.DeploymentConfiguration(**config)))
    return ServiceController(plane.writer, plane.api.arns)


def daemon_tasks(plane: Plane, live: bool = True) -> list[r.Task]:
    return [t for t in plane.tasks().values() if t.service_name == "agent"
            and (not live or (t.desired_status == "RUNNING" and t.last_status != "STOPPED"))]


def test_one_daemon_task_per_node_and_a_new_node_gets_one(plane: Plane) -> None:
    for n in ("n1", "n2", "n3"):
        plane.node(n, memory=2048)
    plane.node("gone", memory=2048, alive=False)
    ctl = daemon_service(plane)
    assert ctl.reconcile(plane.view()) == "agent: started 3 daemon tasks"
    assert plane.service("agent").desired_count == 3
    assert plane.service("agent").scheduling_strategy == "DAEMON"
    place_and_run(plane)
    assert sorted(t.node_id for t in daemon_tasks(plane)) == ["n1", "n2", "n3"]
    assert ctl.reconcile(plane.view()) == ""  # level-triggered: nothing more to do
    plane.node("n4", memory=2048)
    assert ctl.reconcile(plane.view()) == "agent: started 1 daemon tasks"
    place_and_run(plane)
    assert sorted(t.node_id for t in daemon_tasks(plane)) == ["n1", "n2", "n3", "n4"]
    assert plane.service("agent").desired_count == 4
    ctl.reconcile(plane.view())
    # A daemon service's deployments are recorded in its history as a replica service's are.
    assert [e.status for e in plane.service("agent").service_deployments] == ["SUCCESSFUL"]


def test_a_lost_node_gets_no_replacement_elsewhere(plane: Plane) -> None:
    for n in ("n1", "n2"):
        plane.node(n, memory=2048)
    ctl = daemon_service(plane)
    ctl.reconcile(plane.view())
    place_and_run(plane)
    plane.store.delete(keys.alive("n2"))
    ctl.reconcile(plane.view())
    assert plane.service("agent").desired_count == 1
    assert sorted(t.node_id for t in daemon_tasks(plane)) == ["n1", "n2"]  # n2's is the node controller's
    assert len(plane.tasks()) == 2  # and none was started anywhere else


def test_a_new_nodes_daemon_is_placed_before_replicas_waiting_for_it(plane: Plane) -> None:
    services.create(plane.api, op.CreateServiceRequest(
        cluster="default", service_name="web", task_definition="web:1", desired_count=3))
    replicas = ServiceController(plane.writer, plane.api.arns)
    replicas.reconcile(plane.view())  # three replica tasks wait, created first
    ctl = daemon_service(plane)
    plane.node("n1", memory=1024)  # room for the daemon (512) and two replicas (256 each)
    ctl.reconcile(plane.view())
    PlacementController(plane.writer).reconcile(plane.view())
    placed = [t for t in plane.tasks().values() if t.node_id]
    assert sorted(t.service_name for t in placed) == ["agent", "web", "web"]


def test_a_full_nodes_daemon_waits_with_its_room_reserved(plane: Plane) -> None:
    plane.node("n1", cpu=4096, memory=1024)
    services.create(plane.api, op.CreateServiceRequest(
        cluster="default", service_name="web", task_definition="web:1", desired_count=4))
    replicas = ServiceController(plane.writer, plane.api.arns)
    replicas.reconcile(plane.view())
    place_and_run(plane)  # four replicas of 256 MiB fill the node
    ctl = daemon_service(plane)
    ctl.reconcile(plane.view())
    said = PlacementController(plane.writer).reconcile(plane.view())
    assert "1 node refused by memory" in said
    (daemon,) = daemon_tasks(plane)
    assert daemon.last_status == "PROVISIONING" and "refused by memory" in daemon.placement_message
    assert any("unable to place a task" in e.message for e in plane.service("agent").events)
    # One replica stops: 256 MiB free, not enough for the daemon, and kept for it.
    web = [t for t in plane.tasks().values() if t.service_name == "web"]
    plane.report(web[0].id, "STOPPED")
    replicas.reconcile(plane.view())  # starts a replacement
    PlacementController(plane.writer).reconcile(plane.view())
    waiting = [t for t in plane.tasks().values() if t.service_name == "web" and t.last_status == "PROVISIONING"]
    assert len(waiting) == 1 and "refused by memory" in waiting[0].placement_message
    # Scaled down to two: 512 MiB free, and the daemon takes it.
    services.update(plane.api, op.UpdateServiceRequest(cluster="default", service="web", desired_count=2))
    replicas.reconcile(plane.view())
    stop_told(plane)
    PlacementController(plane.writer).reconcile(plane.view())
    assert daemon_tasks(plane)[0].node_id == "n1"


def test_a_draining_nodes_daemon_stops_after_its_replicas(plane: Plane) -> None:
    plane.node("n1", memory=2048)
    plane.node("n2", memory=2048)
    services.create(plane.api, op.CreateServiceRequest(
        cluster="default", service_name="web", task_definition="web:1", desired_count=2))
    replicas = ServiceController(plane.writer, plane.api.arns)
    ctl = daemon_service(plane)
    ctl.reconcile(plane.view())
    place_and_run(plane)
    n1_web = [t for t in plane.tasks().values() if t.service_name == "web" and t.node_id == "n1"]
    assert n1_web
    node_api.update_state(plane.api, op.UpdateContainerInstancesStateRequest(
        cluster="default", container_instances=["n1"], status="DRAINING"))
    (n1_daemon,) = [t for t in daemon_tasks(plane) if t.node_id == "n1"]
    for _ in range(3):  # the replicas move to n2 within minimumHealthyPercent
        ctl.reconcile(plane.view())
        replicas.reconcile(plane.view())
        place_and_run(plane)
        assert plane.task(n1_daemon.id).desired_status == "RUNNING"  # replicas still there
    assert all(plane.task(t.id).desired_status == "STOPPED" for t in n1_web)
    assert plane.service("agent").desired_count == 1
    for t in n1_web:
        plane.report(t.id, "STOPPED")
    said = ctl.reconcile(plane.view())
    assert said == "agent: stopped 1 tasks"
    assert "being drained" in plane.task(n1_daemon.id).stopped_reason


def test_rolling_update_stops_a_nodes_old_task_before_starting_its_new_one(plane: Plane) -> None:
    for n in ("n1", "n2"):
        plane.node(n, memory=2048)
    ctl = daemon_service(plane, minimum_healthy_percent=50)
    ctl.reconcile(plane.view())
    old = place_and_run(plane)
    ctl.reconcile(plane.view())
    plane.register({**AGENT, "containerDefinitions": [{**AGENT["containerDefinitions"][0], "image": "busybox:2"}]})
    services.update(plane.api, op.UpdateServiceRequest(cluster="default", service="agent", task_definition="agent:2"))
    # 50 % of two nodes healthy: one node at a time, its old task first, nothing new yet.
    assert ctl.reconcile(plane.view()) == "agent: stopped 1 tasks"
    stopped = [t for t in old if plane.task(t.id).desired_status == "STOPPED"]
    assert len(stopped) == 1 and not [t for t in daemon_tasks(plane) if t.task_definition_arn.endswith(":2")]
    assert ctl.reconcile(plane.view()) == ""  # the old task is still stopping: wait
    plane.report(stopped[0].id, "STOPPED")
    assert ctl.reconcile(plane.view()) == "agent: started 1 daemon tasks"
    place_and_run(plane)
    assert ctl.reconcile(plane.view()) == "agent: stopped 1 tasks"  # then the second node
    stop_told(plane)
    ctl.reconcile(plane.view())
    place_and_run(plane)
    ctl.reconcile(plane.view())
    live = daemon_tasks(plane)
    assert sorted(t.node_id for t in live) == ["n1", "n2"]
    assert all(t.task_definition_arn.endswith("agent:2") for t in live)
    assert [d.rollout_state for d in plane.service("agent").deployments] == ["COMPLETED"]


def test_rolling_update_waits_for_a_protected_daemon_task_and_a_drain_does_not(plane: Plane) -> None:
    for n in ("n1", "n2"):
        plane.node(n, memory=2048)
    ctl = daemon_service(plane)  # 0 %: every node at once, unless protected
    ctl.reconcile(plane.view())
    place_and_run(plane)
    (n1_task,) = [t for t in daemon_tasks(plane) if t.node_id == "n1"]
    (n2_task,) = [t for t in daemon_tasks(plane) if t.node_id == "n2"]
    resp = tasks_api.update_protection(plane.api, op.UpdateTaskProtectionRequest(
        cluster="default", tasks=[n1_task.id], protection_enabled=True, expires_in_minutes=5))
    assert [t.protection_enabled for t in resp.protected_tasks] == [True] and not resp.failures
    plane.register({**AGENT, "containerDefinitions": [{**AGENT["containerDefinitions"][0], "image": "busybox:2"}]})
    services.update(plane.api, op.UpdateServiceRequest(cluster="default", service="agent", task_definition="agent:2"))
    said = ctl.reconcile(plane.view())
    assert said == "agent: 1 nodes wait for their daemon task's scale-in protection to end, stopped 1 tasks"
    assert plane.task(n1_task.id).desired_status == "RUNNING"
    assert plane.task(n2_task.id).desired_status == "STOPPED"
    assert any("waiting for 1 protected daemon tasks" in e.message for e in plane.service("agent").events)
    plane.report(n2_task.id, "STOPPED")
    ctl.reconcile(plane.view())
    place_and_run(plane)
    ctl.reconcile(plane.view())
    assert plane.task(n1_task.id).desired_status == "RUNNING"  # still protected: n1 keeps agent:1
    assert plane.service("agent").deployments[0].rollout_state == "IN_PROGRESS"
    # Protection off: n1 rolls too.
    tasks_api.update_protection(plane.api, op.UpdateTaskProtectionRequest(
        cluster="default", tasks=[n1_task.id], protection_enabled=False))
    assert "stopped 1 tasks" in ctl.reconcile(plane.view())
    assert plane.task(n1_task.id).desired_status == "STOPPED"


def test_a_draining_node_stops_its_protected_daemon_task(plane: Plane) -> None:
    plane.node("n1", memory=2048)
    ctl = daemon_service(plane)
    ctl.reconcile(plane.view())
    (task,) = place_and_run(plane)
    tasks_api.update_protection(plane.api, op.UpdateTaskProtectionRequest(
        cluster="default", tasks=[task.id], protection_enabled=True))
    node_api.update_state(plane.api, op.UpdateContainerInstancesStateRequest(
        cluster="default", container_instances=["n1"], status="DRAINING"))
    assert ctl.reconcile(plane.view()) == "agent: stopped 1 tasks"
    assert "being drained" in plane.task(task.id).stopped_reason


@pytest.mark.parametrize(("fields", "field"), [
    ({"desired_count": 2}, "desiredCount"),
    ({"placement_strategy": [r.PlacementStrategy(type="binpack", field="memory")]}, "placementStrategy"),
    ({"scheduling_strategy": "SOMETIMES"}, "schedulingStrategy"),
])
def test_create_refuses_what_ecs_refuses_for_daemons(plane: Plane, fields: dict, field: str) -> None:
    plane.register(AGENT)
    req = op.CreateServiceRequest(cluster="default", service_name="agent", task_definition="agent:1",
                                  scheduling_strategy="DAEMON")
    for k, v in fields.items():
        if isinstance(v, list):
            getattr(req, k).extend(v)
        else:
            setattr(req, k, v)
    with pytest.raises(ApiError) as e:
        services.create(plane.api, req)
    assert e.value.code == grpc.StatusCode.INVALID_ARGUMENT and str(e.value.message).startswith(field)
    assert plane.store.get(keys.service("default", "agent")) is None  # nothing half-made


def test_update_refuses_a_desired_count_for_a_daemon(plane: Plane) -> None:
    daemon_service(plane)
    with pytest.raises(ApiError) as e:
        services.update(plane.api, op.UpdateServiceRequest(cluster="default", service="agent", desired_count=3))
    assert str(e.value.message).startswith("desiredCount")
    dc = plane.service("agent").deployment_configuration
    assert (dc.minimum_healthy_percent, dc.maximum_percent) == (0, 100)  # ECS's daemon defaults


def test_a_nodes_daemon_stops_when_the_constraints_no_longer_match_it(plane: Plane) -> None:
    plane.node("n1", zone="a", memory=2048)
    plane.node("n2", zone="b", memory=2048)
    ctl = daemon_service(plane)
    ctl.reconcile(plane.view())
    place_and_run(plane)
    services.update(plane.api, op.UpdateServiceRequest(
        cluster="default", service="agent", update_placement_constraints=True,
        placement_constraints=[r.PlacementConstraint(type="memberOf",
                                                     expression="attribute:ecs.availability-zone == a")]))
    assert ctl.reconcile(plane.view()) == "agent: stopped 1 tasks"
    (left,) = daemon_tasks(plane)
    assert left.node_id == "n1" and plane.service("agent").desired_count == 1
    stopped = [t for t in daemon_tasks(plane, live=False) if t.desired_status == "STOPPED"]
    assert [t.node_id for t in stopped] == ["n2"] and "no longer matches" in stopped[0].stopped_reason


def test_a_replica_whose_constraint_names_one_node_reserves_nothing(plane: Plane) -> None:
    plane.node("n1", cpu=4096, memory=1024)
    plane.register({"family": "big", "containerDefinitions": [{"name": "big", "image": "busybox", "memory": 768}]})
    services.create(plane.api, op.CreateServiceRequest(
        cluster="default", service_name="big", task_definition="big:1", desired_count=2,
        placement_constraints=[r.PlacementConstraint(type="memberOf", expression="ec2InstanceId == n1")]))
    replicas = ServiceController(plane.writer, plane.api.arns)
    replicas.reconcile(plane.view())
    services.create(plane.api, op.CreateServiceRequest(
        cluster="default", service_name="web", task_definition="web:1", desired_count=1))
    replicas.reconcile(plane.view())
    PlacementController(plane.writer).reconcile(plane.view())
    # One "big" fits, the other waits; it is no daemon, so the 256 MiB left go to "web".
    placed = sorted(t.service_name for t in plane.tasks().values() if t.node_id)
    assert placed == ["big", "web"]


def test_a_daemon_service_is_no_scalable_target(plane: Plane) -> None:
    daemon_service(plane)
    with pytest.raises(ApiError) as e:
        scaling.register_target(plane.api, sc.RegisterScalableTargetRequest(
            cluster="default", service="agent", min_capacity=1, max_capacity=3))
    assert str(e.value.message).startswith("service:") and "DAEMON" in str(e.value.message)
    assert plane.store.get(keys.scalable_target("default", "agent")) is None


def test_a_constraint_on_other_tasks_sees_them(plane: Plane) -> None:
    plane.node("n1", memory=2048)
    plane.node("n2", memory=2048)
    tasks_api.run(plane.api, op.RunTaskRequest(cluster="default", task_definition="web:1", group="db", count=1,
                                               placement_constraints=[r.PlacementConstraint(
                                                   type="memberOf", expression="ec2InstanceId == n2")]))
    PlacementController(plane.writer).reconcile(plane.view())
    plane.register(AGENT)
    services.create(plane.api, op.CreateServiceRequest(
        cluster="default", service_name="agent", task_definition="agent:1", scheduling_strategy="DAEMON",
        placement_constraints=[r.PlacementConstraint(type="memberOf", expression="task:group == db")]))
    ctl = ServiceController(plane.writer, plane.api.arns)
    assert ctl.reconcile(plane.view()) == "agent: started 1 daemon tasks"
    place_and_run(plane)
    assert [t.node_id for t in daemon_tasks(plane)] == ["n2"]

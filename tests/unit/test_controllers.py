"""The leader's controllers on the in-memory store, driven through what
the loop calls (``reconcile(view)``, ``cycle()``): desired state written through the API,
nodes and liveness keys as the gateway writes them, the lease clock moved by hand. Every
step reads a fresh view of the store, so no test waits for a watch."""

from __future__ import annotations

import time

import pytest

from controlplane.api import services, tasks
from controlplane.controllers.gc import TaskGC
from controlplane.controllers.nodes import NodeController
from controlplane.controllers.placement import PlacementController
from controlplane.controllers.services import ServiceController
from controlplane.state import decode
from shoal import keys
from shoal.election import Election
from shoal.replica_lease import ReplicaLease
from shoal.v1 import operator_pb2 as op
from shoal.v1 import resources_pb2 as r
from tests.fixtures.plane import TTL, WEB, Plane, place_and_run, stop_told

# ---- placement -------------------------------------------------------------------------------


def test_placement_puts_each_task_on_a_connected_node_with_its_assignment(plane: Plane) -> None:
    plane.node("n1", zone="a")
    plane.node("n2", zone="b")
    plane.node("gone", zone="c", alive=False)  # registered, but no agent holds a stream
    run = tasks.run(plane.api, op.RunTaskRequest(cluster="default", task_definition="web", count=4))
    said = PlacementController(plane.writer).reconcile(plane.view())
    assert said == "placed 4 tasks"
    placed = [plane.task(t.id) for t in run.tasks]
    assert {t.node_id for t in placed} == {"n1", "n2"}
    ports: dict[str, set[int]] = {}
    for t in placed:
        assert t.last_status == "PENDING" and t.container_instance_arn.endswith(t.node_id)
        (binding,) = t.containers[0].network_bindings
        assert binding.container_port == 80 and 32768 <= binding.host_port <= 60999
        assert binding.host_port not in ports.setdefault(t.node_id, set())
        ports[t.node_id].add(binding.host_port)
        # The task and the node's copy of it were written in one transaction.
        assignment = plane.assignment(t)
        assert assignment is not None and assignment.task == t
        assert assignment.task_definition.task_definition_arn == plane.td.task_definition_arn
        assert plane.store.get(keys.assignment(t.node_id, t.id)).mod_revision == \
            plane.store.get(keys.task("default", t.id)).mod_revision
    assert PlacementController(plane.writer).reconcile(plane.view()) == ""


def test_an_unplaceable_task_says_why_and_its_service_says_so_once(plane: Plane) -> None:
    plane.node("small", cpu=128)
    services.create(plane.api, op.CreateServiceRequest(cluster="default", service_name="web",
                                                       task_definition="web", desired_count=1))
    ServiceController(plane.writer, plane.api.arns).reconcile(plane.view())
    said = PlacementController(plane.writer).reconcile(plane.view())
    assert said.startswith("1 tasks wait for capacity: ")
    (task,) = plane.tasks().values()
    assert task.last_status == "PROVISIONING" and not task.node_id
    assert "cpu" in task.placement_message
    events = [e.message for e in plane.service().events]
    assert events[0] == f"(service web) {task.placement_message}"
    PlacementController(plane.writer).reconcile(plane.view())
    assert [e.message for e in plane.service().events].count(events[0]) == 1
    # Capacity arrives: the task is placed on the next cycle.
    plane.node("big", cpu=4096)
    assert PlacementController(plane.writer).reconcile(plane.view()) == "placed 1 tasks"
    assert plane.task(task.id).node_id == "big" and plane.task(task.id).placement_message == ""


# ---- services --------------------------------------------------------------------------------


def test_service_starts_its_tasks_and_counts_them(plane: Plane) -> None:
    plane.node("n1")
    services.create(plane.api, op.CreateServiceRequest(cluster="default", service_name="web",
                                                       task_definition="web", desired_count=3))
    ctl = ServiceController(plane.writer, plane.api.arns)
    assert ctl.reconcile(plane.view()) == "web: started 3 tasks"
    started = list(plane.tasks().values())
    primary = plane.service().deployments[0]
    assert len(started) == 3
    assert all(t.service_name == "web" and t.group == "service:web" and t.deployment_id == primary.id
               and t.started_by == primary.id and t.last_status == "PROVISIONING" for t in started)
    assert ctl.reconcile(plane.view()) == ""  # three live tasks: nothing to start
    place_and_run(plane)
    ctl.reconcile(plane.view())
    svc = plane.service()
    assert (svc.running_count, svc.pending_count) == (3, 0)
    assert svc.deployments[0].rollout_state == "COMPLETED"
    assert svc.events[0].message == "(service web) has reached a steady state."


def test_service_replaces_a_stopped_task(plane: Plane) -> None:
    plane.node("n1")
    services.create(plane.api, op.CreateServiceRequest(cluster="default", service_name="web",
                                                       task_definition="web", desired_count=2))
    ctl = ServiceController(plane.writer, plane.api.arns)
    ctl.reconcile(plane.view())
    first, second = place_and_run(plane)
    plane.report(first.id, "STOPPED", stop_code="EssentialContainerExited", stopped_reason="exit 1")
    assert ctl.reconcile(plane.view()) == "web: started 1 tasks"
    live = [t for t in plane.tasks().values() if t.last_status != "STOPPED"]
    assert len(live) == 2 and second.id in {t.id for t in live}


def test_scale_in_stops_surplus_tasks_through_their_assignments(plane: Plane) -> None:
    plane.node("n1")
    services.create(plane.api, op.CreateServiceRequest(cluster="default", service_name="web",
                                                       task_definition="web", desired_count=3))
    ctl = ServiceController(plane.writer, plane.api.arns)
    ctl.reconcile(plane.view())
    place_and_run(plane)
    services.update(plane.api, op.UpdateServiceRequest(cluster="default", service="web", desired_count=1))
    assert ctl.reconcile(plane.view()) == "web: stopped 2 tasks to scale in to 1"
    stopping = [t for t in plane.tasks().values() if t.desired_status == "STOPPED"]
    assert len(stopping) == 2
    for t in stopping:
        # Still RUNNING until the agent stops it; it learns from its assignment.
        assert t.last_status == "RUNNING" and t.stop_code == "ServiceSchedulerInitiated"
        assert plane.assignment(t).task.desired_status == "STOPPED"


def test_rolling_update_keeps_minimum_healthy_and_maximum_percent(plane: Plane) -> None:
    plane.node("n1", cpu=4096, memory=4096)
    services.create(plane.api, op.CreateServiceRequest(
        cluster="default", service_name="web", task_definition="web:1", desired_count=2,
        deployment_configuration=r.DeploymentConfiguration(minimum_healthy_percent=50, maximum_percent=150)))
    ctl = ServiceController(plane.writer, plane.api.arns)
    ctl.reconcile(plane.view())
    old = place_and_run(plane)
    ctl.reconcile(plane.view())
    v2 = plane.register({**WEB, "containerDefinitions": [{**WEB["containerDefinitions"][0], "image": "busybox:2"}]})
    services.update(plane.api, op.UpdateServiceRequest(cluster="default", service="web", task_definition="web:2"))
    # 150 % of 2 allows one extra task; 50 % healthy lets one old task go at once.
    said = ctl.reconcile(plane.view())
    assert said == "web: started 1 tasks, stopped 1 replaced tasks"
    new = [t for t in plane.tasks().values() if t.task_definition_arn == v2.task_definition_arn]
    assert len(new) == 1
    assert sum(1 for t in old if plane.task(t.id).desired_status == "STOPPED") == 1
    for t in old:
        if plane.task(t.id).desired_status == "STOPPED":
            plane.report(t.id, "STOPPED")
    place_and_run(plane)
    assert ctl.reconcile(plane.view()) == "web: started 1 tasks, stopped 1 replaced tasks"
    place_and_run(plane)
    stop_told(plane)
    ctl.reconcile(plane.view())
    svc = plane.service()
    assert [(d.task_definition, d.rollout_state) for d in svc.deployments] == \
        [(v2.task_definition_arn, "COMPLETED")]
    live = [t for t in plane.tasks().values() if t.last_status == "RUNNING"]
    assert len(live) == 2 and {t.task_definition_arn for t in live} == {v2.task_definition_arn}


def test_force_new_deployment_replaces_tasks_of_the_same_definition(plane: Plane) -> None:
    plane.node("n1", cpu=4096, memory=4096)
    services.create(plane.api, op.CreateServiceRequest(
        cluster="default", service_name="web", task_definition="web:1", desired_count=2,
        deployment_configuration=r.DeploymentConfiguration(minimum_healthy_percent=100, maximum_percent=200)))
    ctl = ServiceController(plane.writer, plane.api.arns)
    ctl.reconcile(plane.view())
    old = {t.id for t in place_and_run(plane)}
    ctl.reconcile(plane.view())
    assert plane.service().deployments[0].rollout_state == "COMPLETED"
    services.update(plane.api, op.UpdateServiceRequest(cluster="default", service="web", force_new_deployment=True))
    # 200 % lets both replacements start at once; 100 % healthy keeps the old ones until then.
    assert ctl.reconcile(plane.view()) == "web: started 2 tasks"
    place_and_run(plane)
    assert ctl.reconcile(plane.view()) == "web: stopped 2 replaced tasks"
    assert all(plane.task(i).desired_status == "STOPPED" for i in old)
    for i in old:
        plane.report(i, "STOPPED")
    ctl.reconcile(plane.view())
    svc = plane.service()
    assert [(d.status, d.rollout_state) for d in svc.deployments] == [("PRIMARY", "COMPLETED")]
    live = {t.id for t in plane.tasks().values() if t.last_status == "RUNNING"}
    assert len(live) == 2 and not live & old


def test_circuit_breaker_rolls_back_to_the_last_completed_deployment(plane: Plane) -> None:
    plane.node("n1", cpu=8192, memory=8192)
    services.create(plane.api, op.CreateServiceRequest(
        cluster="default", service_name="web", task_definition="web:1", desired_count=1,
        deployment_configuration=r.DeploymentConfiguration(deployment_circuit_breaker=r.DeploymentCircuitBreaker(
            enable=True, rollback=True))))
    ctl = ServiceController(plane.writer, plane.api.arns)
    ctl.reconcile(plane.view())
    place_and_run(plane)
    ctl.reconcile(plane.view())
    assert plane.service().deployments[0].rollout_state == "COMPLETED"
    v2 = plane.register({**WEB, "containerDefinitions": [{**WEB["containerDefinitions"][0], "image": "broken"}]})
    services.update(plane.api, op.UpdateServiceRequest(cluster="default", service="web", task_definition="web:2"))
    # Three tasks of the new revision fail to start (the threshold for desired 1).
    for _ in range(3):
        ctl.reconcile(plane.view())
        for t in plane.tasks().values():
            if t.task_definition_arn == v2.task_definition_arn and t.last_status != "STOPPED":
                plane.report(t.id, "STOPPED", stop_code="TaskFailedToStart", stopped_reason="image not found")
    said = ctl.reconcile(plane.view())
    assert "circuit breaker tripped" in said and "rolling back to " + plane.td.task_definition_arn in said
    svc = plane.service()
    assert svc.task_definition == plane.td.task_definition_arn
    primary = svc.deployments[0]
    # The old revision's task never stopped (100 % minimum healthy), so the rollback is
    # complete in the same cycle.
    assert (primary.status, primary.task_definition, primary.rollout_state) == \
        ("PRIMARY", plane.td.task_definition_arn, "COMPLETED")
    assert any(e.message.startswith("(service web) rolling back to deployment") for e in svc.events)
    assert [t.task_definition_arn for t in plane.tasks().values() if t.last_status == "RUNNING"] == \
        [plane.td.task_definition_arn]
    assert ctl.reconcile(plane.view()) == ""  # nothing more of the broken revision starts


def test_quick_failures_throttle_launches(plane: Plane) -> None:
    plane.node("n1", cpu=8192, memory=8192)
    services.create(plane.api, op.CreateServiceRequest(cluster="default", service_name="web",
                                                       task_definition="web", desired_count=1))
    ctl = ServiceController(plane.writer, plane.api.arns)
    for _ in range(3):
        assert ctl.reconcile(plane.view()) == "web: started 1 tasks"
        (t,) = [t for t in plane.tasks().values() if t.last_status != "STOPPED"]
        plane.report(t.id, "STOPPED", stop_code="EssentialContainerExited", stopped_reason="exit 1")
    # Five more quick failures: the wait (2 s after three, doubling with each) is then a
    # minute, which no slow test run outlasts.
    for i in range(5):
        copy = plane.task(t.id)
        copy.id = f"failed-{i}"
        plane.store.put(keys.task("default", copy.id), copy.SerializeToString())
    said = ctl.reconcile(plane.view())
    assert said.startswith("web: holding 1 task launches for ") and said.endswith("tasks keep failing to start")
    assert all(t.last_status == "STOPPED" for t in plane.tasks().values())
    assert plane.service().events[0].message == "(service web) is unable to consistently start tasks successfully."


def test_deleted_service_stops_its_tasks_then_goes_inactive(plane: Plane) -> None:
    plane.node("n1")
    services.create(plane.api, op.CreateServiceRequest(cluster="default", service_name="web",
                                                       task_definition="web", desired_count=2))
    ctl = ServiceController(plane.writer, plane.api.arns)
    ctl.reconcile(plane.view())
    running = place_and_run(plane)
    services.delete(plane.api, op.DeleteServiceRequest(cluster="default", service="web", force=True))
    assert ctl.reconcile(plane.view()) == "web: stopping 2 tasks of the deleted service"
    assert ctl.reconcile(plane.view()) == ""  # waiting for the agent to stop them
    for t in running:
        plane.report(t.id, "STOPPED")
    assert ctl.reconcile(plane.view()) == "web: deleted (no tasks left)"
    assert plane.service().status == "INACTIVE"


def test_a_deposed_leader_writes_nothing(plane: Plane) -> None:
    services.create(plane.api, op.CreateServiceRequest(cluster="default", service_name="web",
                                                       task_definition="web", desired_count=2))
    view = plane.view()
    # Our leader lease ends; another replica leads before we notice.
    plane.store.revoke_lease(plane.lease.lease_id)
    other = ReplicaLease(plane.store, TTL, clock=plane.clock)
    other.keep_alive_once()
    assert Election(plane.store, other, "other").campaign().startswith("became leader")
    said = ServiceController(plane.writer, plane.api.arns).reconcile(view)
    assert said == "web: lost a write race; will retry"
    assert plane.tasks() == {}


# ---- nodes -----------------------------------------------------------------------------------


def test_agent_connected_follows_the_liveness_key(plane: Plane) -> None:
    plane.node("n1", alive=True, connected=False)
    ctl = NodeController(plane.writer, grace=0)
    assert ctl.reconcile(plane.view()) == "nodes n1 connected"
    assert decode(r.ContainerInstance, plane.store.get(keys.node("default", "n1")).value).agent_connected
    plane.store.delete(keys.alive("n1"))
    assert ctl.reconcile(plane.view()) == "nodes n1 lost"
    assert not decode(r.ContainerInstance, plane.store.get(keys.node("default", "n1")).value).agent_connected


def test_many_nodes_connecting_at_once_are_flipped_in_few_transactions(plane: Plane,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(300):
        plane.node(f"n{i:03}", alive=True, connected=False)
    txns = []
    real_txn = plane.store.txn
    monkeypatch.setattr(plane.store, "txn", lambda *a, **kw: txns.append(1) or real_txn(*a, **kw))
    said = NodeController(plane.writer, grace=0).reconcile(plane.view())
    assert said.count("connected") == 300
    assert all(n.agent_connected for n in plane.nodes())
    # One transaction per node was 300 sequential etcd round trips in the leader's cycle.
    assert len(txns) <= 10

def test_a_lost_nodes_service_tasks_are_stopped_for_replacement_after_the_grace(plane: Plane) -> None:
    plane.node("n1")
    services.create(plane.api, op.CreateServiceRequest(cluster="default", service_name="web",
                                                       task_definition="web", desired_count=1))
    ServiceController(plane.writer, plane.api.arns).reconcile(plane.view())
    tasks.run(plane.api, op.RunTaskRequest(cluster="default", task_definition="web"))
    service_task, standalone = sorted(place_and_run(plane), key=lambda t: not t.service_name)
    plane.store.delete(keys.alive("n1"))
    # A new leader gives agents a grace to reconnect before judging them.
    assert NodeController(plane.writer, grace=3600).reconcile(plane.view()) == ""
    assert plane.task(service_task.id).last_status == "RUNNING"
    said = NodeController(plane.writer, grace=0).reconcile(plane.view())
    assert said == "nodes n1 lost; stopped 1 service tasks on lost or deregistered nodes for replacement"
    stopped = plane.task(service_task.id)
    assert (stopped.last_status, stopped.desired_status, stopped.stop_code) == ("STOPPED", "STOPPED",
                                                                               "TerminationNotice")
    assert "lost contact with the control plane" in stopped.stopped_reason
    assert plane.assignment(service_task) is None  # the agent, when back, removes its container
    assert plane.task(standalone.id).last_status == "RUNNING"  # standalone tasks stay as last reported


def test_a_deregistered_nodes_service_tasks_are_stopped_at_once(plane: Plane) -> None:
    plane.node("n1")
    services.create(plane.api, op.CreateServiceRequest(cluster="default", service_name="web",
                                                       task_definition="web", desired_count=1))
    ServiceController(plane.writer, plane.api.arns).reconcile(plane.view())
    (task,) = place_and_run(plane)
    # As DeregisterContainerInstance does: the node goes, its tombstone stays.
    plane.store.delete(keys.node("default", "n1"))
    plane.store.delete(keys.alive("n1"))
    plane.store.put(keys.deregistered("n1"), b"1")
    said = NodeController(plane.writer, grace=3600).reconcile(plane.view())
    assert said == "stopped 1 service tasks on lost or deregistered nodes for replacement"
    assert "was deregistered" in plane.task(task.id).stopped_reason


# ---- garbage collection ----------------------------------------------------------------------


def test_gc_forgets_old_stopped_tasks_and_inactive_services(plane: Plane) -> None:
    retention = 60.0
    old, recent, running = (tasks.run(plane.api, op.RunTaskRequest(cluster="default", task_definition="web"))
                            .tasks[0] for _ in range(3))
    plane.report(old.id, "STOPPED", stopped_at=time.time() - 2 * retention)
    plane.report(recent.id, "STOPPED", stopped_at=time.time() - retention / 2)
    gone = r.Service(service_name="gone", cluster="default", status="INACTIVE")
    gone.events.add(id="e", created_at=time.time() - 2 * retention, message="deleted")
    kept = r.Service(service_name="kept", cluster="default", status="INACTIVE")
    kept.events.add(id="e", created_at=time.time(), message="deleted")
    for svc in (gone, kept):
        plane.store.put(keys.service("default", svc.service_name), svc.SerializeToString())
    said = TaskGC(plane.writer, retention).reconcile(plane.view())
    assert said == "forgot 1 tasks stopped over 60s ago; forgot 1 services deleted over 60s ago"
    assert set(plane.tasks()) == {recent.id, running.id}
    assert plane.store.get(keys.service("default", "gone")) is None
    assert plane.store.get(keys.service("default", "kept")) is not None

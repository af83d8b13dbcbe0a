"""The control plane as a real process on a real etcd, driven through its gRPC API, with
scripted agents in place of real ones (tests of the real agent live beside this)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from shoal.v1 import operator_pb2 as op
from tests.fake_agent import FakeAgent
from tests.fixtures.replica import ReplicaProcess
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

WEB = {
    "family": "web",
    "containerDefinitions": [{
        "name": "web", "image": "shoal/busybox:latest", "memory": 64, "cpu": 128,
        "portMappings": [{"containerPort": 8080}],
        "command": ["httpd", "-f", "-p", "8080"],
    }],
}


@pytest.fixture
def cp(tmp_path: Path) -> Iterator[ReplicaProcess]:
    plane = ReplicaProcess(tmp_path, "test-replica")
    try:
        yield plane
    finally:
        plane.stop()


def agent(cp: ReplicaProcess, name: str, **kw) -> FakeAgent:
    a = cp.add_agent(name, **kw)
    # Registered is not yet connected: wait for the stream, so placement sees the node as a
    # candidate rather than refusing it for agentConnected.
    wait_for(lambda: cp.api.DescribeContainerInstances(op.DescribeContainerInstancesRequest(
        cluster="default", container_instances=[a.node_id])).container_instances[0].agent_connected,
        30, f"{name} connected")
    return a


def register(cp: ReplicaProcess, doc: dict) -> None:
    cp.api.RegisterTaskDefinition(op.RegisterTaskDefinitionRequest(json=json.dumps(doc)))


def web_on_two_nodes(cp: ReplicaProcess, zone1: str, zone2: str) -> tuple[FakeAgent, FakeAgent]:
    """host-1 (in ``zone1``) and host-2 (in ``zone2``), each running one task of a service
    "web" of two."""
    a1, a2 = agent(cp, "host-1", zone=zone1), agent(cp, "host-2", zone=zone2)
    register(cp, WEB)
    cp.api.CreateService(op.CreateServiceRequest(cluster="default", service_name="web", task_definition="web",
                                                 desired_count=2))
    wait_for(lambda: len(a1.tasks()) == 1 and len(a2.tasks()) == 1, 30, "one task per node")
    a1.run_everything()
    a2.run_everything()
    return a1, a2


def tasks(cp: ReplicaProcess, **filters) -> list:
    arns = cp.api.ListTasks(op.ListTasksRequest(cluster="default", **filters)).arns
    if not arns:
        return []
    return list(cp.api.DescribeTasks(op.DescribeTasksRequest(cluster="default", tasks=arns)).tasks)


def test_service_runs_desired_count_and_replaces_stopped_tasks(cp: ReplicaProcess) -> None:
    agents = [agent(cp, f"host-{i}", zone=z) for i, z in enumerate("abc")]
    register(cp, WEB)
    cp.api.CreateService(op.CreateServiceRequest(cluster="default", service_name="web", task_definition="web",
                                                 desired_count=3))

    def all_assigned():
        for a in agents:
            a.run_everything()
        return sum(len(a.tasks()) for a in agents) == 3 and all(len(a.tasks()) == 1 for a in agents)

    wait_for(all_assigned, 30, "3 tasks spread one per zone")
    running = wait_for(lambda: [t for t in tasks(cp) if t.last_status == "RUNNING"] if
                       len([t for t in tasks(cp) if t.last_status == "RUNNING"]) == 3 else None,
                       30, "3 RUNNING tasks")
    ports = {b.host_port for t in running for c in t.containers for b in c.network_bindings}
    assert len(ports) >= 1 and all(32768 <= p <= 60999 for p in ports), ports

    # An essential container exits: the service replaces the task.
    victim = running[0]
    owner = next(a for a in agents if victim.id in a.tasks())
    owner.report(victim.id, "STOPPED", exit_code=137, reason="Essential container in task exited",
                 stop_code="EssentialContainerExited")

    def replaced():
        for a in agents:
            a.run_everything()
        live = [t for t in tasks(cp) if t.last_status == "RUNNING"]
        return len(live) == 3 and victim.id not in {t.id for t in live}

    wait_for(replaced, 30, "a replacement task RUNNING")
    stopped = cp.api.DescribeTasks(op.DescribeTasksRequest(cluster="default", tasks=[victim.id])).tasks[0]
    assert stopped.last_status == "STOPPED"
    assert stopped.containers[0].exit_code == 137
    assert stopped.stop_code == "EssentialContainerExited"


def test_lost_agent_tasks_are_replaced_and_dropped_on_return(cp: ReplicaProcess) -> None:
    a1, a2 = web_on_two_nodes(cp, "a", "b")
    lost = next(iter(a1.tasks()))
    a1.disconnect()

    def moved():
        a2.run_everything()
        return len(a2.tasks()) == 2 and lost not in a2.tasks()

    wait_for(moved, 30, "the lost node's task replaced on the other node")
    lost_task = cp.api.DescribeTasks(op.DescribeTasksRequest(cluster="default", tasks=[lost])).tasks[0]
    assert lost_task.last_status == "STOPPED"
    assert "lost contact" in lost_task.stopped_reason
    # On return the agent's set no longer holds the task: it stops its containers, no duplicate.
    a1.connect()
    wait_for(lambda: a1.latest is not None and lost not in a1.tasks(), 30, "returned agent's set without the task")


def test_unplaceable_task_says_why_and_places_when_capacity_appears(cp: ReplicaProcess) -> None:
    big = dict(WEB, family="big")
    big["containerDefinitions"] = [dict(WEB["containerDefinitions"][0], memory=4096)]
    register(cp, big)
    agent(cp, "small", memory_mib=1024)
    task = cp.api.RunTask(op.RunTaskRequest(cluster="default", task_definition="big")).tasks[0]

    def reason():
        t = cp.api.DescribeTasks(op.DescribeTasksRequest(cluster="default", tasks=[task.id])).tasks[0]
        return t.placement_message

    message = wait_for(reason, 30, "a placement message")
    assert "memory" in message and t_status(cp, task.id) == "PROVISIONING"
    agent(cp, "large", memory_mib=8192)
    wait_for(lambda: t_status(cp, task.id) == "PENDING", 30, "placement once a big node joins")


def t_status(cp: ReplicaProcess, task_id: str) -> str:
    return cp.api.DescribeTasks(op.DescribeTasksRequest(cluster="default", tasks=[task_id])).tasks[0].last_status


@pytest.mark.parametrize("doc,field", [
    ({"family": "x", "containerDefinitions": [{"name": "a", "memory": 64}]}, "image"),
    ({"family": "x", "containerDefinitions": [{"name": "a", "image": "busybox", "memory": -5}]}, "memory"),
    ({"family": "x", "networkMode": "bogus", "containerDefinitions": [{"name": "a", "image": "b", "memory": 4}]},
     "networkMode"),
])
def test_bad_task_definitions_get_errors_naming_the_field(cp: ReplicaProcess, doc: dict, field: str) -> None:
    with pytest.raises(grpc.RpcError) as err:
        register(cp, doc)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in err.value.details()


def test_oversized_and_non_json_task_definitions_are_refused(cp: ReplicaProcess) -> None:
    for text in ("{not json", json.dumps({"family": "x", "pad": "y" * (2 * 1024 * 1024)})):
        with pytest.raises(grpc.RpcError) as err:
            cp.api.RegisterTaskDefinition(op.RegisterTaskDefinitionRequest(json=text))
        assert err.value.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.RESOURCE_EXHAUSTED)
    assert not cp.api.ListTaskDefinitions(op.ListTaskDefinitionsRequest()).arns


def test_stop_task_of_an_unknown_cluster_or_task_is_not_found(cp: ReplicaProcess) -> None:
    with pytest.raises(grpc.RpcError) as err:
        cp.api.StopTask(op.StopTaskRequest(cluster="nope", task="x"))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND and "cluster" in err.value.details()
    with pytest.raises(grpc.RpcError) as err:
        cp.api.StopTask(op.StopTaskRequest(cluster="default", task="missing"))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


def test_drain_moves_service_tasks_off_the_draining_node(cp: ReplicaProcess) -> None:
    a1, a2 = web_on_two_nodes(cp, "a", "a")
    cp.api.UpdateContainerInstancesState(op.UpdateContainerInstancesStateRequest(
        cluster="default", container_instances=[a1.node_id], status="DRAINING"))

    def drained():
        a1.run_everything()
        a2.run_everything()
        running = [t for t in tasks(cp) if t.last_status == "RUNNING"]
        return len(running) == 2 and all(t.node_id == a2.node_id for t in running)

    wait_for(drained, 30, "service tasks moved off the draining node")
    node = cp.api.DescribeContainerInstances(op.DescribeContainerInstancesRequest(
        cluster="default", container_instances=[a1.node_id])).container_instances[0]
    assert node.status == "DRAINING" and node.running_tasks_count == 0


def test_list_container_instances_filters_with_cluster_query_language(cp: ReplicaProcess) -> None:
    small = agent(cp, "small-1", zone="a", attributes={"ecs.instance-type": "t2.small"})
    agent(cp, "large-1", zone="b", attributes={"ecs.instance-type": "m5.large"})

    def listed(expression: str) -> set[str]:
        return {arn.rsplit("/", 1)[-1] for arn in cp.api.ListContainerInstances(
            op.ListContainerInstancesRequest(cluster="default", filter=expression)).arns}

    assert listed("attribute:ecs.instance-type == t2.small") == {small.node_id}
    assert len(listed("attribute:ecs.availability-zone in [a, b]")) == 2
    with pytest.raises(grpc.RpcError) as err:
        listed("attribute:ecs.instance-type ==")
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "filter" in err.value.details()

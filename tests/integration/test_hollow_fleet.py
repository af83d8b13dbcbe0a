"""A fleet of hollow nodes (real agents over an in-memory runtime, one process) against a
real control-plane process on a real etcd, with mTLS on: every node joins with a token and
connects with its own certificate; a service spread over three zones reaches RUNNING, scales
in and out again, and stays balanced across the zones."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from shoal.security.channels import client_channel
from shoal.v1 import operator_pb2 as op
from shoal.v1 import operator_pb2_grpc
from shoal.v1 import resources_pb2 as r
from tests.fixtures.hollow import HollowPlane
from tests.fixtures.pki import admin_tls
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

NODES = 50
ZONES = ("a", "b", "c")
ZONE_ATTR = "ecs.availability-zone"
TASKDEF = {"family": "hollow-web", "containerDefinitions": [
    {"name": "web", "image": "shoal/busybox:latest", "cpu": 64, "memory": 128, "command": ["sleep", "3600"]}]}


def connected_nodes(api: operator_pb2_grpc.OperatorStub) -> dict[str, str]:
    """node id -> zone, for every node whose agent is connected."""
    arns = list(api.ListContainerInstances(op.ListContainerInstancesRequest(cluster="default")).arns)
    if not arns:
        return {}
    nodes = api.DescribeContainerInstances(op.DescribeContainerInstancesRequest(
        cluster="default", container_instances=arns)).container_instances
    return {n.id: next(a.value for a in n.attributes if a.name == ZONE_ATTR) for n in nodes if n.agent_connected}


def running_by_zone(api: operator_pb2_grpc.OperatorStub, zone_of: dict[str, str]) -> Counter:
    arns: list[str] = []
    token = ""
    while True:
        page = api.ListTasks(op.ListTasksRequest(cluster="default", service_name="web", desired_status="RUNNING",
                                                 next_token=token))
        arns += page.arns
        token = page.next_token
        if not token:
            break
    tasks = [t for i in range(0, len(arns), 100) for t in api.DescribeTasks(
        op.DescribeTasksRequest(cluster="default", tasks=arns[i:i + 100])).tasks]
    return Counter(zone_of[t.node_id] for t in tasks if t.last_status == "RUNNING")


def settle(plane: HollowPlane, zone_of: dict[str, str], count: int) -> Counter:
    """Waits until the service has exactly ``count`` tasks RUNNING (and no others meant to run)."""
    def done() -> Counter | None:
        svc = plane.api.DescribeServices(op.DescribeServicesRequest(cluster="default", services=["web"])).services[0]
        if svc.running_count != count or svc.pending_count:
            return None
        zones = running_by_zone(plane.api, zone_of)
        return zones if sum(zones.values()) == count else None

    return wait_for(done, 120, f"{count} tasks RUNNING", interval=0.5)


def assert_balanced(zones: Counter, count: int) -> None:
    assert sum(zones.values()) == count
    assert set(zones) == set(ZONES), zones
    assert max(zones.values()) - min(zones.values()) <= 1, zones


def test_hollow_fleet_runs_a_zone_spread_service_and_scales_it(hollow_plane: HollowPlane) -> None:
    plane = hollow_plane
    plane.start(NODES, ",".join(ZONES))

    def all_connected() -> dict[str, str] | None:
        nodes = connected_nodes(plane.api)
        return nodes if len(nodes) == NODES else None

    zone_of = wait_for(all_connected, 120, f"{NODES} hollow nodes connected", interval=0.5)
    assert Counter(zone_of.values()) == {z: NODES // 3 + (1 if i < NODES % 3 else 0) for i, z in enumerate(ZONES)}
    plane.api.RegisterTaskDefinition(op.RegisterTaskDefinitionRequest(json=json.dumps(TASKDEF)))
    plane.api.CreateService(op.CreateServiceRequest(
        cluster="default", service_name="web", task_definition="hollow-web", desired_count=200,
        placement_strategy=[r.PlacementStrategy(type="spread", field=f"attribute:{ZONE_ATTR}"),
                            r.PlacementStrategy(type="binpack", field="memory")]))
    assert_balanced(settle(plane, zone_of, 200), 200)

    plane.api.UpdateService(op.UpdateServiceRequest(cluster="default", service="web", desired_count=100))
    assert_balanced(settle(plane, zone_of, 100), 100)

    plane.api.UpdateService(op.UpdateServiceRequest(cluster="default", service="web", desired_count=200))
    assert_balanced(settle(plane, zone_of, 200), 200)


def test_hollow_fleet_comes_back_after_a_control_plane_restart(hollow_plane: HollowPlane) -> None:
    """Every node's stream breaks at once; the fleet reconnects (at most --connects-in-flight
    attempts at a time, with jittered backoff), each node keeps the task it ran, and new
    tasks reach every node through the new streams."""
    plane = hollow_plane
    nodes = 30
    plane.start(nodes)
    plane.api.RegisterTaskDefinition(op.RegisterTaskDefinitionRequest(json=json.dumps(TASKDEF)))
    plane.api.CreateService(op.CreateServiceRequest(cluster="default", service_name="web",
                                                    task_definition="hollow-web", desired_count=nodes))
    def all_connected() -> dict[str, str] | None:
        found = connected_nodes(plane.api)
        return found if len(found) == nodes else None

    zone_of = wait_for(all_connected, 120, f"{nodes} hollow nodes connected", interval=0.5)
    settle(plane, zone_of, nodes)
    before = {t.id: t.node_id for t in plane.api.DescribeTasks(op.DescribeTasksRequest(
        cluster="default", tasks=list(plane.api.ListTasks(op.ListTasksRequest(cluster="default")).arns))).tasks}

    plane.restart_control_plane()
    plane.channel.close()
    plane.channel = client_channel(plane.endpoint, admin_tls(plane.base / "pki"))
    plane.api = operator_pb2_grpc.OperatorStub(plane.channel)
    wait_for(lambda: plane.connected() == nodes, 120, f"{nodes} nodes connected again", interval=0.5)
    # Only streams held again bring new tasks to RUNNING (assignments go down them, reports up).
    plane.api.UpdateService(op.UpdateServiceRequest(cluster="default", service="web", desired_count=2 * nodes))
    settle(plane, zone_of, 2 * nodes)
    after = {t.id: t.node_id for t in plane.api.DescribeTasks(op.DescribeTasksRequest(
        cluster="default", tasks=list(plane.api.ListTasks(op.ListTasksRequest(cluster="default")).arns))).tasks}
    assert before.items() <= after.items()
    # The default placement spreads over zones, then instances: every node got its second
    # task, so every node's new stream carried it.
    per_node = Counter(after.values())
    assert len(per_node) == nodes and set(per_node.values()) == {2}, per_node

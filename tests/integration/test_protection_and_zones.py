"""Task protection and zone rebalancing with real agent processes (the hollow runtime: real
streams and reports, simulated containers): `shoal task protect` keeps tasks through a
scale-in until `--off`; a service crowded into one zone while the other zone's node was
away is moved back to balance once it returns, never running fewer tasks than desired."""

from __future__ import annotations

import json

import pytest

from shoal.v1 import operator_pb2 as op
from shoal.v1 import resources_pb2 as r
from tests.fixtures.cluster import MakeCluster
from tests.integration.test_logs_events import shoal
from tests.service_tasks import live_tasks
from tests.waiting import wait_for

TASKDEF = {"family": "hollow", "containerDefinitions": [{
    "name": "main", "image": "shoal/busybox:latest", "memory": 16, "cpu": 16, "command": ["sleep", "100000"],
}]}

pytestmark = pytest.mark.integration


def _running(api) -> dict[str, r.Task]:
    return {i: t for i, t in live_tasks(api).items() if t.last_status == "RUNNING"}


def _events(api) -> list[str]:
    svc = api.DescribeServices(op.DescribeServicesRequest(cluster="default", services=["web"])).services[0]
    return [e.message for e in svc.events]


def test_protected_tasks_survive_scale_in_until_unprotected(make_cluster: MakeCluster) -> None:
    cluster = make_cluster(agents=2, runtime="hollow", proxy=False)
    api = cluster.operator
    api.RegisterTaskDefinition(op.RegisterTaskDefinitionRequest(json=json.dumps(TASKDEF)))
    api.CreateService(op.CreateServiceRequest(cluster="default", service_name="web", task_definition="hollow",
                                              desired_count=3))
    wait_for(lambda: len(_running(api)) == 3, 90, "3 tasks RUNNING")
    keep = sorted(_running(api))[:2]
    for task_id in keep:
        done = shoal(cluster, "task", "protect", task_id, "--minutes", "10")
        assert done.returncode == 0 and "protected from scale-in until" in done.stdout, done.stderr
    assert shoal(cluster, "service", "update", "web", "--desired", "0").returncode == 0
    wait_for(lambda: set(_running(api)) == set(keep) and len(live_tasks(api)) == 2, 60,
             "only the unprotected task stopped")
    wait_for(lambda: any("protected from scale-in" in m for m in _events(api)), 30, "the service says why")
    off = shoal(cluster, "task", "protect", keep[0], "--off")
    assert off.returncode == 0 and "not protected" in off.stdout, off.stderr
    wait_for(lambda: set(live_tasks(api)) == {keep[1]}, 60, "the unprotected task stopped too")
    # Protection is for running service tasks: a stopped one is refused, naming why.
    refused = shoal(cluster, "task", "protect", keep[0])
    assert refused.returncode != 0 and "TASK_NOT_VALID" in refused.stderr, refused.stderr
    assert shoal(cluster, "task", "protect", keep[1], "--off", "--minutes", "5").returncode != 0


def test_a_crowded_service_is_rebalanced_when_a_zone_returns(make_cluster: MakeCluster) -> None:
    cluster = make_cluster(agents=2, zones=["a", "b"], runtime="hollow", proxy=False)
    api = cluster.operator
    zone_b = cluster.agent(2)
    cluster.stop_agent(2)
    wait_for(lambda: not next(n for n in api.DescribeContainerInstances(op.DescribeContainerInstancesRequest(
        cluster="default", container_instances=[zone_b.node_id])).container_instances).agent_connected, 60,
        "zone b's node lost")
    api.RegisterTaskDefinition(op.RegisterTaskDefinitionRequest(json=json.dumps(TASKDEF)))
    api.CreateService(op.CreateServiceRequest(
        cluster="default", service_name="web", task_definition="hollow", desired_count=4,
        availability_zone_rebalancing="ENABLED",
        deployment_configuration=r.DeploymentConfiguration(minimum_healthy_percent=100, maximum_percent=150)))
    wait_for(lambda: len(_running(api)) == 4, 90, "4 tasks RUNNING, all in zone a")
    assert {t.node_id for t in _running(api).values()} == {cluster.agent(1).node_id}

    cluster.start_agent(2)
    fewest = 4

    def balanced() -> bool:
        nonlocal fewest
        running = _running(api)
        fewest = min(fewest, len(running))
        on = [t.node_id for t in running.values()]
        return len(running) == 4 and on.count(zone_b.node_id) == 2 and len(live_tasks(api)) == 4

    wait_for(balanced, 120, "2 tasks in each zone")
    assert fewest >= 4, f"the service dropped to {fewest} RUNNING tasks while it was rebalanced"
    assert any("rebalanced" in m for m in _events(api))

"""FARGATE end to end: a cluster with an ordinary node that has room, a Fargate capacity
provider with no node, and the autoscaler as its own process. A FARGATE task waits PENDING
(never on the ordinary node), the provider brings a node up for it, and it runs there,
reported as FARGATE; EC2 tasks then never take the Fargate node's spare room."""

from __future__ import annotations

import json
import time

import pytest

from controlplane.scheduler import PROVIDER_ATTRIBUTE
from shoal.v1 import operator_pb2 as op
from shoal.v1 import resources_pb2 as r
from shoal.v1 import scaling_pb2 as sc
from tests.integration.test_autoscaling import autoscaling, connected, nodes, scaling, wait  # noqa: F401 (fixture)
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

FARGATE_TD = {
    "family": "serverless", "requiresCompatibilities": ["FARGATE"], "networkMode": "awsvpc", "cpu": "256",
    "memory": "512",
    "containerDefinitions": [{"name": "main", "image": "shoal/busybox:latest", "command": ["sleep", "3600"],
                              "essential": True, "stopTimeout": 2}],
}


def task(cluster, arn: str):
    return cluster.operator.DescribeTasks(op.DescribeTasksRequest(cluster="default", tasks=[arn])).tasks[0]


def test_a_fargate_task_waits_then_runs_on_a_node_its_provider_brings_up(autoscaling,  # noqa: F811
                                                                         busybox_image) -> None:
    cluster, (auto,) = autoscaling(agents=1)
    wait_for(lambda: connected(cluster) == 1, 120, "the ordinary node")
    plain = {n.id for n in nodes(cluster)}
    scaling(cluster).CreateCapacityProvider(sc.CreateCapacityProviderRequest(
        name="serverless", cluster="default", min_size=0, max_size=1, fargate=True,
        node_provider=sc.NodeProviderConfig(profile="local", config={
            "cpu_units": "512", "memory_mib": "1024", "gc_delay": "1", "stop_timeout": "10",
            "resync_interval": "2"})))
    cluster.operator.RegisterTaskDefinition(op.RegisterTaskDefinitionRequest(json=json.dumps(FARGATE_TD)))
    started = time.monotonic()
    arn = cluster.operator.RunTask(op.RunTaskRequest(cluster="default", task_definition="serverless",
                                                     launch_type="FARGATE")).tasks[0].task_arn
    # The ordinary node has room, but the task waits for the Fargate provider's capacity.
    waiting = wait_for(lambda: (t := task(cluster, arn)).placement_message and t, 60, "the task told why it waits")
    assert not waiting.node_id and "capacityProvider(serverless)" in waiting.placement_message
    wait(lambda: connected(cluster) == 2, 240, "a node from the Fargate capacity provider", auto)
    ran = wait(lambda: (t := task(cluster, arn)).last_status == "RUNNING" and t, 240, "the FARGATE task RUNNING", auto)
    took = time.monotonic() - started
    assert ran.launch_type == "FARGATE" and ran.capacity_provider_name == "serverless"
    node = next(n for n in nodes(cluster) if n.id == ran.node_id)
    assert node.id not in plain
    assert {a.name: a.value for a in node.attributes}[PROVIDER_ATTRIBUTE] == "serverless"
    print(f"FARGATE task pending -> node up -> RUNNING in {took:.1f}s")

    # Fargate capacity is not shared: of two EC2 tasks that may not share a node, one runs on
    # the ordinary node and the other waits, though the Fargate node has room for it.
    plain_td = {"family": "plain", "containerDefinitions": [{**FARGATE_TD["containerDefinitions"][0],
                                                             "cpu": 64, "memory": 64}]}
    cluster.operator.RegisterTaskDefinition(op.RegisterTaskDefinitionRequest(json=json.dumps(plain_td)))
    ec2 = [t.task_arn for t in cluster.operator.RunTask(op.RunTaskRequest(
        cluster="default", task_definition="plain", count=2, launch_type="EC2",
        placement_constraints=[r.PlacementConstraint(type="distinctInstance")])).tasks]
    wait_for(lambda: any(task(cluster, a).last_status == "RUNNING" for a in ec2), 240, "one EC2 task RUNNING")
    def refused_fargate() -> r.Task | None:
        return next((t for t in (task(cluster, a) for a in ec2) if "notFargateCapacity" in t.placement_message), None)
    waiting = wait_for(refused_fargate, 60, "the other EC2 task told it waits")
    assert not waiting.node_id
    assert {task(cluster, a).node_id for a in ec2} - {""} <= plain

"""FARGATE task sets: CreateTaskSet with launchType FARGATE, or a capacity provider strategy
naming FARGATE or FARGATE_SPOT, runs on the cluster's Fargate provider by the rules RunTask and
CreateService follow (controlplane/fargate.py); without one it is refused saying how to mark
one, and Fargate's task sizes are checked naming the field. Through the ECS gateway with boto3
(responses checked against botocore's model) and the leader's controllers (in-memory store)."""

from __future__ import annotations

from tests.aws_clients import refused
from tests.unit.test_capacity_placement import Leader
from tests.unit.test_ecs_api import ecs, gateway  # noqa: F401 (fixtures)
from tests.unit.test_fargate import SMALL, fargate_provider


def _external(ecs, desired: int = 2) -> None:  # noqa: F811
    ecs.register_task_definition(**SMALL)
    ecs.create_service(serviceName="ext", desiredCount=desired, deploymentController={"type": "EXTERNAL"})


def test_a_fargate_task_set_runs_only_on_the_fargate_providers_nodes(gateway, ecs) -> None:  # noqa: F811
    ctx, _ = gateway
    ld = Leader(ctx)
    ecs.create_capacity_provider(name="onprem", autoScalingGroupProvider={"autoScalingGroupArn": "local"})
    fargate_provider(ctx)
    ld.node("h1", "onprem")
    _external(ecs)
    ts = ecs.create_task_set(cluster="default", service="ext", taskDefinition="small", launchType="FARGATE",
                             scale={"value": 100.0, "unit": "PERCENT"})["taskSet"]
    assert ts["launchType"] == "FARGATE"
    # No node of the Fargate provider yet: the tasks wait though h1 has room.
    ld.cycle()
    waiting = ld.live("ext")
    assert len(waiting) == 2 and all(not t.node_id for t in waiting)
    assert all("capacityProvider(serverless)" in t.placement_message for t in waiting)
    ld.node("f1", "serverless")
    ld.cycle()
    running = ld.live("ext")
    assert {(t.node_id, t.launch_type, t.capacity_provider_name, t.task_set_id) for t in running} == {
        ("f1", "FARGATE", "serverless", ts["id"])}
    described = ecs.describe_task_sets(cluster="default", service="ext")["taskSets"][0]
    assert (described["launchType"], described["computedDesiredCount"]) == ("FARGATE", 2)


def test_a_task_set_with_a_fargate_strategy(gateway, ecs) -> None:  # noqa: F811
    ctx, _ = gateway
    ld = Leader(ctx)
    fargate_provider(ctx)
    ld.node("f1", "serverless")
    ecs.put_cluster_capacity_providers(cluster="default", capacityProviders=["FARGATE", "FARGATE_SPOT"],
                                       defaultCapacityProviderStrategy=[])
    _external(ecs)
    ts = ecs.create_task_set(cluster="default", service="ext", taskDefinition="small", capacityProviderStrategy=[
        {"capacityProvider": "FARGATE", "weight": 1}, {"capacityProvider": "FARGATE_SPOT", "weight": 2}])["taskSet"]
    assert ts["launchType"] == "FARGATE"
    ld.cycle()
    assert {(t.node_id, t.launch_type) for t in ld.live("ext")} == {("f1", "FARGATE")}


def test_bad_fargate_task_sets_are_refused_and_nothing_is_kept(gateway, ecs) -> None:  # noqa: F811
    ctx, _ = gateway
    _external(ecs)
    # No Fargate provider: refused saying how to mark one.
    msg = refused(ecs.create_task_set, cluster="default", service="ext", taskDefinition="small",
                  launchType="FARGATE")
    assert msg.startswith("launchType: FARGATE needs a capacity provider") and "--fargate" in msg
    fargate_provider(ctx)
    ecs.register_task_definition(**{**SMALL, "family": "big", "memory": "4096"})
    ecs.register_task_definition(**{**SMALL, "family": "ec2only", "requiresCompatibilities": ["EC2"]})
    assert refused(ecs.create_task_set, cluster="default", service="ext", taskDefinition="big",
                   launchType="FARGATE").startswith("taskDefinition.memory: 4096 MiB is not valid with cpu 256")
    assert "requiresCompatibilities" in refused(ecs.create_task_set, cluster="default", service="ext",
                                                taskDefinition="ec2only", launchType="FARGATE")
    assert ecs.describe_task_sets(cluster="default", service="ext")["taskSets"] == []

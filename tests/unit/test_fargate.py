"""FARGATE on Shoal (controlplane/fargate.py): the cluster's Fargate capacity provider serves
launchType FARGATE and the FARGATE/FARGATE_SPOT providers; its tasks land only on its nodes
and wait PENDING when none fits; Fargate's task sizes are checked naming the field; without
a Fargate provider FARGATE is refused saying how to mark one. Pure checks first, then the
leader's controllers through the ECS gateway with boto3 (in-memory store)."""

from __future__ import annotations

import pytest

from autoscaler.cluster_scaler import unplaceable
from controlplane import fargate
from controlplane.api import scaling
from controlplane.errors import ApiError
from shoal.v1 import resources_pb2 as r
from shoal.v1 import scaling_pb2 as sc
from tests.aws_clients import refused
from tests.unit.test_capacity_placement import Leader
from tests.unit.test_ecs_api import ecs, gateway  # noqa: F401 (fixtures)

SMALL = {
    "family": "small", "requiresCompatibilities": ["FARGATE"], "networkMode": "awsvpc", "cpu": "256",
    "memory": "512",
    "containerDefinitions": [{"name": "web", "image": "shoal/busybox:latest", "essential": True,
                              "portMappings": [{"containerPort": 8080}]}],
}


def td(cpu: str = "256", memory: str = "512", mode: str = "bridge") -> r.TaskDefinition:
    return r.TaskDefinition(family="f", cpu=cpu, memory=memory, network_mode=mode)


# ---- pure checks -------------------------------------------------------------------------------


@pytest.mark.parametrize("cpu,memory", [("256", "512"), ("256", "2048"), ("1024", "8192"), ("4096", "30720"),
                                        ("8192", "61440"), ("16384", "122880")])
def test_fargate_sizes_accepted(cpu: str, memory: str) -> None:
    fargate.check_size(td(cpu, memory))


@pytest.mark.parametrize("cpu,memory,words", [
    ("", "512", "taskDefinition.cpu: required at task level"),
    ("256", "", "taskDefinition.memory: required at task level"),
    ("300", "1024", "taskDefinition.cpu: 300 is not a Fargate task size"),
    ("256", "4096", "taskDefinition.memory: 4096 MiB is not valid with cpu 256"),
    ("512", "1536", "taskDefinition.memory: 1536 MiB is not valid with cpu 512"),
    ("8192", "18432", "taskDefinition.memory: 18432 MiB is not valid with cpu 8192"),
])
def test_bad_fargate_sizes_name_the_field(cpu: str, memory: str, words: str) -> None:
    with pytest.raises(ApiError) as caught:
        fargate.check_size(td(cpu, memory))
    assert str(caught.value.message).startswith(words)


def test_host_network_mode_is_refused_for_fargate() -> None:
    with pytest.raises(ApiError) as caught:
        fargate.check_size(td(mode="host"))
    assert "taskDefinition.networkMode: host is not supported by FARGATE" in caught.value.message


def item(name: str, weight: int, base: int = 0) -> r.CapacityProviderStrategyItem:
    return r.CapacityProviderStrategyItem(capacity_provider=name, weight=weight, base=base)


def test_fargate_and_spot_become_the_one_shoal_provider() -> None:
    got = fargate.mapped([item("FARGATE", 1, 2), item("FARGATE_SPOT", 3)], "serverless", "s")
    assert got == [item("serverless", 4, 2)]
    assert fargate.mapped([item("onprem", 1)], "serverless", "s") == [item("onprem", 1)]
    with pytest.raises(ApiError) as caught:
        fargate.mapped([item("FARGATE", 1), item("onprem", 1)], "serverless", "s")
    assert caught.value.message.startswith("s: a capacity provider strategy cannot mix FARGATE")


def test_the_fargate_provider_grows_only_for_its_own_tasks() -> None:
    def waiting(provider: str) -> r.Task:
        return r.Task(id=provider or "plain", last_status="PROVISIONING", desired_status="RUNNING",
                      placement_message="no node", capacity_provider_name=provider)
    tasks = [waiting(""), waiting("serverless"), waiting("onprem")]
    assert [t.id for t in unplaceable(tasks, "serverless", own_only=True)] == ["serverless"]
    # An ordinary provider also takes the tasks given to no provider, as before.
    assert [t.id for t in unplaceable(tasks, "onprem")] == ["plain", "onprem"]


# ---- through the gateway and the leader's controllers ------------------------------------------


def fargate_provider(ctx, name: str = "serverless") -> None:
    scaling.create_capacity_provider(ctx, sc.CreateCapacityProviderRequest(
        name=name, cluster="default", node_provider=sc.NodeProviderConfig(profile="local"), max_size=3,
        fargate=True))


def test_without_a_fargate_provider_fargate_is_refused_saying_how(gateway, ecs) -> None:  # noqa: F811
    ecs.register_task_definition(**SMALL)
    msg = refused(ecs.run_task, taskDefinition="small", launchType="FARGATE")
    assert msg.startswith("launchType: FARGATE needs a capacity provider") and "--fargate" in msg
    msg = refused(ecs.put_cluster_capacity_providers, cluster="default", capacityProviders=["FARGATE"],
                  defaultCapacityProviderStrategy=[])
    assert msg.startswith("capacityProviders[0]: FARGATE needs a capacity provider") and "--fargate" in msg
    msg = refused(ecs.run_task, taskDefinition="small",
                  capacityProviderStrategy=[{"capacityProvider": "FARGATE", "weight": 1}])
    assert msg.startswith("capacityProviderStrategy[0].capacityProvider: FARGATE is not one of the cluster's")
    assert ecs.list_tasks()["taskArns"] == []


def test_one_fargate_provider_per_cluster_kept_while_it_serves_fargate(gateway, ecs) -> None:  # noqa: F811
    ctx, _ = gateway
    fargate_provider(ctx)
    with pytest.raises(ApiError) as caught:
        fargate_provider(ctx, "another")
    assert caught.value.message.startswith("fargate: cluster 'default' already has a Fargate capacity provider")
    ecs.put_cluster_capacity_providers(cluster="default", capacityProviders=["FARGATE_SPOT"],
                                       defaultCapacityProviderStrategy=[])
    with pytest.raises(ecs.exceptions.ClientException) as deleting:
        ecs.delete_capacity_provider(capacityProvider="serverless")
    assert "'serverless' serves FARGATE_SPOT of cluster 'default'" in deleting.value.response["Error"]["Message"]
    ecs.put_cluster_capacity_providers(cluster="default", capacityProviders=[], defaultCapacityProviderStrategy=[])
    ecs.delete_capacity_provider(capacityProvider="serverless")
    # Gone: FARGATE is refused again, and another provider may now be the Fargate one.
    assert refused(ecs.put_cluster_capacity_providers, cluster="default", capacityProviders=["FARGATE"],
                   defaultCapacityProviderStrategy=[]).startswith("capacityProviders[0]: FARGATE needs")
    fargate_provider(ctx, "another")


def test_fargate_tasks_run_only_on_the_fargate_providers_nodes(gateway, ecs) -> None:  # noqa: F811
    ctx, _ = gateway
    ld = Leader(ctx)
    ecs.create_capacity_provider(name="onprem", autoScalingGroupProvider={"autoScalingGroupArn": "local"})
    fargate_provider(ctx)
    ld.node("h1", "onprem")
    ecs.register_task_definition(**SMALL)
    tasks = ecs.run_task(taskDefinition="small", launchType="FARGATE", count=2)["tasks"]
    assert [(t["launchType"], t["capacityProviderName"]) for t in tasks] == [("FARGATE", "serverless")] * 2
    # No node of the Fargate provider yet: the tasks wait, saying why, though h1 has room.
    ld.cycle()
    waiting = ld.live("")
    assert [t.node_id for t in waiting] == ["", ""]
    assert all("capacityProvider(serverless)" in t.placement_message for t in waiting)
    # ...and they are what the autoscaler brings a node of that provider up for.
    assert len(unplaceable(waiting, "serverless", own_only=True)) == 2
    ld.node("f1", "serverless")
    ld.cycle()
    described = ecs.describe_tasks(tasks=[t["taskArn"] for t in tasks])["tasks"]
    assert {(t["lastStatus"], t["launchType"], t["containerInstanceArn"].rsplit("/", 1)[-1]) for t in described} \
        == {("RUNNING", "FARGATE", "f1")}
    assert ecs.list_tasks(launchType="FARGATE")["taskArns"] and not ecs.list_tasks(launchType="EC2")["taskArns"]


def test_a_fargate_strategy_and_a_fargate_service(gateway, ecs) -> None:  # noqa: F811
    ctx, _ = gateway
    ld = Leader(ctx)
    fargate_provider(ctx)
    ld.node("f1", "serverless")
    ecs.put_cluster_capacity_providers(cluster="default", capacityProviders=["FARGATE", "FARGATE_SPOT"],
                                       defaultCapacityProviderStrategy=[{"capacityProvider": "FARGATE", "weight": 1}])
    ecs.register_task_definition(**SMALL)
    # The cluster's default strategy names FARGATE: a plain RunTask runs there.
    task = ecs.run_task(taskDefinition="small")["tasks"][0]
    assert (task["launchType"], task["capacityProviderName"]) == ("FARGATE", "serverless")
    svc = ecs.create_service(serviceName="web", taskDefinition="small", desiredCount=2, capacityProviderStrategy=[
        {"capacityProvider": "FARGATE", "weight": 1}, {"capacityProvider": "FARGATE_SPOT", "weight": 2}])["service"]
    assert svc["launchType"] == "FARGATE"
    ld.cycle()
    assert {(t.node_id, t.launch_type) for t in ld.live("web")} == {("f1", "FARGATE")}
    # A new revision that is no Fargate size is refused; the service keeps its revision.
    ecs.register_task_definition(**{**SMALL, "memory": "8192"})
    msg = refused(ecs.update_service, service="web", taskDefinition="small:2")
    assert msg.startswith("taskDefinition.memory: 8192 MiB is not valid with cpu 256")
    assert ecs.describe_services(services=["web"])["services"][0]["taskDefinition"].endswith("small:1")


def test_bad_fargate_requests_are_refused_and_nothing_is_kept(gateway, ecs) -> None:  # noqa: F811
    ctx, _ = gateway
    fargate_provider(ctx)
    ecs.create_capacity_provider(name="onprem", autoScalingGroupProvider={"autoScalingGroupArn": "local"})
    ecs.put_cluster_capacity_providers(cluster="default", capacityProviders=["FARGATE", "onprem"],
                                       defaultCapacityProviderStrategy=[])
    ecs.register_task_definition(**SMALL)
    ecs.register_task_definition(**{**SMALL, "family": "big", "memory": "4096"})
    unsized = {k: v for k, v in SMALL.items() if k not in ("cpu", "memory")}
    ecs.register_task_definition(**{**unsized, "family": "nosize",
                                    "containerDefinitions": [{**SMALL["containerDefinitions"][0], "memory": 64}]})
    ecs.register_task_definition(**{**SMALL, "family": "ec2only", "requiresCompatibilities": ["EC2"]})
    assert refused(ecs.run_task, taskDefinition="big", launchType="FARGATE").startswith(
        "taskDefinition.memory: 4096 MiB is not valid with cpu 256")
    assert refused(ecs.create_service, serviceName="s", taskDefinition="nosize", desiredCount=1,
                   launchType="FARGATE").startswith("taskDefinition.cpu: required at task level")
    assert "requiresCompatibilities" in refused(ecs.run_task, taskDefinition="ec2only", launchType="FARGATE")
    assert refused(ecs.run_task, taskDefinition="small", capacityProviderStrategy=[
        {"capacityProvider": "FARGATE", "weight": 1}, {"capacityProvider": "onprem", "weight": 1}]).startswith(
        "capacityProviderStrategy: a capacity provider strategy cannot mix FARGATE")
    assert refused(ecs.create_service, serviceName="d", taskDefinition="small", launchType="FARGATE",
                   schedulingStrategy="DAEMON").startswith("launchType: the daemon scheduling strategy")
    assert ecs.list_tasks()["taskArns"] == [] and ecs.list_services()["serviceArns"] == []

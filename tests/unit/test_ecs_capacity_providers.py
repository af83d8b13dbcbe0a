"""ECS's capacity-provider operations through the gateway (boto3, in process, every
response checked against botocore's model): the autoScalingGroupProvider shape stored as a
Shoal capacity provider, and what Shoal cannot honour refused naming the field."""

from __future__ import annotations

import boto3
import pytest
from botocore.config import Config

from controlplane.api import accesskeys
from controlplane.ecs import capacity
from controlplane.ecs.errors import EcsError
from shoal import keys
from shoal.v1 import accesskeys_pb2 as ak
from shoal.v1 import scaling_pb2 as sc
from tests.aws_clients import refused
from tests.ecs_model import validate_every_response
from tests.unit.test_ecs_api import ADMIN, WEB, ecs, gateway  # noqa: F401 (fixtures)

ASG_ARN = "arn:aws:autoscaling:us-east-1:000000000000:autoScalingGroup:x:autoScalingGroupName/local"


@pytest.fixture
def unchecked(gateway):  # noqa: F811
    """A client that sends what botocore's own checks (ranges, required members) would stop,
    as a script with another SDK might: the gateway must refuse it itself."""
    ctx, gw = gateway
    key = accesskeys.create(ctx, ak.CreateAccessKeyRequest(description="unit", **ADMIN))
    client = boto3.client("ecs", endpoint_url=gw.url, region_name="us-east-1", verify=gw.ca_path,
                          aws_access_key_id=key.access_key_id, aws_secret_access_key=key.secret_access_key,
                          config=Config(parameter_validation=False, retries={"max_attempts": 6, "mode": "standard"}))
    validate_every_response(client)
    return client


def stored(ctx, name: str) -> sc.CapacityProvider:
    rec = ctx.state.load(keys.capacity_provider(name), sc.CapacityProvider)
    assert rec is not None
    return rec.msg


def test_create_describe_update_delete(gateway, ecs) -> None:  # noqa: F811
    ctx, _ = gateway
    cp = ecs.create_capacity_provider(name="burst", autoScalingGroupProvider={
        "autoScalingGroupArn": ASG_ARN,
        "managedScaling": {"status": "ENABLED", "targetCapacity": 80, "minimumScalingStepSize": 2,
                           "maximumScalingStepSize": 5},
        "managedTerminationProtection": "ENABLED", "managedDraining": "ENABLED"})["capacityProvider"]
    asg = cp["autoScalingGroupProvider"]
    assert (cp["name"], cp["status"], cp["cluster"], asg["autoScalingGroupArn"]) == ("burst", "ACTIVE", "default",
                                                                                     "local")
    assert asg["managedScaling"] == {"status": "ENABLED", "targetCapacity": 80, "minimumScalingStepSize": 2,
                                     "maximumScalingStepSize": 5}
    assert (asg["managedTerminationProtection"], asg["managedDraining"]) == ("ENABLED", "ENABLED")
    msg = stored(ctx, "burst")
    assert (msg.node_provider.profile, msg.target_capacity, msg.minimum_scaling_step_size,
            msg.maximum_scaling_step_size, msg.managed_termination_protection, msg.max_size) == (
        "local", 80, 2, 5, True, 10)

    ecs.create_capacity_provider(name="plain", autoScalingGroupProvider={"autoScalingGroupArn": "local"})
    assert stored(ctx, "plain").target_capacity == 100

    described = ecs.describe_capacity_providers(capacityProviders=["burst", "nope"])
    assert [c["name"] for c in described["capacityProviders"]] == ["burst"]
    assert described["failures"] == [{"arn": "nope", "reason": "MISSING"}]
    first = ecs.describe_capacity_providers(maxResults=1)
    assert [c["name"] for c in first["capacityProviders"]] == ["burst"]
    rest = ecs.describe_capacity_providers(maxResults=1, nextToken=first["nextToken"])
    assert [c["name"] for c in rest["capacityProviders"]] == ["plain"]

    updated = ecs.update_capacity_provider(name=cp["capacityProviderArn"], autoScalingGroupProvider={
        "managedScaling": {"targetCapacity": 60}, "managedTerminationProtection": "DISABLED"})["capacityProvider"]
    assert updated["autoScalingGroupProvider"]["managedScaling"]["targetCapacity"] == 60
    msg = stored(ctx, "burst")
    assert (msg.target_capacity, msg.minimum_scaling_step_size, msg.managed_termination_protection) == (60, 2, False)

    gone = ecs.delete_capacity_provider(capacityProvider="burst")["capacityProvider"]
    assert gone["status"] == "INACTIVE"
    assert [c["name"] for c in ecs.describe_capacity_providers()["capacityProviders"]] == ["plain"]
    assert {"CreateCapacityProvider", "DescribeCapacityProviders", "UpdateCapacityProvider",
            "DeleteCapacityProvider"} <= set(ecs.seen)


@pytest.mark.parametrize(("asg", "field"), [
    ({}, "autoScalingGroupProvider.autoScalingGroupArn: required"),
    ({"autoScalingGroupArn": "arn:aws:autoscaling:x"}, "autoScalingGroupProvider.autoScalingGroupArn: an ARN"),
    ({"autoScalingGroupArn": "../bin/sh"}, "autoScalingGroupProvider.autoScalingGroupArn: must be"),
    ({"autoScalingGroupArn": "local", "managedScaling": {"status": "DISABLED"}},
     "autoScalingGroupProvider.managedScaling.status: DISABLED is not supported"),
    ({"autoScalingGroupArn": "local", "managedScaling": {"targetCapacity": 0}},
     "autoScalingGroupProvider.managedScaling.targetCapacity: must be"),
    ({"autoScalingGroupArn": "local", "managedScaling": {"maximumScalingStepSize": 10001}},
     "autoScalingGroupProvider.managedScaling.maximumScalingStepSize"),
    ({"autoScalingGroupArn": "local", "managedScaling": {"instanceWarmupPeriod": 300}},
     "autoScalingGroupProvider.managedScaling.instanceWarmupPeriod: not supported"),
    ({"autoScalingGroupArn": "local", "managedDraining": "DISABLED"},
     "autoScalingGroupProvider.managedDraining: DISABLED is not supported"),
    ({"autoScalingGroupArn": "local", "managedTerminationProtection": "MAYBE"},
     "autoScalingGroupProvider.managedTerminationProtection: must be ENABLED or DISABLED"),
])
def test_bad_create_is_refused_naming_the_field(unchecked, asg, field) -> None:
    assert refused(unchecked.create_capacity_provider, name="bad", autoScalingGroupProvider=asg).startswith(field)
    assert unchecked.describe_capacity_providers()["capacityProviders"] == []


def test_other_refusals(unchecked) -> None:
    ecs = unchecked  # noqa: F811
    asg = {"autoScalingGroupArn": "local"}
    assert refused(ecs.create_capacity_provider, name="t", autoScalingGroupProvider=asg,
                   tags=[{"key": "a", "value": "b"}]).startswith("tags[0].key: 'a': a capacity provider takes only")
    assert refused(ecs.create_capacity_provider, name="FARGATE", autoScalingGroupProvider=asg).startswith("name:")
    assert refused(ecs.create_capacity_provider, name="m",
                   managedInstancesProvider={"infrastructureRoleArn": "x"}).startswith("managedInstancesProvider")
    ecs.create_capacity_provider(name="cp", autoScalingGroupProvider=asg)
    assert refused(ecs.update_capacity_provider, name="cp", autoScalingGroupProvider={
        "managedScaling": {"minimumScalingStepSize": 20, "maximumScalingStepSize": 10}}).startswith(
        "minimumScalingStepSize")
    with pytest.raises(ecs.exceptions.ClientException):
        ecs.update_capacity_provider(name="nope", autoScalingGroupProvider={"managedScaling": {"targetCapacity": 5}})
    with pytest.raises(ecs.exceptions.ClientException):
        ecs.delete_capacity_provider(capacityProvider="nope")
    assert ecs.describe_capacity_providers()["capacityProviders"][0]["autoScalingGroupProvider"][
        "managedScaling"]["minimumScalingStepSize"] == 1


def test_the_fargate_mark_is_a_tag_reported_back(gateway, unchecked) -> None:  # noqa: F811
    ctx, _ = gateway
    ecs = unchecked  # noqa: F811
    asg = {"autoScalingGroupArn": "local"}
    mark = {"key": "shoal:fargate", "value": "true"}
    made = ecs.create_capacity_provider(name="serverless", autoScalingGroupProvider=asg, tags=[mark])
    assert made["capacityProvider"]["tags"] == [mark] and stored(ctx, "serverless").fargate
    ecs.create_capacity_provider(name="plain", autoScalingGroupProvider=asg,
                                 tags=[{"key": "shoal:fargate", "value": "false"}])
    assert not stored(ctx, "plain").fargate
    shown = {c["name"]: c["tags"] for c in ecs.describe_capacity_providers(include=["TAGS"])["capacityProviders"]}
    assert shown == {"serverless": [mark], "plain": []}
    # The mark is what FARGATE needs: the cluster may now take FARGATE and FARGATE_SPOT.
    ecs.put_cluster_capacity_providers(cluster="default", capacityProviders=["FARGATE", "FARGATE_SPOT"],
                                       defaultCapacityProviderStrategy=[])


@pytest.mark.parametrize(("tags", "words"), [
    ([{"key": "shoal:fargate", "value": "yes"}], "tags[0].value: shoal:fargate must be true or false, not 'yes'"),
    ([{"key": "shoal:fargate", "value": "true"}, {"key": "shoal:fargate", "value": "false"}],
     "tags[1].key: shoal:fargate is given more than once"),
    ([{"key": "shoal:fargate", "value": "true"}, {"key": "team", "value": "a"}], "tags[1].key: 'team'"),
    ([{"key": "Shoal:Fargate", "value": "true"}], "tags[0].key: 'Shoal:Fargate'"),
    ([{"key": "shoal:fargate", "value": "true"}], "tags[0]: cluster 'default' already has a Fargate capacity "
                                                  "provider ('serverless')"),
])
def test_conflicting_fargate_marks_are_refused_naming_the_field(unchecked, tags, words) -> None:
    asg = {"autoScalingGroupArn": "local"}
    unchecked.create_capacity_provider(name="serverless", autoScalingGroupProvider=asg,
                                       tags=[{"key": "shoal:fargate", "value": "true"}])
    assert refused(unchecked.create_capacity_provider, name="second", autoScalingGroupProvider=asg,
                   tags=tags).startswith(words)
    assert [c["name"] for c in unchecked.describe_capacity_providers()["capacityProviders"]] == ["serverless"]


@pytest.mark.parametrize(("tags", "words"), [
    ("shoal:fargate", "tags: must be a list"),
    (["shoal:fargate"], "tags[0].key: None"),
])
def test_malformed_tags_no_sdk_would_send_are_refused(gateway, tags, words) -> None:  # noqa: F811
    ctx, _ = gateway
    with pytest.raises(EcsError) as caught:
        capacity.create_capacity_provider(ctx, {"name": "x", "autoScalingGroupProvider": {
            "autoScalingGroupArn": "local"}, "tags": tags})
    assert caught.value.message.startswith(words)


def test_a_viewer_may_describe_but_not_change(gateway, ecs) -> None:  # noqa: F811
    ctx, gw = gateway
    ecs.create_capacity_provider(name="cp", autoScalingGroupProvider={"autoScalingGroupArn": "local"})
    key = accesskeys.create(ctx, ak.CreateAccessKeyRequest(description="unit", user="bob", role="viewer"))
    viewer = boto3.client("ecs", endpoint_url=gw.url, region_name="us-east-1", verify=gw.ca_path,
                          aws_access_key_id=key.access_key_id, aws_secret_access_key=key.secret_access_key)
    assert [c["name"] for c in viewer.describe_capacity_providers()["capacityProviders"]] == ["cp"]
    for call, kwargs in (("create_capacity_provider", {"name": "x", "autoScalingGroupProvider":
                                                       {"autoScalingGroupArn": "local"}}),
                         ("update_capacity_provider", {"name": "cp", "autoScalingGroupProvider":
                                                       {"managedScaling": {"targetCapacity": 5}}}),
                         ("delete_capacity_provider", {"capacityProvider": "cp"})):
        with pytest.raises(viewer.exceptions.AccessDeniedException):
            getattr(viewer, call)(**kwargs)
    assert stored(ctx, "cp").target_capacity == 100


def test_put_cluster_capacity_providers(gateway, ecs) -> None:  # noqa: F811
    ctx, _ = gateway
    for name in ("a", "b"):
        ecs.create_capacity_provider(name=name, autoScalingGroupProvider={"autoScalingGroupArn": "local"})
    ecs.create_cluster(clusterName="other")
    ecs.create_capacity_provider(name="elsewhere", cluster="other",
                                 autoScalingGroupProvider={"autoScalingGroupArn": "local"})
    strategy = [{"capacityProvider": "a", "base": 2, "weight": 1}, {"capacityProvider": "b", "weight": 3, "base": 0}]
    cluster = ecs.put_cluster_capacity_providers(cluster="default", capacityProviders=["a", "b"],
                                                 defaultCapacityProviderStrategy=strategy)["cluster"]
    assert cluster["capacityProviders"] == ["a", "b"]
    assert cluster["defaultCapacityProviderStrategy"] == strategy
    described = ecs.describe_clusters(clusters=["default"])["clusters"][0]
    assert described["defaultCapacityProviderStrategy"] == strategy

    # In use: not deleted.
    with pytest.raises(ecs.exceptions.ClientException) as caught:
        ecs.delete_capacity_provider(capacityProvider="a")
    assert "in use by cluster 'default'" in caught.value.response["Error"]["Message"]
    bad = {
        "capacityProviders[0]: capacity provider 'nope' not found": (["nope"], []),
        "capacityProviders[0]: FARGATE needs a capacity provider to run on": (["FARGATE"], []),
        "capacityProviders[0]: capacity provider 'elsewhere' serves cluster 'other'": (["elsewhere"], []),
        "defaultCapacityProviderStrategy: at least one capacity provider must have a weight": (
            ["a", "b"], [{"capacityProvider": "a", "weight": 0}, {"capacityProvider": "b", "weight": 0}]),
        "defaultCapacityProviderStrategy: only one capacity provider may have a base": (
            ["a", "b"], [{"capacityProvider": "a", "weight": 1, "base": 1},
                         {"capacityProvider": "b", "weight": 1, "base": 1}]),
        "defaultCapacityProviderStrategy[0].capacityProvider: 'b' is not one of the cluster's": (
            ["a"], [{"capacityProvider": "b", "weight": 1}]),
        "defaultCapacityProviderStrategy[1].capacityProvider: 'a' is listed twice": (
            ["a"], [{"capacityProvider": "a", "weight": 1}, {"capacityProvider": "a", "weight": 1}]),
    }
    for words, (providers, items) in bad.items():
        msg = refused(ecs.put_cluster_capacity_providers, cluster="default", capacityProviders=providers,
                      defaultCapacityProviderStrategy=items)
        assert msg.startswith(words), msg
    # Nothing half-applied by the refusals.
    assert ecs.describe_clusters()["clusters"][0]["capacityProviders"] == ["a", "b"]
    with pytest.raises(ecs.exceptions.ClusterNotFoundException):
        ecs.put_cluster_capacity_providers(cluster="nope", capacityProviders=[], defaultCapacityProviderStrategy=[])

    cleared = ecs.put_cluster_capacity_providers(cluster="default", capacityProviders=[],
                                                 defaultCapacityProviderStrategy=[])["cluster"]
    assert (cleared["capacityProviders"], cleared["defaultCapacityProviderStrategy"]) == ([], [])
    assert ecs.delete_capacity_provider(capacityProvider="a")["capacityProvider"]["status"] == "INACTIVE"
    assert "PutClusterCapacityProviders" in ecs.seen


def test_strategy_weights_out_of_range_are_refused(unchecked) -> None:
    unchecked.create_capacity_provider(name="a", autoScalingGroupProvider={"autoScalingGroupArn": "local"})
    for item, words in (({"capacityProvider": "a", "weight": 1001}, "[0].weight: must be between 0 and 1000"),
                        ({"capacityProvider": "a", "weight": 1, "base": -1}, "[0].base: must be between"),
                        ({"capacityProvider": "a", "weight": "x"}, "[0].weight: must be a whole number")):
        msg = refused(unchecked.put_cluster_capacity_providers, cluster="default", capacityProviders=["a"],
                      defaultCapacityProviderStrategy=[item])
        assert msg.startswith("defaultCapacityProviderStrategy" + words), msg
    # botocore cannot send a member its model lacks; another client can.
    with pytest.raises(EcsError, match=r"^defaultCapacityProviderStrategy\[0\]\.extra: not a member"):
        capacity.put_cluster_capacity_providers(None, {  # type: ignore[arg-type]
            "cluster": "default", "capacityProviders": ["a"],
            "defaultCapacityProviderStrategy": [{"capacityProvider": "a", "weight": 1, "extra": 1}]})


def test_run_task_and_create_service_record_a_strategy(ecs) -> None:  # noqa: F811
    ecs.register_task_definition(**WEB)
    for name in ("a", "b"):
        ecs.create_capacity_provider(name=name, autoScalingGroupProvider={"autoScalingGroupArn": "local"})
    strategy = [{"capacityProvider": "a", "base": 1, "weight": 1}, {"capacityProvider": "b", "weight": 4, "base": 0}]
    msg = refused(ecs.run_task, taskDefinition="web", capacityProviderStrategy=strategy)
    assert msg.startswith("capacityProviderStrategy[0].capacityProvider: 'a' is not one of the cluster's"), msg
    ecs.put_cluster_capacity_providers(cluster="default", capacityProviders=["a", "b"],
                                       defaultCapacityProviderStrategy=[{"capacityProvider": "b", "weight": 1}])
    tasks = ecs.run_task(taskDefinition="web", count=6, capacityProviderStrategy=strategy)["tasks"]
    assert sorted(t["capacityProviderName"] for t in tasks) == ["a", "a", "b", "b", "b", "b"]
    # Neither a launch type nor a strategy: the cluster's default strategy.
    assert ecs.run_task(taskDefinition="web")["tasks"][0]["capacityProviderName"] == "b"
    assert "capacityProviderName" not in ecs.run_task(taskDefinition="web", launchType="EC2")["tasks"][0]
    msg = refused(ecs.run_task, taskDefinition="web", launchType="EC2", capacityProviderStrategy=strategy)
    assert msg.startswith("capacityProviderStrategy: give either launchType or capacityProviderStrategy")

    svc = ecs.create_service(serviceName="s", taskDefinition="web", desiredCount=0,
                             capacityProviderStrategy=strategy)["service"]
    assert svc["capacityProviderStrategy"] == strategy
    assert svc["deployments"][0]["capacityProviderStrategy"] == strategy
    assert ecs.describe_services(services=["s"])["services"][0]["capacityProviderStrategy"] == strategy
    msg = refused(ecs.create_service, serviceName="z", taskDefinition="web", desiredCount=0,
                  capacityProviderStrategy=[{"capacityProvider": "a", "weight": 0}])
    assert msg.startswith("capacityProviderStrategy: at least one capacity provider must have a weight"), msg

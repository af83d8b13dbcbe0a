"""PutAttributes, DeleteAttributes and ListAttributes through the ECS gateway (boto3, every
response checked against botocore's model): custom attributes land on the container
instance at once (DescribeContainerInstances, ListContainerInstances' filter, placement's
memberOf), survive the agent registering again, and bad input is refused in ECS's words with
nothing applied. RegisterContainerInstance answers how a Shoal host registers."""

from __future__ import annotations

import time

import pytest

from controlplane.api import accesskeys
from controlplane.api.agent_registration import Registration
from controlplane.placement_input import snapshot
from controlplane.scheduler import PlacementRequest, schedule
from shoal import keys
from shoal.v1 import accesskeys_pb2 as ak
from shoal.v1 import agent_pb2
from shoal.v1 import resources_pb2 as r
from tests.aws_clients import refused
from tests.unit.test_ecs_api import ecs, ecs_client, gateway  # noqa: F401 (fixtures)


def add_node(ctx, name: str) -> str:
    node = r.ContainerInstance(id=name, cluster="default", status="ACTIVE", hostname=name, cpu_units=1024,
                               memory_mib=1024, container_instance_arn=ctx.arns.node("default", name),
                               ec2_instance_id=name, registered_at=time.time())
    node.attributes.add(name="ecs.os-type", value="linux")
    node.attributes.add(name="rack", value="agent-set")
    ctx.store.put(keys.node("default", name), node.SerializeToString())
    return node.container_instance_arn


def attrs(ecs, arn: str) -> dict[str, str]:  # noqa: F811
    (inst,) = ecs.describe_container_instances(containerInstances=[arn])["containerInstances"]
    return {a["name"]: a.get("value", "") for a in inst["attributes"]}


@pytest.fixture
def nodes(gateway):  # noqa: F811
    ctx, _ = gateway
    return ctx, add_node(ctx, "n1"), add_node(ctx, "n2")


def test_put_list_delete_and_the_filter_sees_them_at_once(nodes, ecs) -> None:  # noqa: F811
    ctx, n1, n2 = nodes
    out = ecs.put_attributes(attributes=[
        {"name": "stack", "value": "prod", "targetType": "container-instance", "targetId": n1},
        {"name": "stack", "value": "test", "targetId": "n2"},
        {"name": "gpu", "targetId": n1}])["attributes"]
    assert out[0] == {"name": "stack", "value": "prod", "targetType": "container-instance", "targetId": n1}
    assert attrs(ecs, n1) == {"ecs.os-type": "linux", "rack": "agent-set", "stack": "prod", "gpu": ""}
    assert ecs.list_container_instances(filter="attribute:stack == prod")["containerInstanceArns"] == [n1]
    # memberOf in placement reads the same attributes.
    snap = snapshot([rec.msg for rec in ctx.state.nodes("default")], [], {"n1", "n2"})
    plan = schedule(snap, PlacementRequest(count=2, cpu=1, memory=1, group="g",
                                           constraints=[("memberOf", "attribute:stack == test")]))
    assert {p.node_id for p in plan.placements} == {"n2"}

    listed = ecs.list_attributes(targetType="container-instance", attributeName="stack")["attributes"]
    assert sorted((a["targetId"], a["value"]) for a in listed) == [(n1, "prod"), (n2, "test")]
    assert [a["targetId"] for a in ecs.list_attributes(targetType="container-instance", attributeName="stack",
                                                       attributeValue="test")["attributes"]] == [n2]
    first = ecs.list_attributes(targetType="container-instance", maxResults=3)
    rest = ecs.list_attributes(targetType="container-instance", nextToken=first["nextToken"])
    assert len(first["attributes"]) == 3 and len(first["attributes"]) + len(rest["attributes"]) == 7

    # A custom attribute wins over the agent's of the same name.
    ecs.put_attributes(attributes=[{"name": "rack", "value": "r7", "targetId": n1}])
    assert attrs(ecs, n1)["rack"] == "r7"
    ecs.delete_attributes(attributes=[{"name": "stack", "targetId": n1}, {"name": "gpu", "targetId": n1}])
    assert "stack" not in attrs(ecs, n1) and "gpu" not in attrs(ecs, n1)
    assert attrs(ecs, n2)["stack"] == "test"


def test_custom_attributes_survive_the_agent_registering_again(nodes, ecs) -> None:  # noqa: F811
    ctx, n1, _ = nodes
    ecs.put_attributes(attributes=[{"name": "stack", "value": "prod", "targetId": n1},
                                   {"name": "rack", "value": "r7", "targetId": n1}])
    reg = Registration()
    reg.ctx, reg.ttl, reg.refusal_if_cut_off = ctx, 10.0, lambda: None
    reg.RegisterNode(agent_pb2.RegisterNodeRequest(
        cluster="default", node_id="n1", hostname="n1", cpu_units=1024, memory_mib=1024,
        attributes=[r.Attribute(name="ecs.os-type", value="linux"), r.Attribute(name="rack", value="agent-new"),
                    r.Attribute(name="zone", value="z1")]), None)
    assert attrs(ecs, n1) == {"ecs.os-type": "linux", "zone": "z1", "stack": "prod", "rack": "r7"}


@pytest.mark.parametrize(("attribute", "code", "words"), [
    ({"name": "ecs.os-type", "value": "x"}, "InvalidParameterException", "attributes[0].name: names beginning 'ecs.'"),
    ({"name": "bad name", "value": "x"}, "InvalidParameterException", "attributes[0].name: 1-128 letters"),
    ({"name": "n" * 129, "value": "x"}, "InvalidParameterException", "attributes[0].name: 1-128 letters"),
    ({"name": "ok", "value": "v" * 129}, "InvalidParameterException", "attributes[0].value: 1-128"),
    ({"name": "ok", "value": " padded"}, "InvalidParameterException", "attributes[0].value: 1-128"),
    ({"name": "ok", "value": "x", "targetType": "task"}, "InvalidParameterException",
     "attributes[0].targetType: only container-instance"),
    ({"name": "ok", "value": "x", "targetId": ""}, "InvalidParameterException", "attributes[0].targetId: required"),
    ({"name": "ok", "value": "x", "targetId": "nope"}, "TargetNotFoundException", "targetId: container instance"),
])
def test_bad_attributes_are_refused_and_nothing_is_applied(nodes, ecs, attribute, code, words) -> None:  # noqa: F811
    _, n1, _ = nodes
    good = {"name": "fine", "value": "yes", "targetId": n1}
    attribute = {"targetId": n1, **attribute}
    message = refused(ecs.put_attributes, code, attributes=[good, {**attribute}])
    assert message.startswith(words.replace("[0]", "[1]")), message
    assert "fine" not in attrs(ecs, n1)


def test_limits_and_the_other_refusals(nodes, ecs) -> None:  # noqa: F811
    _, n1, _ = nodes
    eleven = [{"name": f"a{i}", "value": "v", "targetId": n1} for i in range(11)]
    assert refused(ecs.put_attributes, attributes=eleven).startswith("attributes: at most 10 attributes per call")
    ecs.put_attributes(attributes=eleven[:10])
    message = refused(ecs.put_attributes, "AttributeLimitExceededException",
                      attributes=[{"name": "one-more", "value": "v", "targetId": n1}])
    assert "more than 10 custom attributes" in message
    assert refused(ecs.list_attributes, targetType="task").startswith("targetType: must be container-instance")
    assert refused(ecs.list_attributes, targetType="container-instance", attributeValue="x").startswith(
        "attributeValue: give attributeName")
    assert refused(ecs.put_attributes, "ClusterNotFoundException", cluster="nope",
                   attributes=[{"name": "a", "value": "b", "targetId": n1}])
    message = refused(ecs.register_container_instance, "ClientException", cluster="default")
    assert "RegisterContainerInstance is not supported by Shoal" in message and "install-script" in message


def test_a_viewer_may_list_but_not_put(gateway, nodes) -> None:  # noqa: F811
    ctx, gw = gateway
    _, n1, _ = nodes
    key = accesskeys.create(ctx, ak.CreateAccessKeyRequest(description="v", user="val", role="viewer"))
    viewer = ecs_client(gw, key.access_key_id, key.secret_access_key)
    assert viewer.list_attributes(targetType="container-instance")["attributes"]
    refused(viewer.put_attributes, "AccessDeniedException", attributes=[{"name": "a", "value": "b", "targetId": n1}])
    refused(viewer.delete_attributes, "AccessDeniedException", attributes=[{"name": "rack", "targetId": n1}])

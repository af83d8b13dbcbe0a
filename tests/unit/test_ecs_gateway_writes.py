"""CreateGateway, UpdateGateway, AssociateGatewayWithCluster, DisassociateGatewayFromCluster
and DescribeGatewayResources through the ECS gateway in process on an in-memory store with
boto3 (each response checked against botocore's output shape), and every bad input refused
with the code botocore's model gives the operation and a message naming the field."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from controlplane.api import loadbalancers, targetgroups
from controlplane.ecs import gateway_writes
from controlplane.ecs.errors import EcsError
from shoal.taskdef.policy import HostPolicy
from shoal.v1 import traffic_pb2 as t
from tests.unit.test_ecs_ingress import WEB, _ecs, setup  # noqa: F401 (a fixture)

ROLE = "arn:aws:iam::123456789012:role/ecsInfrastructure"


def _refused(call, kwargs: dict, code: str, field: str) -> None:
    with pytest.raises(ClientError) as exc:
        call(**kwargs)
    err = exc.value.response["Error"]
    assert (err["Code"], field in err["Message"]) == (code, True), (kwargs, err)


def test_create_gateway_makes_a_load_balancer_with_its_listener(setup) -> None:  # noqa: F811
    ctx, gw = setup
    ecs = _ecs(ctx, gw)
    made = ecs.create_gateway(name="edge", infrastructureRoleArn=ROLE, tags=[{"key": "team", "value": "web"}],
                              configuration={"hostSharedAlb": {"port": 8000, "protocol": "HTTP"}})
    assert (made["name"], made["status"]) == ("edge", "ACTIVE")
    (lb,) = loadbalancers.describe(ctx, t.DescribeLoadBalancersRequest()).load_balancers
    assert (lb.load_balancer_arn, lb.type, lb.cluster) == (made["gatewayArn"], "application", "default")
    assert [(x.port, x.protocol) for x in lb.listeners] == [(8000, "HTTP")]
    assert [(x.key, x.value) for x in lb.tags] == [("team", "web")]
    assert ecs.describe_gateway(gateway="edge")["gateway"]["gatewayArn"] == made["gatewayArn"]
    # Without a port, the listener is on 80, as ECS's default: a privileged port, which the
    # cluster must allow; refused, nothing is left behind.
    _refused(ecs.create_gateway, {"name": "plain", "infrastructureRoleArn": ROLE, "configuration": {
        "hostSharedAlb": {}}}, "InvalidParameterException", "configuration.hostSharedAlb.port: 80 is below 1024")
    assert [x.load_balancer_name for x in loadbalancers.describe(ctx, t.DescribeLoadBalancersRequest()).load_balancers
            ] == ["edge"]
    ctx.policy = HostPolicy(privileged_listener_ports=True)
    ecs.create_gateway(name="plain", infrastructureRoleArn=ROLE, configuration={"hostSharedAlb": {}})
    plain = loadbalancers.describe(ctx, t.DescribeLoadBalancersRequest(load_balancers=["plain"])).load_balancers[0]
    assert [x.port for x in plain.listeners] == [80]
    assert {"CreateGateway", "DescribeGateway"} <= set(ecs.seen)


BAD_CREATES = [
    ({"name": "a b"}, "InvalidParameterException", "name"),
    ({"infrastructureRoleArn": "role/x"}, "InvalidParameterException", "infrastructureRoleArn"),
    ({"deletionProtection": True}, "UnsupportedFeatureException", "deletionProtection"),
    ({"configuration": {"hostSharedAlb": {"protocol": "HTTPS"}}}, "UnsupportedFeatureException",
     "configuration.hostSharedAlb.protocol"),
    ({"configuration": {"hostSharedAlb": {"port": 0}}}, "InvalidParameterException",
     "configuration.hostSharedAlb.port"),
    ({"configuration": {"hostSharedAlb": {"port": 8000, "scheme": "internal"}}}, "UnsupportedFeatureException",
     "configuration.hostSharedAlb.scheme"),
    ({"configuration": {"hostSharedAlb": {"networkConfiguration": {"subnets": ["s-1"]}}}},
     "UnsupportedFeatureException", "configuration.hostSharedAlb.networkConfiguration"),
    ({"configuration": {"hostSharedAlb": {"webACLArn": "arn:aws:wafv2:x"}}}, "UnsupportedFeatureException",
     "webACLArn"),
    ({"configuration": {"hostSharedAlb": {"accessLogs": {"destination": {"s3": {"bucket": "b"}}}}}},
     "UnsupportedFeatureException", "accessLogs"),
    ({"configuration": {"hostSharedAlb": {"maxAlbCount": 2}}}, "UnsupportedFeatureException", "maxAlbCount"),
    ({"configuration": {"hostSharedAlb": {"httpDesync": "strictest"}}}, "UnsupportedFeatureException",
     "httpDesync"),
    ({"configuration": {"hostSharedAlb": {"testTrafficRules": {"header": {"name": "x", "values": ["1"]}}}}},
     "UnsupportedFeatureException", "testTrafficRules"),
    ({"tags": [{"key": "a", "value": "b"}], "propagateTags": "NONE"}, "UnsupportedFeatureException",
     "propagateTags"),
    ({"tags": [{"value": "b"}]}, "InvalidParameterException", "tags[0]"),
]


@pytest.mark.parametrize(("change", "code", "field"), BAD_CREATES)
def test_create_gateway_refuses_what_shoal_cannot_act_on(setup, change, code, field) -> None:  # noqa: F811
    ctx, gw = setup
    ecs = _ecs(ctx, gw)
    kwargs = {"name": "edge", "infrastructureRoleArn": ROLE,
              "configuration": {"hostSharedAlb": {"port": 8000}}, **change}
    _refused(ecs.create_gateway, kwargs, code, field)
    # Nothing half-made.
    assert loadbalancers.describe(ctx, t.DescribeLoadBalancersRequest()).load_balancers == []


def test_a_taken_name_or_port_leaves_nothing_behind(setup) -> None:  # noqa: F811
    ctx, gw = setup
    ecs = _ecs(ctx, gw)
    ecs.create_gateway(name="edge", infrastructureRoleArn=ROLE, configuration={"hostSharedAlb": {"port": 8000}})
    _refused(ecs.create_gateway, {"name": "edge", "infrastructureRoleArn": ROLE,
                                  "configuration": {"hostSharedAlb": {"port": 8001}}}, "ClientException", "name")
    _refused(ecs.create_gateway, {"name": "other", "infrastructureRoleArn": ROLE,
                                  "configuration": {"hostSharedAlb": {"port": 8000}}},
             "ClientException", "configuration.hostSharedAlb.port")
    assert [g["name"] for g in ecs.list_gateways()["gateways"]] == ["edge"]


def test_a_create_retried_with_its_client_token_answers_the_same_gateway(setup) -> None:  # noqa: F811
    ctx, gw = setup
    ecs = _ecs(ctx, gw)
    kwargs = {"name": "edge", "infrastructureRoleArn": ROLE, "configuration": {"hostSharedAlb": {"port": 8000}}}
    first = ecs.create_gateway(clientToken="tok-1", **kwargs)
    again = ecs.create_gateway(clientToken="tok-1", **kwargs)
    assert (again["gatewayArn"], again["status"]) == (first["gatewayArn"], "ACTIVE")
    assert len(loadbalancers.describe(ctx, t.DescribeLoadBalancersRequest()).load_balancers) == 1
    _refused(ecs.create_gateway, {"clientToken": "tok-2", **kwargs}, "ClientException", "name")
    # The same token asking for another port is another request, refused.
    _refused(ecs.create_gateway, {**kwargs, "clientToken": "tok-1",
                                  "configuration": {"hostSharedAlb": {"port": 8001}}}, "ClientException", "name")
    _refused(ecs.create_gateway, {**kwargs, "name": "other", "clientToken": "x" * 65},
             "InvalidParameterException", "clientToken")


def test_update_gateway_answers_or_refuses_each_member_by_name(setup) -> None:  # noqa: F811
    ctx, gw = setup
    ecs = _ecs(ctx, gw)
    made = ecs.create_gateway(name="edge", infrastructureRoleArn=ROLE,
                              configuration={"hostSharedAlb": {"port": 8000}})
    same = ecs.update_gateway(gateway="edge", infrastructureRoleArn=ROLE, deletionProtection=False)
    assert (same["gatewayArn"], same["name"], same["status"]) == (made["gatewayArn"], "edge", "ACTIVE")
    for kwargs, code, field in (
            ({"gateway": "nope"}, "GatewayNotFoundException", "gateway"),
            ({"gateway": "edge", "infrastructureRoleArn": "x"}, "InvalidParameterException",
             "infrastructureRoleArn"),
            ({"gateway": "edge", "deletionProtection": True}, "UnsupportedFeatureException", "deletionProtection"),
            ({"gateway": "edge", "configuration": {"hostSharedAlb": {"maxAlbCount": 3}}},
             "UnsupportedFeatureException", "configuration.hostSharedAlb.maxAlbCount"),
            ({"gateway": "edge", "configuration": {"hostSharedAlb": {"webACLArn": "w"}}},
             "UnsupportedFeatureException", "configuration.hostSharedAlb.webACLArn"),
            ({"gateway": "edge", "configuration": {"hostSharedAlb": {"networkConfiguration": {
                "inboundSecurityGroup": "sg-1"}}}}, "UnsupportedFeatureException", "networkConfiguration")):
        _refused(ecs.update_gateway, kwargs, code, field)
    viewer = _ecs(ctx, gw, user="vic", role="viewer")
    _refused(viewer.update_gateway, {"gateway": "edge"}, "AccessDeniedException", "")
    assert "UpdateGateway" in ecs.seen


def test_a_gateway_serves_the_cluster_its_load_balancer_lives_in(setup) -> None:  # noqa: F811
    ctx, gw = setup
    ecs = _ecs(ctx, gw)
    ecs.create_cluster(clusterName="prod")
    made = ecs.create_gateway(name="edge", infrastructureRoleArn=ROLE,
                              configuration={"hostSharedAlb": {"port": 8000}})
    api = loadbalancers.create(ctx, t.CreateLoadBalancerRequest(cluster="prod", name="api")).load_balancer
    done = ecs.associate_gateway_with_cluster(gateway="edge", cluster="default")
    assert (done["gatewayArn"], done["clusterArn"].rsplit("/", 1)[-1], done["status"]) == (
        made["gatewayArn"], "default", "ACTIVE")
    by_arn = ecs.associate_gateway_with_cluster(gateway=api.load_balancer_arn, cluster=done["clusterArn"].replace(
        "default", "prod"))
    assert by_arn["status"] == "ACTIVE"
    for call, kwargs, code, field in (
            (ecs.associate_gateway_with_cluster, {"gateway": "edge", "cluster": "prod"},
             "UnsupportedFeatureException", "cluster"),
            (ecs.associate_gateway_with_cluster, {"gateway": "edge", "cluster": "nope"},
             "ClusterNotFoundException", "cluster"),
            (ecs.associate_gateway_with_cluster, {"gateway": "nope", "cluster": "default"},
             "GatewayNotFoundException", "gateway"),
            (ecs.disassociate_gateway_from_cluster, {"gateway": "edge", "cluster": "prod"},
             "ResourceNotFoundException", "cluster"),
            (ecs.disassociate_gateway_from_cluster, {"gateway": "edge", "cluster": "default"},
             "UnsupportedFeatureException", "cluster"),
            (ecs.disassociate_gateway_from_cluster, {"gateway": "edge", "cluster": "nope"},
             "ClusterNotFoundException", "cluster"),
            (ecs.disassociate_gateway_from_cluster, {"gateway": "nope", "cluster": "default"},
             "GatewayNotFoundException", "gateway")):
        _refused(call, kwargs, code, field)
    # Refusals change nothing: each gateway is still associated with its own cluster.
    rows = ecs.list_gateway_cluster_associations()["gatewayClusterAssociations"]
    assert sorted((x["gatewayArn"], x["clusterArn"].rsplit("/", 1)[-1]) for x in rows) == sorted(
        [(made["gatewayArn"], "default"), (api.load_balancer_arn, "prod")])
    assert "AssociateGatewayWithCluster" in ecs.seen


def test_gateway_resources_are_its_load_balancer_listeners_and_routes(setup) -> None:  # noqa: F811
    ctx, gw = setup
    ecs = _ecs(ctx, gw)
    ecs.register_task_definition(**WEB)
    made = ecs.create_gateway(name="edge", infrastructureRoleArn=ROLE, configuration={"hostSharedAlb": {
        "port": 8000}})
    # A second listener sends to another target group: no route goes through it.
    targetgroups.create(ctx, t.CreateTargetGroupRequest(name="spare", protocol="HTTP", port=8080))
    loadbalancers.create_listener(ctx, t.CreateListenerRequest(load_balancer="edge", port=8001, protocol="HTTP",
                                                               default_target_group="spare"))
    ecs.create_service(serviceName="web", taskDefinition="web", desiredCount=0,
                       loadBalancers=[{"loadBalancerName": "edge", "containerName": "web", "containerPort": 8080}])
    (route,) = ecs.list_gateway_routes(gateway="edge")["gatewayRoutes"]
    lb = loadbalancers.describe(ctx, t.DescribeLoadBalancersRequest(load_balancers=["edge"])).load_balancers[0]
    res = ecs.describe_gateway_resources(gateway="edge")["gatewayResources"]
    assert res["gatewayArn"] == made["gatewayArn"]
    routes_by_port = {8000: (route["gatewayRouteArn"],), 8001: ()}
    assert sorted((x["loadBalancerArn"], x["listenerArn"], tuple(x["gatewayRouteArns"]))
                  for x in res["resources"]["hostSharedAlb"]) == sorted(
        (made["gatewayArn"], x.listener_arn, routes_by_port[x.port]) for x in lb.listeners)
    first = ecs.describe_gateway_resources(gateway=made["gatewayArn"], maxResults=1)
    rest = ecs.describe_gateway_resources(gateway="edge", nextToken=first["nextToken"])
    assert [x["listenerArn"] for page in (first, rest) for x in page["gatewayResources"]["resources"][
        "hostSharedAlb"]] == sorted(x.listener_arn for x in lb.listeners)
    assert "nextToken" not in rest
    for kwargs, code, field in (({"gateway": "nope"}, "GatewayNotFoundException", "gateway"),
                                ({"gateway": "edge", "maxResults": 21}, "InvalidParameterException",
                                 "maxResults")):
        _refused(ecs.describe_gateway_resources, kwargs, code, field)
    viewer = _ecs(ctx, gw, user="vic", role="viewer")
    assert viewer.describe_gateway_resources(gateway="edge")["gatewayResources"]["gatewayArn"] == made["gatewayArn"]
    assert "DescribeGatewayResources" in ecs.seen


@pytest.mark.parametrize(("call", "body", "field"), [
    (gateway_writes.create_gateway, {"name": "x", "infrastructureRoleArn": ROLE, "configuration": {
        "hostSharedAlb": {}}, "subnets": ["s"]}, "subnets"),
    (gateway_writes.create_gateway, {"infrastructureRoleArn": ROLE, "configuration": {"hostSharedAlb": {}}},
     "name"),
    (gateway_writes.create_gateway, {"name": "x", "configuration": {"hostSharedAlb": {}}},
     "infrastructureRoleArn"),
    (gateway_writes.create_gateway, {"name": "x", "infrastructureRoleArn": ROLE}, "configuration"),
    (gateway_writes.create_gateway, {"name": "x", "infrastructureRoleArn": ROLE, "configuration": {}},
     "configuration"),
    (gateway_writes.create_gateway, {"name": "x", "infrastructureRoleArn": ROLE, "configuration": {
        "hostSharedAlb": {"port": True}}}, "configuration.hostSharedAlb.port"),
    (gateway_writes.create_gateway, {"name": "x", "infrastructureRoleArn": ROLE, "configuration": {
        "hostSharedAlb": {"protocol": "TCP"}}}, "configuration.hostSharedAlb.protocol"),
    (gateway_writes.create_gateway, {"name": "x", "infrastructureRoleArn": ROLE, "configuration": {
        "hostSharedAlb": {"listeners": []}}}, "listeners"),
    (gateway_writes.create_gateway, {"name": "x", "infrastructureRoleArn": ROLE, "propagateTags": "ALL",
                                     "configuration": {"hostSharedAlb": {}}}, "propagateTags"),
    (gateway_writes.create_gateway, {"name": "x", "infrastructureRoleArn": ROLE, "deletionProtection": "yes",
                                     "configuration": {"hostSharedAlb": {}}}, "deletionProtection"),
    (gateway_writes.update_gateway, {}, "gateway"),
    (gateway_writes.associate_gateway_with_cluster, {"gateway": "x"}, "cluster"),
    (gateway_writes.disassociate_gateway_from_cluster, {"cluster": "default"}, "gateway"),
    (gateway_writes.describe_gateway_resources, {"gateway": "x", "maxResults": "5"}, "maxResults"),
])
def test_malformed_input_is_refused_by_name(setup, call, body, field) -> None:  # noqa: F811
    ctx, _ = setup
    loadbalancers.create(ctx, t.CreateLoadBalancerRequest(name="x"))
    with pytest.raises(EcsError) as exc:
        call(ctx, body)
    assert exc.value.ecs_type in ("InvalidParameterException", "UnsupportedFeatureException")
    assert field in exc.value.message, exc.value.message

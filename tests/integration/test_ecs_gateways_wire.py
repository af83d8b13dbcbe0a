"""ECS's gateway operations through boto3 against a real control plane on real etcd: a
gateway made with CreateGateway is a Shoal load balancer with its listener (read back
through the Traffic gRPC API), is read, listed, associated, described with its resources
and routes, updated and deleted through the ECS wire API, and each refusal carries the
code botocore's model gives the operation and names the field."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from shoal.netutil import free_port
from shoal.v1 import traffic_pb2 as t
from shoal.v1 import traffic_pb2_grpc
from tests.ecs_model import validate_every_response
from tests.integration.test_ecs_gateway import WEB, Plane, plane  # noqa: F401 (fixture)

pytestmark = pytest.mark.integration
ROLE = "arn:aws:iam::123456789012:role/ecsInfrastructure"


def _code(call, **kwargs) -> tuple[str, str]:
    with pytest.raises(ClientError) as exc:
        call(**kwargs)
    err = exc.value.response["Error"]
    return err["Code"], err["Message"]


def test_boto3_drives_every_gateway_operation(plane: Plane) -> None:  # noqa: F811
    key = plane.access_key()
    ecs = plane.client(key.access_key_id, key.secret_access_key)
    seen = validate_every_response(ecs)
    traffic = traffic_pb2_grpc.TrafficStub(plane.channel)
    port = free_port()

    made = ecs.create_gateway(name="edge", infrastructureRoleArn=ROLE,
                              configuration={"hostSharedAlb": {"port": port, "protocol": "HTTP"}},
                              tags=[{"key": "team", "value": "web"}])
    assert (made["name"], made["status"]) == ("edge", "ACTIVE")
    lb = traffic.DescribeLoadBalancers(t.DescribeLoadBalancersRequest(load_balancers=["edge"]),
                                       timeout=10).load_balancers[0]
    assert lb.load_balancer_arn == made["gatewayArn"]
    assert [(x.port, x.protocol) for x in lb.listeners] == [(port, "HTTP")]

    ecs.register_task_definition(**WEB)
    ecs.create_service(serviceName="web", taskDefinition="web", desiredCount=0,
                       loadBalancers=[{"loadBalancerName": "edge", "containerName": "web", "containerPort": 8080}])
    assert ecs.describe_gateway(gateway="edge")["gateway"]["gatewayArn"] == made["gatewayArn"]
    assert [g["name"] for g in ecs.list_gateways()["gateways"]] == ["edge"]
    assoc = ecs.associate_gateway_with_cluster(gateway="edge", cluster="default")
    assert assoc["status"] == "ACTIVE"
    assert [x["clusterArn"] for x in ecs.list_gateway_cluster_associations(gateway="edge")[
        "gatewayClusterAssociations"]] == [assoc["clusterArn"]]
    (route,) = ecs.list_gateway_routes(gateway="edge")["gatewayRoutes"]
    assert ecs.describe_gateway_route(gatewayRouteArn=route["gatewayRouteArn"])["gatewayRoute"][
        "serviceArn"] == route["serviceArn"]
    (res,) = ecs.describe_gateway_resources(gateway="edge")["gatewayResources"]["resources"]["hostSharedAlb"]
    assert (res["loadBalancerArn"], res["listenerArn"], res["gatewayRouteArns"]) == (
        made["gatewayArn"], lb.listeners[0].listener_arn, [route["gatewayRouteArn"]])
    assert ecs.update_gateway(gateway="edge", deletionProtection=False)["status"] == "ACTIVE"

    ecs.create_cluster(clusterName="prod")
    for call, kwargs, code, field in (
            (ecs.create_gateway, {"name": "edge", "infrastructureRoleArn": ROLE,
                                  "configuration": {"hostSharedAlb": {"port": free_port()}}}, "ClientException",
             "name"),
            (ecs.create_gateway, {"name": "tls", "infrastructureRoleArn": ROLE,
                                  "configuration": {"hostSharedAlb": {"protocol": "HTTPS"}}},
             "UnsupportedFeatureException", "configuration.hostSharedAlb.protocol"),
            (ecs.create_gateway, {"name": "other", "infrastructureRoleArn": ROLE,
                                  "configuration": {"hostSharedAlb": {"port": port}}}, "ClientException",
             "configuration.hostSharedAlb.port"),
            (ecs.update_gateway, {"gateway": "edge", "configuration": {"hostSharedAlb": {"maxAlbCount": 2}}},
             "UnsupportedFeatureException", "configuration.hostSharedAlb.maxAlbCount"),
            (ecs.associate_gateway_with_cluster, {"gateway": "edge", "cluster": "prod"},
             "UnsupportedFeatureException", "cluster"),
            (ecs.disassociate_gateway_from_cluster, {"gateway": "edge", "cluster": "default"},
             "UnsupportedFeatureException", "cluster"),
            (ecs.disassociate_gateway_from_cluster, {"gateway": "edge", "cluster": "prod"},
             "ResourceNotFoundException", "cluster"),
            (ecs.describe_gateway_resources, {"gateway": "nope"}, "GatewayNotFoundException", "gateway")):
        got, message = _code(call, **kwargs)
        assert (got, field in message) == (code, True), (kwargs, got, message)
    # The refused creates left no load balancer behind.
    names = [x.load_balancer_name for x in traffic.DescribeLoadBalancers(
        t.DescribeLoadBalancersRequest(), timeout=10).load_balancers]
    assert names == ["edge"]

    viewer_key = plane.access_key(user="vic", role="viewer")
    viewer = plane.client(viewer_key.access_key_id, viewer_key.secret_access_key)
    assert viewer.describe_gateway_resources(gateway="edge")["gatewayResources"]["gatewayArn"] == made["gatewayArn"]
    assert _code(viewer.create_gateway, name="v", infrastructureRoleArn=ROLE,
                 configuration={"hostSharedAlb": {}})[0] == "AccessDeniedException"

    assert ecs.delete_gateway(gateway="edge")["status"] == "DELETED"
    assert ecs.list_gateways()["gateways"] == []
    assert {"CreateGateway", "UpdateGateway", "AssociateGatewayWithCluster", "DescribeGatewayResources",
            "DeleteGateway"} <= set(seen)

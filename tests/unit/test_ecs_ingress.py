"""ECS's 2026 ingress operations that Shoal maps (ListServicesByNamespace onto namespaces,
ListGateways and DescribeGateway onto load balancers), through the gateway in process on
an in-memory store with boto3, each response checked against botocore's ECS model (the
ones that make or change a gateway: test_ecs_gateway_writes.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from controlplane.api import accesskeys, loadbalancers, namespaces
from controlplane.api.context import ApiContext
from controlplane.ecs import ingress
from controlplane.ecs.errors import EcsError
from controlplane.ecs.server import EcsGateway
from shoal.store.memory import MemoryStore
from shoal.v1 import accesskeys_pb2 as ak
from shoal.v1 import traffic_pb2 as t
from tests.ecs_model import validate_every_response
from tests.tls_gateway import tls_gateway

WEB = {"family": "web", "containerDefinitions": [{"name": "web", "image": "shoal/busybox:latest", "memory": 64,
                                                  "portMappings": [{"containerPort": 8080, "name": "http"}]}]}


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[ApiContext, EcsGateway]]:
    store = MemoryStore()
    ctx = ApiContext(store)
    ctx.ensure_default_cluster()
    try:
        with tls_gateway(ctx, tmp_path) as gw:
            yield ctx, gw
    finally:
        store.close()


def _ecs(ctx: ApiContext, gw: EcsGateway, **who: str):
    key = accesskeys.create(ctx, ak.CreateAccessKeyRequest(description="unit", **(who or {"user": "a",
                                                                                           "role": "admin"})))
    c = boto3.client("ecs", endpoint_url=gw.url, region_name="us-east-1", verify=gw.ca_path,  # type: ignore
                     aws_access_key_id=key.access_key_id, aws_secret_access_key=key.secret_access_key,
                     config=Config(retries={"max_attempts": 6, "mode": "standard"}))
    c.seen = validate_every_response(c)
    return c


def test_services_by_namespace_and_load_balancers_as_gateways(setup) -> None:
    ctx, gw = setup
    ecs = _ecs(ctx, gw)
    lab = namespaces.create(ctx, t.CreateNamespaceRequest(name="lab")).namespace
    namespaces.create(ctx, t.CreateNamespaceRequest(name="other"))
    ecs.register_task_definition(**WEB)
    for name in ("api", "web", "db"):
        extra = {"serviceRegistries": [{"registryArn": lab.arn}]} if name != "db" else {}
        ecs.create_service(serviceName=name, taskDefinition="web", desiredCount=0, **extra)
    by_name = ecs.list_services_by_namespace(namespace="lab")["serviceArns"]
    assert [a.rsplit("/", 1)[-1] for a in by_name] == ["api", "web"]
    assert ecs.list_services_by_namespace(namespace=lab.arn)["serviceArns"] == by_name
    assert ecs.list_services_by_namespace(namespace="other")["serviceArns"] == []
    first = ecs.list_services_by_namespace(namespace="lab", maxResults=1)
    assert len(first["serviceArns"]) == 1 and first["nextToken"]
    with pytest.raises(ClientError) as exc:
        ecs.list_services_by_namespace(namespace="nope")
    assert exc.value.response["Error"]["Code"] == "NamespaceNotFoundException"
    assert "nope" in exc.value.response["Error"]["Message"]

    lb = loadbalancers.create(ctx, t.CreateLoadBalancerRequest(name="edge")).load_balancer
    gateways = ecs.list_gateways()["gateways"]
    assert [(g["gatewayArn"], g["name"], g["status"]) for g in gateways] == [(lb.load_balancer_arn, "edge",
                                                                            "ACTIVE")]
    assert ecs.list_gateways(names=["nope"])["gateways"] == []
    assert ecs.describe_gateway(gateway="edge")["gateway"]["gatewayArn"] == lb.load_balancer_arn
    with pytest.raises(ClientError) as exc:
        ecs.describe_gateway(gateway="nope")
    assert exc.value.response["Error"]["Code"] == "GatewayNotFoundException"
    assert {"ListServicesByNamespace", "ListGateways", "DescribeGateway"} <= set(ecs.seen)

    # A viewer reads them, but may not make a gateway.
    viewer = _ecs(ctx, gw, user="vic", role="viewer")
    assert viewer.list_gateways()["gateways"] and viewer.list_services_by_namespace(namespace="lab")["serviceArns"]
    with pytest.raises(ClientError) as exc:
        viewer.create_gateway(name="g", infrastructureRoleArn="arn:aws:iam::0:role/x",
                              configuration={"hostSharedAlb": {"port": 80}})
    assert exc.value.response["Error"]["Code"] == "AccessDeniedException"


def test_cluster_associations_and_delete_gateway(setup) -> None:
    """A load balancer is associated with the one cluster it lives in; DeleteGateway deletes
    it (a viewer may list, not delete)."""
    ctx, gw = setup
    ecs = _ecs(ctx, gw)
    ecs.create_cluster(clusterName="prod")
    edge = loadbalancers.create(ctx, t.CreateLoadBalancerRequest(name="edge")).load_balancer
    api = loadbalancers.create(ctx, t.CreateLoadBalancerRequest(cluster="prod", name="api")).load_balancer
    rows = ecs.list_gateway_cluster_associations()["gatewayClusterAssociations"]
    assert sorted((x["gatewayArn"], x["clusterArn"].rsplit("/", 1)[-1], x["status"]) for x in rows) == sorted(
        [(edge.load_balancer_arn, "default", "ACTIVE"), (api.load_balancer_arn, "prod", "ACTIVE")])
    only = ecs.list_gateway_cluster_associations(cluster="prod")["gatewayClusterAssociations"]
    assert [x["gatewayArn"] for x in only] == [api.load_balancer_arn]
    assert [x["gatewayArn"] for x in ecs.list_gateway_cluster_associations(gateway="edge")[
        "gatewayClusterAssociations"]] == [edge.load_balancer_arn]
    assert ecs.list_gateway_cluster_associations(status=["INACTIVE"])["gatewayClusterAssociations"] == []
    first = ecs.list_gateway_cluster_associations(maxResults=1)
    assert len(first["gatewayClusterAssociations"]) == 1 and first["nextToken"]
    for kwargs, code, field in (({"cluster": "nope"}, "ClusterNotFoundException", "cluster"),
                                ({"gateway": "nope"}, "GatewayNotFoundException", "gateway"),
                                ({"status": ["GONE"]}, "InvalidParameterException", "status")):
        with pytest.raises(ClientError) as exc:
            ecs.list_gateway_cluster_associations(**kwargs)
        err = exc.value.response["Error"]
        assert (err["Code"], field in err["Message"]) == (code, True), err

    viewer = _ecs(ctx, gw, user="vic", role="viewer")
    assert len(viewer.list_gateway_cluster_associations()["gatewayClusterAssociations"]) == 2
    with pytest.raises(ClientError) as exc:
        viewer.delete_gateway(gateway="edge")
    assert exc.value.response["Error"]["Code"] == "AccessDeniedException"

    gone = ecs.delete_gateway(gateway=api.load_balancer_arn)
    assert (gone["gatewayArn"], gone["name"], gone["status"]) == (api.load_balancer_arn, "api", "DELETED")
    assert [g["name"] for g in ecs.list_gateways()["gateways"]] == ["edge"]
    with pytest.raises(ClientError) as exc:
        ecs.delete_gateway(gateway="api")
    assert exc.value.response["Error"]["Code"] == "GatewayNotFoundException"
    assert {"ListGatewayClusterAssociations", "DeleteGateway"} <= set(ecs.seen)


def test_paging_parameters_of_the_wrong_type_are_refused_by_name(setup) -> None:
    ctx, _ = setup
    for call, body, field in ((ingress.list_gateways, {"maxResults": True}, "maxResults"),
                              (ingress.list_gateways, {"nextToken": 5}, "nextToken"),
                              (ingress.list_gateways, {"status": ["GONE"]}, "status"),
                              (ingress.describe_gateway, {}, "gateway")):
        with pytest.raises(EcsError) as exc:
            call(ctx, body)
        assert exc.value.ecs_type == "InvalidParameterException" and field in exc.value.message


def test_gateway_routes_are_the_services_behind_a_load_balancer(setup) -> None:
    """A route: a service's ``loadBalancers`` entry whose target group the load balancer
    sends to (named by the task definition's port name); described by its ARN."""
    ctx, gw = setup
    ecs = _ecs(ctx, gw)
    ecs.register_task_definition(**WEB)
    lb = loadbalancers.create(ctx, t.CreateLoadBalancerRequest(name="edge")).load_balancer
    loadbalancers.create_listener(ctx, t.CreateListenerRequest(load_balancer="edge", port=8000, protocol="HTTP"))
    lb = loadbalancers.describe(ctx, t.DescribeLoadBalancersRequest(load_balancers=["edge"])).load_balancers[0]
    ecs.create_service(serviceName="web", taskDefinition="web", desiredCount=0,
                       loadBalancers=[{"loadBalancerName": "edge", "containerName": "web", "containerPort": 8080}])
    ecs.create_service(serviceName="alone", taskDefinition="web", desiredCount=0)
    (route,) = ecs.list_gateway_routes()["gatewayRoutes"]
    assert (route["gatewayArn"], route["serviceArn"].rsplit("/", 1)[-1], route["serviceContainerPortName"],
            route["status"]) == (lb.load_balancer_arn, "web", "http", "ACTIVE")
    assert ecs.list_gateway_routes(gateway="edge", service="web")["gatewayRoutes"] == [route]
    assert ecs.list_gateway_routes(service="alone")["gatewayRoutes"] == []
    assert ecs.list_gateway_routes(serviceContainerPortName="other")["gatewayRoutes"] == []
    described = ecs.describe_gateway_route(gatewayRouteArn=route["gatewayRouteArn"])["gatewayRoute"]
    assert (described["serviceArn"], described["serviceContainerPortName"]) == (route["serviceArn"], "http")
    for call, kwargs, code, field in (
            (ecs.describe_gateway_route, {"gatewayRouteArn": route["gatewayRouteArn"] + "x"},
             "ResourceNotFoundException", "gatewayRouteArn"),
            (ecs.list_gateway_routes, {"gateway": "nope"}, "GatewayNotFoundException", "gateway"),
            (ecs.list_gateway_routes, {"cluster": "nope"}, "ClusterNotFoundException", "cluster"),
            (ecs.list_gateway_routes, {"status": ["GONE"]}, "InvalidParameterException", "status")):
        with pytest.raises(ClientError) as exc:
            call(**kwargs)
        err = exc.value.response["Error"]
        assert (err["Code"], field in err["Message"]) == (code, True), err
    assert {"ListGatewayRoutes", "DescribeGatewayRoute"} <= set(ecs.seen)

"""The ECS gateway's gateway routes of a service with task sets (controlplane/ecs/gateways.py):
an EXTERNAL service's load balancers are its task sets', so ListGatewayRoutes,
DescribeGatewayRoute and DescribeGatewayResources list a route for each live task set's entry
whose target group the gateway's load balancer sends to, named by that task set's task
definition's port, and a DRAINING task set's route is gone. Through boto3, every response
checked against botocore's model (in-memory store)."""

from __future__ import annotations

import pytest

from controlplane.api import loadbalancers, targetgroups
from shoal.v1 import traffic_pb2 as t
from tests.unit.test_ecs_gateway_writes import ROLE
from tests.unit.test_ecs_ingress import WEB, _ecs, setup  # noqa: F401 (a fixture)


def test_task_sets_behind_a_gateway_are_its_routes(setup) -> None:  # noqa: F811
    ctx, gw = setup
    ecs = _ecs(ctx, gw)
    ecs.register_task_definition(**WEB)  # web:1 names its port "http"
    ecs.register_task_definition(**{**WEB, "containerDefinitions": [
        {**WEB["containerDefinitions"][0], "portMappings": [{"containerPort": 8080, "name": "next"}]}]})
    made = ecs.create_gateway(name="edge", infrastructureRoleArn=ROLE, configuration={"hostSharedAlb": {
        "port": 8000}})
    green_tg = targetgroups.create(ctx, t.CreateTargetGroupRequest(name="green", protocol="HTTP", port=8080))
    loadbalancers.create_listener(ctx, t.CreateListenerRequest(load_balancer="edge", port=8001, protocol="HTTP",
                                                               default_target_group="green"))
    ecs.create_service(serviceName="ext", desiredCount=0, deploymentController={"type": "EXTERNAL"})
    assert ecs.list_gateway_routes(gateway="edge")["gatewayRoutes"] == []
    ecs.create_task_set(cluster="default", service="ext", taskDefinition="web:1", loadBalancers=[
        {"loadBalancerName": "edge", "containerName": "web", "containerPort": 8080}])
    green = ecs.create_task_set(cluster="default", service="ext", taskDefinition="web:2", loadBalancers=[
        {"targetGroupArn": green_tg.target_group.target_group_arn, "containerName": "web",
         "containerPort": 8080}])["taskSet"]
    routes = ecs.list_gateway_routes(gateway="edge")["gatewayRoutes"]
    assert sorted((x["serviceArn"].rsplit("/", 1)[-1], x["serviceContainerPortName"], x["status"])
                  for x in routes) == [("ext", "http", "ACTIVE"), ("ext", "next", "ACTIVE")]
    by_port = {x["serviceContainerPortName"]: x["gatewayRouteArn"] for x in routes}
    assert ecs.list_gateway_routes(service="ext", serviceContainerPortName="next")["gatewayRoutes"] == [
        x for x in routes if x["serviceContainerPortName"] == "next"]
    got = ecs.describe_gateway_route(gatewayRouteArn=by_port["next"])["gatewayRoute"]
    assert (got["serviceArn"].rsplit("/", 1)[-1], got["serviceContainerPortName"]) == ("ext", "next")
    # Each listener carries the route of the task set behind the group it sends to.
    lb = loadbalancers.describe(ctx, t.DescribeLoadBalancersRequest(load_balancers=["edge"])).load_balancers[0]
    port_of = {x.listener_arn: x.port for x in lb.listeners}
    res = ecs.describe_gateway_resources(gateway="edge")["gatewayResources"]["resources"]["hostSharedAlb"]
    assert {port_of[x["listenerArn"]]: x["gatewayRouteArns"] for x in res} == {
        8000: [by_port["http"]], 8001: [by_port["next"]]}
    assert all(x["loadBalancerArn"] == made["gatewayArn"] for x in res)
    # Green deleted (DRAINING, then forgotten): its route goes with it.
    ecs.delete_task_set(cluster="default", service="ext", taskSet=green["id"], force=True)
    assert [x["serviceContainerPortName"] for x in ecs.list_gateway_routes(gateway="edge")["gatewayRoutes"]] == [
        "http"]
    with pytest.raises(ecs.exceptions.ResourceNotFoundException) as gone:
        ecs.describe_gateway_route(gatewayRouteArn=by_port["next"])
    assert gone.value.response["Error"]["Message"].startswith("gatewayRouteArn:")
    assert {"ListGatewayRoutes", "DescribeGatewayRoute", "DescribeGatewayResources"} <= set(ecs.seen)

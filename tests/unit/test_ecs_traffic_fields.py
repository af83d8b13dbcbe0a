"""The ECS service fields that attach a service to traffic, through the ECS gateway and
boto3: accepted, returned by DescribeServices in botocore's shapes (checked against its
model), and the members Shoal does not act on refused, never dropped."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from controlplane.api import loadbalancers, namespaces
from shoal.v1 import traffic_pb2 as t
from tests.unit.test_ecs_api import WEB, ecs, gateway  # noqa: F401 (fixtures)

NAMED = dict(WEB, family="named", containerDefinitions=[
    dict(WEB["containerDefinitions"][0], portMappings=[{"containerPort": 8080, "name": "http"}])])


@pytest.fixture
def attached(gateway, ecs):  # noqa: F811
    ctx, _ = gateway
    loadbalancers.create(ctx, t.CreateLoadBalancerRequest(name="web"))
    lb = loadbalancers.create_listener(ctx, t.CreateListenerRequest(load_balancer="web", port=8000)).load_balancer
    ns = namespaces.create(ctx, t.CreateNamespaceRequest(name="lab")).namespace
    ecs.register_task_definition(**NAMED)
    return ecs, lb, ns


def test_describe_services_returns_the_traffic_fields(attached) -> None:
    client, lb, ns = attached
    tg = lb.default_target_group_arn
    created = client.create_service(
        serviceName="web", taskDefinition="named", desiredCount=1, healthCheckGracePeriodSeconds=30,
        loadBalancers=[{"targetGroupArn": tg, "containerName": "web", "containerPort": 8080}],
        serviceRegistries=[{"registryArn": ns.arn}],
        serviceConnectConfiguration={"enabled": True, "namespace": "lab", "services": [
            {"portName": "http", "clientAliases": [{"port": 80, "dnsName": "web"}]}]})["service"]
    assert created["loadBalancers"] == [{"targetGroupArn": tg, "containerName": "web", "containerPort": 8080}]
    svc = client.describe_services(services=["web"])["services"][0]
    assert svc["loadBalancers"] == created["loadBalancers"]
    assert svc["healthCheckGracePeriodSeconds"] == 30
    assert svc["serviceRegistries"][0]["containerName"] == "web"
    assert svc["serviceRegistries"][0]["containerPort"] == 8080
    primary = [d for d in svc["deployments"] if d["status"] == "PRIMARY"][0]
    assert primary["serviceConnectConfiguration"]["services"][0]["clientAliases"] == [{"port": 80, "dnsName": "web"}]
    # loadBalancerName means that load balancer's default target group.
    other = client.create_service(serviceName="other", taskDefinition="named", desiredCount=0, loadBalancers=[
        {"loadBalancerName": "web", "containerName": "web", "containerPort": 8080}])["service"]
    assert other["loadBalancers"][0]["targetGroupArn"] == tg
    # UpdateService replaces the set when the member is present, even empty.
    updated = client.update_service(service="other", loadBalancers=[])["service"]
    assert updated["loadBalancers"] == []
    kept = client.update_service(service="web", desiredCount=0)["service"]
    assert kept["loadBalancers"] == created["loadBalancers"]


@pytest.mark.parametrize("fields,member,code", [
    ({"loadBalancers": [{"targetGroupArn": "arn:aws:elasticloadbalancing:local:000000000000:targetgroup/no/1",
                         "containerName": "web", "containerPort": 8080}]},
     "loadBalancers[0].targetGroupArn", "InvalidParameterException"),
    ({"loadBalancers": [{"loadBalancerName": "web", "containerName": "web", "containerPort": 9}]},
     "loadBalancers[0].containerPort", "InvalidParameterException"),
    ({"loadBalancers": [{"loadBalancerName": "web", "containerName": "web", "containerPort": 8080,
                         "advancedConfiguration": {"alternateTargetGroupArn": "x"}}]},
     "loadBalancers[0].advancedConfiguration: not supported", "InvalidParameterException"),
    ({"serviceConnectConfiguration": {"enabled": True, "namespace": "lab", "services": [
        {"portName": "http", "timeout": {"idleTimeoutSeconds": 5}}]}},
     "serviceConnectConfiguration.services[0].timeout: not supported", "InvalidParameterException"),
    ({"serviceConnectConfiguration": {"enabled": True, "namespace": "lab", "logConfiguration": {
        "logDriver": "json-file"}}},
     "serviceConnectConfiguration.logConfiguration: not supported", "InvalidParameterException"),
    ({"role": "ecsServiceRole"}, "role: Shoal has no IAM roles", "InvalidParameterException"),
    ({"serviceRegistries": [{"registryArn": "arn:aws:servicediscovery:local:000000000000:service/srv-1"}]},
     "serviceRegistries[0].registryArn", "InvalidParameterException"),
])
def test_bad_traffic_fields_are_refused_naming_the_member(attached, fields, member, code) -> None:
    client = attached[0]
    with pytest.raises(ClientError) as err:
        client.create_service(serviceName="web", taskDefinition="named", desiredCount=1, **fields)
    assert err.value.response["Error"]["Code"] == code
    assert member in err.value.response["Error"]["Message"], err.value.response["Error"]["Message"]
    assert client.describe_services(services=["web"])["failures"][0]["reason"] == "MISSING"


def test_list_services_by_namespace(attached) -> None:
    client, _, ns = attached
    client.create_service(serviceName="web", taskDefinition="named", desiredCount=0,
                          serviceRegistries=[{"registryArn": ns.arn}])
    client.create_service(serviceName="alone", taskDefinition="named", desiredCount=0)
    web = client.describe_services(services=["web"])["services"][0]["serviceArn"]
    assert client.list_services_by_namespace(namespace="lab")["serviceArns"] == [web]
    assert client.list_services_by_namespace(namespace=ns.arn)["serviceArns"] == [web]
    with pytest.raises(client.exceptions.NamespaceNotFoundException):
        client.list_services_by_namespace(namespace="nope")

"""ECS Express Mode through the gateway in process on an in-memory store, with boto3: an
express service is made of a task definition, a load balancer with a health check, a service
and a target-tracking policy; describe reads them back, update rolls a new revision, delete
removes them. Every response is checked against botocore's ECS model; bad input and members
Shoal cannot act on are refused naming the member, with nothing made."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from controlplane import apps
from controlplane.api import accesskeys, scaling
from controlplane.api.context import ApiContext
from shoal.store.memory import MemoryStore
from shoal.v1 import accesskeys_pb2 as ak
from shoal.v1 import scaling_pb2 as sc
from tests.ecs_model import validate_every_response
from tests.tls_gateway import tls_gateway

ROLE = "arn:aws:iam::123456789012:role/ecsInfrastructureRoleForExpressServices"


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[ApiContext, object]]:
    store = MemoryStore()
    ctx = ApiContext(store)
    ctx.ensure_default_cluster()
    secret = accesskeys.create(ctx, ak.CreateAccessKeyRequest(description="unit", user="a", role="admin"))
    try:
        with tls_gateway(ctx, tmp_path) as gw:
            ecs = boto3.client("ecs", endpoint_url=gw.url, region_name="us-east-1", verify=str(tmp_path / "ca.crt"),
                               aws_access_key_id=secret.access_key_id, aws_secret_access_key=secret.secret_access_key,
                               config=Config(retries={"max_attempts": 6, "mode": "standard"}))
            ecs.seen = validate_every_response(ecs)
            yield ctx, ecs
    finally:
        store.close()


def _refused(call, code: str, member: str, **kwargs) -> str:
    with pytest.raises(ClientError) as exc:
        call(**kwargs)
    err = exc.value.response["Error"]
    assert err["Code"] == code, err
    assert member in err["Message"], err
    return err["Message"]


def test_create_describe_update_delete(setup) -> None:
    ctx, ecs = setup
    made = ecs.create_express_gateway_service(
        infrastructureRoleArn=ROLE, serviceName="web", healthCheckPath="/healthz", cpu="512", memory="128",
        primaryContainer={"image": "shoal/busybox:latest", "containerPort": 8080, "command": ["httpd", "-f"],
                          "environment": [{"name": "MODE", "value": "one"}]},
        scalingTarget={"minTaskCount": 2, "maxTaskCount": 5, "autoScalingMetric": "AVERAGE_MEMORY",
                       "autoScalingTargetValue": 60},
        tags=[{"key": "team", "value": "a"}])["service"]
    assert made["serviceName"] == "web" and made["infrastructureRoleArn"] == ROLE
    assert made["serviceArn"].endswith(":service/default/web") and made["status"]["statusCode"] == "ACTIVE"
    config = made["activeConfigurations"][0]
    assert config["taskDefinitionArn"].endswith(":task-definition/web:1")
    assert (config["cpu"], config["memory"], config["healthCheckPath"]) == ("512", "128", "/healthz")
    assert config["primaryContainer"] == {"image": "shoal/busybox:latest", "containerPort": 8080,
                                          "command": ["httpd", "-f"],
                                          "environment": [{"name": "MODE", "value": "one"}]}
    assert config["scalingTarget"] == {"minTaskCount": 2, "maxTaskCount": 5, "autoScalingMetric": "AVERAGE_MEMORY",
                                       "autoScalingTargetValue": 60}
    assert made["tags"] == [{"key": "team", "value": "a"}]

    # The pieces are the ordinary ones, as `shoal app deploy` makes them.
    plane = apps.local_plane(ctx)
    svc = apps.service(plane, "default", "web")
    assert svc is not None and svc.desired_count == 2 and svc.load_balancers[0].container_port == 8080
    lb = apps.load_balancer(plane, "default", "web")
    assert lb is not None and lb.listeners
    policy = scaling.describe_policies(ctx, sc.DescribeScalingPoliciesRequest(cluster="default", service="web"))
    assert [(p.policy_name, p.target_tracking.predefined_metric_type, p.target_tracking.target_value)
            for p in policy.policies] == [("web-cpu", "ECSServiceAverageMemoryUtilization", 60.0)]

    seen = ecs.describe_express_gateway_service(serviceArn=made["serviceArn"], include=["TAGS"])["service"]
    assert seen["activeConfigurations"][0]["primaryContainer"] == config["primaryContainer"]
    assert seen["tags"] == [{"key": "team", "value": "a"}]
    assert "tags" not in ecs.describe_express_gateway_service(serviceArn=made["serviceArn"])["service"]

    updated = ecs.update_express_gateway_service(
        serviceArn=made["serviceArn"], primaryContainer={"image": "shoal/busybox:1.36", "containerPort": 8080},
        scalingTarget={"maxTaskCount": 4})["service"]
    target = updated["targetConfiguration"]
    assert target["taskDefinitionArn"].endswith(":task-definition/web:2")
    assert target["primaryContainer"]["image"] == "shoal/busybox:1.36"
    assert target["scalingTarget"]["maxTaskCount"] == 4 and target["scalingTarget"]["minTaskCount"] == 2
    svc = apps.service(plane, "default", "web")
    assert svc is not None and svc.task_definition.endswith("web:2")
    assert [d.task_definition.rsplit(":", 1)[1] for d in svc.deployments] == ["2", "1"]
    # The same configuration again changes nothing: no third revision.
    again = ecs.update_express_gateway_service(serviceArn=made["serviceArn"], healthCheckPath="/healthz")
    assert again["service"]["targetConfiguration"]["taskDefinitionArn"].endswith("web:2")

    gone = ecs.delete_express_gateway_service(serviceArn=made["serviceArn"])["service"]
    assert gone["status"]["statusCode"] == "DRAINING"
    assert apps.service(plane, "default", "web") is None and apps.load_balancer(plane, "default", "web") is None
    assert not scaling.describe_policies(ctx, sc.DescribeScalingPoliciesRequest(cluster="default")).policies
    _refused(ecs.describe_express_gateway_service, "ResourceNotFoundException", "serviceArn",
             serviceArn=made["serviceArn"])
    _refused(ecs.delete_express_gateway_service, "ServiceNotFoundException", "serviceArn",
             serviceArn=made["serviceArn"])
    assert set(ecs.seen) >= {"CreateExpressGatewayService", "DescribeExpressGatewayService",
                             "UpdateExpressGatewayService", "DeleteExpressGatewayService"}


def test_name_from_the_image_when_none_is_given(setup) -> None:
    _, ecs = setup
    made = ecs.create_express_gateway_service(infrastructureRoleArn=ROLE,
                                              primaryContainer={"image": "registry:5000/apps/my_app:v1"})
    assert made["service"]["serviceName"] == "my-app"


@pytest.mark.parametrize(("kwargs", "code", "member"), [
    ({"networkConfiguration": {"subnets": ["subnet-1"]}}, "UnsupportedFeatureException", "networkConfiguration"),
    ({"cpuArchitecture": "ARM64"}, "UnsupportedFeatureException", "cpuArchitecture"),
    ({"taskDefinitionArn": "web:1"}, "UnsupportedFeatureException", "taskDefinitionArn"),
    ({"primaryContainer": {"image": "x", "awsLogsConfiguration": {"logGroup": "g", "logStreamPrefix": "p"}}},
     "UnsupportedFeatureException", "primaryContainer.awsLogsConfiguration"),
    ({"primaryContainer": {"image": "x", "repositoryCredentials": {"credentialsParameter": "s"}}},
     "UnsupportedFeatureException", "primaryContainer.repositoryCredentials"),
    ({"cpu": "lots"}, "InvalidParameterException", "cpu"),
    ({"memory": "0"}, "InvalidParameterException", "memory"),
    ({"healthCheckPath": "healthz"}, "InvalidParameterException", "healthCheckPath"),
    ({"primaryContainer": {"image": "x", "containerPort": 70000}}, "InvalidParameterException",
     "primaryContainer.containerPort"),
    ({"scalingTarget": {"minTaskCount": 5, "maxTaskCount": 2}}, "InvalidParameterException",
     "scalingTarget.minTaskCount"),
    ({"scalingTarget": {"minTaskCount": 0}}, "InvalidParameterException", "scalingTarget.minTaskCount"),
    ({"serviceName": "-bad-"}, "InvalidParameterException", "serviceName"),
    ({"executionRoleArn": "arn:aws:iam::123456789012:user/x"}, "InvalidParameterException", "executionRoleArn"),
    ({"scalingTarget": {"autoScalingMetric": "AVERAGE_CPU", "autoScalingTargetValue": 0}},
     "InvalidParameterException", "scalingTarget.autoScalingTargetValue"),
    ({"serviceName": "web", "cluster": "nope"}, "ClusterNotFoundException", "nope"),
])
def test_bad_input_is_refused_naming_the_member_and_nothing_is_made(setup, kwargs, code, member) -> None:
    ctx, ecs = setup
    body = {"infrastructureRoleArn": ROLE, "serviceName": "web", "primaryContainer": {"image": "shoal/busybox"},
            **kwargs}
    _refused(ecs.create_express_gateway_service, code, member, **body)
    plane = apps.local_plane(ctx)
    assert apps.service(plane, "default", "web") is None and apps.load_balancer(plane, "default", "web") is None
    assert apps.current_taskdef(plane, "web") is None


def test_update_and_describe_refusals(setup) -> None:
    _, ecs = setup
    arn = ecs.create_express_gateway_service(infrastructureRoleArn=ROLE, serviceName="web",
                                             primaryContainer={"image": "shoal/busybox"})["service"]["serviceArn"]
    _refused(ecs.describe_express_gateway_service, "InvalidParameterException", "serviceArn", serviceArn="web")
    _refused(ecs.update_express_gateway_service, "ServiceNotFoundException", "serviceArn",
             serviceArn=arn.replace("/web", "/other"))
    _refused(ecs.update_express_gateway_service, "InvalidParameterException", "containerPort",
             serviceArn=arn, primaryContainer={"image": "shoal/busybox", "containerPort": 81})
    _refused(ecs.update_express_gateway_service, "UnsupportedFeatureException", "networkConfiguration",
             serviceArn=arn, networkConfiguration={"securityGroups": ["sg-1"]})
    _refused(ecs.create_express_gateway_service, "InvalidParameterException", "serviceName",
             infrastructureRoleArn=ROLE, serviceName="web", primaryContainer={"image": "shoal/busybox"})


def test_an_app_deploy_app_is_an_express_service(setup) -> None:
    ctx, ecs = setup
    done = apps.apply(apps.local_plane(ctx), apps.AppSpec(name="hello", image="shoal/busybox", port=8080))
    seen = ecs.describe_express_gateway_service(serviceArn=done.service.service_arn)["service"]
    config = seen["activeConfigurations"][0]
    assert config["primaryContainer"] == {"image": "shoal/busybox", "containerPort": 8080}
    assert config["scalingTarget"] == {"minTaskCount": 1, "maxTaskCount": 3, "autoScalingMetric": "AVERAGE_CPU",
                                       "autoScalingTargetValue": 70}

"""ECS Express Mode through the gateway with boto3, against a real control plane, agent and
cluster registry: an image built locally and pushed to the cluster registry becomes an express
service whose endpoint answers; UpdateExpressGatewayService rolls a new image; delete removes
the service, its load balancer and policy, and the endpoint stops answering. Every answer is
checked against botocore's ECS model. Images are made here, unique per run, and only those
removed."""

from __future__ import annotations

import contextlib
import secrets
import urllib.error

import docker.errors
import pytest
from botocore.exceptions import ClientError

from shoal.v1 import registry_pb2 as rg
from shoal.v1 import registry_pb2_grpc
from tests.aws_clients import cluster_client
from tests.ecs_model import validate_every_response
from tests.integration.test_app_deploy import get, make_app_image
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

ROLE = "arn:aws:iam::123456789012:role/ecsInfrastructureRoleForExpressServices"


def _answer(url: str) -> str:
    try:
        return get(url)
    except (urllib.error.URLError, OSError):
        return ""


def _push(cluster, docker_client, local: str, repository: str, tag: str) -> str:
    """``local`` pushed to the cluster registry as REPOSITORY:TAG, with a login credential."""
    reg = registry_pb2_grpc.RegistryStub(cluster.channel)
    cred = reg.GetLoginCredential(rg.GetLoginCredentialRequest(ttl_seconds=900), timeout=10)
    if not any(x.name == repository for x in reg.ListRepositories(rg.ListRepositoriesRequest(),
                                                                  timeout=10).repositories):
        reg.CreateRepository(rg.CreateRepositoryRequest(name=repository), timeout=10)
    target = f"{cred.registry}/{repository}"
    docker_client.images.get(local).tag(target, tag)
    for line in docker_client.api.push(target, tag=tag, stream=True, decode=True,
                                       auth_config={"username": cred.username, "password": cred.password}):
        assert "error" not in line, line
    return f"{target}:{tag}"


def test_express_service_created_answers_updated_and_deleted(make_cluster, busybox_image, docker_client) -> None:
    cluster = make_cluster(agents=1, registry=True, ecs_port=0)
    ecs = cluster_client(cluster, "ecs", "express test")
    seen = validate_every_response(ecs)
    name = f"exp{secrets.token_hex(3)}"
    made = [make_app_image(docker_client, f"shoaltest/{name}:v1", "express v1"),
            make_app_image(docker_client, f"shoaltest/{name}:v2", "express v2")]
    try:
        v1 = _push(cluster, docker_client, f"shoaltest/{name}:v1", f"apps/{name}", "v1")
        v2 = _push(cluster, docker_client, f"shoaltest/{name}:v2", f"apps/{name}", "v2")
        service = ecs.create_express_gateway_service(
            infrastructureRoleArn=ROLE, serviceName=name, cpu="32", memory="32",
            primaryContainer={"image": v1, "containerPort": 8080},
            scalingTarget={"minTaskCount": 1, "maxTaskCount": 2})["service"]
        arn = service["serviceArn"]
        endpoint = service["activeConfigurations"][0]["ingressPaths"][0]["endpoint"]
        assert endpoint.startswith("http://"), endpoint
        assert wait_for(lambda: _answer(endpoint) == "express v1", 180, "the endpoint serving v1")

        described = ecs.describe_express_gateway_service(serviceArn=arn)["service"]
        assert described["activeConfigurations"][0]["primaryContainer"]["image"] == v1
        assert described["activeConfigurations"][0]["ingressPaths"][0]["endpoint"] == endpoint

        updated = ecs.update_express_gateway_service(serviceArn=arn, primaryContainer={"image": v2,
                                                                                      "containerPort": 8080})
        assert updated["service"]["targetConfiguration"]["taskDefinitionArn"].endswith(f"{name}:2")
        assert wait_for(lambda: _answer(endpoint) == "express v2", 180, "the endpoint serving v2")

        assert ecs.delete_express_gateway_service(serviceArn=arn)["service"]["status"]["statusCode"] == "DRAINING"
        assert wait_for(lambda: _answer(endpoint) == "", 120, "the endpoint no longer answering")
        with pytest.raises(ClientError) as err:
            ecs.describe_express_gateway_service(serviceArn=arn)
        assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"
        assert set(seen) >= {"CreateExpressGatewayService", "DescribeExpressGatewayService",
                             "UpdateExpressGatewayService", "DeleteExpressGatewayService"}
    finally:
        for image_id in made:  # by id: the registry tags go too
            with contextlib.suppress(docker.errors.ImageNotFound, docker.errors.APIError):
                docker_client.images.remove(image_id, force=True)

"""Task roles end to end, as a user meets them: a real etcd, control plane (with the ECS
gateway) and agent, real containers on the real dockerd. A task whose definition names a
role finds ECS's credentials variables in its environment, reaches the agent's endpoint
from inside its container, and the credentials it gets drive boto3 against the ECS gateway
with that role's permissions and nothing more; they rotate (a 4 s TTL here); one task's
token cannot read another's; a stopped task's credentials stop working. An execution role
bounds the secrets and the cluster registry pulls the agent asks for on a task's behalf."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

from shoal.v1 import operator_pb2 as op
from shoal.v1 import roles_pb2 as ro
from shoal.v1 import roles_pb2_grpc, security_pb2_grpc
from shoal.v1 import security_pb2 as sec
from shoalctl.local import statefiles
from tests.integration.test_registry import docker_cli, shoal
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

URI, TOKEN = "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN"
READER = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["ecs:List*", "ecs:Describe*"], "Resource": "*"},
]}
APP = {
    "family": "role-app",
    "taskRoleArn": "arn:aws:iam::000000000000:role/reader",
    "containerDefinitions": [{"name": "app", "image": "shoal/busybox:latest", "memory": 16, "essential": True,
                              "command": ["sleep", "3600"], "stopTimeout": 1}],
}


def ecs_client(url: str, ca: str, creds: dict):
    return boto3.client("ecs", endpoint_url=url, region_name="us-east-1", verify=ca,
                        aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                        aws_session_token=creds["Token"],
                        config=Config(retries={"max_attempts": 6, "mode": "standard"}))


def refusal(call) -> str:
    try:
        call()
    except ClientError as exc:
        return exc.response["Error"]["Code"]
    return ""


def env_of(container) -> dict[str, str]:
    container.reload()
    return dict(item.split("=", 1) for item in container.attrs["Config"]["Env"])


def test_a_tasks_role_credentials_from_inside_its_container(make_cluster, busybox_image, docker_client) -> None:
    cluster = make_cluster(agents=1, ecs_port=0, prometheus=False, autoscaler=False, proxy=False,
                           extra_controlplane_args=["--task-credentials-ttl", "4"])
    config = json.loads(statefiles.config_path(cluster.state_dir).read_text())
    url, ca = config["ecs"], config["ca"]
    roles = roles_pb2_grpc.RolesStub(cluster.channel)
    roles.CreateRole(ro.CreateRoleRequest(name="reader", policy_document=json.dumps(READER)), timeout=10)
    api = cluster.operator
    td = api.RegisterTaskDefinition(op.RegisterTaskDefinitionRequest(json=json.dumps(APP))).task_definition
    assert td.task_role_arn == APP["taskRoleArn"] and not any("taskRoleArn" in w for w in td.warnings)
    tasks = api.RunTask(op.RunTaskRequest(cluster="default", task_definition="role-app", count=2)).tasks
    ids = [t.id for t in tasks]
    wait_for(lambda: all(t.last_status == "RUNNING" for t in api.DescribeTasks(
        op.DescribeTasksRequest(cluster="default", tasks=ids)).tasks), 120, "both tasks RUNNING")
    described = api.DescribeTasks(op.DescribeTasksRequest(cluster="default", tasks=ids)).tasks
    assert TOKEN not in str(described) and TOKEN not in str(td)

    containers = [docker_client.containers.list(filters={"label": f"shoal.task={i}"})[0] for i in ids]
    one, two = env_of(containers[0]), env_of(containers[1])
    assert one[URI].startswith("http://") and one[TOKEN] and one[TOKEN] != two[TOKEN]

    # From inside the container, as an SDK in it would: the endpoint answers ECS's document.
    inside = containers[0].exec_run(["sh", "-c", f'wget -qO- --header "Authorization: ${TOKEN}" "${URI}"'])
    assert inside.exit_code == 0, inside.output
    creds = json.loads(inside.output)
    assert creds["RoleArn"] == "arn:aws:iam::000000000000:role/reader" and creds["AccessKeyId"].startswith("ASSH")

    # The role's permissions and nothing more.
    ecs = ecs_client(url, ca, creds)
    assert ecs.list_clusters()["clusterArns"]
    assert len(ecs.list_tasks(cluster="default")["taskArns"]) == 2
    with pytest.raises(ClientError) as denied:
        ecs.run_task(cluster="default", taskDefinition="role-app")
    assert denied.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "assumed-role/reader/" in denied.value.response["Error"]["Message"]

    # One task's token does not open another's credentials.
    assert requests.get(two[URI], headers={"Authorization": one[TOKEN]}, timeout=5).status_code == 401

    # Rotation: the agent fetches a new key before the old one expires.
    fresh = wait_for(lambda: (c := requests.get(one[URI], headers={"Authorization": one[TOKEN]}, timeout=5).json())
                     and c["AccessKeyId"] != creds["AccessKeyId"] and c, 20, "rotated credentials")
    assert ecs_client(url, ca, fresh).describe_clusters(clusters=["default"])["clusters"]

    # A stopped task's credentials are revoked at once, and its path answers nothing.
    api.StopTask(op.StopTaskRequest(cluster="default", task=ids[0], reason="test"))
    wait_for(lambda: refusal(lambda: ecs_client(url, ca, fresh).list_clusters()) == "UnrecognizedClientException",
             20, "the stopped task's key refused")
    wait_for(lambda: requests.get(one[URI], headers={"Authorization": one[TOKEN]}, timeout=5).status_code == 404,
             20, "the stopped task's path gone")


def test_an_execution_role_bounds_the_secrets_a_task_gets(make_cluster, busybox_image, docker_client) -> None:
    cluster = make_cluster(agents=1, prometheus=False, autoscaler=False, proxy=False)
    security = security_pb2_grpc.SecurityStub(cluster.channel)
    for name in ("app/db", "ops/root"):
        security.PutSecret(sec.PutSecretRequest(name=name, value=f"value of {name}"), timeout=10)
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "shoal:GetSecret", "Resource": "arn:aws:shoal:*:*:secret:app/*"}]}
    roles_pb2_grpc.RolesStub(cluster.channel).CreateRole(
        ro.CreateRoleRequest(name="exec", policy_document=json.dumps(policy)), timeout=10)
    api = cluster.operator

    def run(family: str, secret: str):
        doc = {"family": family, "executionRoleArn": "exec", "containerDefinitions": [{
            "name": "app", "image": "shoal/busybox:latest", "memory": 16, "command": ["sleep", "3600"],
            "stopTimeout": 1, "secrets": [{"name": "VALUE", "valueFrom": secret}]}]}
        api.RegisterTaskDefinition(op.RegisterTaskDefinitionRequest(json=json.dumps(doc)))
        task_id = api.RunTask(op.RunTaskRequest(cluster="default", task_definition=family)).tasks[0].id
        return wait_for(lambda: (t := api.DescribeTasks(op.DescribeTasksRequest(
            cluster="default", tasks=[task_id])).tasks[0]).last_status in ("RUNNING", "STOPPED") and t, 120,
            f"{family} running or stopped")

    allowed = run("exec-allowed", "app/db")
    assert allowed.last_status == "RUNNING", allowed.stopped_reason
    container = docker_client.containers.list(filters={"label": f"shoal.task={allowed.id}"})[0]
    assert env_of(container)["VALUE"] == "value of app/db"
    refused = run("exec-refused", "ops/root")
    assert refused.last_status == "STOPPED"
    assert "ResourceInitializationError" in refused.stopped_reason
    assert ("containerDefinitions[0].secrets[0].valueFrom: execution role 'exec' does not allow shoal:GetSecret "
            "on arn:aws:shoal:") in refused.stopped_reason, refused.stopped_reason
    assert refused.stopped_reason.rstrip(")").endswith(":secret:ops/root"), refused.stopped_reason
    assert "value of ops/root" not in refused.stopped_reason


def test_an_execution_role_bounds_the_repositories_a_task_pulls_from(images, make_cluster, busybox_image,
                                                                   docker_client, tmp_path: Path) -> None:
    cluster = make_cluster(agents=1, registry=True, prometheus=False, autoscaler=False, proxy=False)
    name = f"shoaltest/roles-{secrets.token_hex(3)}"
    ref = f"{cluster.registry_address}/{name}:v1"
    images.make(ref)
    admin_cfg = tmp_path / "admin-docker"
    assert shoal(cluster, "repo", "create", name).returncode == 0
    assert shoal(cluster, "registry", "login", env={"DOCKER_CONFIG": str(admin_cfg)}).returncode == 0
    assert docker_cli("push", ref, config=admin_cfg).returncode == 0
    images.remove(ref)  # the node has to pull it
    roles = roles_pb2_grpc.RolesStub(cluster.channel)
    for role, repositories in (("pull-other", "other/*"), ("pull-shoaltest", "shoaltest/*")):
        policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ecr:BatchGetImage",
                                                          "Resource": f"arn:aws:ecr:*:*:repository/{repositories}"}]}
        roles.CreateRole(ro.CreateRoleRequest(name=role, policy_document=json.dumps(policy)), timeout=10)
    api = cluster.operator

    def run(role: str):
        family = f"pull-{role}"
        api.RegisterTaskDefinition(op.RegisterTaskDefinitionRequest(json=json.dumps({
            "family": family, "executionRoleArn": role, "containerDefinitions": [{
                "name": "app", "image": ref, "memory": 16, "command": ["sleep", "300"], "stopTimeout": 1}]})))
        task_id = api.RunTask(op.RunTaskRequest(cluster="default", task_definition=family)).tasks[0].id
        return wait_for(lambda: (t := api.DescribeTasks(op.DescribeTasksRequest(
            cluster="default", tasks=[task_id])).tasks[0]).last_status in ("RUNNING", "STOPPED") and t, 120,
            f"{family} running or stopped")

    # Refused first: once a task pulled the image, the node asks for no pull credentials again.
    refused = run("pull-other")
    assert refused.last_status == "STOPPED"
    assert refused.stopped_reason.startswith("CannotPullContainerError:"), refused.stopped_reason
    assert ("containerDefinitions[0].image: execution role 'pull-other' does not allow ecr:BatchGetImage on "
            "arn:aws:ecr:") in refused.stopped_reason and f":repository/{name}" in refused.stopped_reason
    allowed = run("pull-shoaltest")
    assert allowed.last_status == "RUNNING", allowed.stopped_reason

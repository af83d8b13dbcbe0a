"""The ECR subset of the ECS-compatible gateway against a whole local cluster with its
registry: the aws CLI's `ecr get-login-password` into `docker login`, `docker push`, and
boto3's ECR client for repositories and images, every answer checked against botocore's ECR
model; a viewer's key may read and log in but not create."""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
from pathlib import Path

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

from shoal.v1 import accesskeys_pb2 as ak
from shoal.v1 import accesskeys_pb2_grpc
from shoalctl.local import statefiles
from tests.ecr_model import validate_every_response
from tests.integration.test_registry import docker_cli, shoal
from tests.waiting import wait_for

pytestmark = pytest.mark.integration


def key(cluster, **owner: str) -> ak.AccessKey:
    return accesskeys_pb2_grpc.AccessKeysStub(cluster.channel).CreateAccessKey(
        ak.CreateAccessKeyRequest(description="ecr test", **owner), timeout=10)


def ecr_client(url: str, ca: str, k: ak.AccessKey):
    return boto3.client("ecr", endpoint_url=url, region_name="us-east-1", aws_access_key_id=k.access_key_id,
                        aws_secret_access_key=k.secret_access_key, verify=ca,
                        config=Config(retries={"max_attempts": 6, "mode": "standard"}))


def code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return exc.value.response["Error"]["Code"]


def test_aws_ecr_login_push_and_manage_images(make_cluster, busybox_image, images, tmp_path: Path) -> None:
    cluster = make_cluster(agents=0, registry=True, ecs_port=0)
    config = json.loads(statefiles.config_path(cluster.state_dir).read_text())
    url, ca, registry = config["ecs"], config["ca"], config["registry"]
    admin, viewer = key(cluster), key(cluster, user="vic", role="viewer")
    ecr = ecr_client(url, ca, admin)
    seen = validate_every_response(ecr)
    name = f"shoaltest/ecr-{secrets.token_hex(3)}"

    repo = ecr.create_repository(repositoryName=name)["repository"]
    assert repo["repositoryUri"] == f"{registry}/{name}" and repo["repositoryArn"].endswith(f":repository/{name}")
    with pytest.raises(ClientError) as err:
        ecr.create_repository(repositoryName=name)
    assert code(err) == "RepositoryAlreadyExistsException"
    with pytest.raises(ClientError) as err:
        ecr.create_repository(repositoryName="Bad Name")
    assert code(err) == "InvalidParameterException" and "repositoryName" in str(err.value)

    env = {**os.environ, "AWS_ACCESS_KEY_ID": admin.access_key_id, "AWS_SECRET_ACCESS_KEY": admin.secret_access_key,
           "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}
    env.pop("AWS_PROFILE", None)
    password = subprocess.run(["aws", "ecr", "get-login-password", "--endpoint-url", url, "--region", "us-east-1",
                               "--ca-bundle", ca], env=env, capture_output=True, text=True, timeout=120)
    assert password.returncode == 0 and password.stdout.strip(), password.stderr
    data = ecr.get_authorization_token()["authorizationData"][0]
    user, _, other = base64.b64decode(data["authorizationToken"]).decode().partition(":")
    assert user == "AWS" and other and data["proxyEndpoint"] == f"https://{registry}"
    docker_cfg = tmp_path / "docker"
    login = subprocess.run(["docker", "login", "--username", "AWS", "--password-stdin", registry],
                           input=password.stdout, capture_output=True, text=True, timeout=60,
                           env={**os.environ, "DOCKER_CONFIG": str(docker_cfg)})
    assert login.returncode == 0, login.stderr
    ref = f"{registry}/{name}:v1"
    images.make(ref)
    pushed = docker_cli("push", ref, config=docker_cfg)
    assert pushed.returncode == 0, pushed.stderr
    digest = next(w for w in pushed.stdout.split() if w.startswith("sha256:"))

    details = wait_for(lambda: (d := ecr.describe_images(repositoryName=name)["imageDetails"])
                       and "imagePushedAt" in d[0] and d, 30, "the image with its push time")
    assert [(d["imageDigest"], d["imageTags"]) for d in details] == [(digest, ["v1"])]
    assert details[0]["imageSizeInBytes"] > 64 * 1024
    assert ecr.list_images(repositoryName=name)["imageIds"] == [{"imageDigest": digest, "imageTag": "v1"}]
    assert [r["repositoryName"] for r in ecr.describe_repositories()["repositories"]] == [name]
    with pytest.raises(ClientError) as err:
        ecr.describe_repositories(repositoryNames=["no/such"])
    assert code(err) == "RepositoryNotFoundException"
    with pytest.raises(ClientError) as err:
        ecr.describe_images(repositoryName=name, imageIds=[{"imageTag": "v9"}])
    assert code(err) == "ImageNotFoundException"
    with pytest.raises(ClientError) as err:
        ecr.delete_repository(repositoryName=name)
    assert code(err) == "RepositoryNotEmptyException"

    as_viewer = ecr_client(url, ca, viewer)
    validate_every_response(as_viewer)
    assert as_viewer.get_authorization_token()["authorizationData"][0]["proxyEndpoint"] == f"https://{registry}"
    assert [d["imageDigest"] for d in as_viewer.describe_images(repositoryName=name)["imageDetails"]] == [digest]
    for call in (lambda: as_viewer.create_repository(repositoryName="mine"),
                 lambda: as_viewer.batch_delete_image(repositoryName=name, imageIds=[{"imageTag": "v1"}]),
                 lambda: as_viewer.delete_repository(repositoryName=name, force=True)):
        with pytest.raises(ClientError) as err:
            call()
        assert code(err) == "AccessDeniedException"

    gone = ecr.batch_delete_image(repositoryName=name, imageIds=[{"imageTag": "v1"}, {"imageTag": "nope"}])
    assert gone["imageIds"] == [{"imageDigest": digest, "imageTag": "v1"}]
    assert [(f["imageId"], f["failureCode"]) for f in gone["failures"]] == [({"imageTag": "nope"}, "ImageNotFound")]
    assert ecr.list_images(repositoryName=name)["imageIds"] == []
    assert ecr.delete_repository(repositoryName=name)["repository"]["repositoryName"] == name
    assert ecr.describe_repositories()["repositories"] == []
    assert set(seen) >= {"CreateRepository", "GetAuthorizationToken", "DescribeImages", "ListImages",
                         "DescribeRepositories", "BatchDeleteImage", "DeleteRepository"}


def test_an_immutable_tag_stays_on_its_first_image(make_cluster, busybox_image, images, tmp_path: Path) -> None:
    cluster = make_cluster(agents=0, registry=True, ecs_port=0)
    config = json.loads(statefiles.config_path(cluster.state_dir).read_text())
    url, ca, registry = config["ecs"], config["ca"], config["registry"]
    ecr = ecr_client(url, ca, key(cluster))
    seen = validate_every_response(ecr)
    name = f"shoaltest/immutable-{secrets.token_hex(3)}"
    with pytest.raises(ClientError) as err:
        ecr.create_repository(repositoryName=name, imageTagMutability="FROZEN")
    assert code(err) == "InvalidParameterException" and "imageTagMutability" in str(err.value)
    repo = ecr.create_repository(repositoryName=name, imageTagMutability="IMMUTABLE")["repository"]
    assert repo["imageTagMutability"] == "IMMUTABLE"

    password = base64.b64decode(ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"])
    docker_cfg = tmp_path / "docker"
    login = subprocess.run(["docker", "login", "--username", "AWS", "--password-stdin", registry],
                           input=password.decode().partition(":")[2], capture_output=True, text=True, timeout=60,
                           env={**os.environ, "DOCKER_CONFIG": str(docker_cfg)})
    assert login.returncode == 0, login.stderr
    ref = f"{registry}/{name}:v1"

    def push_new_image(refused: bool = False) -> str:
        images.remove(ref)
        images.make(ref)
        pushed = docker_cli("push", ref, config=docker_cfg)
        if refused:
            # Shoal's front of the registry refuses the manifest before the registry sees it.
            assert pushed.returncode != 0, pushed.stdout
            assert "ImageTagAlreadyExistsException" in pushed.stderr and "immutable" in pushed.stderr, pushed.stderr
            return ""
        assert pushed.returncode == 0, pushed.stderr
        return next(w for w in pushed.stdout.split() if w.startswith("sha256:"))

    def tagged() -> dict[str, str]:
        return {t: d["imageDigest"] for d in ecr.describe_images(repositoryName=name)["imageDetails"]
                for t in d.get("imageTags", [])}

    first = push_new_image()
    wait_for(lambda: tagged() == {"v1": first}, 30, "v1 on the first image")
    # The second push of v1 with other content is refused at the push; v1 never moves.
    push_new_image(refused=True)
    assert tagged() == {"v1": first}
    # Pushing the same image under v1 again is not a move: it goes through.
    images.remove(ref)
    pulled = docker_cli("pull", ref, config=docker_cfg)
    assert pulled.returncode == 0 and first in pulled.stdout, pulled.stdout
    again = docker_cli("push", ref, config=docker_cfg)
    assert again.returncode == 0 and first in again.stdout, again.stderr
    images.remove(ref)
    pulled = docker_cli("pull", ref, config=docker_cfg)
    assert pulled.returncode == 0 and first in pulled.stdout, pulled.stdout

    assert ecr.put_image_tag_mutability(repositoryName=name, imageTagMutability="MUTABLE")["imageTagMutability"] \
        == "MUTABLE"
    third = push_new_image()
    wait_for(lambda: tagged() == {"v1": third}, 30, "v1 moved once tags are mutable")
    assert ecr.describe_repositories(repositoryNames=[name])["repositories"][0]["imageTagMutability"] == "MUTABLE"
    with pytest.raises(ClientError) as err:
        ecr.put_image_tag_mutability(repositoryName=name, imageTagMutability="")
    assert code(err) == "InvalidParameterException"
    assert "PutImageTagMutability" in seen
    # The same switch from the CLI; turning it on records the tags the registry holds now.
    done = shoal(cluster, "repo", "update", name, "--immutable")
    assert done.returncode == 0 and done.stdout.strip() == f"{name}: tags IMMUTABLE", done.stderr
    assert " IMMUTABLE " in shoal(cluster, "repo", "list").stdout
    push_new_image(refused=True)
    assert tagged() == {"v1": third}, "v1 stays on the image it held when immutability was turned on"
    assert shoal(cluster, "repo", "update", name).returncode != 0, "--immutable or --mutable is required"


def _registry_get(registry: str, ca: str, path: str, token: str) -> tuple[int, str]:
    answer = requests.get(f"https://{registry}{path}", headers={"Authorization": f"Bearer {token}"}, verify=ca,
                          timeout=30)
    return answer.status_code, answer.text


def test_a_deleted_key_stops_its_registry_login_and_tokens_at_once(make_cluster, busybox_image, images,
                                                                   tmp_path: Path) -> None:
    """A login from GetAuthorizationToken lives 12 hours and each registry token made from
    it 5 minutes: deleting the key must stop both, at the token endpoint and at the front."""
    cluster = make_cluster(agents=0, registry=True, ecs_port=0)
    config = json.loads(statefiles.config_path(cluster.state_dir).read_text())
    url, ca, registry = config["ecs"], config["ca"], config["registry"]
    pusher = key(cluster, user="pat", role="admin")
    ecr = ecr_client(url, ca, pusher)
    name = f"shoaltest/revoked-{secrets.token_hex(3)}"
    ecr.create_repository(repositoryName=name)
    data = ecr.get_authorization_token()["authorizationData"][0]
    password = base64.b64decode(data["authorizationToken"]).decode().partition(":")[2]
    docker_cfg = tmp_path / "docker"
    login = subprocess.run(["docker", "login", "--username", "AWS", "--password-stdin", registry], input=password,
                           capture_output=True, text=True, timeout=60,
                           env={**os.environ, "DOCKER_CONFIG": str(docker_cfg)})
    assert login.returncode == 0, login.stderr
    images.make(f"{registry}/{name}:v1")
    pushed = docker_cli("push", f"{registry}/{name}:v1", config=docker_cfg)
    assert pushed.returncode == 0, pushed.stderr
    # A registry token made from the login before the key goes, as a client holds one mid-push.
    token_url = f"https://{cluster.cluster_registry.token_listen}/token"
    got = requests.get(token_url, params={"service": "shoal-registry", "scope": f"repository:{name}:pull,push"},
                       auth=("AWS", password), verify=ca, timeout=30)
    assert got.status_code == 200, got.text
    token = got.json()["token"]
    assert _registry_get(registry, ca, f"/v2/{name}/tags/list", token)[0] == 200

    accesskeys_pb2_grpc.AccessKeysStub(cluster.channel).DeleteAccessKey(
        ak.DeleteAccessKeyRequest(access_key_id=pusher.access_key_id), timeout=10)
    status, body = wait_for(lambda: (r := _registry_get(registry, ca, f"/v2/{name}/tags/list", token))[0] != 200
                            and r, 10, "the front to refuse the deleted key's token")
    assert status == 401 and f"access key {pusher.access_key_id} was deleted" in body, body
    refused = requests.get(token_url, params={"service": "shoal-registry", "scope": f"repository:{name}:push"},
                           auth=("AWS", password), verify=ca, timeout=30)
    assert refused.status_code == 401 and f"access key {pusher.access_key_id} was deleted" in refused.text
    images.make(f"{registry}/{name}:v2")
    again = docker_cli("push", f"{registry}/{name}:v2", config=docker_cfg)
    assert again.returncode != 0, again.stdout
    assert [t for i in ecr_client(url, ca, key(cluster)).describe_images(repositoryName=name)["imageDetails"]
            for t in i.get("imageTags", [])] == ["v1"]

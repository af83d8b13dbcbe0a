"""The cluster registry against a whole local cluster: the real docker-registry (TLS from the
cluster CA, Shoal as its token issuer), the real dockerd, `docker login`/`push`/`pull` as
users run them, and a node pulling a task's image with a token from the control plane.

Images are made unique per test (the ``images`` fixture, tests/fixtures/docker.py), and only
those are removed from the shared dockerd."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import time
from pathlib import Path

import docker
import docker.errors
import grpc
import pytest

from agent.docker_runtime import DockerRuntime
from agent.runtime import PullError
from shoal import keys
from shoal.security import joining, pki, registry_issuer
from shoal.security.ca import CertificateAuthority
from shoal.security.channels import client_channel
from shoal.v1 import operator_pb2 as op
from shoal.v1 import registry_pb2 as rg
from shoal.v1 import registry_pb2_grpc, security_pb2_grpc
from shoal.v1 import security_pb2 as sec
from shoalctl.local.registry import CERTS_D
from tests.cli import shoal
from tests.fixtures.docker import Images
from tests.waiting import wait_for

pytestmark = pytest.mark.integration



def docker_cli(*args: str, config: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    # Each user its own DOCKER_CONFIG: logins never touch this machine's ~/.docker.
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "DOCKER_CONFIG": str(config)})


@pytest.fixture
def cluster(images, make_cluster, busybox_image):
    # After `images`: torn down before it, so no container still holds an image it removes.
    return make_cluster(agents=1, zones=["a"], registry=True)


def only_in_registry(cluster, images: Images, docker_client: docker.DockerClient, kind: str,
                     admin_cfg: Path) -> tuple[str, str]:
    """A fresh image in a new repository ``shoaltest/<kind>-…`` of the cluster registry,
    pushed by the admin (logged in under ``admin_cfg``) and gone from the local engine, so only
    a pull brings it back; returns the repository and the image's reference."""
    name = f"shoaltest/{kind}-{secrets.token_hex(3)}"
    ref = f"{cluster.registry_address}/{name}:v1"
    images.make(ref)
    assert shoal(cluster, "repo", "create", name).returncode == 0
    assert shoal(cluster, "registry", "login", env={"DOCKER_CONFIG": str(admin_cfg)}).returncode == 0
    assert docker_cli("push", ref, config=admin_cfg).returncode == 0
    images.remove(ref)
    with pytest.raises(docker.errors.ImageNotFound):
        docker_client.images.get(ref)
    return name, ref


def issuer_of(cluster) -> registry_issuer.Issuer:
    store = cluster.etcd_store()
    try:
        sealer = pki.sealer_for(cluster.pki_dir, create=False)
        state = pki.load(store, sealer)
        return registry_issuer.load_or_create(store, sealer, state.current)
    finally:
        store.close()


def jwt_header_b64(issuer: registry_issuer.Issuer) -> str:
    """The first part of every JWT this cluster's issuer signs: what a leaked token looks like."""
    return issuer.sign({}).split(".")[0]


def test_admin_pushes_viewer_pulls_and_cannot_push(cluster, images, tmp_path: Path) -> None:
    registry = cluster.registry_address
    assert registry and not registry.startswith("127."), "a loopback registry would be trusted without its CA"
    assert (CERTS_D / registry / "ca.crt").read_bytes() == (cluster.pki_dir / "ca.crt").read_bytes()
    admin_cfg, viewer_cfg = tmp_path / "admin-docker", tmp_path / "viewer-docker"
    name = f"shoaltest/app-{secrets.token_hex(3)}"
    ref = f"{registry}/{name}:v1"
    images.make(ref)

    login = shoal(cluster, "registry", "login", env={"DOCKER_CONFIG": str(admin_cfg)})
    assert login.returncode == 0 and f"logged in to {registry}" in login.stdout, login.stderr
    # No repository yet: the push is refused, saying what to do.
    refused = docker_cli("push", ref, config=admin_cfg)
    assert refused.returncode != 0 and "does not exist" in refused.stderr and "shoal repo create" in refused.stderr, \
        refused.stderr
    created = shoal(cluster, "repo", "create", name)
    assert created.returncode == 0 and created.stdout.strip() == f"{registry}/{name}", created.stderr
    again = shoal(cluster, "repo", "create", name)
    assert again.returncode != 0 and "already exists" in again.stderr
    bad = shoal(cluster, "repo", "create", "Upper/Case")
    assert bad.returncode != 0 and "repositoryName:" in bad.stderr
    before = time.time()
    pushed = docker_cli("push", ref, config=admin_cfg)
    assert pushed.returncode == 0, pushed.stderr
    after = time.time()
    digest = next(w for w in pushed.stdout.split() if w.startswith("sha256:"))

    # The push time arrives with the registry's notification, a moment after the push.
    listed = wait_for(lambda: (d := json.loads(shoal(cluster, "repo", "images", name, "-o", "json").stdout))
                      ["images"][0].get("pushedAt") and d, 30, "the push time recorded")
    assert [(i["digest"], i["tags"]) for i in listed["images"]] == [(digest, ["v1"])]
    assert int(listed["images"][0]["sizeBytes"]) > 64 * 1024
    assert before - 1 <= listed["images"][0]["pushedAt"] <= after + 1
    table = shoal(cluster, "repo", "images", name).stdout
    assert digest in table and " v1 " in table and "1.1 MiB" in table, table
    repos = json.loads(shoal(cluster, "repo", "list", "-o", "json").stdout)
    assert [(r["name"], r["createdBy"]) for r in repos] == [(name, "shoal:admin:admin")]

    made = shoal(cluster, "user", "create", "vera", "--role", "viewer", "--out", str(tmp_path / "vera"))
    assert made.returncode == 0, made.stderr
    viewer = {"SHOAL_CERT": str(tmp_path / "vera" / "vera.crt"), "SHOAL_KEY": str(tmp_path / "vera" / "vera.key"),
              "SHOAL_CA": str(tmp_path / "vera" / "ca.crt"), "DOCKER_CONFIG": str(viewer_cfg)}
    assert shoal(cluster, "registry", "login", env=viewer).returncode == 0
    other = f"{registry}/{name}:viewer-was-here"
    images.make(other)
    denied = docker_cli("push", other, config=viewer_cfg)
    assert denied.returncode != 0 and "denied" in denied.stderr, denied.stderr
    assert shoal(cluster, "repo", "delete", name, env=viewer).returncode != 0, "a viewer deletes nothing"
    images.remove(ref)
    pulled = docker_cli("pull", ref, config=viewer_cfg)
    assert pulled.returncode == 0 and digest in pulled.stdout, pulled.stderr
    # Nobody logged in: nothing at all.
    anonymous = docker_cli("pull", ref, config=tmp_path / "nobody")
    assert anonymous.returncode != 0 and "shoal registry login" in anonymous.stderr, anonymous.stderr

    deleted = shoal(cluster, "repo", "delete", name)
    assert deleted.returncode == 0, deleted.stderr
    assert json.loads(shoal(cluster, "repo", "list", "-o", "json").stdout) == []
    images.remove(ref)
    gone = docker_cli("pull", ref, config=admin_cfg)
    assert gone.returncode != 0, "the repository's images went with it"


def test_node_pulls_a_task_image_with_a_token_that_leaves_no_trace(cluster, images, docker_client,
                                                                   node_cleanup, tmp_path: Path) -> None:
    name, ref = only_in_registry(cluster, images, docker_client, "node", tmp_path / "admin-docker")

    api = cluster.operator
    node_cleanup.update(cluster.node_ids())
    family = f"pull-{secrets.token_hex(3)}"
    container = {"name": "app", "memory": 16, "cpu": 16, "stopTimeout": 1, "command": ["sleep", "300"]}
    for fam, image in ((family, ref), (f"{family}-missing", f"{cluster.registry_address}/{name}:no-such-tag")):
        api.RegisterTaskDefinition(op.RegisterTaskDefinitionRequest(json=json.dumps(
            {"family": fam, "containerDefinitions": [{**container, "image": image}]})))

    def describe(task_id: str):
        return api.DescribeTasks(op.DescribeTasksRequest(cluster="default", tasks=[task_id])).tasks[0]

    task_id = api.RunTask(op.RunTaskRequest(cluster="default", task_definition=family)).tasks[0].id
    task = wait_for(lambda: (t := describe(task_id)).last_status in ("RUNNING", "STOPPED") and t, 120,
                    "the task to run (its image pulled from the cluster registry)")
    assert task.last_status == "RUNNING", task.stopped_reason
    assert docker_client.images.get(ref), "the node pulled the image"

    # The token the node used is nowhere to be found: not in the container, not on disk.
    header = jwt_header_b64(issuer_of(cluster))
    [ctr] = docker_client.containers.list(all=True, filters={"label": f"shoal.task={task_id}"})
    assert header not in json.dumps(docker_client.api.inspect_container(ctr.id))
    assert "registrytoken" not in json.dumps(docker_client.api.inspect_container(ctr.id))
    agent = cluster.agent(1)
    for path in [*agent.state_dir.rglob("*"), agent.log_path, cluster.logs_dir / "controlplane.log"]:
        if path.is_file():
            assert header.encode() not in path.read_bytes(), f"a registry token in {path}"

    missing = api.RunTask(op.RunTaskRequest(cluster="default", task_definition=f"{family}-missing")).tasks[0].id
    stopped = wait_for(lambda: (t := describe(missing)).last_status == "STOPPED" and t, 120, "the task to fail")
    assert stopped.stopped_reason.startswith("CannotPullContainerError:"), stopped.stopped_reason
    assert "no-such-tag" in stopped.stopped_reason and "not found" in stopped.stopped_reason.lower(), \
        stopped.stopped_reason


def test_pulls_without_or_with_an_expired_token_fail_and_nodes_get_only_their_tasks(cluster, images) -> None:
    registry = cluster.registry_address
    name = f"shoaltest/locked-{secrets.token_hex(3)}"
    ref = f"{registry}/{name}:v1"
    images.make(ref)
    stub = registry_pb2_grpc.RegistryStub(cluster.channel)
    stub.CreateRepository(rg.CreateRepositoryRequest(name=name), timeout=10)
    issuer = issuer_of(cluster)
    access = [{"type": "repository", "name": name, "actions": ["pull", "push"]}]
    push_token = issuer.sign(registry_issuer.claims("test", "shoal-registry", 120, access=access))
    docker_client = docker.from_env(timeout=120)
    try:
        for line in docker_client.api.push(f"{registry}/{name}", tag="v1", stream=True, decode=True,
                                           auth_config={"registrytoken": push_token}):
            assert "error" not in line, line
    finally:
        docker_client.close()
    images.remove(ref)

    runtime = DockerRuntime()
    with pytest.raises(PullError, match="(?i)unauthorized|authentication required"):
        runtime.pull(ref)
    long_ago = time.time() - 3600
    expired = issuer.sign(registry_issuer.claims("shoal:node:x", "shoal-registry", 300, now=long_ago,
                                                 access=[{"type": "repository", "name": name, "actions": ["pull"]}]))
    with pytest.raises(PullError, match="(?i)unauthorized|authentication required"):
        runtime.pull(ref, {"registrytoken": expired})
    forged_issuer = registry_issuer.Issuer(*_self_signed())
    forged = forged_issuer.sign(registry_issuer.claims("shoal:admin:x", "shoal-registry", 300, access=access))
    with pytest.raises(PullError, match="(?i)unauthorized|authentication required"):
        runtime.pull(ref, {"registrytoken": forged})
    fresh = issuer.sign(registry_issuer.claims("shoal:node:x", "shoal-registry", 300,
                                               access=[{"type": "repository", "name": name, "actions": ["pull"]}]))
    runtime.pull(ref, {"registrytoken": fresh})

    # A node asks for credentials of a task that is not its own: refused.
    node = joining.load(str(cluster.agent(1).state_dir))
    assert node is not None
    with client_channel(cluster.endpoint, node.tls) as ch:
        with pytest.raises(grpc.RpcError) as err:
            registry_pb2_grpc.RegistryStub(ch).GetTaskPullCredentials(
                rg.GetTaskPullCredentialsRequest(cluster="default", task_id="not-mine"), timeout=10)
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
        # Nor through a pre-pull intent that is not its own.
        with pytest.raises(grpc.RpcError) as err:
            registry_pb2_grpc.RegistryStub(ch).GetTaskPullCredentials(
                rg.GetTaskPullCredentialsRequest(cluster="default", prepull_deployment_id="ecs-svc/not-mine"),
                timeout=10)
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "prepullDeploymentId: no pre-pull of deployment ecs-svc/not-mine" in err.value.details()
        with pytest.raises(grpc.RpcError) as err:
            registry_pb2_grpc.RegistryStub(ch).GetLoginCredential(rg.GetLoginCredentialRequest(), timeout=10)
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED, "nodes get no login credential"
    with pytest.raises(grpc.RpcError) as err:
        stub.GetTaskPullCredentials(rg.GetTaskPullCredentialsRequest(cluster="default", task_id="x"), timeout=10)
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED, "an admin is not a node"


def _self_signed():
    ca = CertificateAuthority.create()
    return ca.key, ca.cert



def test_repository_credentials_pull_with_a_secrets_user_and_password(cluster, images, docker_client,
                                                                      node_cleanup, tmp_path: Path) -> None:
    # The cluster registry stands in for "another registry": with repositoryCredentials the
    # node logs in with the secret's user name and password, as it would anywhere.
    registry = cluster.registry_address
    name = f"shoaltest/creds-{secrets.token_hex(3)}"
    ref = f"{registry}/{name}:v1"
    images.make(ref)
    stub = registry_pb2_grpc.RegistryStub(cluster.channel)
    stub.CreateRepository(rg.CreateRepositoryRequest(name=name), timeout=10)
    admin_cfg = tmp_path / "admin-docker"
    assert shoal(cluster, "registry", "login", env={"DOCKER_CONFIG": str(admin_cfg)}).returncode == 0
    assert docker_cli("push", ref, config=admin_cfg).returncode == 0
    images.remove(ref)

    cred = stub.GetLoginCredential(rg.GetLoginCredentialRequest(ttl_seconds=600), timeout=10)
    security = security_pb2_grpc.SecurityStub(cluster.channel)
    for secret, value in (("reg/good", json.dumps({"username": cred.username, "password": cred.password})),
                          ("reg/wrong", json.dumps({"username": "shoal", "password": "not-a-credential"})),
                          ("reg/shapeless", "hunter2")):
        security.PutSecret(sec.PutSecretRequest(name=secret, value=value), timeout=10)
    api = cluster.operator
    node_cleanup.update(cluster.node_ids())
    container = {"name": "app", "image": ref, "memory": 16, "cpu": 16, "stopTimeout": 1, "command": ["sleep", "300"]}
    family = f"creds-{secrets.token_hex(3)}"

    def run(parameter: str):
        fam = f"{family}-{parameter.replace('/', '-')}"
        api.RegisterTaskDefinition(op.RegisterTaskDefinitionRequest(json=json.dumps({
            "family": fam,
            "containerDefinitions": [{**container, "repositoryCredentials": {"credentialsParameter": parameter}}],
        })))
        task_id = api.RunTask(op.RunTaskRequest(cluster="default", task_definition=fam)).tasks[0].id
        return wait_for(lambda: (t := api.DescribeTasks(op.DescribeTasksRequest(cluster="default", tasks=[task_id]))
                                 .tasks[0]).last_status in ("RUNNING", "STOPPED") and t, 120, f"task with {parameter}")

    for parameter, words in (("reg/missing", "no secret 'reg/missing'"), ("reg/wrong", "login credential refused"),
                             ("reg/shapeless", "username")):
        task = run(parameter)
        assert task.last_status == "STOPPED", parameter
        assert task.stopped_reason.startswith("CannotPullContainerError:") and words in task.stopped_reason, \
            task.stopped_reason
    assert run("reg/good").last_status == "RUNNING"
    assert docker_client.images.get(ref)


def test_a_deployment_prepulls_its_image_before_its_task_is_placed(images, make_cluster, busybox_image,
                                                                   docker_client, node_cleanup,
                                                                   tmp_path: Path) -> None:
    # One node of 256 MiB held by a 200 MiB task: the service's 128 MiB task cannot be placed
    # until that one stops, as on a node a rolling update is still emptying.
    cluster = make_cluster(agents=1, zones=["a"], registry=True, extra_agent_args=["--memory-mib", "256"])
    node_cleanup.update(cluster.node_ids())
    _, ref = only_in_registry(cluster, images, docker_client, "prepull", tmp_path / "admin-docker")

    api = cluster.operator
    family = f"prepull-{secrets.token_hex(3)}"
    container = {"name": "app", "cpu": 16, "stopTimeout": 1, "command": ["sleep", "300"]}
    api.RegisterTaskDefinition(op.RegisterTaskDefinitionRequest(json=json.dumps(
        {"family": f"{family}-blocker", "containerDefinitions": [{**container, "image": busybox_image,
                                                                   "memory": 200}]})))
    api.RegisterTaskDefinition(op.RegisterTaskDefinitionRequest(json=json.dumps(
        {"family": family, "containerDefinitions": [{**container, "image": ref, "memory": 128}]})))

    def describe(task_id: str):
        return api.DescribeTasks(op.DescribeTasksRequest(cluster="default", tasks=[task_id])).tasks[0]

    blocker = api.RunTask(op.RunTaskRequest(cluster="default", task_definition=f"{family}-blocker")).tasks[0].id
    wait_for(lambda: describe(blocker).last_status == "RUNNING", 120, "the blocker to run")
    api.CreateService(op.CreateServiceRequest(cluster="default", service_name="web", task_definition=family,
                                              desired_count=1))

    def service_tasks():
        arns = api.ListTasks(op.ListTasksRequest(cluster="default", service_name="web")).arns
        return list(api.DescribeTasks(op.DescribeTasksRequest(cluster="default", tasks=list(arns))).tasks) \
            if arns else []

    wait_for(lambda: _present(docker_client, ref), 60, "the node to pre-pull the service's image")
    [waiting] = service_tasks()
    assert waiting.last_status == "PROVISIONING" and not waiting.node_id, "the image came before the task was placed"
    agent = cluster.agent(1)
    assert "pre-pulling image" in agent.log_path.read_text(), "the agent's own pre-pull, not a task's pull"
    wait_for(lambda: "image pre-pulled" in (cluster.logs_dir / "controlplane.log").read_text(), 30,
             "the node's report of the pre-pull")

    api.StopTask(op.StopTaskRequest(cluster="default", task=blocker, reason="room for the service"))
    task = wait_for(lambda: (t := describe(waiting.id)).last_status in ("RUNNING", "STOPPED") and t, 120,
                    "the service's task to start")
    assert task.last_status == "RUNNING", task.stopped_reason
    lines = agent.log_path.read_text().splitlines()
    assert any("task state" in line and f"task={waiting.id}" in line for line in lines), "the agent logs by task id"
    pulls_for_task = [line for line in lines
                      if "pulling image" in line and "pre-pulling" not in line and f"task={waiting.id}" in line]
    assert pulls_for_task == [], "the task's start did not wait for a pull"
    # The intent goes once the deployment has its task running.
    wait_for(lambda: not _prepull_keys(cluster), 60, "the pre-pull intent withdrawn")


def _present(client: docker.DockerClient, ref: str) -> bool:
    try:
        client.images.get(ref)
    except docker.errors.ImageNotFound:
        return False
    return True


def _prepull_keys(cluster) -> list[str]:
    store = cluster.etcd_store()
    try:
        return [kv.key for kv in store.list(keys.PREPULL).kvs]
    finally:
        store.close()

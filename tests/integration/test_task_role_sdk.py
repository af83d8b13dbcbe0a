"""A task's own boto3, inside its container, uses its task role with no configuration: a
real etcd, control plane (its ECS gateway listening where the Docker bridge reaches it) and
agent, and an image with Python and boto3 built here (no image registry is needed). The
task's service lists itself with the role's credentials; a write is refused with
AccessDeniedException; the container's own output says so.

The image is the host's own interpreter made into a root file system: its executable, its
standard library, boto3 and its dependencies from this environment (botocore's models
trimmed to ECS's), and the shared libraries ``ldd`` names, imported with ``docker import``
once per session. A user's image gets the cluster CA the way any image gets a private CA:
a ``COPY`` of the CA file and ``AWS_CA_BUNDLE`` naming it, the one build step this test
adds on top."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import sysconfig
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import docker.errors
import pytest

from agent import task_roles
from shoal.v1 import operator_pb2 as op
from shoal.v1 import roles_pb2 as ro
from shoal.v1 import roles_pb2_grpc
from shoalctl.local import statefiles
from tests.bridge import bridge_gateway
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six", "urllib3")
# Parts of the standard library an SDK call never imports: half its size.
STDLIB_SKIP = {"test", "idlelib", "tkinter", "turtledemo", "ensurepip", "lib2to3", "site-packages", "pydoc_data"}
READER = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["ecs:List*", "ecs:Describe*"], "Resource": "*"},
]}
# What runs in the container: boto3 with no keys, region or endpoint in code; it finds them
# in the environment ECS's agent (here Shoal's) and the task definition give it.
CODE = """
import time, traceback
try:
    import boto3, botocore.exceptions
    ecs = boto3.client("ecs")
    print("SERVICES", " ".join(ecs.list_services(cluster="default")["serviceArns"]), flush=True)
    print("CALLER", ecs.describe_services(cluster="default", services=["sdk"])["services"][0]["serviceName"],
          flush=True)
    try:
        ecs.update_service(cluster="default", service="sdk", desiredCount=0)
        print("WRITE allowed", flush=True)
    except botocore.exceptions.ClientError as exc:
        print("WRITE", exc.response["Error"]["Code"], exc.response["Error"]["Message"], flush=True)
except Exception:
    traceback.print_exc()
print("DONE", flush=True)
time.sleep(3600)
"""


def _ldd(paths: list[Path]) -> set[str]:
    """The shared libraries (and the loader) ``paths`` need, as ``ldd`` resolves them."""
    found: set[str] = set()
    for path in paths:
        out = subprocess.run(["ldd", str(path)], capture_output=True, text=True, check=False).stdout
        found.update(m.group(1) for m in re.finditer(r"(/\S+) \(0x", out))
    return found


def _package_paths() -> list[Path]:
    out = []
    for name in PACKAGES:
        spec = importlib.util.find_spec(name)
        assert spec is not None and spec.origin, f"{name} is not installed here"
        origin = Path(spec.origin)
        out.append(origin.parent if origin.name == "__init__.py" else origin)
    return out


def python_rootfs(tar_path: Path) -> None:
    """Writes a root file system with this interpreter, its standard library and boto3 to
    ``tar_path``, each file at the path it has here (so the interpreter finds its prefix)."""
    exe = Path(os.path.realpath(sys.executable))
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    # The base interpreter's own site-packages, which site.py puts on sys.path by itself.
    site = Path(sysconfig.get_paths(vars={"base": sys.base_prefix, "platbase": sys.base_prefix})["purelib"])
    dynload = sorted({*stdlib.glob("lib-dynload/*.so"), *Path(sysconfig.get_paths()["platstdlib"]).glob(
        "lib-dynload/*.so")})

    def skip(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
        rel = "/" + info.name
        if rel.startswith(str(stdlib) + "/") and not rel.startswith(str(site) + "/"):
            top = rel[len(str(stdlib)) + 1:].split("/")[0]
            if top in STDLIB_SKIP or top.startswith("config-"):
                return None
        if rel.startswith(str(site / "botocore" / "data") + "/"):
            inner = rel[len(str(site / "botocore" / "data")) + 1:]
            if "/" in inner and not inner.startswith("ecs/"):
                return None
        return info

    with tarfile.open(tar_path, "w", dereference=True) as tar:
        for path in (exe, stdlib, *map(Path, sorted(_ldd([exe, *dynload])))):
            tar.add(path, arcname=str(path).lstrip("/"), filter=skip)
        for path in _package_paths():
            tar.add(path, arcname=str(site / path.name).lstrip("/"), filter=skip)
        for name, mode in (("tmp", 0o1777),):
            info = tarfile.TarInfo(name)
            info.type, info.mode = tarfile.DIRTYPE, mode
            tar.addfile(info)
        link = tarfile.TarInfo("usr/bin/python3")
        link.type, link.linkname = tarfile.SYMTYPE, str(exe)
        tar.addfile(link)


@pytest.fixture(scope="session")
def python_image(docker_client: docker.DockerClient, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An image with Python and boto3 (``python3`` on PATH), built once per session and
    removed at its end."""
    ref = f"shoaltest/python-boto3:{secrets.token_hex(4)}"
    started = time.monotonic()
    tar_path = tmp_path_factory.mktemp("python-rootfs") / "rootfs.tar"
    python_rootfs(tar_path)
    docker_client.api.import_image(src=str(tar_path), repository=ref.split(":")[0], tag=ref.split(":")[1],
                                   changes=["ENV PATH=/usr/local/bin:/usr/bin:/bin", 'CMD ["python3"]'])
    tar_path.unlink()
    size = docker_client.images.get(ref).attrs["Size"]
    print(f"\n{ref}: built in {time.monotonic() - started:.1f} s, {size / 1e6:.0f} MB", file=sys.stderr)
    try:
        yield ref
    finally:
        with contextlib.suppress(docker.errors.NotFound):
            docker_client.images.remove(ref, force=True)


@pytest.fixture
def image_with_ca(python_image: str, docker_client: docker.DockerClient, tmp_path: Path):
    """``make(ca_path)``: the Python image plus the cluster's CA, as a user's Dockerfile
    adds a private CA (``COPY`` + ``ENV AWS_CA_BUNDLE``); removed at teardown."""
    made: list[str] = []

    def make(ca: str) -> str:
        context = tmp_path / "ca-image"
        context.mkdir()
        (context / "ca.crt").write_bytes(Path(ca).read_bytes())
        (context / "Dockerfile").write_text(f"FROM {python_image}\nCOPY ca.crt /etc/shoal/ca.crt\n"
                                            "ENV AWS_CA_BUNDLE=/etc/shoal/ca.crt\n")
        ref = f"{python_image}-ca-{secrets.token_hex(3)}"
        docker_client.images.build(path=str(context), tag=ref, rm=True, forcerm=True, pull=False)
        made.append(ref)
        return ref

    yield make
    for ref in made:
        with contextlib.suppress(docker.errors.NotFound):
            docker_client.images.remove(ref, force=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("0.0.0.0", 0))
        return s.getsockname()[1]


def test_boto3_inside_a_task_uses_its_role(make_cluster, image_with_ca, docker_client) -> None:
    gateway, port = bridge_gateway(), _free_port()
    # The ECS gateway where the task's network (Docker's default bridge, the agent's
    # default) reaches it: every address, so its certificate names the bridge's too.
    cluster = make_cluster(agents=1, ecs_port=port, prometheus=False, autoscaler=False, proxy=False,
                           extra_controlplane_args=["--ecs-listen", f"0.0.0.0:{port}"])
    ca = json.loads(statefiles.config_path(cluster.state_dir).read_text())["ca"]
    image = image_with_ca(ca)
    roles_pb2_grpc.RolesStub(cluster.channel).CreateRole(
        ro.CreateRoleRequest(name="reader", policy_document=json.dumps(READER)), timeout=10)
    api = cluster.operator
    api.RegisterTaskDefinition(op.RegisterTaskDefinitionRequest(json=json.dumps({
        "family": "sdk", "taskRoleArn": "arn:aws:iam::000000000000:role/reader",
        "containerDefinitions": [{
            "name": "app", "image": image, "memory": 256, "essential": True, "stopTimeout": 1,
            "command": ["python3", "-c", CODE],
            "environment": [{"name": "AWS_ENDPOINT_URL_ECS", "value": f"https://{gateway}:{port}"},
                            {"name": "AWS_DEFAULT_REGION", "value": "us-east-1"}]}]})))
    api.CreateService(op.CreateServiceRequest(cluster="default", service_name="sdk", task_definition="sdk",
                                              desired_count=1))

    def container():
        arns = api.ListTasks(op.ListTasksRequest(cluster="default", service_name="sdk",
                                                 desired_status="RUNNING")).arns
        found = [c for arn in arns for c in docker_client.containers.list(
            filters={"label": f"shoal.task={arn.rsplit('/', 1)[-1]}"})]
        return found[0] if found else None

    def finished():
        c = container()
        return c is not None and "DONE" in (logs := c.logs().decode()) and (c, logs)

    try:
        box, output = wait_for(finished, 180, "the task's boto3 script to finish")
    except AssertionError as exc:
        arns = api.ListTasks(op.ListTasksRequest(cluster="default", service_name="sdk")).arns
        tasks = api.DescribeTasks(op.DescribeTasksRequest(cluster="default", tasks=list(arns))).tasks if arns else []
        seen = [(t.id, t.last_status, t.stopped_reason) for t in tasks]
        logs = [c.logs().decode()[-2000:] for t in tasks for c in docker_client.containers.list(
            all=True, filters={"label": f"shoal.task={t.id}"})]
        raise AssertionError(f"{exc}; tasks: {seen}; logs: {logs}") from None
    env = dict(item.split("=", 1) for item in box.attrs["Config"]["Env"])
    # Nothing but ECS's contract, the endpoint, the region and the image's own CA bundle.
    assert not {k for k in env if k.startswith("AWS_")} - {
        "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN", "AWS_ENDPOINT_URL_ECS",
        "AWS_DEFAULT_REGION", "AWS_CA_BUNDLE"}, env
    # ECS's address, the one plain-HTTP host botocore fetches container credentials from.
    assert env["AWS_CONTAINER_CREDENTIALS_FULL_URI"].startswith(f"http://{task_roles.ECS_HOST}:"), env
    lines = {line.split(" ", 1)[0]: line for line in output.splitlines() if line}
    assert {"SERVICES", "CALLER", "WRITE"} <= lines.keys(), output
    assert lines["SERVICES"].endswith(":service/default/sdk"), output
    assert lines["CALLER"] == "CALLER sdk", output
    assert lines["WRITE"].startswith("WRITE AccessDeniedException "), output
    assert "assumed-role/reader/" in lines["WRITE"] and "ecs:UpdateService" in lines["WRITE"], output
    # The refused write changed nothing.
    described = api.DescribeServices(op.DescribeServicesRequest(cluster="default", services=["sdk"])).services[0]
    assert described.desired_count == 1

"""An image pushed once reaches every lab host through the cluster registry: two hosts, each
with its own dockerd (own data root and socket), a DAEMON service of an image no engine has,
and each host's engine pulling it over TLS (the cluster CA, no insecure-registries) with the
short-lived token its agent got from the control plane. The same engine, asked by someone
holding no credentials, is refused.

Each host's engine runs inside that host's network namespace: its pulls leave from the host's
address over the host's link, so cutting the link (the lab's partition) cuts that host's pulls
and no other's, and healing it lets them through again.

The image is made here, unique to the run, pushed from the shared dockerd and removed from it;
the private dockerds and their data go with the lab."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import docker
import docker.errors
import pytest

from agent.docker_runtime import DockerRuntime
from agent.pulls import ImagePuller, ImagePullFailed
from shoal.v1 import operator_pb2 as op
from shoal.v1 import registry_pb2 as rg
from shoal.v1 import registry_pb2_grpc
from shoal.v1 import resources_pb2 as r
from shoalctl.images import DEFAULT_TAG
from shoalctl.lab.lab import Lab
from shoalctl.local.registry import CERTS_D
from tests.cli import ok, shoal
from tests.fixtures.docker import Images
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

HOSTS = (1, 2)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory, busybox_image: str) -> Iterator[Lab]:
    the_lab = Lab(tmp_path_factory.mktemp("labreg") / "lab", hosts=len(HOSTS), private_dockerd=HOSTS,
                  registry=True, dns=False, gc_delay=1.0, prometheus=False, autoscaler=False)
    try:
        the_lab.start(timeout=240)
        yield the_lab
    finally:
        the_lab.stop()


@pytest.fixture
def image(lab: Lab, docker_client: docker.DockerClient) -> Iterator[str]:
    """A unique image in the shared dockerd, named for the cluster registry; removed after."""
    ref = f"{lab.cluster.registry_address}/shoaltest/labpull-{secrets.token_hex(3)}:v1"
    made = Images(docker_client)
    made.make(ref)
    yield ref
    made.cleanup()


def engine(lab: Lab, number: int) -> docker.DockerClient:
    return docker.DockerClient(base_url=lab.dockerds[number].socket_url, timeout=120)


def repo_digests(lab: Lab, number: int, ref: str) -> list[str] | None:
    client = engine(lab, number)
    try:
        return client.images.get(ref).attrs.get("RepoDigests") or []
    except docker.errors.ImageNotFound:
        return None
    finally:
        client.close()


def docker_cli(*args: str, config: Path, host: str | None = None) -> subprocess.CompletedProcess[str]:
    # Each caller its own DOCKER_CONFIG: logins never touch this machine's ~/.docker.
    env = {k: v for k, v in os.environ.items() if k != "DOCKER_HOST"}
    return subprocess.run(["docker", *(["-H", host] if host else []), *args], capture_output=True, text=True,
                          timeout=120, env={**env, "DOCKER_CONFIG": str(config)})


def push_once(lab: Lab, image: str, docker_client: docker.DockerClient, tmp_path: Path) -> str:
    """Creates the image's repository, pushes it with an admin's login, removes it from the
    shared dockerd; returns the pushed digest."""
    registry = lab.cluster.registry_address
    name = image.removeprefix(f"{registry}/").rpartition(":")[0]
    ok(lab.cluster, "repo", "create", name)
    admin_cfg = tmp_path / "admin-docker"
    login = shoal(lab.cluster, "registry", "login", env={"DOCKER_CONFIG": str(admin_cfg)})
    assert login.returncode == 0, login.stderr
    pushed = docker_cli("push", image, config=admin_cfg)
    assert pushed.returncode == 0, pushed.stderr
    docker_client.images.remove(image, force=True)
    return next(w for w in pushed.stdout.split() if w.startswith("sha256:"))


def test_an_image_pushed_once_is_pulled_by_every_host_and_refused_without_credentials(
        lab: Lab, image: str, docker_client: docker.DockerClient, tmp_path: Path) -> None:
    registry = lab.cluster.registry_address
    assert registry and registry.split(":")[0] == lab.network.gateway, "the registry listens on the lab bridge"
    ca = CERTS_D / registry / "ca.crt"
    assert ca.read_bytes() == (lab.cluster.pki_dir / "ca.crt").read_bytes(), "engines trust it through the CA"
    # From inside each host's namespace: the registry answers over TLS checked against the CA
    # alone, and wants a token (401).
    for number in HOSTS:
        probe = subprocess.run(["ip", "netns", "exec", lab.network.hosts[number].netns, "curl", "-s", "-o",
                                "/dev/null", "-w", "%{http_code}", "--cacert", str(ca), f"https://{registry}/v2/"],
                               capture_output=True, text=True, timeout=30)
        assert probe.stdout == "401", (number, probe.stdout, probe.stderr)

    # One push, from the shared dockerd, with an admin's login.
    name = image.removeprefix(f"{registry}/").rpartition(":")[0]
    digest = push_once(lab, image, docker_client, tmp_path)
    for number in HOSTS:
        assert repo_digests(lab, number, image) is None, f"host {number}'s engine had the image before"

    # A DAEMON service: one task per host, each started by that host's own engine.
    api = lab.cluster.operator
    family = f"labpull-{secrets.token_hex(3)}"
    api.RegisterTaskDefinition(op.RegisterTaskDefinitionRequest(json=json.dumps({"family": family,
        "containerDefinitions": [{"name": "app", "image": image, "memory": 16, "cpu": 16, "stopTimeout": 1,
                                  "command": ["sleep", "300"]}]})))
    api.CreateService(op.CreateServiceRequest(cluster="default", service_name="everywhere",
                                              task_definition=family, scheduling_strategy="DAEMON"))

    def running() -> list:
        arns = list(api.ListTasks(op.ListTasksRequest(cluster="default", service_name="everywhere")).arns)
        tasks = api.DescribeTasks(op.DescribeTasksRequest(cluster="default", tasks=arns)).tasks if arns else []
        stopped = [t.stopped_reason for t in tasks if t.last_status == "STOPPED"]
        assert not stopped, f"a task stopped: {stopped}"
        return [t for t in tasks if t.last_status == "RUNNING"]

    tasks = wait_for(lambda: len(r := running()) == len(HOSTS) and r, 150, "a task running on every host")
    assert len({t.node_id for t in tasks}) == len(HOSTS)
    for number in HOSTS:
        digests = repo_digests(lab, number, image)
        assert digests == [f"{image.rpartition(':')[0]}@{digest}"], f"host {number}'s engine pulled it: {digests}"
        client = engine(lab, number)
        try:
            here = client.containers.list(filters={"label": "shoal.task"})
            assert {c.labels["shoal.task"] for c in here} & {t.id for t in tasks}, f"no task on host {number}"
        finally:
            client.close()
    assert not docker_client.images.list(name=image.rpartition(":")[0]), "the shared dockerd pulled nothing"

    # Pushed once: the registry holds that one image, which every host pulled.
    held = json.loads(ok(lab.cluster, "repo", "images", name, "-o", "json"))["images"]
    assert [(i["digest"], i["tags"]) for i in held] == [(digest, ["v1"])]

    # The same engine, asked by a caller without credentials: refused by the registry.
    socket = lab.dockerds[HOSTS[0]].socket_url
    anonymous = docker_cli("pull", image, config=tmp_path / "nobody", host=socket)
    assert anonymous.returncode != 0, anonymous.stdout
    assert "unauthorized" in anonymous.stderr and "shoal registry login" in anonymous.stderr, anonymous.stderr
    client = engine(lab, HOSTS[1])
    try:
        with pytest.raises(docker.errors.APIError, match="(?i)unauthorized|authentication required|login"):
            client.images.pull(image)
    finally:
        client.close()


def test_a_cut_link_cuts_that_hosts_pulls_and_no_others(lab: Lab, image: str, docker_client: docker.DockerClient,
                                                         tmp_path: Path) -> None:
    cut, other = HOSTS
    for number in HOSTS:
        pid = lab.dockerds[number].pid
        assert pid, f"host {number}'s dockerd is not running"
        netns = Path("/run/netns", lab.network.hosts[number].netns)
        assert os.stat(f"/proc/{pid}/ns/net").st_ino == netns.stat().st_ino, \
            f"host {number}'s dockerd runs outside the host's network namespace"
    push_once(lab, image, docker_client, tmp_path)
    cred = registry_pb2_grpc.RegistryStub(lab.cluster.channel).GetLoginCredential(
        rg.GetLoginCredentialRequest(ttl_seconds=600), timeout=10)
    auth = {"username": cred.username, "password": cred.password, "serveraddress": cred.registry}
    # The agent's own pull path (agent/pulls.py over its Docker runtime layer), against each
    # host's engine, with credentials the registry accepts: only the network differs.
    pullers = {n: ImagePuller(DockerRuntime(lab.dockerds[n].socket_url, timeout=120), None, 3600) for n in HOSTS}
    task = r.Task(id="labpull-partition", cluster="default")

    def pull(number: int) -> str:
        """"" once the host's engine has the image, else what the agent would report."""
        try:
            pullers[number].ensure(task, [image], lambda _t: {image: auth})
        except ImagePullFailed as exc:
            return f"CannotPullContainerError: {exc}"
        return ""

    lab.partition(cut)
    try:
        failed = pull(cut)
        assert failed.startswith(f"CannotPullContainerError: pull image {image}: "), failed
        # The engine's own words: it could not reach the registry's address.
        assert lab.cluster.registry_address.split(":")[0] in failed, failed
        assert any(w in failed.lower() for w in ("timeout", "no route to host", "unreachable")), failed
        assert repo_digests(lab, cut, image) is None, "the cut host's engine got the image anyway"
        assert pull(other) == "", "a host whose link is up pulls while another's is cut"
    finally:
        lab.heal(cut)
    # Healed: the same pull goes through (the first tries may meet the link still coming up).
    wait_for(lambda: pull(cut) == "", 90, "the healed host's engine pulled the image")
    assert repo_digests(lab, cut, image), "the healed host's engine has the image"
    for puller in pullers.values():
        puller.runtime.client.close()


def test_a_hosts_own_engine_publishes_on_the_hosts_address_and_its_containers_reach_the_lab(lab: Lab) -> None:
    """Bridge-mode task networking on an engine inside a host's namespace: a published port
    answers at the host's address from another host, and a container reaches another host's
    published port (masqueraded as its host: the engine's own iptables rules are off)."""
    clients = {n: engine(lab, n) for n in HOSTS}
    started = []
    try:
        ports = {}
        for n, client in clients.items():
            c = client.containers.run(DEFAULT_TAG, ["httpd", "-f", "-p", "8080", "-h", "/www"], detach=True,
                                      ports={"8080/tcp": None}, labels={"shoal.test": "labnet"})
            started.append(c)
            c.reload()
            ports[n] = int(c.attrs["NetworkSettings"]["Ports"]["8080/tcp"][0]["HostPort"])
        one, two = HOSTS
        address = {n: lab.network.hosts[n].address for n in HOSTS}

        def curl_from(ns_host: int, target: int) -> str:
            out = subprocess.run(["ip", "netns", "exec", lab.network.hosts[ns_host].netns, "curl", "-s", "-m", "5",
                                  f"http://{address[target]}:{ports[target]}/"], capture_output=True, text=True,
                                 timeout=30)
            return out.stdout

        wait_for(lambda: curl_from(two, one) == "shoal busybox\n", 60, "host 1's task answering at host 1's address")
        # busybox's static wget crashes resolving; nc speaks the HTTP it needs.
        request = f"printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 {address[two]} {ports[two]}"
        got = started[0].exec_run(["sh", "-c", request])
        assert got.exit_code == 0 and got.output.endswith(b"shoal busybox\n"), got
    finally:
        for c in started:
            with contextlib.suppress(docker.errors.APIError):
                c.remove(force=True)
        for client in clients.values():
            client.close()

"""`shoal node install-script`'s script, run as root in a container made from the minimal
Debian 12 rootfs the Vagrant lab test builds (and caches): it writes the real /etc and /var
paths, takes the node name from the container's hostname, changes nothing on a second run and
refuses another cluster. apt-get, dpkg-query, systemctl and python3 are the stubs of
tests/fixtures/host_stubs.py (no systemd runs in a container, and docker.io and a real pip
install are the lab test's job); the stubs log every command line, so the test also sees that
the join token was on none."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

import docker
import docker.errors
import docker.models.containers
import pytest

from shoalctl.anywhere import HostSettings, render
from tests.fixtures.host_stubs import write_stubs
from tests.integration.test_vagrant_lab import ensure_rootfs_tar

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
TOKEN = "SHL1container.0123456789-secret"
ENV = {"PATH": "/opt/stubs:/usr/sbin:/usr/bin:/sbin:/bin", "SHOAL_STUB_LOG": "/tmp/calls.log",
       "SHOAL_STUB_STATE": "/tmp/stub-state"}


@pytest.fixture(scope="module")
def host(docker_client: docker.DockerClient,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[docker.models.containers.Container]:
    tar = ensure_rootfs_tar()
    repository, tag = "shoal-test/bookworm-install", uuid.uuid4().hex[:12]
    docker_client.api.import_image_from_file(str(tar), repository=repository, tag=tag)
    work = tmp_path_factory.mktemp("install")
    write_stubs(work / "stubs")
    for cluster in ("prod", "staging"):
        (work / f"install-{cluster}.sh").write_text(render(HostSettings(
            token=TOKEN, join="10.0.0.5:7400", package="shoal==0.1.0", cluster=cluster,
            attributes={"shoal.capacity-provider": "onprem"})))
    container = None
    try:
        container = docker_client.containers.run(
            f"{repository}:{tag}", ["sleep", "infinity"], detach=True, hostname="edge-7",
            volumes={str(work / "stubs"): {"bind": "/opt/stubs", "mode": "ro"},
                     str(work): {"bind": "/opt/install", "mode": "ro"}},
            labels={"shoal.test": "install-script"}, network_mode="none")
        container.exec_run(["mkdir", "-p", "/tmp/stub-state"])
        yield container
    finally:
        if container is not None:
            container.remove(force=True)
        with suppress(docker.errors.NotFound):
            docker_client.images.remove(f"{repository}:{tag}", force=True)


def run(host: docker.models.containers.Container, *cmd: str) -> tuple[int, str]:
    code, out = host.exec_run(list(cmd), environment=ENV)
    return code, out.decode(errors="replace")


def calls(host: docker.models.containers.Container) -> list[str]:
    _, out = run(host, "sh", "-c", "cat /tmp/calls.log 2>/dev/null; rm -f /tmp/calls.log")
    return out.splitlines()


@pytest.mark.timeout(300)
def test_the_install_script_as_root_in_a_debian_container(host: docker.models.containers.Container) -> None:
    code, out = run(host, "bash", "/opt/install/install-prod.sh")
    assert code == 0, out
    first = calls(host)
    assert any(c.startswith("apt-get install") and c.endswith("ca-certificates python3-venv docker.io")
               for c in first), first
    assert "python3 -m venv /opt/shoal-venv" in first and "systemctl restart shoal-agent" in first
    assert not any(TOKEN in c for c in first)

    code, env = run(host, "cat", "/etc/default/shoal-agent")
    assert code == 0
    assert ('SHOAL_AGENT_ARGS="--join 10.0.0.5:7400 --cluster prod --name edge-7 '
            '--attribute shoal.capacity-provider=onprem"') in env.splitlines()
    assert f"SHOAL_JOIN_TOKEN={TOKEN}" in env.splitlines()
    _, modes = run(host, "stat", "-c", "%a %U %n", "/etc/default/shoal-agent",
                   "/etc/systemd/system/shoal-agent.service")
    assert modes.split("\n")[:2] == ["600 root /etc/default/shoal-agent",
                                     "644 root /etc/systemd/system/shoal-agent.service"]
    _, unit = run(host, "cat", "/etc/systemd/system/shoal-agent.service")
    assert unit == (REPO / "deploy/systemd/shoal-agent.service").read_text()
    code, out = run(host, "/opt/shoal-venv/bin/shoal", "agent", "--help")
    assert code == 0  # the (stub) package's entry point is where the unit runs it from

    code, out = run(host, "bash", "/opt/install/install-prod.sh")
    assert code == 0 and "unchanged: shoal-agent already configured for cluster prod" in out, out
    again = calls(host)
    assert not any(c.startswith(("apt-get", "python3", "venv-python", "systemctl restart")) for c in again), again

    code, out = run(host, "bash", "/opt/install/install-staging.sh")
    assert code == 1 and "already installed for cluster 'prod', not 'staging'" in out, out
    assert calls(host) == []
    _, still = run(host, "cat", "/etc/default/shoal-agent")
    assert still == env

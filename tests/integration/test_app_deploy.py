"""`shoal app deploy` as a user runs it, against `shoal up` with its registry: a local image
(busybox httpd serving its version) becomes a URL; run again with the same image nothing
changes; with a new image the app rolls to it with no failed request; `shoal app delete`
removes what deploy made. Images are made here, unique per run, and only those removed."""

from __future__ import annotations

import contextlib
import io
import json
import os
import secrets
import shutil
import subprocess
import sys
import tarfile
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import docker
import docker.errors
import pytest

from shoal.netutil import free_port
from shoalctl.images import rootfs_tar
from shoalctl.local import statefiles, teardown
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def shoal(state: Path, *args: str, timeout: float = 400) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO), SHOAL_STATE_DIR=str(state))
    env.pop("SHOAL_ENDPOINT", None)
    return subprocess.run([sys.executable, "-m", "shoalctl", *args], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=REPO)


def make_app_image(client: docker.DockerClient, ref: str, version: str, port: int = 8080) -> str:
    """busybox httpd on ``port`` answering ``version``."""
    buf = io.BytesIO(rootfs_tar())
    with tarfile.open(fileobj=buf, mode="a") as tar:
        data = f"{version}\n".encode()
        info = tarfile.TarInfo("srv/app/index.html")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    repository, _, tag = ref.rpartition(":")
    cmd = f'CMD ["httpd", "-f", "-p", "{port}", "-h", "/srv/app"]'
    client.api.import_image_from_data(buf.getvalue(), repository=repository, tag=tag, changes=[cmd, "ENV PATH=/bin"])
    return client.images.get(ref).id


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return resp.read().decode().strip()


@pytest.fixture
def made(docker_client) -> Iterator[set[str]]:
    ids: set[str] = set()
    yield ids
    for image_id in ids:  # by id: every tag deploy gave it goes too
        with contextlib.suppress(docker.errors.ImageNotFound, docker.errors.APIError):
            docker_client.images.remove(image_id, force=True)


@pytest.fixture
def up(tmp_path: Path, busybox_image) -> Iterator[Path]:
    state = tmp_path / "state"
    try:
        done = shoal(state, "up", "--detach", "--state-dir", str(state), "--port", str(free_port()),
                     "--metrics-port", str(free_port()), "--ecs-port", str(free_port()), "--console-port", "-1",
                     "--no-prometheus", "--no-sample", "--agents", "1", "--lease-ttl", "4", "--registry-port", "0",
                     timeout=300)
        assert done.returncode == 0, f"shoal up failed:\n{done.stdout}\n{done.stderr}"
        yield state
    finally:
        if statefiles.pids_path(state).exists():
            down = shoal(state, "down", "--state-dir", str(state), timeout=180)
            if down.returncode != 0 and statefiles.pids_path(state).exists():
                teardown.stop_recorded(state)


def test_app_deploy_serves_rolls_a_new_image_and_delete_removes_it(up: Path, docker_client, made) -> None:
    name = f"hello{secrets.token_hex(2)}"
    v1, v2 = f"shoaltest/{name}:v1", f"shoaltest/{name}:v2"
    made.add(make_app_image(docker_client, v1, "hello v1"))
    made.add(make_app_image(docker_client, v2, "hello v2"))

    first = shoal(up, "app", "deploy", v1, "--name", name, "--port", "8080", "--cpu", "32", "--memory", "32",
                  "--min", "2", "--max", "4")
    assert first.returncode == 0, first.stdout + first.stderr
    url = first.stdout.strip().splitlines()[-1]
    assert url.startswith("http://") and f"task definition {name}:1" in first.stdout, first.stdout
    registry = json.loads(statefiles.config_path(up).read_text())["registry"]
    assert f"as {registry}/apps/{name}:" in first.stdout, "the local image went to the cluster registry"
    assert wait_for(lambda: _answer(url) == "hello v1", 30, "the URL serving v1")

    again = shoal(up, "app", "deploy", v1, "--name", name, "--port", "8080", "--cpu", "32", "--memory", "32",
                  "--min", "2", "--max", "4")
    assert again.returncode == 0 and again.stdout.strip().splitlines()[-1] == url, again.stdout + again.stderr
    assert "task definition" not in again.stdout and "rolling" not in again.stdout, "the same image changes nothing"

    with Load(url) as load:
        second = shoal(up, "app", "deploy", v2, "--name", name, "--port", "8080", "--cpu", "32", "--memory", "32",
                       "--min", "2", "--max", "4")
        assert second.returncode == 0, second.stdout + second.stderr
        assert f"task definition {name}:2" in second.stdout and "rolling deployment" in second.stdout, second.stdout
        wait_for(lambda: load.answers[-20:] == ["hello v2"] * 20, 30, "only v2 answering")
    assert not load.failures, f"{len(load.failures)} failed of {len(load.answers)}: {load.failures[:3]}"
    assert {"hello v1", "hello v2"} <= set(load.answers) <= {"hello v1", "hello v2"}

    # An image that does not listen on --port: its tasks fail the health check, the deploy
    # fails saying so and rolls back; v2 serves throughout.
    v3 = f"shoaltest/{name}:v3"
    made.add(make_app_image(docker_client, v3, "hello v3", port=9090))
    with Load(url) as load:
        third = shoal(up, "app", "deploy", v3, "--name", name, "--port", "8080", "--cpu", "32", "--memory", "32",
                      "--min", "2", "--max", "4")
    assert third.returncode == 1, third.stdout + third.stderr
    assert f"deployment of {name}:3 failed: Task failed ELB health checks" in third.stderr, third.stderr
    assert f"rolled back to {name}:2" in third.stderr, third.stderr
    assert not load.failures, f"{len(load.failures)} failed of {len(load.answers)}: {load.failures[:3]}"
    assert set(load.answers) == {"hello v2"}
    moved = shoal(up, "app", "deploy", v2, "--name", name, "--port", "9090")
    assert moved.returncode == 1 and f"--port: {name} serves on container port 8080" in moved.stderr, moved.stderr

    deleted = shoal(up, "app", "delete", name)
    assert deleted.returncode == 0, deleted.stdout + deleted.stderr
    assert "service" in deleted.stdout and "load balancer" in deleted.stdout and "target group" in deleted.stdout
    wait_for(lambda: _answer(url) is None, 30, "the URL gone")
    assert shoal(up, "service", "list").stdout.count(name) == 0
    gone = shoal(up, "app", "delete", name)
    assert gone.returncode != 0 and f"no app {name}" in gone.stderr


class Load:
    """Requests the URL in a loop until the block ends: what answered, what failed."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.answers: list[str] = []
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.answers.append(get(self.url))
            except (urllib.error.URLError, OSError) as exc:
                self.failures.append(str(exc))

    def __enter__(self) -> Load:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def _answer(url: str) -> str | None:
    try:
        return get(url)
    except (urllib.error.URLError, OSError):
        return None


def test_app_deploy_builds_a_directory_and_redeploys_an_edit(up: Path, docker_client, made, tmp_path: Path) -> None:
    """examples/hello from its directory: built by the local engine, pushed, served; an
    edit of its page, deployed again, rolls the new version with no failed request. A
    Dockerfile that fails shows the build's own error and deploys nothing."""
    name = f"hello{secrets.token_hex(2)}"
    app = tmp_path / name  # a copy: the edit must not touch the repository's example
    shutil.copytree(REPO / "examples" / "hello", app)
    sizes = ("--cpu", "32", "--memory", "32", "--min", "2", "--max", "3")

    def built() -> None:
        made.add(docker_client.images.get(f"shoal-app/{name}:latest").id)

    first = shoal(up, "app", "deploy", str(app), *sizes)
    with contextlib.suppress(docker.errors.ImageNotFound):
        built()
    assert first.returncode == 0, first.stdout + first.stderr
    assert f"built {app} as sha256:" in first.stdout and f"task definition {name}:1" in first.stdout, first.stdout
    registry = json.loads(statefiles.config_path(up).read_text())["registry"]
    assert f"as {registry}/apps/{name}:" in first.stdout, "the built image went to the cluster registry"
    url = first.stdout.strip().splitlines()[-1]
    assert wait_for(lambda: _answer(url) == "hello from shoal v1", 60, "the URL serving the example")

    (app / "index.html").write_text("hello from shoal v2\n")
    with Load(url) as load:
        second = shoal(up, "app", "deploy", str(app), *sizes)
        with contextlib.suppress(docker.errors.ImageNotFound):
            built()
        assert second.returncode == 0, second.stdout + second.stderr
        assert f"task definition {name}:2" in second.stdout and "rolling deployment" in second.stdout, second.stdout
        wait_for(lambda: load.answers[-20:] == ["hello from shoal v2"] * 20, 60, "only the edit answering")
    assert not load.failures, f"{len(load.failures)} failed of {len(load.answers)}: {load.failures[:3]}"
    assert set(load.answers) == {"hello from shoal v1", "hello from shoal v2"}

    broken = tmp_path / f"broken{secrets.token_hex(2)}"
    broken.mkdir()
    (broken / "Dockerfile").write_text("FROM shoal/busybox:latest\nRUN [\"/bin/sh\", \"-c\", \"echo no-such-step >&2; "
                                       "exit 7\"]\n")
    failed = shoal(up, "app", "deploy", str(broken), *sizes)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert f"docker build {broken} failed" in failed.stderr and "returned a non-zero code: 7" in failed.stderr, \
        failed.stderr
    listed = shoal(up, "service", "list").stdout + shoal(up, "taskdef", "list").stdout
    assert broken.name not in listed, "a failed build deploys nothing"
    nodir = shoal(up, "app", "deploy", str(tmp_path / "missing-dir"))
    assert nodir.returncode != 0 and "--name: required when deploying an image" in nodir.stderr, nodir.stderr

    deleted = shoal(up, "app", "delete", name)
    assert deleted.returncode == 0, deleted.stdout + deleted.stderr

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

from shoal.netutil import free_ports
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
    """busybox httpd on ``port`` answering ``version``, logging each request's path (-vv)."""
    buf = io.BytesIO(rootfs_tar())
    with tarfile.open(fileobj=buf, mode="a") as tar:
        data = f"{version}\n".encode()
        info = tarfile.TarInfo("srv/app/index.html")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    repository, _, tag = ref.rpartition(":")
    cmd = f'CMD ["httpd", "-f", "-vv", "-p", "{port}", "-h", "/srv/app"]'
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
    api, metrics, ecs = free_ports(3)
    try:
        done = shoal(state, "up", "--detach", "--state-dir", str(state), "--port", str(api),
                     "--metrics-port", str(metrics), "--ecs-port", str(ecs), "--console-port", "-1",
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

    v1_tasks = _status_and_logs(up, name, url)
    with _Follow(up, name) as follower:  # from before the redeploy: v2's tasks must join it
        with Load(url) as load:
            second = shoal(up, "app", "deploy", v2, "--name", name, "--port", "8080", "--cpu", "32", "--memory",
                           "32", "--min", "2", "--max", "4")
            assert second.returncode == 0, second.stdout + second.stderr
            assert f"task definition {name}:2" in second.stdout, second.stdout
            assert "rolling deployment" in second.stdout, second.stdout
            wait_for(lambda: load.answers[-20:] == ["hello v2"] * 20, 30, "only v2 answering")
        assert not load.failures, f"{len(load.failures)} failed of {len(load.answers)}: {load.failures[:3]}"
        assert {"hello v1", "hello v2"} <= set(load.answers) <= {"hello v1", "hello v2"}
        # `app logs --follow`, started before the redeploy, has taken in v2's tasks as they came.
        v2_tasks = {t["taskId"][:12] for t in _status(up, name)["tasks"]} - v1_tasks
        assert v2_tasks, "the redeploy started new tasks"
        get(url + "index.html")
        wait_for(lambda: any(line[:12] in v2_tasks and "url:/index.html" in line
                             for line in follower.text().splitlines()), 60, "a v2 task's request in `app logs -f`")

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


def _status(state: Path, name: str) -> dict:
    done = shoal(state, "app", "status", name, "-o", "json")
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)


def _status_and_logs(state: Path, name: str, url: str) -> set[str]:
    """`app status` names the URL, the tasks with their node and health, the scaling range;
    `app logs` shows a request served just now, prefixed with the task that served it.
    Returns the tasks' short ids."""
    wait_for(lambda: [t["targetHealth"] for t in _status(state, name)["tasks"]] == ["healthy"] * 2, 60,
             "both tasks healthy in `app status`")
    doc = _status(state, name)
    assert url in doc["urls"] and (doc["runningCount"], doc["desiredCount"]) == (2, 2), doc
    assert doc["deployments"][0]["rolloutState"] == "COMPLETED", doc["deployments"]
    assert doc["scaling"] == {"minCapacity": 2, "maxCapacity": 4, "metric": "ECSServiceAverageCPUUtilization",
                              "targetValue": 70.0}, doc["scaling"]
    tasks = {t["taskId"][:12] for t in doc["tasks"]}
    assert all(t["node"] and t["lastStatus"] == "RUNNING" for t in doc["tasks"]), doc["tasks"]
    table = shoal(state, "app", "status", name)
    assert table.returncode == 0 and url in table.stdout and all(t in table.stdout for t in tasks), table.stdout
    assert "running=2 pending=0 desired=2" in table.stdout and "scaling 2-4" in table.stdout, table.stdout
    assert "COMPLETED" in table.stdout and "healthy" in table.stdout, table.stdout

    assert get(url + "index.html").startswith("hello v1")

    def served() -> str:
        done = shoal(state, "app", "logs", name)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    wait_for(lambda: any(line[:12] in tasks and line[12:15] == " | " and "url:/index.html" in line
                         for line in served().splitlines()), 30, "the request in `app logs`")
    lines = served().splitlines()
    assert {line[:12] for line in lines} == tasks, "every line names one of the app's running tasks"
    tailed = shoal(state, "app", "logs", name, "--tail", "1")
    assert tailed.returncode == 0 and len(tailed.stdout.splitlines()) == 2, tailed.stdout + tailed.stderr
    for verb in ("status", "logs"):
        unknown = shoal(state, "app", verb, f"{name}x")
        assert unknown.returncode == 1 and f"no app {name}x in cluster default" in unknown.stderr, unknown.stderr
    return tasks


class _Follow:
    """`shoal app logs NAME --follow` running in the background until the block ends."""

    def __init__(self, state: Path, name: str) -> None:
        self._out = state.parent / f"follow-{name}.log"
        env = dict(os.environ, PYTHONPATH=str(REPO), SHOAL_STATE_DIR=str(state))
        env.pop("SHOAL_ENDPOINT", None)
        with self._out.open("wb") as out:
            self._proc = subprocess.Popen([sys.executable, "-m", "shoalctl", "app", "logs", name, "--follow"],
                                          stdout=out, stderr=subprocess.STDOUT, env=env, cwd=REPO)

    def text(self) -> str:
        return self._out.read_text(errors="replace")

    def __enter__(self) -> _Follow:
        return self

    def __exit__(self, *exc: object) -> None:
        self._proc.terminate()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


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

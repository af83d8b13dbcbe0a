"""Issue 7's container-level features in real containers on the real dockerd, through a
whole local cluster (etcd, control plane, one agent): dependsOn order, a volume shared by a
task's containers, volumesFrom, ulimits, the init process, host volumes, stopTimeout and
the container restart policy."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import docker
import docker.errors
import pytest

from shoal.v1 import operator_pb2 as op
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

IMAGE = "shoal/busybox:latest"


def container(name: str, command: str, **extra) -> dict:
    c = {"name": name, "image": IMAGE, "memory": 16, "cpu": 16, "command": ["sh", "-c", command], "stopTimeout": 2}
    c.update(extra)
    return c


def register(api, family: str, containers: list[dict], **extra) -> str:
    doc = {"family": family, "containerDefinitions": containers, **extra}
    td = api.RegisterTaskDefinition(op.RegisterTaskDefinitionRequest(json=json.dumps(doc))).task_definition
    return f"{td.family}:{td.revision}"


def run(api, taskdef: str) -> str:
    return api.RunTask(op.RunTaskRequest(cluster="default", task_definition=taskdef)).tasks[0].id


def describe(api, task_id: str):
    return api.DescribeTasks(op.DescribeTasksRequest(cluster="default", tasks=[task_id])).tasks[0]


def status_is(api, task_id: str, status: str):
    t = describe(api, task_id)
    return t if t.last_status == status else None


def docker_container(client: docker.DockerClient, task_id: str, name: str):
    found = client.containers.list(all=True, filters={"label": [f"shoal.task={task_id}", f"shoal.container={name}"]})
    return found[0] if found else None


def stamp(text: str) -> float:
    """Docker's RFC 3339 nanosecond times -> epoch seconds (0 for "never")."""
    if text.startswith("0001-"):
        return 0.0
    head, _, frac = text.rstrip("Z").partition(".")
    return datetime.fromisoformat(f"{head}.{(frac + '000000')[:6]}+00:00").timestamp()


def execute(c, command: str) -> str:
    code, out = c.exec_run(["sh", "-c", command])
    assert code == 0, f"{command!r} in {c.name}: exit {code}: {out!r}"
    return out.decode().strip()


@pytest.fixture
def cluster(make_cluster, busybox_image, docker_client, tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    # Host volumes only under this run's temporary directory (test_host_volume_bind_mount's).
    allowed = str(tmp_path_factory.getbasetemp())
    c = make_cluster(agents=1, zones=["a"], extra_controlplane_args=["--allow-host-volumes", allowed],
                     extra_agent_args=["--max-restart-attempt-period", "2", "--start-timeout", "60"])
    try:
        yield c
    finally:
        # Volumes outlive containers: stop the cluster (removing its containers; stopping
        # twice is safe) and then remove every volume its node made.
        node_ids = c.node_ids()
        c.stop()
        for node_id in node_ids:
            for v in docker_client.volumes.list(filters={"label": f"shoal.node={node_id}"}):
                with contextlib.suppress(docker.errors.APIError):
                    v.remove(force=True)


def test_depends_on_shared_volume_volumes_from_ulimits_and_init(cluster, docker_client) -> None:
    api = cluster.operator
    td = register(api, "features", [
        container("init", "echo hello from init > /data/msg && sleep 1", essential=False,
                  mountPoints=[{"sourceVolume": "scratch", "containerPath": "/data"}]),
        container("app", "exec sleep 3600",
                  dependsOn=[{"containerName": "init", "condition": "SUCCESS"}],
                  mountPoints=[{"sourceVolume": "scratch", "containerPath": "/data", "readOnly": True}],
                  ulimits=[{"name": "nofile", "softLimit": 1234, "hardLimit": 2048}],
                  linuxParameters={"initProcessEnabled": True}),
        container("sidecar", "exec sleep 3600",
                  dependsOn=[{"containerName": "app", "condition": "START"}],
                  volumesFrom=[{"sourceContainer": "app", "readOnly": True}]),
    ], volumes=[{"name": "scratch"}])
    task_id = run(api, td)
    wait_for(lambda: status_is(api, task_id, "RUNNING"), 90, "the task RUNNING")

    init = docker_container(docker_client, task_id, "init")
    app = docker_container(docker_client, task_id, "app")
    sidecar = docker_container(docker_client, task_id, "sidecar")
    init.reload()
    app.reload()
    sidecar.reload()
    assert init.attrs["State"]["ExitCode"] == 0
    # dependsOn SUCCESS: app started only after init exited 0; START: sidecar after app.
    init_done = stamp(init.attrs["State"]["FinishedAt"])
    assert stamp(app.attrs["State"]["StartedAt"]) >= init_done > 0
    assert stamp(sidecar.attrs["State"]["StartedAt"]) >= stamp(app.attrs["State"]["StartedAt"])

    # The volume is shared: what init wrote, app reads (read-only) and sidecar sees through volumesFrom.
    assert execute(app, "cat /data/msg") == "hello from init"
    assert execute(sidecar, "cat /data/msg") == "hello from init"
    code, _ = app.exec_run(["sh", "-c", "echo x > /data/other"])
    assert code != 0, "app's mount is read-only"
    volume_names = [m["Name"] for m in app.attrs["Mounts"] if m["Type"] == "volume"]
    assert volume_names == [f"shoal-{task_id}-scratch"]

    # The task's own process (PID 1, docker-init, and its child) carries the ulimit; a
    # `docker exec` shell's limits are Docker's to choose and were seen to differ (2048).
    assert execute(app, "grep 'Max open files' /proc/1/limits").split()[3:5] == ["1234", "2048"]
    assert execute(app, "cat /proc/1/comm") == "docker-init"
    assert execute(sidecar, "cat /proc/1/comm") == "sleep"

    t = describe(api, task_id)
    assert {c.name: c.last_status for c in t.containers} == {"init": "STOPPED", "app": "RUNNING",
                                                             "sidecar": "RUNNING"}
    # Task-scoped volumes go with the task.
    api.StopTask(op.StopTaskRequest(cluster="default", task=task_id, reason="test"))
    wait_for(lambda: not docker_client.volumes.list(filters={"label": f"shoal.task={task_id}"}), 90,
             "the task's volume removed with its containers")


def test_failed_success_dependency_stops_the_task_with_a_reason(cluster, docker_client) -> None:
    api = cluster.operator
    td = register(api, "badinit", [
        container("init", "exit 3", essential=False),
        container("app", "exec sleep 3600", dependsOn=[{"containerName": "init", "condition": "SUCCESS"}]),
    ])
    task_id = run(api, td)
    t = wait_for(lambda: status_is(api, task_id, "STOPPED"), 90, "the task STOPPED")
    assert t.stop_code == "TaskFailedToStart"
    assert "init" in t.stopped_reason and "code 3" in t.stopped_reason, t.stopped_reason
    app = docker_container(docker_client, task_id, "app")
    assert app is None or stamp(app.attrs["State"]["StartedAt"]) == 0, "app must never start"


def test_healthy_dependency_waits_for_the_health_check(cluster, docker_client) -> None:
    api = cluster.operator
    td = register(api, "healthydep", [
        container("db", "sleep 2 && touch /tmp/ready && exec sleep 3600",
                  healthCheck={"command": ["CMD-SHELL", "test -f /tmp/ready"], "interval": 5, "retries": 3}),
        container("app", "exec sleep 3600", dependsOn=[{"containerName": "db", "condition": "HEALTHY"}]),
    ])
    task_id = run(api, td)
    wait_for(lambda: status_is(api, task_id, "RUNNING"), 90, "the task RUNNING")
    db = docker_container(docker_client, task_id, "db")
    app = docker_container(docker_client, task_id, "app")
    assert db.attrs["State"]["Health"]["Status"] == "healthy"
    # Docker's first check runs one interval (5 s) after the start.
    assert stamp(app.attrs["State"]["StartedAt"]) - stamp(db.attrs["State"]["StartedAt"]) >= 4


def test_host_volume_bind_mount(cluster, docker_client, tmp_path: Path) -> None:
    api = cluster.operator
    host_dir = tmp_path / "hostdir"
    host_dir.mkdir()
    (host_dir / "in.txt").write_text("from the host\n")
    td = register(api, "hostvol", [
        container("app", "cat /mnt/in.txt > /mnt/out.txt && exec sleep 3600",
                  mountPoints=[{"sourceVolume": "h", "containerPath": "/mnt"}]),
    ], volumes=[{"name": "h", "host": {"sourcePath": str(host_dir)}}])
    task_id = run(api, td)
    wait_for(lambda: status_is(api, task_id, "RUNNING"), 90, "the task RUNNING")
    wait_for(lambda: (host_dir / "out.txt").exists() and (host_dir / "out.txt").read_text() == "from the host\n",
             30, "the container's write on the host")


def test_stop_timeout_sigterm_then_sigkill(cluster, docker_client) -> None:
    api = cluster.operator
    # PID 1 without a TERM handler ignores SIGTERM: only the SIGKILL after stopTimeout ends it.
    stubborn = register(api, "stubborn", [container("app", "while true; do sleep 1; done", stopTimeout=4)])
    polite = register(api, "polite", [container("app", "trap 'exit 0' TERM; while true; do sleep 1; done",
                                                stopTimeout=30)])
    tasks = {name: run(api, td) for name, td in (("stubborn", stubborn), ("polite", polite))}
    for task_id in tasks.values():
        wait_for(lambda t=task_id: status_is(api, t, "RUNNING"), 90, "the task RUNNING")
    asked = time.time()
    for task_id in tasks.values():
        api.StopTask(op.StopTaskRequest(cluster="default", task=task_id, reason="test"))
    stopped = {name: wait_for(lambda t=task_id: status_is(api, t, "STOPPED"), 90, f"{name} STOPPED")
               for name, task_id in tasks.items()}
    assert stopped["stubborn"].containers[0].exit_code == 137
    assert stopped["polite"].containers[0].exit_code == 0
    # The stop times as the engine saw them: its "die" events, which outlive the containers
    # (the agent removes those a second after they stop).
    assert died_at(docker_client, tasks["stubborn"], asked) - asked >= 3.5, "SIGKILL before stopTimeout"
    assert died_at(docker_client, tasks["polite"], asked) - asked < 15, "the polite container waited for SIGKILL"


def died_at(client: docker.DockerClient, task_id: str, since: float) -> float:
    """When the engine last saw a container of ``task_id`` die, after ``since``."""
    events = client.events(since=int(since) - 1, until=int(time.time()) + 1, decode=True,
                           filters={"event": "die", "label": f"shoal.task={task_id}"})
    times = [e["timeNano"] / 1e9 for e in events if e["timeNano"] / 1e9 >= since]
    assert times, f"no die event for task {task_id}"
    return max(times)


def test_restart_policy_restarts_in_place_unless_ignored(cluster, docker_client) -> None:
    api = cluster.operator
    # The agent caps restartAttemptPeriod at 2 s (--max-restart-attempt-period): a container
    # that ran 3 s may restart.
    restarting = register(api, "restarting", [
        container("app", "echo up; sleep 3; exit 1",
                  restartPolicy={"enabled": True, "ignoredExitCodes": [0], "restartAttemptPeriod": 60}),
    ])
    ignored = register(api, "ignored", [
        container("app", "sleep 3; exit 0",
                  restartPolicy={"enabled": True, "ignoredExitCodes": [0], "restartAttemptPeriod": 60}),
    ])
    restarting_id = run(api, restarting)
    ignored_id = run(api, ignored)
    wait_for(lambda: status_is(api, restarting_id, "RUNNING"), 90, "the restarting task RUNNING")
    first = docker_container(docker_client, restarting_id, "app")

    def restarted_twice():
        t = describe(api, restarting_id)
        return t if "restarted 2 times" in t.containers[0].reason else None

    t = wait_for(restarted_twice, 60, "the container restarted twice in place")
    assert t.last_status == "RUNNING"
    again = docker_container(docker_client, restarting_id, "app")
    assert again.id == first.id, "restarted in place, not replaced"
    assert again.logs().decode().count("up") >= 3

    t = wait_for(lambda: status_is(api, ignored_id, "STOPPED"), 60, "the task whose exit code is ignored STOPPED")
    assert t.stop_code == "EssentialContainerExited"
    assert "exit code 0 is ignored" in t.containers[0].reason

"""`shoal exec` against a whole local cluster: a command run in a real busybox container
through its node's agent, its output and exit code back through the CLI; refused for a task
without enableExecuteCommand (ECS's words), a stopped task, a viewer (unless granted exec);
each exec a service event naming who ran what. (ECS's ExecuteCommand answer: tests/unit/test_exec_api.py.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from shoal.v1 import operator_pb2 as op
from tests.integration.test_logs_events import ROOT, cli_env, shoal
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

SLEEPER = {
    "family": "sleeper",
    "containerDefinitions": [{
        "name": "main", "image": "shoal/busybox:latest", "memory": 16, "cpu": 16, "stopTimeout": 1,
        "command": ["sh", "-c", "echo hello > /tmp/greeting; exec sleep 100000"],
    }],
}


@pytest.fixture
def cluster(make_cluster, busybox_image):
    return make_cluster(agents=1, zones=["a"])


def _running(api, task_id: str) -> bool:
    return api.DescribeTasks(op.DescribeTasksRequest(cluster="default", tasks=[task_id])).tasks[0].last_status \
        == "RUNNING"


def _service_task(api) -> str:
    arns = api.ListTasks(op.ListTasksRequest(cluster="default", service_name="web", desired_status="RUNNING")).arns
    tasks = api.DescribeTasks(op.DescribeTasksRequest(cluster="default", tasks=list(arns))).tasks if arns else []
    running = [t.id for t in tasks if t.last_status == "RUNNING"]
    return running[0] if running else ""


def test_exec_runs_in_the_container_and_every_door_is_tried(cluster, tmp_path: Path) -> None:
    api = cluster.operator
    api.RegisterTaskDefinition(op.RegisterTaskDefinitionRequest(json=json.dumps(SLEEPER)))
    api.CreateService(op.CreateServiceRequest(cluster="default", service_name="web", task_definition="sleeper",
                                              desired_count=1, enable_execute_command=True))
    task_id = wait_for(lambda: _service_task(api), 90, "the service's task RUNNING")

    ran = shoal(cluster, "exec", task_id, "--", "cat", "/tmp/greeting")
    assert (ran.returncode, ran.stdout) == (0, "hello\n"), ran.stderr
    # The exit code and both output streams come back.
    ran = shoal(cluster, "exec", task_id, "--container", "main", "--", "sh", "-c", "echo out; echo err >&2; exit 3")
    assert ran.returncode == 3 and sorted(ran.stdout.split()) == ["err", "out"], ran.stderr
    missing = shoal(cluster, "exec", task_id, "--", "/no/such/binary")
    assert missing.returncode != 0
    events = api.DescribeServices(op.DescribeServicesRequest(cluster="default", services=["web"])).services[0].events
    audit = [e.message for e in events if "(exec " in e.message]
    assert any("shoal:admin:" in m and "cat /tmp/greeting -> exit code 0" in m for m in audit), audit
    assert any("exit 3 -> exit code 3" in m for m in audit), audit

    bad = shoal(cluster, "exec", task_id, "--container", "nope", "--", "true")
    assert bad.returncode != 0 and "container" in bad.stderr and "nope" in bad.stderr
    assert "command" in shoal(cluster, "exec", task_id).stderr

    # Off on the service: refused with ECS's words.
    api.UpdateService(op.UpdateServiceRequest(cluster="default", service="web", enable_execute_command=False))
    off = shoal(cluster, "exec", task_id, "--", "true")
    assert off.returncode != 0 and "execute command was not enabled" in off.stderr, off.stderr

    # A standalone task: only with enableExecuteCommand on RunTask.
    plain = api.RunTask(op.RunTaskRequest(cluster="default", task_definition="sleeper")).tasks[0].id
    wait_for(lambda: _running(api, plain), 90, "the standalone task RUNNING")
    assert "execute command was not enabled" in shoal(cluster, "exec", plain, "--", "true").stderr
    run = shoal(cluster, "task", "run", "--taskdef", "sleeper", "--enable-execute-command", "-o", "json")
    assert run.returncode == 0, run.stderr
    enabled = json.loads(run.stdout)["tasks"][0]["id"]
    wait_for(lambda: _running(api, enabled), 90, "the exec-enabled standalone task RUNNING")
    assert shoal(cluster, "exec", enabled, "--", "true").returncode == 0

    # A stopped task.
    api.StopTask(op.StopTaskRequest(cluster="default", task=enabled))
    stopped = shoal(cluster, "exec", enabled, "--", "true")
    assert stopped.returncode != 0 and "commands run only in a RUNNING task" in stopped.stderr, stopped.stderr

    # Viewers: not even with logs; with exec, yes.
    api.UpdateService(op.UpdateServiceRequest(cluster="default", service="web", enable_execute_command=True))

    def user(name: str, *grant: str) -> dict[str, str]:
        made = shoal(cluster, "user", "create", name, "--role", "viewer", *grant, "--out", str(tmp_path / name))
        assert made.returncode == 0, made.stderr
        d = tmp_path / name
        return {"SHOAL_CA": str(d / "ca.crt"), "SHOAL_CERT": str(d / f"{name}.crt"),
                "SHOAL_KEY": str(d / f"{name}.key")}

    def as_user(creds: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "shoalctl", *args], cwd=ROOT, capture_output=True, text=True,
                              timeout=60, env={**cli_env(cluster), **creds})

    reader = as_user(user("vic", "--grant", "logs"), "exec", task_id, "--", "cat", "/tmp/greeting")
    assert reader.returncode != 0 and "'exec' permission" in reader.stderr and "hello" not in reader.stdout
    ran = as_user(user("opal", "--grant", "exec"), "exec", task_id, "--", "cat", "/tmp/greeting")
    assert (ran.returncode, ran.stdout) == (0, "hello\n"), ran.stderr
    events = api.DescribeServices(op.DescribeServicesRequest(cluster="default", services=["web"])).services[0].events
    assert any("shoal:viewer:opal" in e.message and "(exec " in e.message for e in events)

"""`shoal app status|logs` (shoalctl/cli/app_view.py): several tasks' output interleaved as
whole lines each naming its task, the status read back into ECS-shaped JSON and a table, an
unknown app named, bad flags refused before any call."""

from __future__ import annotations

import json

import pytest

from controlplane import apps
from shoal.v1 import operator_pb2 as op
from shoal.v1 import resources_pb2 as r
from shoal.v1 import traffic_pb2 as t
from shoalctl.cli import app_view, main
from shoalctl.cli.errors import CliError

A = "a1b2c3d4e5f6" + "0" * 20
B = "c0ffee000000" + "1" * 20


def test_lines_are_written_whole_and_prefixed_with_their_task() -> None:
    out: list[bytes] = []
    mux = app_view.Interleaved(out.append)
    mux.feed(A, b"GET / 200\nGET /in")
    mux.feed(B, b"started\n")
    mux.feed(A, b"dex.html 200\n")
    mux.feed(B, b"no newline at the end")
    assert b"".join(out) == (b"a1b2c3d4e5f6 | GET / 200\n"
                             b"c0ffee000000 | started\n"
                             b"a1b2c3d4e5f6 | GET /index.html 200\n")
    mux.end(B)
    mux.end(A)  # nothing left of A: nothing written
    assert out[-1] == b"c0ffee000000 | no newline at the end\n" and len(out) == 4


def _service() -> r.Service:
    svc = r.Service(service_name="web", task_definition="arn:aws:ecs:local:0:task-definition/web:2",
                    desired_count=2, running_count=1, pending_count=1)
    svc.deployments.add(id="ecs-svc/2", status="PRIMARY", task_definition=svc.task_definition, desired_count=2,
                        running_count=1, pending_count=1, rollout_state="IN_PROGRESS")
    svc.deployments.add(id="ecs-svc/1", status="ACTIVE", task_definition="arn:aws:ecs:local:0:task-definition/web:1",
                        desired_count=0, running_count=1, rollout_state="COMPLETED")
    for i in range(8):
        svc.events.add(id=str(i), created_at=1000.0 + i, message=f"event {i}")
    return svc


def _tasks() -> list[r.Task]:
    first = r.Task(id=A, task_definition_arn="arn:aws:ecs:local:0:task-definition/web:1", last_status="RUNNING",
                   node_id="n1", health_status="HEALTHY", started_at=900.0)
    first.target_health.add(state="healthy")
    second = r.Task(id=B, task_definition_arn="arn:aws:ecs:local:0:task-definition/web:2", last_status="PENDING",
                    node_id="n2")
    return [first, second]


def test_status_reads_back_deployments_tasks_scaling_and_the_last_events(capsys) -> None:
    spec = apps.AppSpec(name="web", image="reg:5000/apps/web:abc", min=2, max=5, target=60.0)
    doc = app_view.status_doc(spec, _service(), _tasks(), {"n1": "host-1"}, ["http://10.0.0.1:8081/"])
    assert json.loads(json.dumps(doc)) == doc, "JSON as it is printed"
    assert doc["urls"] == ["http://10.0.0.1:8081/"]
    assert (doc["desiredCount"], doc["runningCount"], doc["pendingCount"]) == (2, 1, 1)
    assert [d["rolloutState"] for d in doc["deployments"]] == ["IN_PROGRESS", "COMPLETED"]
    assert [(x["taskId"], x["node"], x["healthStatus"], x["targetHealth"]) for x in doc["tasks"]] == [
        (A, "host-1", "HEALTHY", "healthy"), (B, "n2", "UNKNOWN", "")]
    assert doc["scaling"] == {"minCapacity": 2, "maxCapacity": 5, "metric": "ECSServiceAverageCPUUtilization",
                              "targetValue": 60.0}
    assert [e["message"] for e in doc["events"]] == [f"event {i}" for i in range(app_view.EVENTS)]

    app_view.print_status(doc)
    shown = capsys.readouterr().out
    assert "running=1 pending=1 desired=2  scaling 2-5 on ECSServiceAverageCPUUtilization target 60" in shown
    assert "http://10.0.0.1:8081/" in shown
    task_rows = shown.split("TASKS")[1].split("EVENTS")[0].splitlines()
    assert any(row.split()[:6] == [A[:12], "web:1", "RUNNING", "host-1", "HEALTHY", "healthy"] for row in task_rows)
    assert any(row.split()[:6] == [B[:12], "web:2", "PENDING", "n2", "UNKNOWN", "-"] for row in task_rows)
    deployment_rows = shown.split("DEPLOYMENTS")[1].split("TASKS")[0]
    assert "PRIMARY" in deployment_rows and "IN_PROGRESS" in deployment_rows and "web:2" in deployment_rows


class _Nothing:
    """An operator and traffic API in which no service and no load balancer exist."""

    def DescribeServices(self, req: op.DescribeServicesRequest) -> op.DescribeServicesResponse:  # noqa: N802
        return op.DescribeServicesResponse()

    def DescribeLoadBalancers(self, req: t.DescribeLoadBalancersRequest) -> t.DescribeLoadBalancersResponse:  # noqa: N802
        return t.DescribeLoadBalancersResponse()


def test_an_unknown_app_is_named() -> None:
    nothing = _Nothing()
    with pytest.raises(CliError, match="no app shop in cluster blue"):
        app_view._read(apps.Plane(nothing, nothing, nothing), "blue", "shop")


def test_a_negative_tail_is_refused_before_any_call(monkeypatch, tmp_path, capsys) -> None:
    monkeypatch.setenv("SHOAL_INSECURE", "1")
    monkeypatch.setenv("SHOAL_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("SHOAL_ENDPOINT", "127.0.0.1:9")  # nothing listens: a call would fail differently
    assert main.main(["app", "logs", "web", "--tail", "-1"]) == 1
    assert capsys.readouterr().err.strip() == "shoal: --tail: must be 0 or more, got -1"

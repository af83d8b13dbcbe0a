"""A service's deployment history (ListServiceDeployments, DescribeServiceDeployments,
DescribeServiceRevisions, StopServiceDeployment) as the API and the service controller keep it
in the service record, over an in-memory store."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from controlplane.api import service_deployments, services
from controlplane.api.operator import OperatorService
from controlplane.controllers.services import ServiceController
from controlplane.deployment_history import MAX_HISTORY, parse_arn
from controlplane.errors import ApiError
from shoal.v1 import operator_pb2 as op
from shoal.v1 import operator_pb2_grpc
from shoal.v1 import resources_pb2 as r
from shoalctl.cli import main
from tests.fixtures.cli_server import cli_server
from tests.fixtures.plane import WEB, Plane, place_and_run, stop_told


def revision(plane: Plane, image: str) -> str:
    doc = {**WEB, "containerDefinitions": [{**WEB["containerDefinitions"][0], "image": image}]}
    return plane.register(doc).task_definition_arn


def settle(plane: Plane, ctl: ServiceController, cycles: int = 4) -> None:
    """Runs the service controller, places and runs what it starts, and lets what it stops stop."""
    for _ in range(cycles):
        ctl.reconcile(plane.view())
        place_and_run(plane)
        stop_told(plane)
    ctl.reconcile(plane.view())


def update(plane: Plane, td: str) -> None:
    services.update(plane.api, op.UpdateServiceRequest(cluster="default", service="web", task_definition=td))


def history(plane: Plane) -> list[tuple[str, str]]:
    """(task definition of the target revision, status) per deployment, oldest first."""
    svc = plane.service()
    revs = {v.service_revision_arn: v.task_definition for v in svc.service_revisions}
    return [(revs[e.target_service_revision.arn], e.status)
            for e in sorted(svc.service_deployments, key=lambda e: e.created_at)]


@pytest.fixture
def web(plane: Plane) -> ServiceController:
    plane.node("n1", cpu=8192, memory=8192)
    services.create(plane.api, op.CreateServiceRequest(
        cluster="default", service_name="web", task_definition="web:1", desired_count=2,
        deployment_configuration=r.DeploymentConfiguration(deployment_circuit_breaker=r.DeploymentCircuitBreaker(
            enable=True, rollback=True))))
    return ServiceController(plane.writer, plane.api.arns)


def test_each_deployment_is_recorded_with_its_revision_and_the_ones_it_replaces(plane: Plane, web) -> None:
    v1 = plane.td.task_definition_arn
    entry = plane.service().service_deployments[0]
    # The API's own write records the deployment: it is listed before the controller ran.
    assert (entry.status, entry.target_service_revision.requested_task_count) == ("IN_PROGRESS", 2)
    assert parse_arn(entry.service_deployment_arn, "service-deployment") == ("default", "web")
    assert not entry.source_service_revisions
    settle(plane, web)
    assert history(plane) == [(v1, "SUCCESSFUL")]
    done = plane.service().service_deployments[0]
    assert done.finished_at >= done.started_at > 0
    assert done.target_service_revision.running_task_count == 2
    assert done.deployment_circuit_breaker.status == "MONITORING_COMPLETE"
    assert done.deployment_circuit_breaker.threshold == 3

    v2 = revision(plane, "busybox:2")
    update(plane, v2)
    assert history(plane) == [(v1, "SUCCESSFUL"), (v2, "IN_PROGRESS")]
    second = max(plane.service().service_deployments, key=lambda e: e.created_at)
    assert [s.arn for s in second.source_service_revisions] == [done.target_service_revision.arn]
    settle(plane, web)
    assert history(plane) == [(v1, "SUCCESSFUL"), (v2, "SUCCESSFUL")]
    found, failures = service_deployments.describe_revisions(
        plane.api, [second.target_service_revision.arn, second.target_service_revision.arn + "9"])
    assert [v.task_definition for v in found] == [v2] and failures[0].reason == "MISSING"


def test_a_deployment_replaced_before_it_finished_is_stopped(plane: Plane, web) -> None:
    settle(plane, web)
    v2, v3 = revision(plane, "busybox:2"), revision(plane, "busybox:3")
    update(plane, v2)
    update(plane, v3)
    web.reconcile(plane.view())
    statuses = history(plane)
    assert statuses[1:] == [(v2, "STOPPED"), (v3, "IN_PROGRESS")]
    stopped = sorted(plane.service().service_deployments, key=lambda e: e.created_at)[1]
    assert stopped.status_reason == "Superseded by a newer service deployment." and stopped.stopped_at > 0


def test_the_circuit_breakers_rollback_is_recorded_on_the_failed_deployment(plane: Plane, web) -> None:
    settle(plane, web)
    v1 = plane.td.task_definition_arn
    v2 = revision(plane, "broken")
    update(plane, v2)
    for _ in range(4):
        web.reconcile(plane.view())
        for t in plane.tasks().values():
            if t.task_definition_arn == v2 and t.last_status != "STOPPED":
                plane.report(t.id, "STOPPED", stop_code="TaskFailedToStart", stopped_reason="image not found")
    settle(plane, web)
    assert history(plane) == [(v1, "SUCCESSFUL"), (v2, "ROLLBACK_SUCCESSFUL")]
    svc = plane.service()
    failed = max(svc.service_deployments, key=lambda e: e.created_at)
    first = min(svc.service_deployments, key=lambda e: e.created_at)
    assert failed.rollback.service_revision_arn == first.target_service_revision.arn
    assert failed.rollback.reason.startswith("ECS deployment circuit breaker")
    assert failed.deployment_circuit_breaker.status == "TRIGGERED"
    assert failed.deployment_circuit_breaker.failure_count >= 3


def stop(plane: Plane, arn: str, stop_type: str = "ROLLBACK") -> None:
    service_deployments.stop(plane.api, op.StopServiceDeploymentRequest(service_deployment_arn=arn,
                                                                        stop_type=stop_type))


def test_stop_service_deployment_rolls_back_to_the_last_revision_that_completed(plane: Plane, web) -> None:
    settle(plane, web)
    v1 = plane.td.task_definition_arn
    v2, v3 = revision(plane, "busybox:2"), revision(plane, "busybox:3")
    update(plane, v2)
    update(plane, v3)  # v2 never completes: the rollback of v3 goes to v1
    web.reconcile(plane.view())
    place_and_run(plane)
    entry = max(plane.service().service_deployments, key=lambda e: e.created_at)
    stop(plane, entry.service_deployment_arn)
    svc = plane.service()
    assert svc.task_definition == v1 and svc.deployments[0].task_definition == v1
    assert history(plane)[-1] == (v3, "ROLLBACK_IN_PROGRESS")
    settle(plane, web)
    assert history(plane) == [(v1, "SUCCESSFUL"), (v2, "STOPPED"), (v3, "ROLLBACK_SUCCESSFUL")]
    assert {t.task_definition_arn for t in plane.tasks().values() if t.last_status == "RUNNING"} == {v1}
    assert len([t for t in plane.tasks().values() if t.last_status == "RUNNING"]) == 2
    # A stop is not a new deployment in the history: the rollback is the stopped one's.
    assert len(plane.service().service_deployments) == 3


def test_stop_refuses_what_cannot_be_rolled_back(plane: Plane, web) -> None:
    first = plane.service().service_deployments[0].service_deployment_arn

    def refused(arn: str, stop_type: str = "ROLLBACK") -> ApiError:
        before = plane.service().SerializeToString()
        with pytest.raises(ApiError) as caught:
            stop(plane, arn, stop_type)
        assert plane.service().SerializeToString() == before  # nothing half-applied
        return caught.value

    err = refused(first)
    assert err.ecs_type == "ConflictException" and "nothing to roll back to" in err.message
    settle(plane, web)
    err = refused(first)
    assert err.ecs_type == "ConflictException" and "SUCCESSFUL" in err.message
    update(plane, revision(plane, "busybox:2"))
    current = max(plane.service().service_deployments, key=lambda e: e.created_at).service_deployment_arn
    err = refused(current, "ABORT")
    assert err.ecs_type == "InvalidParameterException" and err.message.startswith("stopType")
    assert refused(current.rsplit("/", 1)[0] + "/123").ecs_type == "ServiceDeploymentNotFoundException"
    assert refused("not-an-arn").ecs_type == "ServiceDeploymentNotFoundException"
    assert refused(current.replace("/web/", "/other/")).ecs_type == "ServiceDeploymentNotFoundException"


def test_the_history_is_bounded(plane: Plane, web) -> None:
    tds = [revision(plane, f"busybox:{i}") for i in range(MAX_HISTORY + 3)]
    for td in tds:
        update(plane, td)
    svc = plane.service()
    assert len(svc.service_deployments) == MAX_HISTORY + 1  # the finished ones, and the live one
    named = {e.target_service_revision.arn for e in svc.service_deployments}
    named |= {s.arn for e in svc.service_deployments for s in e.source_service_revisions}
    assert {v.service_revision_arn for v in svc.service_revisions} <= named
    assert history(plane)[-1] == (tds[-1], "IN_PROGRESS")


@pytest.fixture
def cli(plane: Plane, monkeypatch, tmp_path) -> Iterator[None]:
    """The Operator API of ``plane`` served in-process for the CLI."""
    with cli_server(monkeypatch, tmp_path,
                    lambda srv: operator_pb2_grpc.add_OperatorServicer_to_server(OperatorService(plane.api), srv)):
        yield


def test_the_cli_lists_deployments_and_rolls_back(plane: Plane, web, cli, capsys) -> None:
    settle(plane, web)
    v1, v2 = plane.td.task_definition_arn, revision(plane, "busybox:2")
    assert main.main(["service", "rollback", "web"]) == 1
    assert "no earlier successful deployment" in capsys.readouterr().err
    update(plane, v2)
    settle(plane, web)
    capsys.readouterr()
    assert main.main(["service", "deployments", "web"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert rows[0].split()[:3] == ["DEPLOYMENT", "STATUS", "TASKDEF"]
    assert [row.split()[1:4] for row in rows[1:]] == [["SUCCESSFUL", "web:2", "2/2"], ["SUCCESSFUL", "web:1", "2/2"]]
    # A finished deployment keeps its counts as they were when it finished.
    # Nothing in progress: the previous successful revision is deployed again.
    assert main.main(["service", "rollback", "web"]) == 0
    assert "deploying web:1 again" in capsys.readouterr().out
    assert plane.service().task_definition == v1
    # In progress: stopped and rolled back to the revision it replaces.
    assert main.main(["service", "rollback", "web"]) == 0
    assert "rolling back" in capsys.readouterr().out
    assert plane.service().task_definition == v2
    settle(plane, web)
    assert main.main(["service", "deployments", "web", "-o", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [e["status"] for e in listed] == ["ROLLBACK_SUCCESSFUL", "SUCCESSFUL", "SUCCESSFUL"]
    assert main.main(["service", "deployments", "nope"]) == 1
    assert "service nope not found" in capsys.readouterr().err

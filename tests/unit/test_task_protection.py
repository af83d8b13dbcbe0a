"""Task scale-in protection: the API's checks (UpdateTaskProtection writes only a running
service task's protection fields) and the leader's choices (scale-in and deployments never
stop a protected task; an expired protection is none), on the in-memory store, plus the
ECS operations through boto3, checked against botocore's model."""

from __future__ import annotations

import time
import types

import pytest
from botocore.exceptions import ClientError

from controlplane.api import services, tasks
from controlplane.controllers import services as service_ctl
from controlplane.controllers.services import ServiceController
from controlplane.errors import ApiError
from controlplane.taskspec import new_task
from shoal.v1 import operator_pb2 as op
from shoal.v1 import resources_pb2 as r
from tests.fixtures.plane import WEB, Plane, place_and_run, stop_told
from tests.unit.test_ecs_api import ecs, gateway  # noqa: F401  (fixtures)


def _service(plane: Plane, desired: int, **config) -> tuple[ServiceController, list[r.Task]]:
    plane.node("n1", cpu=4096, memory=4096)
    services.create(plane.api, op.CreateServiceRequest(cluster="default", service_name="web",
                                                       task_definition="web", desired_count=desired, **config))
    ctl = ServiceController(plane.writer, plane.api.arns)
    ctl.reconcile(plane.view())
    running = place_and_run(plane)
    ctl.reconcile(plane.view())
    return ctl, running


def _protect(plane: Plane, ids: list[str], on: bool = True, minutes: int | None = None) -> op.TaskProtectionResponse:
    req = op.UpdateTaskProtectionRequest(cluster="default", tasks=ids, protection_enabled=on)
    if minutes is not None:
        req.expires_in_minutes = minutes
    return tasks.update_protection(plane.api, req)


def _later(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """The service controller's clock, moved on by ``seconds``."""
    real = time.time
    monkeypatch.setattr(service_ctl, "time", types.SimpleNamespace(time=lambda: real() + seconds))


def test_scale_in_never_chooses_a_protected_task_and_says_when_it_cannot_reach_desired(
        plane: Plane, monkeypatch: pytest.MonkeyPatch) -> None:
    ctl, running = _service(plane, 3)
    protected = sorted(t.id for t in running)[:2]
    resp = _protect(plane, protected, minutes=1)
    assert [t.protection_enabled for t in resp.protected_tasks] == [True, True]
    services.update(plane.api, op.UpdateServiceRequest(cluster="default", service="web", desired_count=0))
    said = ctl.reconcile(plane.view())
    assert said == "web: stopped 1 tasks to scale in to 0, 2 surplus tasks are protected from scale-in"
    stopping = {t.id for t in plane.tasks().values() if t.desired_status == "STOPPED"}
    assert stopping == {t.id for t in running} - set(protected)
    assert "2 of its tasks are protected from scale-in" in plane.service().events[0].message
    # Once protection expires (a minute later), the next cycle stops the rest.
    _later(monkeypatch, 61)
    assert ctl.reconcile(plane.view()) == "web: stopped 2 tasks to scale in to 0"
    assert all(t.desired_status == "STOPPED" for t in plane.tasks().values())


def test_the_protected_task_is_kept_even_where_the_strategy_would_stop_it(plane: Plane) -> None:
    plane.node("a1", zone="a")
    plane.node("a2", zone="a")
    plane.node("b1", zone="b")
    services.create(plane.api, op.CreateServiceRequest(
        cluster="default", service_name="web", task_definition="web", desired_count=3,
        placement_strategy=[r.PlacementStrategy(type="spread", field="attribute:ecs.availability-zone")]))
    ctl = ServiceController(plane.writer, plane.api.arns)
    ctl.reconcile(plane.view())
    running = place_and_run(plane)
    ctl.reconcile(plane.view())
    # Spread stops from the crowded zone a: protect both of zone a's tasks.
    in_a = [t.id for t in running if t.node_id in ("a1", "a2")]
    assert len(in_a) == 2
    _protect(plane, in_a)
    services.update(plane.api, op.UpdateServiceRequest(cluster="default", service="web", desired_count=2))
    assert ctl.reconcile(plane.view()) == "web: stopped 1 tasks to scale in to 2"
    (stopped,) = [t for t in plane.tasks().values() if t.desired_status == "STOPPED"]
    assert stopped.node_id == "b1"


def test_a_deployment_waits_for_protected_old_tasks(plane: Plane) -> None:
    ctl, old = _service(plane, 2, deployment_configuration=r.DeploymentConfiguration(
        minimum_healthy_percent=0, maximum_percent=200))
    keep = old[0].id
    _protect(plane, [keep])
    v2 = plane.register({**WEB, "containerDefinitions": [{**WEB["containerDefinitions"][0], "image": "busybox:2"}]})
    services.update(plane.api, op.UpdateServiceRequest(cluster="default", service="web", task_definition="web:2"))
    said = ctl.reconcile(plane.view())
    assert said == ("web: started 2 tasks, 1 replaced tasks wait for their scale-in protection to end, "
                    "stopped 1 replaced tasks")
    assert plane.task(keep).desired_status == "RUNNING"
    place_and_run(plane)
    stop_told(plane)
    ctl.reconcile(plane.view())
    svc = plane.service()
    assert svc.deployments[0].task_definition == v2.task_definition_arn
    assert svc.deployments[0].rollout_state == "IN_PROGRESS"  # the protected old task still runs
    assert plane.task(keep).desired_status == "RUNNING"
    _protect(plane, [keep], on=False)
    assert ctl.reconcile(plane.view()) == "web: stopped 1 replaced tasks"
    plane.report(keep, "STOPPED")
    ctl.reconcile(plane.view())
    assert plane.service().deployments[0].rollout_state == "COMPLETED"


def test_update_protection_refuses_bad_input_and_answers_per_task(plane: Plane) -> None:
    _, running = _service(plane, 2)
    first, second = (t.id for t in running)
    before = plane.tasks()
    for minutes in (0, 2881, -5):
        with pytest.raises(ApiError, match="expiresInMinutes"):
            _protect(plane, [first], minutes=minutes)
    with pytest.raises(ApiError, match="at most 10"):
        _protect(plane, [first] * 11)
    assert plane.tasks() == before  # nothing half-applied
    # Default: 120 minutes; off clears it.
    (got,) = _protect(plane, [first]).protected_tasks
    assert got.protection_enabled and 119 * 60 < got.expiration_date - time.time() <= 120 * 60
    standalone = tasks.run(plane.api, op.RunTaskRequest(cluster="default", task_definition="web")).tasks[0]
    stopped = tasks.stop(plane.api, op.StopTaskRequest(cluster="default", task=second)).task
    resp = _protect(plane, [first, "nope", standalone.id, stopped.task_arn], minutes=30)
    assert [t.task_arn for t in resp.protected_tasks] == [plane.task(first).task_arn]
    assert [(f.arn, f.reason) for f in resp.failures] == [
        ("nope", "MISSING"), (standalone.id, "TASK_NOT_VALID"), (stopped.task_arn, "TASK_NOT_VALID")]
    assert "not part of a service" in resp.failures[1].detail and "stopping" in resp.failures[2].detail
    assert not plane.task(second).protection_enabled and not plane.task(standalone.id).protection_enabled
    got = tasks.get_protection(plane.api, op.GetTaskProtectionRequest(cluster="default", tasks=[first, "nope"]))
    assert got.protected_tasks[0].protection_enabled and got.failures[0].reason == "MISSING"
    _protect(plane, [first], on=False)
    (off,) = tasks.get_protection(plane.api, op.GetTaskProtectionRequest(cluster="default",
                                                                          tasks=[first])).protected_tasks
    assert not off.protection_enabled and off.expiration_date == 0


def test_task_protection_through_boto3(gateway, ecs) -> None:  # noqa: F811
    ctx, _ = gateway
    td = ecs.register_task_definition(family="web", containerDefinitions=[
        {"name": "web", "image": "shoal/busybox:latest", "memory": 64}])["taskDefinition"]
    ecs.create_service(serviceName="web", taskDefinition="web", desiredCount=1)
    # The task the leader would start for the service, written as it writes it.
    (task,) = tasks.create_tasks(ctx, [new_task(
        "default", tasks.taskdefs.runnable(ctx, td["taskDefinitionArn"]), arns=ctx.arns,
        group="service:web", service_name="web")]).tasks
    got = ecs.update_task_protection(cluster="default", tasks=[task.task_arn], protectionEnabled=True,
                                     expiresInMinutes=60)
    (p,) = got["protectedTasks"]
    assert p["protectionEnabled"] and p["taskArn"] == task.task_arn
    assert 59 * 60 < p["expirationDate"].timestamp() - time.time() <= 3600
    assert ecs.get_task_protection(cluster="default", tasks=[task.task_arn])["protectedTasks"][0]["protectionEnabled"]
    with pytest.raises(ClientError) as exc:
        ecs.update_task_protection(cluster="default", tasks=[task.task_arn], protectionEnabled=True,
                                   expiresInMinutes=2881)
    assert exc.value.response["Error"]["Code"] == "InvalidParameterException"
    assert "expiresInMinutes" in exc.value.response["Error"]["Message"]
    off = ecs.update_task_protection(cluster="default", tasks=[task.task_arn, "missing"], protectionEnabled=False)
    assert off["protectedTasks"] == [{"taskArn": task.task_arn, "protectionEnabled": False}]
    assert off["failures"] == [{"arn": "missing", "reason": "MISSING"}]
    assert {"GetTaskProtection", "UpdateTaskProtection"} <= set(ecs.seen)

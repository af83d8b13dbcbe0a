"""`shoal exec`'s checks on the in-memory store (what may run where: a RUNNING task with
enableExecuteCommand on itself or its service, a command given) and ECS's ExecuteCommand
through boto3: refused, pointing to `shoal exec`; a viewer's key is refused before that.
The command itself in a real container: tests/integration/test_exec.py."""

from __future__ import annotations

import pytest

from controlplane.api import accesskeys, execute, services, tasks
from controlplane.api.logs import resolve
from controlplane.errors import ApiError
from controlplane.taskspec import new_task
from shoal.v1 import accesskeys_pb2 as ak
from shoal.v1 import logs_pb2
from shoal.v1 import operator_pb2 as op
from tests.unit.test_ecs_api import ecs, ecs_client, gateway  # noqa: F401  (fixtures)


def _task(ctx, *, service: str = "", enabled: bool = False, status: str = "RUNNING") -> str:
    td = tasks.taskdefs.runnable(ctx, "web")
    task = new_task("default", td, arns=ctx.arns, group=f"service:{service}" if service else "family:web",
                    service_name=service)
    task.enable_execute_command = enabled
    task.node_id, task.last_status = "n1", status
    tasks.create_tasks(ctx, [task])
    return task.id


def _check(ctx, task_id: str, command=("ls",)):
    req = logs_pb2.ExecuteCommandRequest(cluster="default", task=task_id, command=list(command))
    return execute.check(ctx, req, resolve(ctx, req))


def test_exec_needs_a_running_task_with_execute_command_enabled(gateway, ecs) -> None:  # noqa: F811
    ctx, _ = gateway
    ecs.register_task_definition(family="web", containerDefinitions=[
        {"name": "web", "image": "shoal/busybox:latest", "memory": 64}])
    on = _task(ctx, enabled=True)
    assert _check(ctx, on).container == "web"
    off = _task(ctx)
    with pytest.raises(ApiError) as refused:
        _check(ctx, off)
    assert refused.value.message == execute.NOT_ENABLED and refused.value.ecs_type == "InvalidParameterException"
    pending = _task(ctx, enabled=True, status="PENDING")
    with pytest.raises(ApiError, match="commands run only in a RUNNING task"):
        _check(ctx, pending)
    with pytest.raises(ApiError, match="command: required"):
        _check(ctx, on, command=())
    with pytest.raises(ApiError, match="command: at most"):
        _check(ctx, on, command=["x" * (execute.MAX_COMMAND_BYTES + 1)])
    # A service task follows its service's setting, whatever it was when the task started.
    ecs.create_service(cluster="default", serviceName="svc", taskDefinition="web", desiredCount=1)
    in_service = _task(ctx, service="svc")
    with pytest.raises(ApiError):
        _check(ctx, in_service)
    services.update(ctx, op.UpdateServiceRequest(cluster="default", service="svc", enable_execute_command=True))
    assert _check(ctx, in_service).task.id == in_service
    assert ecs.describe_services(cluster="default", services=["svc"])["services"][0]["enableExecuteCommand"]


def test_execute_command_points_to_shoal_exec_and_viewers_are_refused(gateway, ecs) -> None:  # noqa: F811
    ctx, gw = gateway
    with pytest.raises(ecs.exceptions.ClientException) as refused:
        ecs.execute_command(cluster="default", task="abc123", command="ls", interactive=True)
    message = refused.value.response["Error"]["Message"]
    assert "Session Manager plugin" in message and "shoal exec -it abc123 -- COMMAND" in message
    key = accesskeys.create(ctx, ak.CreateAccessKeyRequest(user="vic", role="viewer"))
    viewer = ecs_client(gw, key.access_key_id, key.secret_access_key)
    with pytest.raises(viewer.exceptions.AccessDeniedException) as denied:
        viewer.execute_command(cluster="default", task="abc123", command="ls", interactive=True)
    assert "'exec' permission" in denied.value.response["Error"]["Message"]

"""What the console's buttons do: each action is judged by the gRPC API's own rules
(``authz.decide`` on the Operator method that does the same work, as the ECS gateway does),
then done by the same function that method calls. A viewer's session is refused here
whatever its page showed, so a forged request fails like a hidden button."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc

from controlplane.api import nodes, services, tasks
from controlplane.api.context import ApiContext
from controlplane.authz import decide_or_raise
from controlplane.errors import ApiError, invalid
from shoal.arns import cluster_name
from shoal.security.ca import Identity
from shoal.v1 import operator_pb2 as op

Body = dict[str, Any]
MAX_DESIRED = 10_000


def _text(body: Body, name: str, most: int = 256) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value or len(value) > most:
        raise invalid(f"{name}: required, a string of at most {most} characters")
    return value


def scale(ctx: ApiContext, body: Body) -> Body:
    count = body.get("desiredCount")
    if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count <= MAX_DESIRED:
        raise invalid(f"desiredCount: an integer from 0 to {MAX_DESIRED}")
    svc = services.update(ctx, op.UpdateServiceRequest(cluster=_text(body, "cluster"), service=_text(body, "service"),
                                                       desired_count=count)).service
    return {"service": svc.service_name, "desired": svc.desired_count}


def redeploy(ctx: ApiContext, body: Body) -> Body:
    svc = services.update(ctx, op.UpdateServiceRequest(cluster=_text(body, "cluster"), service=_text(body, "service"),
                                                       force_new_deployment=True)).service
    return {"service": svc.service_name, "deployments": len(svc.deployments)}


def rollback(ctx: ApiContext, body: Body) -> Body:
    """Back to the task definition of the newest deployment still running beside the primary
    one (ECS keeps an earlier deployment only while it has tasks)."""
    cluster, name = _text(body, "cluster"), _text(body, "service")
    rec = ctx.state.service(cluster_name(cluster), name)
    if rec is None:
        raise ApiError(grpc.StatusCode.NOT_FOUND, f"service: {name[:64]!r} not found in cluster {cluster[:64]!r}")
    earlier = [d for d in rec.msg.deployments if d.status == "ACTIVE"]
    if not earlier:
        raise ApiError(grpc.StatusCode.FAILED_PRECONDITION,
                       f"service: {name} has no earlier deployment running to roll back to")
    target = max(earlier, key=lambda d: d.created_at).task_definition
    svc = services.update(ctx, op.UpdateServiceRequest(cluster=cluster, service=name, task_definition=target)).service
    return {"service": svc.service_name, "taskDefinition": svc.task_definition.rpartition("/")[2]}


def _node_state(status: str) -> Callable[[ApiContext, Body], Body]:
    def act(ctx: ApiContext, body: Body) -> Body:
        resp = nodes.update_state(ctx, op.UpdateContainerInstancesStateRequest(
            cluster=_text(body, "cluster"), container_instances=[_text(body, "node")], status=status))
        if resp.failures:
            raise invalid(f"node: {resp.failures[0].arn[:64]!r} {resp.failures[0].reason}")
        return {"node": resp.container_instances[0].id, "status": resp.container_instances[0].status}

    return act


def stop_task(ctx: ApiContext, body: Body) -> Body:
    task = tasks.stop(ctx, op.StopTaskRequest(cluster=_text(body, "cluster"), task=_text(body, "task"),
                                              reason="Task stopped from the console")).task
    return {"task": task.id, "desiredStatus": task.desired_status}


# action name -> (the Operator method whose permission it needs, what it does)
ACTIONS: dict[str, tuple[str, Callable[[ApiContext, Body], Body]]] = {
    "scale": ("UpdateService", scale),
    "redeploy": ("UpdateService", redeploy),
    "rollback": ("UpdateService", rollback),
    "drain": ("UpdateContainerInstancesState", _node_state("DRAINING")),
    "activate": ("UpdateContainerInstancesState", _node_state("ACTIVE")),
    "stop-task": ("StopTask", stop_task),
}


def run(ctx: ApiContext, name: str, identity: Identity | None, insecure: bool, body: Body) -> Body:
    """Runs action ``name`` for ``identity``; raises ApiError (PERMISSION_DENIED for a
    refusal, NOT_FOUND for an unknown action, INVALID_ARGUMENT naming the field)."""
    found = ACTIONS.get(name)
    if found is None:
        raise ApiError(grpc.StatusCode.NOT_FOUND, f"action: no action {name[:32]!r}; one of {', '.join(ACTIONS)}")
    method = f"/shoal.v1.Operator/{found[0]}"
    if not insecure:
        decide_or_raise(method, identity, via="console")
    return found[1](ctx, body)

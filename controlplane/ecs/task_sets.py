"""The ECS gateway's task set operations (the EXTERNAL deployment controller):
CreateTaskSet, DescribeTaskSets, UpdateTaskSet, DeleteTaskSet and
UpdateServicePrimaryTaskSet over controlplane/api/task_sets.py, and CreateService's
``deploymentController``. What Shoal cannot honour on a task set (awsvpc network
configuration, a platform version, service registries) is refused naming the field, never
dropped; ``loadBalancers`` are checked as CreateService's are."""

from __future__ import annotations

from typing import Any

from google.protobuf import json_format

from controlplane.api import task_sets
from controlplane.api.context import ApiContext
from controlplane.ecs import fields
from controlplane.ecs.capacity import strategy_items
from controlplane.ecs.errors import invalid_parameter
from controlplane.ecs.shapes import to_ecs
from controlplane.task_sets import CONTROLLERS, EXTERNAL, check_scale
from shoal.v1 import operator_pb2 as op
from shoal.v1 import resources_pb2 as r

Body = dict[str, Any]

_REFUSED = {
    "networkConfiguration": "Shoal tasks use bridge or host networking; awsvpc is not supported",
    "platformVersion": "platform versions are Fargate's; Shoal has none",
    "serviceRegistries": "task sets with service registries are not supported by Shoal yet",
}


def controller_of(body: Body) -> str:
    """CreateService's ``deploymentController.type``: ECS (also when absent) or EXTERNAL."""
    controller = body.get("deploymentController")
    if controller is None:
        return "ECS"
    kind = controller.get("type") if isinstance(controller, dict) else None
    if kind not in CONTROLLERS:
        raise invalid_parameter(f"deploymentController.type: {kind!r} is not supported by Shoal; use ECS or "
                                f"{EXTERNAL} (CODE_DEPLOY needs AWS CodeDeploy)")
    if set(controller) - {"type"}:
        raise invalid_parameter(f"deploymentController.{sorted(set(controller) - {'type'})[0]}: not supported")
    return kind


def create_external_service(ctx: ApiContext, body: Body) -> Body:
    rest = {k: v for k, v in body.items() if k != "deploymentController"}
    req = json_format.ParseDict(rest, op.CreateServiceRequest(), ignore_unknown_fields=True)
    return {"service": to_ecs(task_sets.create_service(ctx, req), tags=True)}


def _string(body: Body, name: str) -> str:
    return fields.string(body, name, required=True)


def _scale(body: Body, default: bool) -> r.Scale:
    scale = body.get("scale")
    if scale is None and default:
        return r.Scale(value=100.0, unit="PERCENT")
    if not isinstance(scale, dict):
        raise invalid_parameter("scale: required, an object {value, unit}")
    return check_scale(scale.get("value"), scale.get("unit"))


def _out(ts: r.TaskSet, tags: bool = True) -> Body:
    out = to_ecs(ts, tags=tags)
    # A scale of 0 is a value, not an unset timestamp (shapes.to_ecs leaves zero doubles out).
    out["scale"] = {"value": ts.scale.value, "unit": ts.scale.unit or "PERCENT"}
    return out


def _load_balancers(body: Body) -> list[r.ServiceLoadBalancer]:
    given = body.get("loadBalancers") or []
    if not isinstance(given, list):
        raise invalid_parameter("loadBalancers: must be a list of {targetGroupArn, containerName, containerPort}")
    out = []
    for i, entry in enumerate(given):
        if not isinstance(entry, dict):
            raise invalid_parameter(f"loadBalancers[{i}]: must be an object {{targetGroupArn, containerName, "
                                    "containerPort}")
        try:
            out.append(json_format.ParseDict(entry, r.ServiceLoadBalancer()))
        except json_format.ParseError as exc:
            raise invalid_parameter(f"loadBalancers[{i}]: {exc}") from None
    return out


def create_task_set(ctx: ApiContext, body: Body) -> Body:
    for name, why in _REFUSED.items():
        if body.get(name):
            raise invalid_parameter(f"{name}: {why}")
    strategy = []
    if body.get("capacityProviderStrategy") is not None:
        strategy = strategy_items(body["capacityProviderStrategy"], "capacityProviderStrategy")
    tags = body.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(t, dict) and isinstance(t.get("key"), str) for t in tags):
        raise invalid_parameter("tags: must be a list of {key, value} objects")
    ts = task_sets.create(
        ctx, _string(body, "cluster"), _string(body, "service"), task_definition=_string(body, "taskDefinition"),
        scale=_scale(body, default=True), launch_type=str(body.get("launchType") or ""), strategy=strategy,
        external_id=str(body.get("externalId") or ""),
        tags=[r.Tag(key=t["key"], value=str(t.get("value") or "")) for t in tags],
        client_token=str(body.get("clientToken") or ""), load_balancers=_load_balancers(body))
    return {"taskSet": _out(ts)}


def describe_task_sets(ctx: ApiContext, body: Body) -> Body:
    refs = body.get("taskSets") or []
    if not isinstance(refs, list) or not all(isinstance(x, str) for x in refs):
        raise invalid_parameter("taskSets: must be a list of task set ids or ARNs")
    include = body.get("include") or []
    if not isinstance(include, list) or set(include) - {"TAGS"}:
        raise invalid_parameter("include: TAGS is the only value")
    found, failures = task_sets.describe(ctx, _string(body, "cluster"), _string(body, "service"), refs)
    return {"taskSets": [_out(ts, tags="TAGS" in include) for ts in found],
            "failures": [to_ecs(f) for f in failures]}


def update_task_set(ctx: ApiContext, body: Body) -> Body:
    ts = task_sets.update_scale(ctx, _string(body, "cluster"), _string(body, "service"), _string(body, "taskSet"),
                                _scale(body, default=False))
    return {"taskSet": _out(ts)}


def delete_task_set(ctx: ApiContext, body: Body) -> Body:
    force = body.get("force", False)
    if not isinstance(force, bool):
        raise invalid_parameter("force: must be true or false")
    ts = task_sets.delete(ctx, _string(body, "cluster"), _string(body, "service"), _string(body, "taskSet"), force)
    return {"taskSet": _out(ts)}


def update_service_primary_task_set(ctx: ApiContext, body: Body) -> Body:
    ts = task_sets.make_primary(ctx, _string(body, "cluster"), _string(body, "service"),
                                _string(body, "primaryTaskSet"))
    return {"taskSet": _out(ts)}


ACTIONS = {
    "CreateTaskSet": create_task_set,
    "DeleteTaskSet": delete_task_set,
    "DescribeTaskSets": describe_task_sets,
    "UpdateServicePrimaryTaskSet": update_service_primary_task_set,
    "UpdateTaskSet": update_task_set,
}

"""The ECS gateway's service deployment operations: ListServiceDeployments,
DescribeServiceDeployments, DescribeServiceRevisions, StopServiceDeployment and
ContinueServiceDeployment, answered from
the service's deployment history (controlplane/api/service_deployments.py)."""

from __future__ import annotations

from typing import Any

from controlplane.api import service_deployments
from controlplane.api.context import ApiContext
from controlplane.api.paging import page
from controlplane.deployment_history import STATUSES
from controlplane.ecs import fields
from controlplane.ecs.errors import invalid_parameter
from controlplane.ecs.shapes import paged, to_ecs
from shoal.v1 import operator_pb2 as op

Body = dict[str, Any]

_BRIEF = ("serviceDeploymentArn", "serviceArn", "clusterArn", "startedAt", "createdAt", "finishedAt", "status",
          "statusReason")


def _time(value: Any, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise invalid_parameter(f"{name}: must be a timestamp")
    return float(value)


def list_service_deployments(ctx: ApiContext, body: Body) -> Body:
    fields.required(body, "service")
    statuses = fields.strings(body, "status")
    bad = [s for s in statuses if s not in STATUSES]
    if bad:
        raise invalid_parameter(f"status: {bad[0]!r} is not a service deployment status")
    created = body.get("createdAt") or {}
    if not isinstance(created, dict):
        raise invalid_parameter("createdAt: must be an object with before and/or after")
    before = _time(created.get("before"), "createdAt.before")
    after = _time(created.get("after"), "createdAt.after")
    svc = service_deployments.service(ctx, str(body.get("cluster") or ""), str(body["service"]))
    # Newest first, as ECS lists them.
    entries = sorted(svc.service_deployments, key=lambda e: e.created_at, reverse=True)
    entries = [e for e in entries if (not statuses or e.status in statuses)
               and (before is None or e.created_at < before) and (after is None or e.created_at > after)]
    by_arn = {e.service_deployment_arn: e for e in entries}
    resp = page([e.service_deployment_arn for e in entries], int(body.get("maxResults") or 0),
                str(body.get("nextToken") or ""))
    out: Body = {"serviceDeployments": []}
    for arn in resp.arns:
        full = to_ecs(by_arn[arn])
        brief = {k: full[k] for k in _BRIEF if k in full}
        if "targetServiceRevision" in full:
            brief["targetServiceRevisionArn"] = full["targetServiceRevision"]["arn"]
        out["serviceDeployments"].append(brief)
    return paged(out, resp)


def describe_service_deployments(ctx: ApiContext, body: Body) -> Body:
    found, failures = service_deployments.describe(ctx, fields.strings(body, "serviceDeploymentArns"))
    return {"serviceDeployments": [to_ecs(e) for e in found], "failures": [to_ecs(f) for f in failures]}


def describe_service_revisions(ctx: ApiContext, body: Body) -> Body:
    found, failures = service_deployments.describe_revisions(ctx, fields.strings(body, "serviceRevisionArns"))
    return {"serviceRevisions": [to_ecs(v) for v in found], "failures": [to_ecs(f) for f in failures]}


def stop_service_deployment(ctx: ApiContext, body: Body) -> Body:
    arn, stop_type = body.get("serviceDeploymentArn"), body.get("stopType")
    if not isinstance(arn, str) or not isinstance(stop_type, str | None):
        raise invalid_parameter("serviceDeploymentArn: required, a string")
    resp = service_deployments.stop(ctx, op.StopServiceDeploymentRequest(service_deployment_arn=arn,
                                                                        stop_type=stop_type or ""))
    return {"serviceDeploymentArn": resp.service_deployment_arn}


def continue_service_deployment(ctx: ApiContext, body: Body) -> Body:
    arn, hook, action = body.get("serviceDeploymentArn"), body.get("hookId"), body.get("action")
    for name, value in (("serviceDeploymentArn", arn), ("hookId", hook)):
        if not isinstance(value, str) or not value:
            raise invalid_parameter(f"{name}: required, a string")
    if not isinstance(action, str | None):
        raise invalid_parameter("action: CONTINUE or ROLLBACK")
    resp = service_deployments.continue_(ctx, op.ContinueServiceDeploymentRequest(
        service_deployment_arn=arn, hook_id=hook, action=action or ""))
    return {"serviceDeploymentArn": resp.service_deployment_arn}


ACTIONS = {
    "ContinueServiceDeployment": continue_service_deployment,
    "ListServiceDeployments": list_service_deployments,
    "DescribeServiceDeployments": describe_service_deployments,
    "DescribeServiceRevisions": describe_service_revisions,
    "StopServiceDeployment": stop_service_deployment,
}

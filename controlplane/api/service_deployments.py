"""ListServiceDeployments, DescribeServiceDeployments, DescribeServiceRevisions,
StopServiceDeployment and ContinueServiceDeployment: a service's deployment history
(controlplane/deployment_history.py), read from and, for a rollback or a hook continued,
written to the service record."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import TypeVar

from controlplane import traffic_shift
from controlplane.api import reads
from controlplane.api.context import ApiContext
from controlplane.api.described import described
from controlplane.deployment_history import parse_arn, roll_back, rollback_revision, track
from controlplane.deployments import breaker_threshold, new_deployment
from controlplane.errors import conflict, invalid, not_found
from shoal import keys
from shoal.arns import last_segment
from shoal.v1 import operator_pb2 as op
from shoal.v1 import resources_pb2 as r

T = TypeVar("T")

MAX_DESCRIBE = 20


def service(ctx: ApiContext, cluster_ref: str, service_ref: str) -> r.Service:
    """The service (named or by ARN) whose history is asked for; ServiceNotFoundException
    when there is none."""
    cluster = reads.require_cluster(ctx, cluster_ref).msg.cluster_name
    name = last_segment(service_ref)
    rec = reads.record(ctx, keys.service(cluster, name), r.Service)
    if rec is None:
        raise not_found(f"service: service {name!r} not found in cluster {cluster!r}", "ServiceNotFoundException")
    return rec.msg


def _check_arns(arns: list[str], field: str) -> None:
    if not arns:
        raise invalid(f"{field}: required")
    if len(arns) > MAX_DESCRIBE:
        raise invalid(f"{field}: at most {MAX_DESCRIBE} ARNs per call")


def _holder(ctx: ApiContext, arn: str, kind: str) -> r.Service | None:
    where = parse_arn(arn, kind)
    if where is None:
        return None
    rec = reads.record(ctx, keys.service(*where), r.Service)
    return rec.msg if rec is not None else None


def _describe(ctx: ApiContext, arns: list[str], field: str, kind: str,
              entries: Callable[[r.Service], Iterable[T]],
              arn_of: Callable[[T], str]) -> tuple[list[T], list[r.Failure]]:
    """The entries named by ``arns`` (each looked up in the service its ARN names), and a
    MISSING failure for each ARN that names none."""
    _check_arns(arns, field)

    def find(arn: str) -> T | None:
        svc = _holder(ctx, arn, kind)
        return next((e for e in entries(svc) if arn_of(e) == arn), None) if svc else None

    return described(arns, find)


def describe(ctx: ApiContext, arns: list[str]) -> tuple[list[r.ServiceDeployment], list[r.Failure]]:
    return _describe(ctx, arns, "serviceDeploymentArns", "service-deployment",
                     lambda svc: svc.service_deployments, lambda e: e.service_deployment_arn)


def describe_revisions(ctx: ApiContext, arns: list[str]) -> tuple[list[r.ServiceRevision], list[r.Failure]]:
    return _describe(ctx, arns, "serviceRevisionArns", "service-revision",
                     lambda svc: svc.service_revisions, lambda v: v.service_revision_arn)


def _update(ctx: ApiContext, arn: str, change: Callable[[r.Service, r.ServiceDeployment], None]) -> None:
    """Compare-and-set of the service holding the service deployment ``arn``: ``change``
    gets a fresh copy of the service and the deployment's entry in it;
    ServiceDeploymentNotFoundException when either is gone."""
    where = parse_arn(arn, "service-deployment")
    missing = not_found(f"serviceDeploymentArn: service deployment {arn!r} not found",
                        "ServiceDeploymentNotFoundException")
    if where is None:
        raise missing

    def mutate(svc: r.Service | None) -> r.Service:
        entry = next((e for e in svc.service_deployments if e.service_deployment_arn == arn), None) if svc else None
        if svc is None or entry is None:
            raise missing
        change(svc, entry)
        return svc

    ctx.state.update(keys.service(*where), r.Service, mutate, field="service")


def stop(ctx: ApiContext, req: op.StopServiceDeploymentRequest) -> op.StopServiceDeploymentResponse:
    arn = req.service_deployment_arn
    if not arn:
        raise invalid("serviceDeploymentArn: required")
    if req.stop_type not in ("", "ROLLBACK"):
        raise invalid(f"stopType: Shoal stops a service deployment only by ROLLBACK, not {req.stop_type!r}")

    def change(svc: r.Service, entry: r.ServiceDeployment) -> None:
        if svc.status != "ACTIVE":
            raise conflict(f"service: {svc.service_name!r} is {svc.status}", "ConflictException")
        if entry.status != "IN_PROGRESS":
            raise conflict(f"serviceDeploymentArn: the service deployment is {entry.status}; only one "
                           "IN_PROGRESS can be stopped", "ConflictException")
        rev = rollback_revision(svc, entry)
        if rev is None:
            raise conflict("serviceDeploymentArn: none of the revisions this deployment replaces was deployed "
                           "successfully; there is nothing to roll back to", "ConflictException")
        now = time.time()
        roll_back(svc, entry, rev, "Service deployment rolled back by StopServiceDeployment.",
                  new_deployment(rev.task_definition, svc.desired_count, svc.capacity_provider_strategy), now)
        track(svc, now, breaker_threshold(svc.desired_count))

    _update(ctx, arn, change)
    return op.StopServiceDeploymentResponse(service_deployment_arn=arn)


def continue_(ctx: ApiContext, req: op.ContinueServiceDeploymentRequest) -> op.StopServiceDeploymentResponse:
    """A PAUSE hook's answer: CONTINUE lets the deployment go on with its next stage (the
    controller's next cycle), ROLLBACK returns the service to the revision it replaced."""
    arn = req.service_deployment_arn
    if not arn:
        raise invalid("serviceDeploymentArn: required")
    if not req.hook_id:
        raise invalid("hookId: required")
    action = req.action or "CONTINUE"
    if action not in ("CONTINUE", "ROLLBACK"):
        raise invalid(f"action: CONTINUE or ROLLBACK, not {req.action!r}")

    def change(svc: r.Service, entry: r.ServiceDeployment) -> None:
        d = next((d for d in svc.deployments if d.id == entry.deployment_id), None)
        if d is None or entry.status != "IN_PROGRESS":
            raise invalid(f"serviceDeploymentArn: the service deployment is {entry.status}; no hook waits in it")
        traffic_shift.continue_hook(d, req.hook_id, action, time.time())
        # A ROLLBACK is carried out by the service controller, as a timed-out hook's is.
        track(svc, time.time(), breaker_threshold(svc.desired_count))

    _update(ctx, arn, change)
    return op.StopServiceDeploymentResponse(service_deployment_arn=arn)

"""A service's deployment history as ECS shows it (ListServiceDeployments,
DescribeServiceDeployments, DescribeServiceRevisions): one ServiceDeployment per deployment
the service started, each naming the ServiceRevision it rolls out and the ones it replaces.

The history lives in the service record, so it has the service's writers: the API (a new
deployment, a rollback asked for) and the leader's service controller (progress). Both call
``track`` on the record they write; it is pure and idempotent, and keeps the history bounded.
"""

from __future__ import annotations

import uuid

from shoal.v1 import resources_pb2 as r

# Finished service deployments kept per service (the live ones are always kept).
MAX_HISTORY = 10

IN_PROGRESS = "IN_PROGRESS"
SUCCESSFUL = "SUCCESSFUL"
STOPPED = "STOPPED"
ROLLBACK_IN_PROGRESS = "ROLLBACK_IN_PROGRESS"
ROLLBACK_SUCCESSFUL = "ROLLBACK_SUCCESSFUL"
ROLLBACK_FAILED = "ROLLBACK_FAILED"
STATUSES = frozenset({"PENDING", IN_PROGRESS, SUCCESSFUL, STOPPED, "STOP_REQUESTED", "ROLLBACK_REQUESTED",
                      ROLLBACK_IN_PROGRESS, ROLLBACK_SUCCESSFUL, ROLLBACK_FAILED})
_FINAL = frozenset({SUCCESSFUL, STOPPED, ROLLBACK_SUCCESSFUL, ROLLBACK_FAILED})


def deployment_arn(svc: r.Service, deployment_id: str) -> str:
    """``arn:...:service-deployment/<cluster>/<service>/<id>`` from ``ecs-svc/<id>``."""
    return svc.service_arn.replace(":service/", ":service-deployment/", 1) + "/" + deployment_id.rsplit("/", 1)[-1]


def parse_arn(arn: str, kind: str) -> tuple[str, str] | None:
    """(cluster, service) named by a service-deployment or service-revision ARN, or None."""
    head, sep, resource = arn.partition(f":{kind}/")
    parts = resource.split("/")
    if not head.startswith("arn:") or not sep or len(parts) != 3 or not all(parts):
        return None
    return parts[0], parts[1]


def is_final(entry: r.ServiceDeployment) -> bool:
    return entry.status in _FINAL


def _revision(svc: r.Service, d: r.Deployment, now: float) -> r.ServiceRevision:
    """The service's configuration as ``d`` rolls it out. A primary deployment is seen first
    by the write that made it, so the service's own fields are its configuration."""
    arn = svc.service_arn.replace(":service/", ":service-revision/", 1) + f"/{uuid.uuid4().int % 10**19:019d}"
    rev = r.ServiceRevision(service_revision_arn=arn, service_arn=svc.service_arn, cluster_arn=svc.cluster_arn,
                            task_definition=d.task_definition, launch_type=svc.launch_type or "EC2",
                            created_at=d.created_at or now)
    if d.status == "PRIMARY":
        rev.capacity_provider_strategy.extend(svc.capacity_provider_strategy)
        rev.load_balancers.extend(svc.load_balancers)
        rev.service_registries.extend(svc.service_registries)
    return rev


def _summary(d: r.Deployment) -> r.ServiceRevisionSummary:
    out = r.ServiceRevisionSummary(arn=d.service_revision_arn, requested_task_count=d.desired_count,
                                   running_task_count=d.running_count, pending_task_count=d.pending_count)
    if d.HasField("traffic_percent"):
        out.requested_production_traffic_weight = d.traffic_percent
    return out


# ECS names no stage for the wait before a production shift: it shows as the shift.
_ECS_STAGE = {"PRE_PRODUCTION_TRAFFIC_SHIFT": "PRODUCTION_TRAFFIC_SHIFT"}


def _breaker(svc: r.Service, d: r.Deployment | None, entry: r.ServiceDeployment, threshold: int) -> None:
    cb = entry.deployment_circuit_breaker
    if not svc.deployment_configuration.deployment_circuit_breaker.enable:
        cb.status = "DISABLED"
        return
    cb.threshold = threshold
    if d is not None:
        cb.failure_count = d.failed_tasks
        cb.status = "TRIGGERED" if d.rollout_state == "FAILED" else "MONITORING"
    if is_final(entry) and cb.status == "MONITORING":
        cb.status = "MONITORING_COMPLETE"


def track(svc: r.Service, now: float, threshold: int) -> None:
    """Brings ``svc``'s history up to date with its deployments (``threshold``: the circuit
    breaker's failure threshold for its desired count)."""
    primary = next((d for d in svc.deployments if d.status == "PRIMARY"), None)
    known = {e.deployment_id for e in svc.service_deployments}
    for d in reversed(svc.deployments):
        if not d.service_revision_arn:
            rev = _revision(svc, d, now)
            svc.service_revisions.append(rev)
            d.service_revision_arn = rev.service_revision_arn
        if d.rollback_of or d.id in known:
            # A rollback's progress is recorded on the deployment it rolls back.
            continue
        entry = svc.service_deployments.add(
            service_deployment_arn=deployment_arn(svc, d.id), service_arn=svc.service_arn,
            cluster_arn=svc.cluster_arn, created_at=d.created_at or now, started_at=d.created_at or now,
            updated_at=now, status=IN_PROGRESS, deployment_id=d.id)
        entry.deployment_configuration.CopyFrom(svc.deployment_configuration)
        entry.source_service_revisions.extend(_summary(o) for o in svc.deployments
                                              if o.id != d.id and o.service_revision_arn)
        known.add(d.id)
    live = {d.id: d for d in svc.deployments}
    for entry in svc.service_deployments:
        if is_final(entry):
            continue
        d = live.get(entry.deployment_id)
        before = entry.SerializeToString()
        if d is not None:
            entry.target_service_revision.CopyFrom(_summary(d))
            entry.lifecycle_stage = _ECS_STAGE.get(d.lifecycle_stage, d.lifecycle_stage)
            del entry.lifecycle_hook_details[:]
            entry.lifecycle_hook_details.extend(d.hooks)
        _advance(entry, d, primary, now)
        _breaker(svc, d, entry, threshold)
        if entry.SerializeToString() != before:
            entry.updated_at = now
    _bound(svc)


def _advance(entry: r.ServiceDeployment, d: r.Deployment | None, primary: r.Deployment | None, now: float) -> None:
    if entry.status == IN_PROGRESS:
        if d is not None and d.status == "PRIMARY" and d.rollout_state == "COMPLETED":
            entry.status, entry.status_reason, entry.finished_at = SUCCESSFUL, "", now
        elif d is not None and d.rollout_state == "FAILED" and d.status != "PRIMARY" and primary is not None:
            # The circuit breaker made an earlier deployment primary again.
            entry.status, entry.status_reason = ROLLBACK_IN_PROGRESS, d.rollout_state_reason
            entry.rollback.CopyFrom(r.ServiceDeploymentRollback(
                reason=d.rollout_state_reason, started_at=now, service_revision_arn=primary.service_revision_arn))
        elif d is not None and d.rollout_state == "FAILED" and d.status == "PRIMARY":
            entry.status, entry.status_reason, entry.stopped_at = STOPPED, d.rollout_state_reason, now
        elif d is None or d.status != "PRIMARY":
            entry.status, entry.stopped_at = STOPPED, now
            entry.status_reason = "Superseded by a newer service deployment." if primary is not None else ""
        return
    # ROLLBACK_REQUESTED / ROLLBACK_IN_PROGRESS: done when the revision rolled back to is
    # primary and its rollout completed.
    target = primary if primary is not None and primary.service_revision_arn == entry.rollback.service_revision_arn \
        else None
    if target is None:
        entry.status, entry.status_reason, entry.finished_at = ROLLBACK_FAILED, "Superseded during rollback.", now
    elif target.rollout_state == "COMPLETED":
        entry.status, entry.finished_at = ROLLBACK_SUCCESSFUL, now
    elif target.rollout_state == "FAILED":
        entry.status, entry.status_reason, entry.finished_at = ROLLBACK_FAILED, target.rollout_state_reason, now
    else:
        entry.status = ROLLBACK_IN_PROGRESS


def _bound(svc: r.Service) -> None:
    finished = [e for e in svc.service_deployments if is_final(e)]
    drop = {e.service_deployment_arn for e in sorted(finished, key=lambda e: e.created_at)[:-MAX_HISTORY]} \
        if len(finished) > MAX_HISTORY else set()
    if drop:
        keep = [e for e in svc.service_deployments if e.service_deployment_arn not in drop]
        del svc.service_deployments[:]
        svc.service_deployments.extend(keep)
    named = {d.service_revision_arn for d in svc.deployments}
    for e in svc.service_deployments:
        named.add(e.target_service_revision.arn)
        named.update(s.arn for s in e.source_service_revisions)
        named.add(e.rollback.service_revision_arn)
    if any(rev.service_revision_arn not in named for rev in svc.service_revisions):
        keep_revs = [rev for rev in svc.service_revisions if rev.service_revision_arn in named]
        del svc.service_revisions[:]
        svc.service_revisions.extend(keep_revs)


def rollback_revision(svc: r.Service, entry: r.ServiceDeployment) -> r.ServiceRevision | None:
    """The revision a rollback of ``entry`` returns to, as ECS picks it: the newest of the
    revisions it replaces that a deployment completed (None: there is none)."""
    done = {e.target_service_revision.arn for e in svc.service_deployments if e.status == SUCCESSFUL}
    for source in entry.source_service_revisions:
        rev = next((v for v in svc.service_revisions if v.service_revision_arn == source.arn), None)
        if rev is not None and source.arn in done:
            return rev
    return None


def roll_back(svc: r.Service, entry: r.ServiceDeployment, rev: r.ServiceRevision, reason: str, new: r.Deployment,
              now: float) -> None:
    """StopServiceDeployment(ROLLBACK): the in-progress ``entry`` gives way to ``rev``, a
    revision it replaced. A deployment still kept for that revision becomes primary again
    (its tasks count at once); otherwise ``new``, made for the revision's task definition,
    does."""
    source = rev.service_revision_arn
    shifting = False
    for d in svc.deployments:
        if d.id == entry.deployment_id:
            d.status, d.rollout_state, d.rollout_state_reason, d.updated_at = "ACTIVE", "FAILED", reason, now
            if d.HasField("traffic_percent"):
                # Every request goes back to the revision rolled back to.
                d.traffic_percent, shifting = 0.0, True
    target = next((d for d in svc.deployments if d.service_revision_arn == source and d.status == "ACTIVE"
                   and d.id != entry.deployment_id), None)
    if target is None:
        new.service_revision_arn, new.rollback_of = source, entry.deployment_id
        target = new
    else:
        svc.deployments.remove(target)
    for d in svc.deployments:
        if d.status == "PRIMARY":
            d.status = "ACTIVE"
    target.status, target.rollout_state, target.updated_at = "PRIMARY", "IN_PROGRESS", now
    target.rollout_state_reason = f"rolling back from deployment {entry.deployment_id}"
    target.desired_count = svc.desired_count
    if shifting:
        target.traffic_percent, target.lifecycle_stage = 100.0, "CLEAN_UP"
    svc.deployments.insert(0, target)
    svc.task_definition = rev.task_definition
    entry.status, entry.status_reason, entry.updated_at = ROLLBACK_IN_PROGRESS, reason, now
    entry.rollback.CopyFrom(r.ServiceDeploymentRollback(reason=reason, started_at=now, service_revision_arn=source))

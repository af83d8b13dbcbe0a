"""The ECS gateway's daemons (ECS, 2026): CreateDaemon, DescribeDaemon, UpdateDaemon,
DeleteDaemon, ListDaemons, ListDaemonDeployments, DescribeDaemonDeployments and
DescribeDaemonRevisions, over Shoal's DAEMON services.

What maps to what:
- a daemon is a service with ``schedulingStrategy: DAEMON`` of the same name in the same
  cluster; its ARN is the service's with ``daemon/`` for ``service/``
  (``arn:aws:ecs:REGION:ACCOUNT:daemon/CLUSTER/NAME``). Every DAEMON service is a daemon.
- ``capacityProviderArns`` (names or ARNs) become the service's placement constraint
  ``memberOf(attribute:shoal.capacity-provider in [...])``: the daemon runs one task on
  every ACTIVE node of those providers.
- ``deploymentConfiguration.drainPercent`` is ``100 - minimumHealthyPercent`` of the
  service's per-node rolling update; ``critical`` is ``daemonCritical``; ``tags`` and
  ``enableExecuteCommand`` are the service's.
- daemon deployments and revisions are the service's deployment history
  (ListServiceDeployments' entries) under the same ARNs.
What Shoal cannot act on (alarms, a bake time, propagated or ECS-managed tags) is refused
with InvalidParameterException naming the member."""

from __future__ import annotations

from typing import Any

from controlplane.api import reads, service_deployments, services
from controlplane.api.context import ApiContext
from controlplane.api.paging import page
from controlplane.api.traffic_state import live_services
from controlplane.ecs import daemon_taskdefs, deployments, fields
from controlplane.ecs.daemon_taskdefs import daemon_taskdef
from controlplane.ecs.errors import EcsError, invalid_parameter
from controlplane.ecs.shapes import paged, to_ecs
from controlplane.errors import ApiError
from controlplane.scheduler.model import PROVIDER_ATTRIBUTE
from controlplane.state import Record
from shoal import keys
from shoal.arns import last_segment
from shoal.v1 import operator_pb2 as op
from shoal.v1 import resources_pb2 as r

Body = dict[str, Any]

DAEMON = "DAEMON"
_CREATE_MEMBERS = frozenset({"daemonName", "clusterArn", "daemonTaskDefinitionArn", "capacityProviderArns",
                             "deploymentConfiguration", "tags", "propagateTags", "enableECSManagedTags",
                             "enableExecuteCommand", "clientToken", "critical"})
_UPDATE_MEMBERS = (_CREATE_MEMBERS - {"daemonName", "clusterArn", "tags", "clientToken"}) | {"daemonArn"}
_DEPLOYMENT_MEMBERS = frozenset({"drainPercent", "alarms", "bakeTimeInMinutes"})
# Service deployment statuses that ECS's daemon deployments name otherwise.
_STATUS = {"ROLLBACK_REQUESTED": "ROLLBACK_IN_PROGRESS"}


def daemon_arn(svc: r.Service) -> str:
    return svc.service_arn.replace(":service/", ":daemon/", 1)


def _where(arn: Any, field: str = "daemonArn") -> tuple[str, str]:
    """(cluster, name) from a daemon ARN."""
    if not isinstance(arn, str) or ":daemon/" not in arn:
        raise invalid_parameter(f"{field}: required, a daemon ARN (arn:aws:ecs:REGION:ACCOUNT:daemon/CLUSTER/NAME)")
    cluster, _, name = arn.split(":daemon/", 1)[1].partition("/")
    if not cluster or not name or "/" in name:
        raise invalid_parameter(f"{field}: {arn[:200]!r} is not a daemon ARN (…:daemon/CLUSTER/NAME)")
    return cluster, name


def _daemon(ctx: ApiContext, arn: Any) -> Record[r.Service]:
    cluster, name = _where(arn)
    reads.require_cluster(ctx, cluster)
    rec = reads.record(ctx, keys.service(cluster, name), r.Service)
    if rec is None or rec.msg.scheduling_strategy != DAEMON or rec.msg.status == "INACTIVE":
        raise EcsError("DaemonNotFoundException", f"daemonArn: daemon {name!r} not found in cluster {cluster!r}")
    return rec


def _active(ctx: ApiContext, arn: Any) -> Record[r.Service]:
    rec = _daemon(ctx, arn)
    if rec.msg.status != "ACTIVE":
        raise EcsError("DaemonNotActiveException", f"daemonArn: daemon {rec.msg.service_name!r} is being deleted")
    return rec


def _status(svc: r.Service) -> str:
    return "ACTIVE" if svc.status == "ACTIVE" else "DELETE_IN_PROGRESS"


def _providers(body: Body) -> list[str]:
    value = body.get("capacityProviderArns")
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise invalid_parameter("capacityProviderArns: required, a list of capacity provider names or ARNs")
    names = [last_segment(v) for v in value]
    bad = [n for n in names if not n.replace("-", "").replace("_", "").isalnum()]
    if bad:
        raise invalid_parameter(f"capacityProviderArns: {bad[0][:100]!r} is not a capacity provider name")
    return sorted(set(names))


def _constraint(providers: list[str]) -> r.PlacementConstraint:
    return r.PlacementConstraint(type="memberOf",
                                 expression=f"attribute:{PROVIDER_ATTRIBUTE} in [{', '.join(providers)}]")


def providers_of(svc: r.Service) -> list[str]:
    """The capacity providers a daemon's constraint names ([] for a DAEMON service made
    without one: it runs on every node)."""
    prefix = f"attribute:{PROVIDER_ATTRIBUTE} in ["
    for c in svc.placement_constraints:
        if c.type == "memberOf" and c.expression.startswith(prefix) and c.expression.endswith("]"):
            return [p.strip() for p in c.expression[len(prefix):-1].split(",") if p.strip()]
    return []


def _refuse_unsupported(body: Body, allowed: frozenset[str]) -> None:
    fields.only(body, allowed, "not a member of this daemon operation")
    if body.get("propagateTags") not in (None, "NONE"):
        raise invalid_parameter("propagateTags: Shoal does not propagate a daemon's tags to its tasks; "
                                "use NONE or leave it out")
    if body.get("enableECSManagedTags"):
        raise invalid_parameter("enableECSManagedTags: Shoal adds no ECS-managed tags; leave it out")
    for name in ("enableExecuteCommand", "critical"):
        fields.boolean(body, name)


def _deployment_config(body: Body) -> r.DeploymentConfiguration | None:
    dc = body.get("deploymentConfiguration")
    if dc is None:
        return None
    if not isinstance(dc, dict):
        raise invalid_parameter("deploymentConfiguration: must be an object")
    extra = sorted(set(dc) - _DEPLOYMENT_MEMBERS)
    if extra:
        raise invalid_parameter(f"deploymentConfiguration.{extra[0]}: not a member of a daemon deployment "
                                "configuration")
    alarms = dc.get("alarms")
    if alarms is not None and (not isinstance(alarms, dict) or alarms.get("enable") or alarms.get("alarmNames")):
        raise invalid_parameter("deploymentConfiguration.alarms: Shoal has no CloudWatch alarms to watch a "
                                "deployment; leave it out")
    if dc.get("bakeTimeInMinutes"):
        raise invalid_parameter("deploymentConfiguration.bakeTimeInMinutes: Shoal's daemon rolling update has no "
                                "bake time; leave it out or give 0")
    out = r.DeploymentConfiguration()
    drain = dc.get("drainPercent")
    if drain is not None:
        if isinstance(drain, bool) or not isinstance(drain, int | float) or not 0 <= drain <= 100:
            raise invalid_parameter("deploymentConfiguration.drainPercent: must be between 0.0 and 100.0")
        # Nodes drained at once are those the minimum healthy percent leaves free (at least one).
        out.minimum_healthy_percent = int(100 - drain)
    return out


def _deployment_arn(svc: r.Service) -> str:
    latest = max(svc.service_deployments, key=lambda e: e.created_at, default=None)
    return latest.service_deployment_arn if latest is not None else ""


def _brief(svc: r.Service) -> Body:
    out: Body = {"daemonArn": daemon_arn(svc), "status": _status(svc), "createdAt": svc.created_at}
    arn = _deployment_arn(svc)
    if arn:
        out["deploymentArn"] = arn
    return out


def create_daemon(ctx: ApiContext, body: Body) -> Body:
    _refuse_unsupported(body, _CREATE_MEMBERS)
    name = fields.string(body, "daemonName", required=True)
    td = daemon_taskdef(ctx, body.get("daemonTaskDefinitionArn"), "daemonTaskDefinitionArn")
    tags = body.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(t, dict) and set(t) <= {"key", "value"} for t in tags):
        raise invalid_parameter("tags: must be a list of {key, value} objects")
    req = op.CreateServiceRequest(
        cluster=str(body.get("clusterArn") or ""), service_name=name, task_definition=td.task_definition_arn,
        scheduling_strategy=DAEMON, enable_execute_command=bool(body.get("enableExecuteCommand")),
        daemon_critical=bool(body.get("critical")), tags=[r.Tag(key=t.get("key", ""), value=t.get("value", ""))
                                                          for t in tags])
    req.placement_constraints.append(_constraint(_providers(body)))
    dc = _deployment_config(body)
    if dc is not None:
        req.deployment_configuration.CopyFrom(dc)
    try:
        return _brief(services.create(ctx, req).service)
    except ApiError as exc:
        # The service's field is the daemon's here: say it in the words of the call.
        if exc.message.startswith("serviceName:"):
            raise EcsError(exc.ecs_type, "daemonName:" + exc.message.removeprefix("serviceName:")) from None
        raise


def update_daemon(ctx: ApiContext, body: Body) -> Body:
    """ECS's UpdateDaemon names the task definition and the providers every time: both are
    set, and a new revision starts a per-node rolling update."""
    _refuse_unsupported(body, _UPDATE_MEMBERS)
    rec = _active(ctx, body.get("daemonArn"))
    td = daemon_taskdef(ctx, body.get("daemonTaskDefinitionArn"), "daemonTaskDefinitionArn")
    svc = rec.msg
    req = op.UpdateServiceRequest(cluster=svc.cluster, service=svc.service_name, task_definition=td.task_definition_arn,
                                  update_placement_constraints=True)
    kept = [c for c in svc.placement_constraints if not (c.type == "memberOf" and providers_of(
        r.Service(placement_constraints=[c])))]
    req.placement_constraints.extend([*kept, _constraint(_providers(body))])
    dc = _deployment_config(body)
    if dc is not None:
        req.deployment_configuration.CopyFrom(dc)
    if "enableExecuteCommand" in body:
        req.enable_execute_command = bool(body["enableExecuteCommand"])
    if "critical" in body:
        req.daemon_critical = bool(body["critical"])
    updated = services.update(ctx, req).service
    return {**_brief(updated), "updatedAt": _updated(updated)}


def delete_daemon(ctx: ApiContext, body: Body) -> Body:
    fields.only(body, {"daemonArn"}, "not a member of DeleteDaemon")
    svc = _active(ctx, body.get("daemonArn")).msg
    gone = services.delete(ctx, op.DeleteServiceRequest(cluster=svc.cluster, service=svc.service_name, force=True))
    return {**_brief(gone.service), "updatedAt": _updated(gone.service)}


def _updated(svc: r.Service) -> float:
    return max([svc.created_at, *(d.updated_at for d in svc.deployments), *(e.created_at for e in svc.events)])


def _revisions(ctx: ApiContext, svc: r.Service) -> list[Body]:
    """One entry per revision the daemon runs now (the primary first), with its RUNNING
    tasks per capacity provider and, for the primary, the eligible nodes still without one."""
    nodes = {rec.msg.id: rec.msg for rec in ctx.state.load_all(keys.NODES, r.ContainerInstance)
             if rec.msg.cluster == svc.cluster}

    def provider(node_id: str) -> str:
        node = nodes.get(node_id)
        return next((a.value for a in node.attributes if a.name == PROVIDER_ATTRIBUTE), "") if node else ""

    wanted = providers_of(svc)
    tasks = [t.msg for t in reads.tasks(ctx, svc.cluster, svc.service_name)
             if t.msg.service_name == svc.service_name and t.msg.last_status == "RUNNING"]
    out = []
    live = [d for d in svc.deployments if d.status in ("PRIMARY", "ACTIVE")]
    for d in sorted(live, key=lambda d: d.status != "PRIMARY"):
        mine = [t for t in tasks if t.deployment_id == d.id]
        with_daemon = {t.node_id for t in mine}
        entry: Body = {"arn": d.service_revision_arn, "capacityProviders": [], "totalRunningCount": len(mine),
                       "totalWithoutDaemonCount": 0}
        for p in wanted:
            eligible = [n for n in nodes.values() if n.status == "ACTIVE" and provider(n.id) == p]
            without = sum(1 for n in eligible if n.id not in with_daemon) if d.status == "PRIMARY" else 0
            entry["capacityProviders"].append({"arn": p, "runningCount": sum(provider(t.node_id) == p for t in mine),
                                               "withoutDaemonCount": without})
            entry["totalWithoutDaemonCount"] += without
        out.append(entry)
    return out


def describe_daemon(ctx: ApiContext, body: Body) -> Body:
    svc = _daemon(ctx, body.get("daemonArn")).msg
    out: Body = {"daemonArn": daemon_arn(svc), "clusterArn": svc.cluster_arn, "status": _status(svc),
                 "currentRevisions": _revisions(ctx, svc), "createdAt": svc.created_at, "updatedAt": _updated(svc)}
    arn = _deployment_arn(svc)
    if arn:
        out["deploymentArn"] = arn
    return {"daemon": out}


def list_daemons(ctx: ApiContext, body: Body) -> Body:
    cluster = reads.require_cluster(ctx, str(body.get("clusterArn") or "")).msg.cluster_name
    wanted = set(_providers(body)) if body.get("capacityProviderArns") else set()
    found = {daemon_arn(s.msg): s.msg for s in live_services(ctx, cluster) if s.msg.scheduling_strategy == DAEMON
             and (not wanted or wanted & set(providers_of(s.msg)))}
    resp = page(sorted(found), int(body.get("maxResults") or 0), str(body.get("nextToken") or ""))
    out: Body = {"daemonSummariesList": [{"daemonArn": arn, "status": _status(found[arn]),
                                          "createdAt": found[arn].created_at, "updatedAt": _updated(found[arn])}
                                         for arn in resp.arns]}
    return paged(out, resp)


# ---- deployments and revisions: the service's deployment history -------------------------------

def _revision_detail(summary: Body, draining: int = 0) -> Body:
    running = summary.get("runningTaskCount", 0)
    return {"arn": summary.get("arn", ""), "capacityProviders": [], "totalRunningInstanceCount": running,
            "totalWithoutDaemonInstanceCount": max(0, summary.get("requestedTaskCount", 0) - running),
            "totalDrainingInstanceCount": draining}


def _daemon_deployment(e: r.ServiceDeployment) -> Body:
    full = to_ecs(e)
    out: Body = {"daemonDeploymentArn": e.service_deployment_arn, "clusterArn": e.cluster_arn,
                 "status": _STATUS.get(e.status, e.status)}
    for k in ("statusReason", "createdAt", "startedAt", "stoppedAt", "finishedAt"):
        if k in full:
            out[k] = full[k]
    if "targetServiceRevision" in full:
        out["targetDaemonRevision"] = _revision_detail(full["targetServiceRevision"])
    out["sourceDaemonRevisions"] = [_revision_detail(s) for s in full.get("sourceServiceRevisions", [])]
    if "deploymentCircuitBreaker" in full:
        out["circuitBreaker"] = full["deploymentCircuitBreaker"]
    if "rollback" in full:
        rb = full["rollback"]
        out["rollback"] = {k2: rb[k1] for k1, k2 in (("reason", "reason"), ("startedAt", "startedAt"),
                                                     ("serviceRevisionArn", "rollbackTargetDaemonRevisionArn"))
                           if k1 in rb}
    if e.HasField("deployment_configuration"):
        out["deploymentConfiguration"] = {
            "drainPercent": float(100 - e.deployment_configuration.minimum_healthy_percent)}
    return out


def list_daemon_deployments(ctx: ApiContext, body: Body) -> Body:
    cluster, name = _where(body.get("daemonArn"))
    _daemon(ctx, body.get("daemonArn"))
    statuses = body.get("status")
    listed = deployments.list_service_deployments(ctx, {
        "cluster": cluster, "service": name, "status": statuses, "createdAt": body.get("createdAt"),
        "maxResults": body.get("maxResults"), "nextToken": body.get("nextToken")})
    svc = service_deployments.service(ctx, cluster, name)
    by_arn = {e.service_deployment_arn: e for e in svc.service_deployments}
    out: Body = {"daemonDeployments": []}
    for brief in listed["serviceDeployments"]:
        d = _daemon_deployment(by_arn[brief["serviceDeploymentArn"]])
        item = {k: d[k] for k in ("daemonDeploymentArn", "clusterArn", "status", "statusReason", "createdAt",
                                  "startedAt", "stoppedAt", "finishedAt") if k in d}
        item["daemonArn"] = daemon_arn(svc)
        if "targetDaemonRevision" in d:
            item["targetDaemonRevisionArn"] = d["targetDaemonRevision"]["arn"]
        out["daemonDeployments"].append(item)
    if "nextToken" in listed:
        out["nextToken"] = listed["nextToken"]
    return out


def _arns(body: Body, name: str) -> list[str]:
    value = body.get(name)
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise invalid_parameter(f"{name}: required, a list of ARNs")
    return value


def _of_daemons(ctx: ApiContext, found: list, failures: list[r.Failure], arn_of: Any) -> list:
    """The entries whose service is a DAEMON service; another service's is MISSING here
    (it is a service deployment, not a daemon's)."""
    strategies: dict[str, str] = {}
    kept = []
    for e in found:
        if e.service_arn not in strategies:
            cluster, _, name = e.service_arn.partition(":service/")[2].partition("/")
            rec = reads.record(ctx, keys.service(cluster, name), r.Service)
            strategies[e.service_arn] = rec.msg.scheduling_strategy if rec is not None else ""
        if strategies[e.service_arn] == DAEMON:
            kept.append(e)
        else:
            failures.append(r.Failure(arn=arn_of(e), reason="MISSING"))
    return kept


def describe_daemon_deployments(ctx: ApiContext, body: Body) -> Body:
    found, failures = service_deployments.describe(ctx, _arns(body, "daemonDeploymentArns"))
    found = _of_daemons(ctx, found, failures, lambda e: e.service_deployment_arn)
    return {"daemonDeployments": [_daemon_deployment(e) for e in found],
            "failures": [to_ecs(f) for f in failures]}


def describe_daemon_revisions(ctx: ApiContext, body: Body) -> Body:
    found, failures = service_deployments.describe_revisions(ctx, _arns(body, "daemonRevisionArns"))
    found = _of_daemons(ctx, found, failures, lambda v: v.service_revision_arn)
    out = []
    for v in found:
        item: Body = {"daemonRevisionArn": v.service_revision_arn, "clusterArn": v.cluster_arn,
                      "daemonArn": v.service_arn.replace(":service/", ":daemon/", 1),
                      "daemonTaskDefinitionArn": v.task_definition, "createdAt": v.created_at}
        td = _taskdef(ctx, v.task_definition)
        if td is not None:
            item["containerImages"] = [{"containerName": c.name, "image": c.image} for c in td.container_definitions]
        out.append(item)
    return {"daemonRevisions": out, "failures": [to_ecs(f) for f in failures]}


def _taskdef(ctx: ApiContext, arn: str) -> r.TaskDefinition | None:
    family, _, revision = last_segment(arn).rpartition(":")
    rec = ctx.state.taskdef(family, int(revision)) if revision.isdigit() else None
    return rec.msg if rec is not None else None


ACTIONS = {
    "CreateDaemon": create_daemon,
    "DescribeDaemon": describe_daemon,
    "UpdateDaemon": update_daemon,
    "DeleteDaemon": delete_daemon,
    "ListDaemons": list_daemons,
    "ListDaemonDeployments": list_daemon_deployments,
    "DescribeDaemonDeployments": describe_daemon_deployments,
    "DescribeDaemonRevisions": describe_daemon_revisions,
    **daemon_taskdefs.ACTIONS,
}

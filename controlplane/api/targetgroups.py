"""CreateTargetGroup, ModifyTargetGroup, DeleteTargetGroup, DescribeTargetGroups and
DescribeTargetHealth. A target group is desire (its health check and deregistration
delay); its targets are the tasks of the services attached to it, and their health is what
their agents observed (``Task.target_health``)."""

from __future__ import annotations

import secrets
import time

import grpc

from controlplane.api import registered_health
from controlplane.api import traffic_checks as check
from controlplane.api.context import ApiContext
from controlplane.api.described import described
from controlplane.api.traffic_state import (
    deleting,
    find_load_balancer,
    find_target_group,
    in_use,
    live_services,
    load_balancers,
    not_found,
    target_group_arns_of,
    target_groups,
)
from controlplane.routing.targets import attachments
from shoal import keys
from shoal.arns import ArnFormat
from shoal.errors import ApiError
from shoal.store.base import Conflict
from shoal.v1 import resources_pb2 as r
from shoal.v1 import traffic_pb2 as t

# What the target group a listener makes for its load balancer checks: quicker than ELBv2's
# defaults (30 s × 5 before a target is healthy), so a new service takes traffic in seconds.
DEFAULT_GROUP_CHECK = dict(interval_seconds=5, timeout_seconds=2, healthy_threshold=2, unhealthy_threshold=2)
DEFAULT_GROUP_DEREGISTRATION_DELAY = 10


def new_group(arns: ArnFormat, cluster: str, name: str, protocol: str, port: int, hc: t.HealthCheckConfig,
              deregistration_delay: int) -> t.TargetGroup:
    """A checked target group record (the caller has checked the name, protocol and port)."""
    tg_id = secrets.token_hex(8)
    tg = t.TargetGroup(target_group_arn=arns.target_group(name, tg_id), target_group_name=name,
                       protocol=protocol, port=port, cluster=cluster, id=tg_id, created_at=time.time(),
                       deregistration_delay_seconds=check.deregistration_delay(deregistration_delay))
    tg.health_check.CopyFrom(check.health_check(hc, protocol))
    return tg


def default_group(arns: ArnFormat, lb: t.LoadBalancer, protocol: str, port: int) -> t.TargetGroup:
    """The target group a listener without one gets: named after its load balancer."""
    return new_group(arns, lb.cluster, lb.load_balancer_name, protocol, port,
                     t.HealthCheckConfig(**DEFAULT_GROUP_CHECK), DEFAULT_GROUP_DEREGISTRATION_DELAY)


def _with_users(ctx: ApiContext, cluster: str, groups: list[t.TargetGroup]) -> list[t.TargetGroup]:
    """``load_balancer_arns`` is derived, never stored: the load balancers whose listeners or
    rules send to each group."""
    users: dict[str, list[str]] = {}
    for lb in load_balancers(ctx, cluster):
        for arn in target_group_arns_of(lb.msg):
            users.setdefault(arn, []).append(lb.msg.load_balancer_arn)
    for tg in groups:
        del tg.load_balancer_arns[:]
        tg.load_balancer_arns.extend(sorted(users.get(tg.target_group_arn, [])))
    return groups


def create(ctx: ApiContext, req: t.CreateTargetGroupRequest) -> t.TargetGroupResponse:
    cluster = ctx.require_cluster(req.cluster).msg.cluster_name
    name = check.elb_name(req.name, "name", "target group")
    protocol = check.protocol(req.protocol or "HTTP", "protocol")
    port = check.port(req.port, "port")
    delay = req.deregistration_delay_seconds if req.HasField("deregistration_delay_seconds") else (
        check.DEFAULT_DEREGISTRATION_DELAY)
    tg = new_group(ctx.arns, cluster, name, protocol, port, req.health_check, delay)
    tg.tags.extend(check.tags(req.tags))
    try:
        ctx.store.create(keys.target_group(cluster, name), tg.SerializeToString())
    except Conflict:
        raise ApiError(grpc.StatusCode.ALREADY_EXISTS,
                       f"name: a target group named {name!r} already exists in cluster {cluster!r}",
                       "DuplicateTargetGroupName") from None
    return t.TargetGroupResponse(target_group=tg)


def modify(ctx: ApiContext, req: t.ModifyTargetGroupRequest) -> t.TargetGroupResponse:
    cluster = ctx.require_cluster(req.cluster).msg.cluster_name
    rec = find_target_group(ctx, cluster, req.target_group)

    def change(tg: t.TargetGroup | None) -> t.TargetGroup:
        if tg is None or tg.target_group_arn != rec.msg.target_group_arn:
            raise not_found(f"targetGroup: target group {req.target_group[:256]!r} was deleted",
                            "TargetGroupNotFound")
        if req.HasField("health_check"):
            merged = t.HealthCheckConfig()
            merged.CopyFrom(tg.health_check)
            merged.MergeFrom(req.health_check)
            tg.health_check.CopyFrom(check.health_check(merged, tg.protocol))
        if req.HasField("deregistration_delay_seconds"):
            tg.deregistration_delay_seconds = check.deregistration_delay(req.deregistration_delay_seconds)
        return tg

    out = ctx.state.update(rec.key, t.TargetGroup, change, field="targetGroup")
    return t.TargetGroupResponse(target_group=_with_users(ctx, cluster, [out.msg])[0])


def _users(ctx: ApiContext, cluster: str, arn: str) -> list[str]:
    found = [f"load balancer {lb.msg.load_balancer_name!r}" for lb in load_balancers(ctx, cluster)
             if arn in target_group_arns_of(lb.msg) or arn == lb.msg.default_target_group_arn]
    found += [f"service {s.msg.service_name!r}" for s in live_services(ctx, cluster)
              if any(x.target_group_arn == arn for x in s.msg.load_balancers)]
    found += [f"task set {ts.id} of service {s.msg.service_name!r}" for s in live_services(ctx, cluster)
              for ts in s.msg.task_sets if any(x.target_group_arn == arn for x in ts.load_balancers)]
    return found


def delete(ctx: ApiContext, req: t.TargetGroupRef) -> t.TargetGroupResponse:
    cluster = ctx.require_cluster(req.cluster).msg.cluster_name
    rec = find_target_group(ctx, cluster, req.target_group)
    users = _users(ctx, cluster, rec.msg.target_group_arn)
    if users:
        raise in_use(f"targetGroup: {rec.msg.target_group_name!r} is in use by {', '.join(users)}; "
                     "delete or change those first")
    with deleting("targetGroup"):
        ctx.store.delete(rec.key, rec.mod_revision)
    return t.TargetGroupResponse(target_group=rec.msg)


def describe(ctx: ApiContext, req: t.DescribeTargetGroupsRequest) -> t.DescribeTargetGroupsResponse:
    cluster = ctx.require_cluster(req.cluster).msg.cluster_name
    resp = t.DescribeTargetGroupsResponse()
    if req.target_groups:
        found, failures = described(req.target_groups, lambda ref: find_target_group(ctx, cluster, ref).msg,
                                    missing_on=ApiError)
        resp.failures.extend(failures)
    else:
        found = [rec.msg for rec in target_groups(ctx, cluster)]
    found = _with_users(ctx, cluster, found)
    if req.load_balancer:
        lb = find_load_balancer(ctx, cluster, req.load_balancer)
        found = [tg for tg in found if lb.msg.load_balancer_arn in tg.load_balancer_arns]
    resp.target_groups.extend(found)
    return resp


def health_of(task: r.Task, arn: str) -> r.TargetHealth:
    if task.desired_status == "STOPPED":
        return r.TargetHealth(target_group_arn=arn, state="draining", reason="Target.DeregistrationInProgress",
                              description="Target deregistration is in progress")
    for seen in task.target_health:
        if seen.target_group_arn == arn:
            return seen
    return r.TargetHealth(target_group_arn=arn, state="initial", reason="Elb.InitialHealthChecking",
                          description="Initial health checks in progress")


def host_port(task: r.Task, container: str, container_port: int) -> int:
    for c in task.containers:
        if c.name == container:
            for b in c.network_bindings:
                if b.container_port == container_port:
                    return b.host_port
    return 0


def target_health(ctx: ApiContext, req: t.TargetGroupRef) -> t.DescribeTargetHealthResponse:
    """One target per task and attachment of a service attached to the group, on a node and
    not yet STOPPED: its node's address, the host port of the attached container port; then
    the addresses registered with RegisterTargets, as the connected nodes' proxies saw them."""
    cluster = ctx.require_cluster(req.cluster).msg.cluster_name
    group = find_target_group(ctx, cluster, req.target_group).msg
    resp = _task_health(ctx, cluster, group.target_group_arn)
    if group.registered_targets:
        connected = {n.msg.id for n in ctx.state.nodes(cluster) if n.msg.agent_connected}
        reports = [t.NodeProxyChecks.FromString(kv.value) for kv in ctx.store.list(keys.proxy_checks(cluster)).kvs]
        resp.targets.extend(registered_health.health(group, time.time(), reports, connected))
    return resp


def _task_health(ctx: ApiContext, cluster: str, arn: str) -> t.DescribeTargetHealthResponse:
    services = {s.msg.service_name: s.msg for s in live_services(ctx, cluster)}
    resp = t.DescribeTargetHealthResponse()
    addresses: dict[str, str] = {}
    for rec in sorted(ctx.state.tasks(cluster), key=lambda x: x.msg.id):
        task = rec.msg
        if task.service_name not in services or not task.node_id or task.last_status == "STOPPED":
            continue
        mine = [x for x in attachments(task, services[task.service_name]) if x.target_group_arn == arn]
        if not mine:
            continue
        if task.node_id not in addresses:
            node = ctx.state.node(cluster, task.node_id)
            addresses[task.node_id] = node.msg.address if node else ""
        for x in mine:
            resp.targets.add(task_id=task.id, node_id=task.node_id, address=addresses[task.node_id],
                             port=host_port(task, x.container_name, x.container_port),
                             health=health_of(task, arn))
    return resp

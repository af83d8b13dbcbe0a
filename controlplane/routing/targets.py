"""What makes a task a target, decided by the leader: the target groups its service
attaches it to (carried to its agent in the assignment, for the health checks), and how
long a stopping target keeps serving in-flight requests before its agent stops it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from shoal.v1 import resources_pb2 as r
from shoal.v1 import traffic_pb2 as t

# ELBv2's defaults per protocol, for settings a target group leaves at zero:
# (path, matcher, interval, timeout, healthy threshold, unhealthy threshold).
_HTTP_DEFAULTS = ("/", "200", 30, 5, 5, 2)
_TCP_DEFAULTS = ("", "", 30, 10, 5, 2)

# A discovery-only target (no target group) is dropped from every proxy and DNS responder
# at once, but resolvers and pooled connections may still reach it for a moment.
DISCOVERY_DRAIN_SECONDS = 5


def attachments(task: r.Task, service: r.Service | None) -> Sequence[r.ServiceLoadBalancer]:
    """The ``loadBalancers`` entries that make ``task`` a target: its task set's when it
    belongs to one (the EXTERNAL controller's tasks), else its service's."""
    if service is None or not task.service_name:
        return ()
    if task.task_set_id:
        for ts in service.task_sets:
            if ts.id == task.task_set_id:
                return ts.load_balancers
        return ()
    return service.load_balancers


def assigned_targets(task: r.Task, service: r.Service | None, groups: Mapping[str, t.TargetGroup],
                     default_groups: Mapping[str, str]) -> list[r.AssignedTarget]:
    """The target groups ``task`` serves, from its ``attachments`` (an entry
    naming only ``loadBalancerName`` means that load balancer's default target group, by
    ``default_groups``); entries naming an unknown group are left out."""
    if service is None or not task.service_name:
        return []
    out: dict[str, r.AssignedTarget] = {}
    for attach in attachments(task, service):
        group = groups.get(attach.target_group_arn or default_groups.get(attach.load_balancer_name, ""))
        if group is None or group.target_group_arn in out:
            continue
        hc = group.health_check
        protocol = (hc.protocol or group.protocol or "HTTP").upper()
        path, matcher, interval, timeout, healthy, unhealthy = (
            _HTTP_DEFAULTS if protocol == "HTTP" else _TCP_DEFAULTS)
        out[group.target_group_arn] = r.AssignedTarget(
            target_group_arn=group.target_group_arn, container_name=attach.container_name,
            container_port=attach.container_port or group.port, protocol=protocol,
            path=hc.path or path, matcher=hc.matcher or matcher,
            interval_seconds=hc.interval_seconds or interval, timeout_seconds=hc.timeout_seconds or timeout,
            healthy_threshold=hc.healthy_threshold or healthy, unhealthy_threshold=hc.unhealthy_threshold or unhealthy,
            deregistration_delay_seconds=group.deregistration_delay_seconds)
    return [out[k] for k in sorted(out)]


def proxy_check(group: t.TargetGroup) -> t.HealthCheckConfig:
    """``group``'s health check with ELBv2's defaults filled in, as a node's proxy runs it on
    the addresses registered in the group."""
    hc = group.health_check
    protocol = (hc.protocol or group.protocol or "HTTP").upper()
    path, matcher, interval, timeout, healthy, unhealthy = _HTTP_DEFAULTS if protocol == "HTTP" else _TCP_DEFAULTS
    return t.HealthCheckConfig(protocol=protocol, path=hc.path or path, matcher=hc.matcher or matcher,
                               interval_seconds=hc.interval_seconds or interval,
                               timeout_seconds=hc.timeout_seconds or timeout,
                               healthy_threshold=hc.healthy_threshold or healthy,
                               unhealthy_threshold=hc.unhealthy_threshold or unhealthy)


def is_discovered(service: r.Service | None) -> bool:
    return service is not None and (bool(service.service_registries)
                                    or service.service_connect_configuration.enabled)


def deregister_until(task: r.Task, targets: list[r.AssignedTarget], discovered: bool, now: float) -> float:
    """When the agent may stop ``task`` that the leader is stopping now: after the largest
    deregistration delay of its target groups, so in-flight requests finish; 0 (at once)
    for a task that is no target or never served (not RUNNING on a node)."""
    if not task.node_id or task.last_status != "RUNNING":
        return 0.0
    delay = max((tg.deregistration_delay_seconds for tg in targets), default=0)
    if not targets and discovered:
        delay = DISCOVERY_DRAIN_SECONDS
    return now + delay if delay > 0 else 0.0

"""Reads of the Traffic records (load balancers, target groups, namespaces) and the lookup of
each by name or ARN, shared by their API modules and by the service API. Lookups by ARN
check the stored ARN: a resource deleted and made again under the same name has a new one,
and the old ARN no longer finds it."""

from __future__ import annotations

import grpc

from controlplane.api.context import ApiContext
from controlplane.state import Record
from shoal import keys
from shoal.arns import elb_name
from shoal.errors import ApiError
from shoal.v1 import resources_pb2 as r
from shoal.v1 import traffic_pb2 as t


def not_found(message: str, code: str) -> ApiError:
    return ApiError(grpc.StatusCode.NOT_FOUND, message, code)


def in_use(message: str) -> ApiError:
    return ApiError(grpc.StatusCode.FAILED_PRECONDITION, message, "ResourceInUse")


def load_balancers(ctx: ApiContext, cluster: str) -> list[Record[t.LoadBalancer]]:
    return ctx.state.load_all(f"{keys.LOADBALANCERS}{cluster}/", t.LoadBalancer)


def target_groups(ctx: ApiContext, cluster: str) -> list[Record[t.TargetGroup]]:
    return ctx.state.load_all(f"{keys.TARGETGROUPS}{cluster}/", t.TargetGroup)


def namespaces(ctx: ApiContext, cluster: str) -> list[Record[t.Namespace]]:
    return ctx.state.load_all(f"{keys.NAMESPACES}{cluster}/", t.Namespace)


def find_load_balancer(ctx: ApiContext, cluster: str, ref: str, field: str = "loadBalancer"
                       ) -> Record[t.LoadBalancer]:
    name = elb_name(ref)
    rec = ctx.state.load(keys.load_balancer(cluster, name), t.LoadBalancer) if name else None
    if rec is None or (ref.startswith("arn:") and rec.msg.load_balancer_arn != ref):
        raise not_found(f"{field}: load balancer {ref[:256]!r} not found in cluster {cluster!r}",
                        "LoadBalancerNotFound")
    return rec


def find_target_group(ctx: ApiContext, cluster: str, ref: str, field: str = "targetGroup"
                      ) -> Record[t.TargetGroup]:
    if not ref:
        raise ApiError(grpc.StatusCode.INVALID_ARGUMENT, f"{field}: required (a target group name or ARN)",
                       "ValidationError")
    name = elb_name(ref)
    rec = ctx.state.load(keys.target_group(cluster, name), t.TargetGroup) if name else None
    if rec is None or (ref.startswith("arn:") and rec.msg.target_group_arn != ref):
        raise not_found(f"{field}: target group {ref[:256]!r} not found in cluster {cluster!r}",
                        "TargetGroupNotFound")
    return rec


def find_listener(lb: t.LoadBalancer, arn: str, field: str = "listenerArn") -> t.Listener:
    for listener in lb.listeners:
        if listener.listener_arn == arn:
            return listener
    raise not_found(f"{field}: listener {arn[:256]!r} not found", "ListenerNotFound")


def find_namespace(ctx: ApiContext, cluster: str, ref: str, field: str) -> Record[t.Namespace]:
    """By name, or by ARN (Cloud Map's ARNs carry only the namespace's id)."""
    if ref.startswith("arn:"):
        for rec in namespaces(ctx, cluster):
            if rec.msg.arn == ref:
                return rec
    elif ref:
        rec = ctx.state.load(keys.namespace(cluster, ref), t.Namespace)
        if rec is not None:
            return rec
    raise not_found(f"{field}: namespace {ref[:256]!r} not found in cluster {cluster!r}", "NamespaceNotFound")


def target_group_arns_of(lb: t.LoadBalancer) -> set[str]:
    """Every target group ``lb``'s listeners and rules send to."""
    arns = set()
    for listener in lb.listeners:
        if listener.default_target_group_arn:
            arns.add(listener.default_target_group_arn)
        arns.update(rule.target_group_arn for rule in listener.rules)
    return arns


def live_services(ctx: ApiContext, cluster: str) -> list[Record[r.Service]]:
    return [s for s in ctx.state.services(cluster) if s.msg.status != "INACTIVE"]

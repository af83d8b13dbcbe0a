"""ECS's gateway operations that change or list a gateway's place, mapped onto Shoal's load
balancers (ingress.py reads them): ListGatewayClusterAssociations answers each load
balancer associated with the one cluster it belongs to, and DeleteGateway deletes the load
balancer (its listeners and rules with it; its target groups stay, as ELBv2's
DeleteLoadBalancer leaves them)."""

from __future__ import annotations

from typing import Any

from controlplane.api import loadbalancers
from controlplane.api.context import ApiContext
from controlplane.api.paging import page
from controlplane.ecs.errors import EcsError, invalid_parameter
from controlplane.ecs.ingress import active_clusters, all_load_balancers, max_results, next_token
from shoal.arns import cluster_name
from shoal.v1 import traffic_pb2 as t

Body = dict[str, Any]
_ASSOCIATION_STATUSES = ("ACTIVE", "DISASSOCIATING", "INACTIVE")


def _text(body: Body, name: str, required: bool = False) -> str:
    value = body.get(name)
    if value is None or value == "":
        if required:
            raise invalid_parameter(f"{name}: required")
        return ""
    if not isinstance(value, str):
        raise invalid_parameter(f"{name}: must be a string")
    return value


def _gateway(ctx: ApiContext, ref: str) -> t.LoadBalancer:
    for lb in all_load_balancers(ctx):
        if ref in (lb.load_balancer_arn, lb.load_balancer_name):
            return lb
    raise EcsError("GatewayNotFoundException", f"gateway: {ref[:256]!r} is not a load balancer of any cluster")


def list_gateway_cluster_associations(ctx: ApiContext, body: Body) -> Body:
    """A Shoal load balancer lives in one cluster: it is associated with that one, ACTIVE."""
    unknown = set(body) - {"gateway", "cluster", "status", "maxResults", "nextToken"}
    if unknown:
        raise invalid_parameter(f"{sorted(unknown)[0]}: not a parameter of ListGatewayClusterAssociations")
    statuses = body.get("status") or []
    if not isinstance(statuses, list) or any(s not in _ASSOCIATION_STATUSES for s in statuses):
        raise invalid_parameter(f"status: each must be one of {', '.join(_ASSOCIATION_STATUSES)}")
    gateway, cluster = _text(body, "gateway"), _text(body, "cluster")
    lbs = [_gateway(ctx, gateway)] if gateway else all_load_balancers(ctx)
    if cluster:
        name = cluster_name(cluster)
        if name not in active_clusters(ctx):
            raise EcsError("ClusterNotFoundException", f"cluster: {cluster[:256]!r} not found")
        lbs = [lb for lb in lbs if lb.cluster == name]
    if statuses and "ACTIVE" not in statuses:
        lbs = []
    rows = {f"{lb.load_balancer_arn} {ctx.arns.cluster(lb.cluster)}": lb for lb in lbs}
    resp = page(sorted(rows), max_results(body, 0), next_token(body))
    out: Body = {"gatewayClusterAssociations": [
        {"gatewayArn": rows[k].load_balancer_arn, "clusterArn": ctx.arns.cluster(rows[k].cluster), "status": "ACTIVE"}
        for k in resp.arns]}
    if resp.next_token:
        out["nextToken"] = resp.next_token
    return out


def delete_gateway(ctx: ApiContext, body: Body) -> Body:
    unknown = set(body) - {"gateway"}
    if unknown:
        raise invalid_parameter(f"{sorted(unknown)[0]}: not a parameter of DeleteGateway")
    lb = _gateway(ctx, _text(body, "gateway", required=True))
    loadbalancers.delete(ctx, t.LoadBalancerRef(cluster=lb.cluster, load_balancer=lb.load_balancer_arn))
    return {"gatewayArn": lb.load_balancer_arn, "name": lb.load_balancer_name, "status": "DELETED"}


ACTIONS = {
    "ListGatewayClusterAssociations": list_gateway_cluster_associations,
    "DeleteGateway": delete_gateway,
}

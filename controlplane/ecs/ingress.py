"""ECS's ingress operations (2026) that map onto Shoal's load balancers: ListGateways and
DescribeGateway (a Shoal load balancer reads as a gateway: its ARN, name, state and
creation time; ListServicesByNamespace is with the other service actions; gateways.py
lists cluster associations, routes and deletes; gateway_writes.py makes, updates,
associates and describes a gateway's resources)."""

from __future__ import annotations

from typing import Any

from controlplane.api import traffic_state
from controlplane.api.context import ApiContext
from controlplane.api.paging import page
from controlplane.ecs import fields
from controlplane.ecs.errors import EcsError, invalid_parameter
from controlplane.ecs.shapes import paged
from shoal.v1 import traffic_pb2 as t

Body = dict[str, Any]
_STATUSES = ("ACTIVE", "UPDATE_IN_PROGRESS", "UPDATE_COMPLETE", "UPDATE_FAILED", "DELETED")


def max_results(body: Body, default: int) -> int:
    value = fields.integer(body, "maxResults")
    return default if value is None else value


def next_token(body: Body) -> str:
    token = body.get("nextToken") or ""
    if not isinstance(token, str):
        raise invalid_parameter("nextToken: must be a string this API returned")
    return token


def active_clusters(ctx: ApiContext) -> list[str]:
    return [c.msg.cluster_name for c in ctx.state.clusters() if c.msg.status == "ACTIVE"]


def _summary(lb: t.LoadBalancer) -> Body:
    # A load balancer in Shoal is active from its creation (its listeners converge on nodes).
    return {"gatewayArn": lb.load_balancer_arn, "name": lb.load_balancer_name, "status": "ACTIVE",
            "createdAt": lb.created_at}


def all_load_balancers(ctx: ApiContext) -> list[t.LoadBalancer]:
    return [rec.msg for cluster in active_clusters(ctx) for rec in traffic_state.load_balancers(ctx, cluster)]


def list_gateways(ctx: ApiContext, body: Body) -> Body:
    names = body.get("names") or []
    statuses = body.get("status") or []
    if not isinstance(names, list) or not isinstance(statuses, list):
        raise invalid_parameter("names, status: must be lists")
    unknown = [s for s in statuses if s not in _STATUSES]
    if unknown:
        raise invalid_parameter(f"status: {unknown[0]!r} is not one of {', '.join(_STATUSES)}")
    lbs = {lb.load_balancer_arn: lb for lb in all_load_balancers(ctx)
           if (not names or lb.load_balancer_name in names) and (not statuses or "ACTIVE" in statuses)}
    resp = page(sorted(lbs), max_results(body, 0), next_token(body))
    out: Body = {"gateways": [_summary(lbs[arn]) for arn in resp.arns]}
    return paged(out, resp)


def describe_gateway(ctx: ApiContext, body: Body) -> Body:
    ref = body.get("gateway")
    if not isinstance(ref, str) or not ref:
        raise invalid_parameter("gateway: required (a load balancer's name or ARN)")
    for lb in all_load_balancers(ctx):
        if ref in (lb.load_balancer_arn, lb.load_balancer_name):
            return {"gateway": _summary(lb)}
    raise EcsError("GatewayNotFoundException", f"gateway: {ref[:256]!r} is not a load balancer of any cluster")


ACTIONS = {
    "ListGateways": list_gateways,
    "DescribeGateway": describe_gateway,
}

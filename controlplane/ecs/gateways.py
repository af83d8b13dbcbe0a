"""ECS's gateway operations that change or list a gateway's place, mapped onto Shoal's load
balancers (ingress.py reads them): ListGatewayClusterAssociations answers each load
balancer associated with the one cluster it belongs to; DeleteGateway deletes the load
balancer (its listeners and rules with it; its target groups stay, as ELBv2's
DeleteLoadBalancer leaves them); a route (ListGatewayRoutes, DescribeGatewayRoute) is a
service's or one of its live task sets' ``loadBalancers`` entry whose target group the load
balancer sends to (a service's task sets behind the same port make one route)."""

from __future__ import annotations

from typing import Any

from controlplane.api import loadbalancers
from controlplane.api.context import ApiContext
from controlplane.api.paging import page
from controlplane.api.traffic_state import live_services, target_group_arns_of
from controlplane.ecs import fields
from controlplane.ecs.errors import EcsError, invalid_parameter
from controlplane.ecs.ingress import active_clusters, all_load_balancers, max_results, next_token
from controlplane.ecs.shapes import paged
from controlplane.task_sets import DRAINING
from shoal.arns import cluster_name
from shoal.v1 import resources_pb2 as r
from shoal.v1 import traffic_pb2 as t

Body = dict[str, Any]
_ASSOCIATION_STATUSES = ("ACTIVE", "DISASSOCIATING", "INACTIVE")


def find_gateway(ctx: ApiContext, ref: str) -> t.LoadBalancer:
    for lb in all_load_balancers(ctx):
        if ref in (lb.load_balancer_arn, lb.load_balancer_name):
            return lb
    raise EcsError("GatewayNotFoundException", f"gateway: {ref[:256]!r} is not a load balancer of any cluster")


def only(body: Body, allowed: set[str], operation: str) -> None:
    fields.only(body, allowed, f"not a parameter of {operation}")


def active_cluster(ctx: ApiContext, cluster: str) -> str:
    """The name of the cluster an ARN or name refers to; ClusterNotFoundException unless it is active."""
    name = cluster_name(cluster)
    if name not in active_clusters(ctx):
        raise EcsError("ClusterNotFoundException", f"cluster: {cluster[:256]!r} not found")
    return name


def _listed(ctx: ApiContext, body: Body, operation: str, allowed: set[str],
            known_statuses: tuple[str, ...]) -> tuple[list[t.LoadBalancer], list[str]]:
    """A List's gateways (its ``gateway``, or all; within its ``cluster`` when named) and the
    statuses it asks for, its parameters checked."""
    only(body, allowed | {"gateway", "cluster", "status", "maxResults", "nextToken"}, operation)
    statuses = body.get("status") or []
    if not isinstance(statuses, list) or any(s not in known_statuses for s in statuses):
        raise invalid_parameter(f"status: each must be one of {', '.join(known_statuses)}")
    gateway, cluster = fields.string(body, "gateway"), fields.string(body, "cluster")
    lbs = [find_gateway(ctx, gateway)] if gateway else all_load_balancers(ctx)
    if cluster:
        name = active_cluster(ctx, cluster)
        lbs = [lb for lb in lbs if lb.cluster == name]
    return lbs, statuses


def list_gateway_cluster_associations(ctx: ApiContext, body: Body) -> Body:
    """A Shoal load balancer lives in one cluster: it is associated with that one, ACTIVE."""
    lbs, statuses = _listed(ctx, body, "ListGatewayClusterAssociations", set(), _ASSOCIATION_STATUSES)
    if statuses and "ACTIVE" not in statuses:
        lbs = []
    rows = {f"{lb.load_balancer_arn} {ctx.arns.cluster(lb.cluster)}": lb for lb in lbs}
    resp = page(sorted(rows), max_results(body, 0), next_token(body))
    out: Body = {"gatewayClusterAssociations": [
        {"gatewayArn": rows[k].load_balancer_arn, "clusterArn": ctx.arns.cluster(rows[k].cluster), "status": "ACTIVE"}
        for k in resp.arns]}
    return paged(out, resp)


def delete_gateway(ctx: ApiContext, body: Body) -> Body:
    only(body, {"gateway"}, "DeleteGateway")
    lb = find_gateway(ctx, fields.string(body, "gateway", required=True))
    loadbalancers.delete(ctx, t.LoadBalancerRef(cluster=lb.cluster, load_balancer=lb.load_balancer_arn))
    return {"gatewayArn": lb.load_balancer_arn, "name": lb.load_balancer_name, "status": "DELETED"}


_ROUTE_STATUSES = ("ACTIVE", "CREATE_IN_PROGRESS", "CREATE_FAILED", "UPDATE_IN_PROGRESS", "UPDATE_FAILED",
                   "DELETE_IN_PROGRESS", "DELETE_FAILED")


def _port_name(ctx: ApiContext, task_definition: str, container: str, port: int) -> str:
    """The name ``task_definition`` gives ``container``'s ``port``, else ``<container>-<port>``."""
    family, _, revision = task_definition.rsplit("/", 1)[-1].partition(":")
    td = ctx.state.taskdef(family, int(revision)) if revision.isdigit() else None
    for cd in td.msg.container_definitions if td else ():
        for pm in cd.port_mappings:
            if (not container or cd.name == container) and pm.container_port == port and pm.name:
                return pm.name
    return f"{container}-{port}"


def _attachments(svc: r.Service) -> list[tuple[str, r.ServiceLoadBalancer]]:
    """Each ``loadBalancers`` entry that puts ``svc``'s tasks behind a target group, with the
    task definition naming its port: the service's own, and its live (not DRAINING) task
    sets' (an EXTERNAL service's load balancers are per task set)."""
    out = [(svc.task_definition, attach) for attach in svc.load_balancers]
    for ts in svc.task_sets:
        if ts.status != DRAINING:
            out.extend((ts.task_definition, attach) for attach in ts.load_balancers)
    return out


def listener_groups(listener: t.Listener) -> set[str]:
    """The target groups one listener sends to: its default action's and its rules'."""
    return {listener.default_target_group_arn, *(rule.target_group_arn for rule in listener.rules)} - {""}


def gateway_routes(ctx: ApiContext, lbs: list[t.LoadBalancer], listener: t.Listener | None = None) -> list[Body]:
    """The routes through ``lbs`` (through ``listener`` alone when given)."""
    out = []
    for lb in lbs:
        sends_to = listener_groups(listener) if listener is not None else target_group_arns_of(lb)
        for rec in live_services(ctx, lb.cluster):
            svc = rec.msg
            for task_definition, attach in _attachments(svc):
                group = attach.target_group_arn or (
                    lb.default_target_group_arn if attach.load_balancer_name == lb.load_balancer_name else "")
                if group not in sends_to:
                    continue
                port_name = _port_name(ctx, task_definition, attach.container_name, attach.container_port)
                out.append({"gatewayRouteArn": f"{lb.load_balancer_arn}/route/{svc.service_name}/{port_name}",
                            "gatewayArn": lb.load_balancer_arn, "clusterArn": ctx.arns.cluster(lb.cluster),
                            "serviceArn": svc.service_arn, "serviceContainerPortName": port_name,
                            "status": "ACTIVE"})
    return sorted({x["gatewayRouteArn"]: x for x in out}.values(), key=lambda x: x["gatewayRouteArn"])


def list_gateway_routes(ctx: ApiContext, body: Body) -> Body:
    lbs, statuses = _listed(ctx, body, "ListGatewayRoutes", {"service", "serviceContainerPortName"}, _ROUTE_STATUSES)
    service, port_name = fields.string(body, "service"), fields.string(body, "serviceContainerPortName")
    routes = [x for x in gateway_routes(ctx, lbs)
              if (not service or service in (x["serviceArn"], x["serviceArn"].rsplit("/", 1)[-1]))
              and (not port_name or x["serviceContainerPortName"] == port_name)
              and (not statuses or x["status"] in statuses)]
    by_arn = {x["gatewayRouteArn"]: x for x in routes}
    resp = page(sorted(by_arn), max_results(body, 0), next_token(body))
    out: Body = {"gatewayRoutes": [by_arn[a] for a in resp.arns]}
    return paged(out, resp)


def describe_gateway_route(ctx: ApiContext, body: Body) -> Body:
    only(body, {"gatewayRouteArn"}, "DescribeGatewayRoute")
    arn = fields.string(body, "gatewayRouteArn", required=True)
    for x in gateway_routes(ctx, all_load_balancers(ctx)):
        if x["gatewayRouteArn"] == arn:
            return {"gatewayRoute": {k: x[k] for k in ("gatewayRouteArn", "serviceArn", "serviceContainerPortName",
                                                       "status")}}
    raise EcsError("ResourceNotFoundException", f"gatewayRouteArn: {arn[:256]!r} is no route of any load balancer")


ACTIONS = {
    "ListGatewayRoutes": list_gateway_routes,
    "DescribeGatewayRoute": describe_gateway_route,
    "ListGatewayClusterAssociations": list_gateway_cluster_associations,
    "DeleteGateway": delete_gateway,
}

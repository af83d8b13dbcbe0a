"""Load balancers, their listeners and their listener rules (ELBv2's CreateLoadBalancer,
CreateListener, ModifyListener, CreateRule and their Delete/Describe). Listeners and rules live inside the
load balancer's record, so each change is one compare-and-set of that record.

A listener port is one per cluster: every node (or every node the load balancer's CQL
expression picks) listens on it, so two listeners on one port, or a listener on a port a
task definition of a live service or task holds as a static hostPort (or inside a node's
dynamic host port range), could not both bind. A new listener's write compares every other
load balancer of the cluster at the revision its port check read, so two racing listeners
cannot take one port."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable

import grpc

from controlplane.api import targetgroups
from controlplane.api import traffic_checks as check
from controlplane.api.context import ApiContext
from controlplane.api.described import described
from controlplane.api.traffic_state import (
    LOAD_BALANCER,
    TARGET_GROUP,
    deleting,
    find_listener,
    find_load_balancer,
    find_target_group,
    load_balancers,
    lookup,
    not_found,
)
from controlplane.scheduler.cql import CQLError, parse
from controlplane.state import Record
from controlplane.taskspec import is_live
from shoal import keys
from shoal.arns import elb_name
from shoal.errors import ApiError
from shoal.store.base import Compare, Conflict, Put
from shoal.store.update import retrying
from shoal.taskdef.document import parse_task_definition_ref
from shoal.taskdef.policy import FIRST_UNPRIVILEGED_PORT
from shoal.v1 import traffic_pb2 as t
from shoal.validation import ValidationError

# ELBv2's default quotas: load balancers per region, listeners per load balancer, rules per
# listener. The first also keeps a listener's compares inside one etcd transaction.
MAX_LOAD_BALANCERS = 50
MAX_LISTENERS = 50
MAX_RULES = 100


def _duplicate(message: str, code: str) -> ApiError:
    return ApiError(grpc.StatusCode.ALREADY_EXISTS, message, code)


def create(ctx: ApiContext, req: t.CreateLoadBalancerRequest) -> t.LoadBalancerResponse:
    cluster = ctx.require_cluster(req.cluster).msg.cluster_name
    name = check.elb_name(req.name, "name", "load balancer")
    lb_type = check.lb_type(req.type)
    if req.node_expression:
        try:
            parse(req.node_expression)
        except CQLError as exc:
            raise check.bad(f"nodeExpression: {exc}") from None
    if len(load_balancers(ctx, cluster)) >= MAX_LOAD_BALANCERS:
        raise ApiError(grpc.StatusCode.RESOURCE_EXHAUSTED, f"name: cluster {cluster!r} already has "
                       f"{MAX_LOAD_BALANCERS} load balancers", "TooManyLoadBalancers")
    lb_id = secrets.token_hex(8)
    lb = t.LoadBalancer(load_balancer_arn=ctx.arns.load_balancer(lb_type, name, lb_id), load_balancer_name=name,
                        type=lb_type, state="active", node_expression=req.node_expression, cluster=cluster,
                        id=lb_id, created_at=time.time(), client_token=req.client_token)
    lb.tags.extend(check.tags(req.tags))
    try:
        ctx.store.create(keys.load_balancer(cluster, name), lb.SerializeToString())
    except Conflict:
        raise _duplicate(f"name: a load balancer named {name!r} already exists in cluster {cluster!r}",
                         "DuplicateLoadBalancerName") from None
    return t.LoadBalancerResponse(load_balancer=lb)


def delete(ctx: ApiContext, req: t.LoadBalancerRef) -> t.LoadBalancerResponse:
    """Its listeners and rules go with it; its target groups stay, as in ELBv2."""
    cluster = ctx.require_cluster(req.cluster).msg.cluster_name
    rec = find_load_balancer(ctx, cluster, req.load_balancer)
    with deleting("loadBalancer"):
        ctx.store.delete(rec.key, rec.mod_revision)
    return t.LoadBalancerResponse(load_balancer=rec.msg)


def describe(ctx: ApiContext, req: t.DescribeLoadBalancersRequest) -> t.DescribeLoadBalancersResponse:
    cluster = ctx.require_cluster(req.cluster).msg.cluster_name
    if not req.load_balancers:
        return t.DescribeLoadBalancersResponse(load_balancers=[rec.msg for rec in load_balancers(ctx, cluster)])
    found, failures = described(req.load_balancers, lambda ref: find_load_balancer(ctx, cluster, ref).msg,
                                missing_on=ApiError)
    return t.DescribeLoadBalancersResponse(load_balancers=found, failures=failures)


# ---- listeners --------------------------------------------------------------------------------

def _static_host_ports(ctx: ApiContext, cluster: str) -> dict[int, str]:
    """Each static hostPort a live service's definitions (every deployment's) or a live
    task's definition holds, and who holds it."""
    wanted: dict[str, str] = {}
    for s in ctx.state.services(cluster):
        if s.msg.status != "INACTIVE":
            for d in s.msg.deployments:
                wanted.setdefault(d.task_definition, f"service {s.msg.service_name!r}")
    for task in ctx.state.tasks(cluster):
        if is_live(task.msg):
            wanted.setdefault(task.msg.task_definition_arn, f"task {task.msg.id}")
    held: dict[int, str] = {}
    for arn, who in wanted.items():
        try:
            family, revision = parse_task_definition_ref(arn)
        except ValidationError:
            continue
        td = ctx.state.taskdef(family, revision or 0)
        for c in td.msg.container_definitions if td else ():
            for pm in c.port_mappings:
                if pm.host_port:
                    held.setdefault(pm.host_port, f"{who} (task definition {family}:{revision}, container "
                                                  f"{c.name!r})")
    return held


def _check_proxy_protocol(lbs: list[t.LoadBalancer], group: t.TargetGroup, proxy_protocol: bool, skip: str,
                          field: str) -> None:
    """One target group is one backend on every node, its servers sent the PROXY protocol or
    not: a node proxy refuses a whole routing table where two listeners disagree."""
    for lb in lbs:
        for listener in lb.listeners:
            if (listener.listener_arn != skip and listener.default_target_group_arn == group.target_group_arn
                    and listener.proxy_protocol != proxy_protocol):
                does = "sends" if listener.proxy_protocol else "does not send"
                raise check.bad(f"{field}: target group {group.target_group_name!r} is the default of the listener "
                                f"on port {listener.port} of load balancer {lb.load_balancer_name!r}, which {does} "
                                "the PROXY protocol; a target group's targets get it from every listener or from none",
                                "InvalidConfigurationRequest")


def _check_port_not_a_service(ctx: ApiContext, port: int) -> None:
    """Ports of Shoal's own services a listener may not take on a node: bound beside them,
    HAProxy fails to bind (the node's routing stalls), or with SO_REUSEPORT (gRPC sets it, so
    may the DNS responder) takes a share of their connections. Below 1024, the host's own
    services' ports, only with the cluster's explicit --allow-privileged-listener-ports."""
    if port == check.DNS_PORT:
        raise check.bad(f"port: {port} is the nodes' DNS responders' port", "InvalidConfigurationRequest")
    flag = ctx.control_plane_ports.get(port)
    if flag:
        raise check.bad(f"port: {port} is the control plane's port ({flag}); a listener binds on every node's "
                        "address, a control plane's host's too", "InvalidConfigurationRequest")
    if port < FIRST_UNPRIVILEGED_PORT and not ctx.policy.privileged_listener_ports:
        raise check.bad(f"port: {port} is below {FIRST_UNPRIVILEGED_PORT}, a privileged port of every node's host; "
                        "listeners there need the control plane's --allow-privileged-listener-ports (and each "
                        "node's agent's)", "InvalidConfigurationRequest")


def _check_port_free(ctx: ApiContext, cluster: str, port: int, lbs: list[Record[t.LoadBalancer]]) -> None:
    for lb in lbs:
        for listener in lb.msg.listeners:
            if listener.port == port:
                raise _duplicate(f"port: {port} is already a listener port of load balancer "
                                 f"{lb.msg.load_balancer_name!r}; one listener per port in a cluster",
                                 "DuplicateListener")
    holder = _static_host_ports(ctx, cluster).get(port)
    if holder:
        raise ApiError(grpc.StatusCode.FAILED_PRECONDITION,
                       f"port: {port} is the static hostPort of {holder}; a listener there could not bind",
                       "InvalidConfigurationRequest")
    _check_port_not_a_service(ctx, port)
    for node in ctx.state.nodes(cluster):
        n = node.msg
        for held, what in ((n.metrics_port, "agent metrics"), (n.proxy_metrics_port, "proxy metrics")):
            if n.status != "INACTIVE" and held == port:
                raise check.bad(f"port: {port} is node {n.id}'s {what} port; a listener binds on every node's "
                                "address", "InvalidConfigurationRequest")
        if n.status != "INACTIVE" and n.dynamic_port_low and n.dynamic_port_low <= port <= n.dynamic_port_high:
            raise check.bad(f"port: {port} is inside node {n.id}'s dynamic host port range "
                            f"{n.dynamic_port_low}-{n.dynamic_port_high}, which tasks' host ports come from",
                            "InvalidConfigurationRequest")


def _listener_group(ctx: ApiContext, cluster: str, lb: t.LoadBalancer, req: t.CreateListenerRequest,
                    protocol: str) -> tuple[t.TargetGroup, Record[t.TargetGroup] | None]:
    """The listener's default target group, and its record if it already exists (else the
    caller creates it with the listener)."""
    if req.default_target_group:
        rec = find_target_group(ctx, cluster, req.default_target_group, "defaultTargetGroup")
    else:
        # The load balancer's default; else the group named after it, made if absent.
        rec = (lookup(ctx, TARGET_GROUP, cluster, lb.default_target_group_arn)
               or lookup(ctx, TARGET_GROUP, cluster, lb.load_balancer_name))
        if rec is None:
            return targetgroups.default_group(ctx.arns, lb, protocol, req.port), None
    if rec.msg.protocol != protocol:
        field = "defaultTargetGroup" if req.default_target_group else "protocol"
        raise check.bad(f"{field}: target group {rec.msg.target_group_name!r} is {rec.msg.protocol}; "
                        f"a {protocol} listener sends to {protocol} target groups", "InvalidConfigurationRequest")
    return rec.msg, rec


def create_listener(ctx: ApiContext, req: t.CreateListenerRequest) -> t.LoadBalancerResponse:
    cluster = ctx.require_cluster(req.cluster).msg.cluster_name
    port = check.port(req.port, "port")

    def once() -> t.LoadBalancer:
        lbs = load_balancers(ctx, cluster)
        rec = find_load_balancer(ctx, cluster, req.load_balancer)
        lb = rec.msg
        protocol = check.listener_protocol(req.protocol, lb.type)
        if req.proxy_protocol and protocol != "TCP":
            raise check.bad("proxyProtocol: only TCP listeners (network load balancers) send the PROXY protocol",
                            "InvalidConfigurationRequest")
        if len(lb.listeners) >= MAX_LISTENERS:
            raise ApiError(grpc.StatusCode.RESOURCE_EXHAUSTED, f"loadBalancer: {lb.load_balancer_name!r} "
                           f"already has {MAX_LISTENERS} listeners", "TooManyListeners")
        _check_port_free(ctx, cluster, port, lbs)
        group, existing = _listener_group(ctx, cluster, lb, req, protocol)
        _check_proxy_protocol([x.msg for x in lbs], group, req.proxy_protocol, "", "proxyProtocol")
        listener_id = secrets.token_hex(8)
        lb.listeners.add(listener_arn=ctx.arns.listener(lb.type, lb.load_balancer_name, lb.id, listener_id),
                         port=port, protocol=protocol, default_target_group_arn=group.target_group_arn,
                         proxy_protocol=req.proxy_protocol)
        if not lb.default_target_group_arn or not req.default_target_group:
            lb.default_target_group_arn = group.target_group_arn
        compares = [Compare(other.key, other.mod_revision) for other in lbs if other.key != rec.key]
        compares.append(Compare(rec.key, rec.mod_revision))
        ops = [Put(rec.key, lb.SerializeToString())]
        if existing is None:
            compares.append(Compare(keys.target_group(cluster, group.target_group_name), 0, on_create=True))
            ops.append(Put(keys.target_group(cluster, group.target_group_name), group.SerializeToString()))
        else:
            compares.append(Compare(existing.key, existing.mod_revision))
        ctx.store.txn(compares, ops)
        return lb

    return t.LoadBalancerResponse(load_balancer=_listener_change(once, "loadBalancer"))


def _listener_change(once: Callable[[], t.LoadBalancer], field: str) -> t.LoadBalancer:
    """Runs ``once`` (a compare-and-set over the cluster's load balancers) again on a
    conflict; ABORTED, naming ``field``, when the conflicts outlast the retries."""
    try:
        return retrying(once, what="listener")
    except Conflict:
        raise ApiError(grpc.StatusCode.ABORTED, f"{field}: concurrent changes; try again",
                       "InvalidConfigurationRequest") from None


def _lb_of(ctx: ApiContext, cluster: str, arn: str, field: str, code: str) -> Record[t.LoadBalancer]:
    name = elb_name(arn) if arn.startswith("arn:") else ""
    if not name:
        raise check.bad(f"{field}: required, as an ARN ({arn[:256]!r} is not one)")
    rec = lookup(ctx, LOAD_BALANCER, cluster, name)
    if rec is None:
        raise not_found(f"{field}: {arn[:256]!r} not found in cluster {cluster!r}", code)
    return rec


def _change_lb(ctx: ApiContext, rec: Record[t.LoadBalancer], change) -> t.LoadBalancer:
    """Compare-and-set of the load balancer's record; ``change`` mutates a fresh copy."""

    def mutate(lb: t.LoadBalancer | None) -> t.LoadBalancer:
        if lb is None or lb.id != rec.msg.id:
            raise not_found(f"loadBalancer: {rec.msg.load_balancer_name!r} was deleted", "LoadBalancerNotFound")
        change(lb)
        return lb

    return ctx.state.update(rec.key, t.LoadBalancer, mutate, field="loadBalancer").msg


def delete_listener(ctx: ApiContext, req: t.ListenerRef) -> t.LoadBalancerResponse:
    cluster = ctx.require_cluster(req.cluster).msg.cluster_name
    rec = _lb_of(ctx, cluster, req.listener_arn, "listenerArn", "ListenerNotFound")

    def change(lb: t.LoadBalancer) -> None:
        listener = find_listener(lb, req.listener_arn)
        lb.listeners.remove(listener)

    return t.LoadBalancerResponse(load_balancer=_change_lb(ctx, rec, change))


def modify_listener(ctx: ApiContext, req: t.ModifyListenerRequest) -> t.LoadBalancerResponse:
    """A listener's port and default target group, changed in one compare-and-set; a new
    port is checked as a new listener's is, and compared with every other load balancer of
    the cluster in the same transaction. The load balancer's own default target group (what
    a service's ``loadBalancerName`` means) stays."""
    cluster = ctx.require_cluster(req.cluster).msg.cluster_name
    port = check.port(req.port, "port") if req.port else 0
    if not (port or req.protocol or req.default_target_group):
        raise check.bad("listenerArn: give port, protocol or defaultTargetGroup to change")
    group = find_target_group(ctx, cluster, req.default_target_group, "defaultTargetGroup").msg \
        if req.default_target_group else None

    def once() -> t.LoadBalancer:
        rec = _lb_of(ctx, cluster, req.listener_arn, "listenerArn", "ListenerNotFound")
        others = [other for other in load_balancers(ctx, cluster) if other.key != rec.key]
        lb = rec.msg
        listener = find_listener(lb, req.listener_arn)
        if req.protocol:
            check.listener_protocol(req.protocol, lb.type)
        if port and port != listener.port:
            _check_port_free(ctx, cluster, port, [*others, rec])
            listener.port = port
        if group is not None:
            if group.protocol != listener.protocol:
                raise check.bad(f"defaultTargetGroup: target group {group.target_group_name!r} is {group.protocol}; "
                                f"a {listener.protocol} listener sends to {listener.protocol} target groups",
                                "InvalidConfigurationRequest")
            _check_proxy_protocol([*(o.msg for o in others), lb], group, listener.proxy_protocol,
                                  listener.listener_arn, "defaultTargetGroup")
            listener.default_target_group_arn = group.target_group_arn
        compares = [Compare(other.key, other.mod_revision) for other in [*others, rec]]
        ctx.store.txn(compares, [Put(rec.key, lb.SerializeToString())])
        return lb

    return t.LoadBalancerResponse(load_balancer=_listener_change(once, "listenerArn"))


# ---- rules ------------------------------------------------------------------------------------

def create_rule(ctx: ApiContext, req: t.CreateRuleRequest) -> t.LoadBalancerResponse:
    cluster = ctx.require_cluster(req.cluster).msg.cluster_name
    rec = _lb_of(ctx, cluster, req.listener_arn, "listenerArn", "ListenerNotFound")
    priority = check.priority(req.priority)
    hosts = check.patterns(list(req.host_patterns), "hostPatterns", host=True)
    paths = check.patterns(list(req.path_patterns), "pathPatterns", host=False)
    if not hosts and not paths:
        raise check.bad("conditions: give at least one host pattern or path pattern")
    group = find_target_group(ctx, cluster, req.target_group, "targetGroup").msg

    def change(lb: t.LoadBalancer) -> None:
        listener = find_listener(lb, req.listener_arn)
        if listener.protocol != "HTTP":
            raise check.bad("listenerArn: rules on host and path are for HTTP listeners; a TCP listener has only "
                            "its default target group", "InvalidConfigurationRequest")
        if group.protocol != "HTTP":
            raise check.bad(f"targetGroup: {group.target_group_name!r} is {group.protocol}; an HTTP listener's "
                            "rules send to HTTP target groups", "InvalidConfigurationRequest")
        if any(rule.priority == priority for rule in listener.rules):
            raise _duplicate(f"priority: {priority} is already taken on this listener", "PriorityInUse")
        if len(listener.rules) >= MAX_RULES:
            raise ApiError(grpc.StatusCode.RESOURCE_EXHAUSTED, f"listenerArn: already {MAX_RULES} rules",
                           "TooManyRules")
        listener_id = listener.listener_arn.rsplit("/", 1)[-1]
        rule = t.ListenerRule(
            rule_arn=ctx.arns.listener_rule(lb.type, lb.load_balancer_name, lb.id, listener_id,
                                            secrets.token_hex(8)),
            priority=priority, host_patterns=hosts, path_patterns=paths, target_group_arn=group.target_group_arn)
        rules = sorted([*listener.rules, rule], key=lambda x: x.priority)
        del listener.rules[:]
        listener.rules.extend(rules)

    return t.LoadBalancerResponse(load_balancer=_change_lb(ctx, rec, change))


def delete_rule(ctx: ApiContext, req: t.RuleRef) -> t.LoadBalancerResponse:
    cluster = ctx.require_cluster(req.cluster).msg.cluster_name
    rec = _lb_of(ctx, cluster, req.rule_arn, "ruleArn", "RuleNotFound")

    def change(lb: t.LoadBalancer) -> None:
        for listener in lb.listeners:
            for rule in listener.rules:
                if rule.rule_arn == req.rule_arn:
                    listener.rules.remove(rule)
                    return
        raise not_found(f"ruleArn: rule {req.rule_arn[:256]!r} not found", "RuleNotFound")

    return t.LoadBalancerResponse(load_balancer=_change_lb(ctx, rec, change))


def attached_group(ctx: ApiContext, cluster: str, name: str, field: str) -> str:
    """The target group ``loadBalancerName`` on a service means: the load balancer's default."""
    rec = ctx.state.load(keys.load_balancer(cluster, name), t.LoadBalancer)
    if rec is None:
        raise not_found(f"{field}: load balancer {name[:256]!r} not found in cluster {cluster!r}",
                        "LoadBalancerNotFound")
    if not rec.msg.default_target_group_arn:
        raise check.bad(f"{field}: load balancer {name!r} has no default target group yet; add a listener "
                        "first (`shoal lb create NAME --listener PORT`)")
    return rec.msg.default_target_group_arn


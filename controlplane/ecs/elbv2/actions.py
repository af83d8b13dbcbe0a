"""One function per ELBv2 action: its parameters checked (params.py), one call to the
Traffic service, and the answer shaped as the action's result (shapes.py). ``ACTIONS``
also names the Traffic method each action amounts to, which is what authorization judges
(DescribeListeners reads load balancers, ModifyTargetGroupAttributes modifies a target
group). Every action works on the cluster of the endpoint path (clusters.py): ``traffic``
sets it on each request."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from controlplane.ecs.elbv2 import shapes
from controlplane.ecs.elbv2.errors import (
    LB_NOT_FOUND,
    LISTENER_NOT_FOUND,
    NOT_PERMITTED,
    RULE_NOT_FOUND,
    TG_NOT_FOUND,
    TrafficError,
    from_traffic,
    refused,
    validation,
)
from controlplane.ecs.elbv2.params import (
    boolean,
    choice,
    forward_target,
    integer,
    one_of,
    only,
    protocol,
    strings,
    structures,
    tags,
    text,
)
from controlplane.ecs.elbv2.query import Params
from controlplane.ecs.elbv2.traffic import Traffic
from shoal.v1 import resources_pb2 as r
from shoal.v1 import traffic_pb2 as t

Result = dict[str, Any]
MAX_PAGE = 400
# ELBv2's limits on a rule (5 condition values in all), and on a deregistration delay.
MAX_CONDITION_VALUES = 5
MAX_DEREGISTRATION_DELAY = 3600


@dataclass(frozen=True)
class Action:
    method: str
    run: Callable[[Traffic, Params], Result]


def _page(items: list[Any], p: Params, member: str) -> Result:
    """ELBv2's Marker/PageSize paging over a complete listing: the marker is an offset."""
    size = integer(p, "PageSize", 1, MAX_PAGE) or MAX_PAGE
    marker = text(p, "Marker")
    if marker and not (marker.isascii() and marker.isdigit()):
        raise validation(f"Marker: {marker[:40]!r} is not a marker this endpoint returned")
    start = int(marker or 0)
    out: Result = {member: items[start:start + size]}
    if start + size < len(items):
        out["NextMarker"] = str(start + size)
    return out


# ---- load balancers ---------------------------------------------------------------------------

def create_load_balancer(traffic: Traffic, p: Params) -> Result:
    only(p, ("Name", "Type", "Scheme", "IpAddressType", "Tags"))
    choice(p, "Scheme", ("internet-facing",), "internet-facing",
           "a Shoal load balancer listens on its nodes' addresses; restrict who reaches them at the nodes")
    choice(p, "IpAddressType", ("ipv4",), "ipv4")
    kind = choice(p, "Type", ("application", "network"), "application")
    req = t.CreateLoadBalancerRequest(name=text(p, "Name", required=True), type=kind, tags=tags(p))
    return {"LoadBalancers": [shapes.load_balancer(traffic.call("CreateLoadBalancer", req).load_balancer)]}


def _load_balancers(traffic: Traffic, refs: list[str]) -> list[t.LoadBalancer]:
    resp = traffic.call("DescribeLoadBalancers", t.DescribeLoadBalancersRequest(load_balancers=refs))
    _all_found(resp.failures, LB_NOT_FOUND, "load balancers")
    return list(resp.load_balancers)


def _all_found(failures: Sequence[r.Failure], code: str, what: str) -> None:
    """ELBv2 refuses the whole call over one unknown name, where Shoal's Describe* answers
    it with a MISSING failure beside the others."""
    if failures:
        raise refused(code, f"One or more {what} not found: {', '.join(f.arn for f in failures)}")


def describe_load_balancers(traffic: Traffic, p: Params) -> Result:
    only(p, ("LoadBalancerArns", "Names", "Marker", "PageSize"))
    one_of(p, "LoadBalancerArns", "Names")
    refs = strings(p, "LoadBalancerArns") or strings(p, "Names")
    found = _load_balancers(traffic, refs)
    return _page([shapes.load_balancer(lb) for lb in found], p, "LoadBalancers")


def delete_load_balancer(traffic: Traffic, p: Params) -> Result:
    only(p, ("LoadBalancerArn",))
    try:
        traffic.call("DeleteLoadBalancer", t.LoadBalancerRef(load_balancer=text(p, "LoadBalancerArn", required=True)))
    except TrafficError as exc:
        # ELBv2: deleting a load balancer that is not there (any more) succeeds.
        if from_traffic(exc, "DeleteLoadBalancer").ecs_type != LB_NOT_FOUND:
            raise
    return {}


# ---- listeners and rules ----------------------------------------------------------------------

def create_listener(traffic: Traffic, p: Params) -> Result:
    only(p, ("LoadBalancerArn", "Protocol", "Port", "DefaultActions"), not_taggable=True)
    req = t.CreateListenerRequest(
        load_balancer=text(p, "LoadBalancerArn", required=True),
        port=integer(p, "Port", 1, 65535, required=True) or 0,
        protocol=protocol(p, "Protocol", required=False),
        default_target_group=forward_target(structures(p, "DefaultActions", required=True), "DefaultActions"),
    )
    lb = traffic.call("CreateListener", req).load_balancer
    made = [x for x in lb.listeners if x.port == req.port]
    return {"Listeners": [shapes.listener(lb, x) for x in made]}


def _listeners(traffic: Traffic, p: Params) -> list[tuple[t.LoadBalancer, t.Listener]]:
    """The listeners ``LoadBalancerArn`` or ``ListenerArns`` name (one of them is required)."""
    one_of(p, "LoadBalancerArn", "ListenerArns")
    lb_ref = text(p, "LoadBalancerArn")
    arns = strings(p, "ListenerArns")
    if not lb_ref and not arns:
        raise validation("LoadBalancerArn or ListenerArns: give one of them")
    pairs = [(lb, x) for lb in _load_balancers(traffic, [lb_ref] if lb_ref else []) for x in lb.listeners]
    if lb_ref:
        return pairs
    by_arn = {x.listener_arn: (lb, x) for lb, x in pairs}
    missing = [a for a in arns if a not in by_arn]
    if missing:
        raise refused(LISTENER_NOT_FOUND, f"ListenerArns: listener(s) not found: {', '.join(missing)}")
    return [by_arn[a] for a in arns]


def describe_listeners(traffic: Traffic, p: Params) -> Result:
    only(p, ("LoadBalancerArn", "ListenerArns", "Marker", "PageSize"))
    found = sorted(_listeners(traffic, p), key=lambda pair: pair[1].port)
    return _page([shapes.listener(lb, x) for lb, x in found], p, "Listeners")


def modify_listener(traffic: Traffic, p: Params) -> Result:
    """Port and DefaultActions change; Protocol may be given but is the load balancer's
    own (Shoal's application load balancers listen on HTTP, network ones on TCP)."""
    only(p, ("ListenerArn", "Port", "Protocol", "DefaultActions"))
    actions = structures(p, "DefaultActions")
    req = t.ModifyListenerRequest(
        listener_arn=text(p, "ListenerArn", required=True),
        port=integer(p, "Port", 1, 65535) or 0,
        protocol=protocol(p, "Protocol", required=False),
        default_target_group=forward_target(actions, "DefaultActions") if actions else "",
    )
    if not (req.port or req.protocol or req.default_target_group):
        raise validation("Port, Protocol or DefaultActions: give at least one to change")
    lb = traffic.call("ModifyListener", req).load_balancer
    return {"Listeners": [shapes.listener(lb, x) for x in lb.listeners if x.listener_arn == req.listener_arn]}


def delete_listener(traffic: Traffic, p: Params) -> Result:
    only(p, ("ListenerArn",))
    traffic.call("DeleteListener", t.ListenerRef(listener_arn=text(p, "ListenerArn", required=True)))
    return {}


def _conditions(p: Params) -> tuple[list[str], list[str]]:
    """(host patterns, path patterns) of a rule's Conditions."""
    hosts: list[str] = []
    paths: list[str] = []
    for i, cond in enumerate(structures(p, "Conditions", required=True), 1):
        where = f"Conditions.member.{i}"
        field = text(cond, "Field", required=True, where=where)
        config = {"host-header": "HostHeaderConfig", "path-pattern": "PathPatternConfig"}.get(field)
        if config is None:
            raise validation(f"{where}.Field: {field[:40]!r} is not supported; Shoal's rules match "
                             "host-header and path-pattern")
        only(cond, ("Field", "Values", config), where=where)
        values = strings(cond, "Values")
        nested = cond.get(config)
        if nested is not None:
            if not isinstance(nested, dict):
                raise validation(f"{where}.{config}: must be a structure")
            only(nested, ("Values",), where=f"{where}.{config}")
            if values and strings(nested, "Values") != values:
                raise validation(f"{where}: Values and {config}.Values differ; give one of them")
            values = strings(nested, "Values")
        if not values:
            raise validation(f"{where}.Values: give at least one pattern")
        (hosts if field == "host-header" else paths).extend(values)
    if len(hosts) + len(paths) > MAX_CONDITION_VALUES:
        raise validation(f"Conditions: at most {MAX_CONDITION_VALUES} values in all")
    return hosts, paths


def create_rule(traffic: Traffic, p: Params) -> Result:
    only(p, ("ListenerArn", "Conditions", "Priority", "Actions"), not_taggable=True)
    hosts, paths = _conditions(p)
    req = t.CreateRuleRequest(
        listener_arn=text(p, "ListenerArn", required=True),
        priority=integer(p, "Priority", 1, 50000, required=True) or 0,
        host_patterns=hosts, path_patterns=paths,
        target_group=forward_target(structures(p, "Actions", required=True), "Actions"),
    )
    lb = traffic.call("CreateRule", req).load_balancer
    made = [x for item in lb.listeners if item.listener_arn == req.listener_arn
            for x in item.rules if x.priority == req.priority]
    return {"Rules": [shapes.rule(x) for x in made]}


def describe_rules(traffic: Traffic, p: Params) -> Result:
    only(p, ("ListenerArn", "RuleArns", "Marker", "PageSize"))
    one_of(p, "ListenerArn", "RuleArns")
    listener_arn = text(p, "ListenerArn")
    arns = strings(p, "RuleArns")
    if not listener_arn and not arns:
        raise validation("ListenerArn or RuleArns: give one of them")
    every = [x for lb in _load_balancers(traffic, []) for x in lb.listeners]
    if listener_arn:
        matching = [x for x in every if x.listener_arn == listener_arn]
        if not matching:
            raise refused(LISTENER_NOT_FOUND, f"ListenerArn: listener {listener_arn!r} not found")
        return _page(shapes.rules(matching[0]), p, "Rules")
    by_arn = {r["RuleArn"]: r for x in every for r in shapes.rules(x)}
    missing = [a for a in arns if a not in by_arn]
    if missing:
        raise refused(RULE_NOT_FOUND, f"RuleArns: rule(s) not found: {', '.join(missing)}")
    return _page([by_arn[a] for a in arns], p, "Rules")


def delete_rule(traffic: Traffic, p: Params) -> Result:
    only(p, ("RuleArn",))
    arn = text(p, "RuleArn", required=True)
    if arn.endswith(shapes.DEFAULT_RULE_SUFFIX):
        raise refused(NOT_PERMITTED, f"RuleArn: {arn!r} is a listener's default rule; delete the listener instead")
    traffic.call("DeleteRule", t.RuleRef(rule_arn=arn))
    return {}


# ---- target groups ----------------------------------------------------------------------------

_HEALTH = ("HealthCheckProtocol", "HealthCheckPort", "HealthCheckEnabled", "HealthCheckPath",
           "HealthCheckIntervalSeconds", "HealthCheckTimeoutSeconds", "HealthyThresholdCount",
           "UnhealthyThresholdCount", "Matcher")


def _health_check(p: Params) -> t.HealthCheckConfig:
    if boolean(p, "HealthCheckEnabled") is False:
        raise validation("HealthCheckEnabled: Shoal always checks targets before sending them traffic; leave it "
                         "out or set true")
    choice(p, "HealthCheckPort", ("traffic-port",), "traffic-port",
           "Shoal checks each target on the port it receives traffic on")
    check = t.HealthCheckConfig(
        protocol=protocol(p, "HealthCheckProtocol", required=False),
        path=text(p, "HealthCheckPath"),
        interval_seconds=integer(p, "HealthCheckIntervalSeconds", 5, 300) or 0,
        timeout_seconds=integer(p, "HealthCheckTimeoutSeconds", 2, 120) or 0,
        healthy_threshold=integer(p, "HealthyThresholdCount", 2, 10) or 0,
        unhealthy_threshold=integer(p, "UnhealthyThresholdCount", 2, 10) or 0,
    )
    matcher = p.get("Matcher")
    if matcher is not None:
        if not isinstance(matcher, dict):
            raise validation("Matcher: must be a structure (Matcher.HttpCode)")
        only(matcher, ("HttpCode",), where="Matcher")
        check.matcher = text(matcher, "HttpCode", required=True)
    if check.path and not check.path.startswith("/"):
        raise validation(f"HealthCheckPath: {check.path[:40]!r} must start with /")
    return check


def create_target_group(traffic: Traffic, p: Params) -> Result:
    only(p, ("Name", "Protocol", "ProtocolVersion", "Port", "VpcId", "TargetType", "IpAddressType", "Tags", *_HEALTH))
    choice(p, "TargetType", ("instance", "ip"), "instance", "Shoal's targets are tasks at their node's address")
    choice(p, "IpAddressType", ("ipv4",), "ipv4")
    choice(p, "ProtocolVersion", ("HTTP1",), "HTTP1")
    # VpcId is accepted because ECS's own scripts always pass one; Shoal has no VPCs.
    text(p, "VpcId")
    req = t.CreateTargetGroupRequest(
        name=text(p, "Name", required=True),
        protocol=protocol(p, "Protocol"),
        port=integer(p, "Port", 1, 65535, required=True) or 0,
        health_check=_health_check(p),
        tags=tags(p),
    )
    return {"TargetGroups": [shapes.target_group(traffic.call("CreateTargetGroup", req).target_group)]}


def _target_groups(traffic: Traffic, refs: list[str], load_balancer: str = "") -> list[t.TargetGroup]:
    resp = traffic.call("DescribeTargetGroups",
                        t.DescribeTargetGroupsRequest(target_groups=refs, load_balancer=load_balancer))
    _all_found(resp.failures, TG_NOT_FOUND, "target groups")
    return list(resp.target_groups)


def describe_target_groups(traffic: Traffic, p: Params) -> Result:
    only(p, ("LoadBalancerArn", "TargetGroupArns", "Names", "Marker", "PageSize"))
    one_of(p, "LoadBalancerArn", "TargetGroupArns", "Names")
    refs = strings(p, "TargetGroupArns") or strings(p, "Names")
    found = _target_groups(traffic, refs, text(p, "LoadBalancerArn"))
    return _page([shapes.target_group(tg) for tg in found], p, "TargetGroups")


def describe_target_group_attributes(traffic: Traffic, p: Params) -> Result:
    only(p, ("TargetGroupArn",))
    (tg,) = _target_groups(traffic, [text(p, "TargetGroupArn", required=True)])
    return {"Attributes": shapes.attributes(tg)}


def modify_target_group_attributes(traffic: Traffic, p: Params) -> Result:
    only(p, ("TargetGroupArn", "Attributes"))
    arn = text(p, "TargetGroupArn", required=True)
    req = t.ModifyTargetGroupRequest(target_group=arn)
    for i, attr in enumerate(structures(p, "Attributes", required=True), 1):
        only(attr, ("Key", "Value"), where=f"Attributes.member.{i}")
        key = text(attr, "Key", required=True, where=f"Attributes.member.{i}")
        if key != shapes.DEREGISTRATION_DELAY:
            raise validation(f"Attributes.member.{i}.Key: {key[:80]!r} is not supported; Shoal's target groups "
                             f"have {shapes.DEREGISTRATION_DELAY} only")
        req.deregistration_delay_seconds = integer(attr, "Value", 0, MAX_DEREGISTRATION_DELAY, required=True,
                                                   where=f"Attributes.member.{i}") or 0
    return {"Attributes": shapes.attributes(traffic.call("ModifyTargetGroup", req).target_group)}


def delete_target_group(traffic: Traffic, p: Params) -> Result:
    only(p, ("TargetGroupArn",))
    traffic.call("DeleteTargetGroup", t.TargetGroupRef(target_group=text(p, "TargetGroupArn", required=True)))
    return {}


def describe_target_health(traffic: Traffic, p: Params) -> Result:
    only(p, ("TargetGroupArn", "Targets"))
    wanted = []
    for i, target in enumerate(structures(p, "Targets"), 1):
        only(target, ("Id", "Port"), where=f"Targets.member.{i}")
        where = f"Targets.member.{i}"
        wanted.append((text(target, "Id", required=True, where=where), integer(target, "Port", 1, 65535, where=where)))
    resp = traffic.call("DescribeTargetHealth", t.TargetGroupRef(target_group=text(p, "TargetGroupArn", required=True)))
    targets = [x for x in resp.targets
               if not wanted or any((x.task_id or x.address) == tid and port in (None, x.port) for tid, port in wanted)]
    return {"TargetHealthDescriptions": [shapes.target_health(x) for x in targets]}


def _targets(p: Params) -> list[t.RegisteredTarget]:
    out = []
    for i, target in enumerate(structures(p, "Targets", required=True), 1):
        where = f"Targets.member.{i}"
        only(target, ("Id", "Port", "AvailabilityZone"), where=where)
        # "all" is ELBv2's own word for an ip target outside the load balancer's VPC; Shoal has no zones.
        choice(target, "AvailabilityZone", ("all",), "all", "Shoal's targets have no availability zones")
        out.append(t.RegisteredTarget(id=text(target, "Id", required=True, where=where),
                                      port=integer(target, "Port", 1, 65535, where=where) or 0))
    return out


def _change_targets(method: str) -> Callable[[Traffic, Params], Result]:
    """RegisterTargets and DeregisterTargets of addresses (TargetType ip). Tasks are not
    registered this way: they join a group through their service's ``loadBalancers``, once
    healthy, and drain before they stop."""

    def run(traffic: Traffic, p: Params) -> Result:
        only(p, ("TargetGroupArn", "Targets"))
        req = t.RegisterTargetsRequest(target_group=text(p, "TargetGroupArn", required=True), targets=_targets(p))
        traffic.call(method, req)
        return {}

    return run


ACTIONS: dict[str, Action] = {
    "CreateLoadBalancer": Action("CreateLoadBalancer", create_load_balancer),
    "DescribeLoadBalancers": Action("DescribeLoadBalancers", describe_load_balancers),
    "DeleteLoadBalancer": Action("DeleteLoadBalancer", delete_load_balancer),
    "CreateListener": Action("CreateListener", create_listener),
    "DescribeListeners": Action("DescribeLoadBalancers", describe_listeners),
    "ModifyListener": Action("ModifyListener", modify_listener),
    "DeleteListener": Action("DeleteListener", delete_listener),
    "CreateRule": Action("CreateRule", create_rule),
    "DescribeRules": Action("DescribeLoadBalancers", describe_rules),
    "DeleteRule": Action("DeleteRule", delete_rule),
    "CreateTargetGroup": Action("CreateTargetGroup", create_target_group),
    "DescribeTargetGroups": Action("DescribeTargetGroups", describe_target_groups),
    "DescribeTargetGroupAttributes": Action("DescribeTargetGroups", describe_target_group_attributes),
    "ModifyTargetGroupAttributes": Action("ModifyTargetGroup", modify_target_group_attributes),
    "DeleteTargetGroup": Action("DeleteTargetGroup", delete_target_group),
    "DescribeTargetHealth": Action("DescribeTargetHealth", describe_target_health),
    "RegisterTargets": Action("RegisterTargets", _change_targets("RegisterTargets")),
    "DeregisterTargets": Action("DeregisterTargets", _change_targets("DeregisterTargets")),
}

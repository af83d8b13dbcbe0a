"""Shoal's traffic records as ELBv2 describes them (botocore's LoadBalancer, Listener,
Rule, TargetGroup and TargetHealthDescription shapes). Only what Shoal knows is written:
a member ELBv2 has and Shoal has no value for (DNSName, VpcId, AvailabilityZones) is left
out rather than invented."""

from __future__ import annotations

from typing import Any

from controlplane.ecs.elbv2.xml import timestamp
from shoal.v1 import traffic_pb2 as t

Shape = dict[str, Any]

DEREGISTRATION_DELAY = "deregistration_delay.timeout_seconds"
# The default rule of a listener has no record of its own; its ARN is the listener's with
# this ending (DeleteRule refuses it, as ELBv2 does).
DEFAULT_RULE_SUFFIX = "/default"

_LB_TYPE = {"application": "application", "network": "network"}
# A listener's protocol follows its load balancer's type.
_PROTOCOL = {"HTTP": "HTTP", "TCP": "TCP", "http": "HTTP", "tcp": "TCP"}


def load_balancer(lb: t.LoadBalancer) -> Shape:
    return {
        "LoadBalancerArn": lb.load_balancer_arn,
        "CreatedTime": timestamp(lb.created_at),
        "LoadBalancerName": lb.load_balancer_name,
        # Listeners are reachable on the nodes' addresses: Shoal has no internal scheme.
        "Scheme": "internet-facing",
        "State": {"Code": lb.state or "active"},
        "Type": _LB_TYPE.get(lb.type, "application"),
        "IpAddressType": "ipv4",
    }


def _forward(target_group_arn: str) -> Shape:
    return {"Type": "forward", "TargetGroupArn": target_group_arn,
            "ForwardConfig": {"TargetGroups": [{"TargetGroupArn": target_group_arn, "Weight": 1}]}}


def listener(lb: t.LoadBalancer, item: t.Listener) -> Shape:
    return {
        "ListenerArn": item.listener_arn,
        "LoadBalancerArn": lb.load_balancer_arn,
        "Port": item.port,
        "Protocol": _PROTOCOL.get(item.protocol, item.protocol),
        "DefaultActions": [_forward(item.default_target_group_arn)],
    }


def default_rule_arn(item: t.Listener) -> str:
    return item.listener_arn.replace(":listener/", ":listener-rule/", 1) + DEFAULT_RULE_SUFFIX


def rule(item: t.ListenerRule) -> Shape:
    conditions = []
    if item.host_patterns:
        values = list(item.host_patterns)
        conditions.append({"Field": "host-header", "Values": values, "HostHeaderConfig": {"Values": values}})
    if item.path_patterns:
        values = list(item.path_patterns)
        conditions.append({"Field": "path-pattern", "Values": values, "PathPatternConfig": {"Values": values}})
    return {"RuleArn": item.rule_arn, "Priority": str(item.priority), "Conditions": conditions,
            "Actions": [_forward(item.target_group_arn)], "IsDefault": False}


def default_rule(item: t.Listener) -> Shape:
    return {"RuleArn": default_rule_arn(item), "Priority": "default", "Conditions": [],
            "Actions": [_forward(item.default_target_group_arn)], "IsDefault": True}


def rules(item: t.Listener) -> list[Shape]:
    """A listener's rules as ELBv2 lists them: by priority, the default rule last."""
    ordered = sorted(item.rules, key=lambda x: x.priority)
    return [rule(x) for x in ordered] + [default_rule(item)]


def target_group(tg: t.TargetGroup) -> Shape:
    check = tg.health_check
    check_protocol = check.protocol or ("HTTP" if tg.protocol == "HTTP" else "TCP")
    out: Shape = {
        "TargetGroupArn": tg.target_group_arn,
        "TargetGroupName": tg.target_group_name,
        "Protocol": tg.protocol,
        "Port": tg.port,
        "HealthCheckProtocol": check_protocol,
        # Shoal checks each target on the port it receives traffic on.
        "HealthCheckPort": "traffic-port",
        "HealthCheckEnabled": True,
        "HealthCheckIntervalSeconds": check.interval_seconds or None,
        "HealthCheckTimeoutSeconds": check.timeout_seconds or None,
        "HealthyThresholdCount": check.healthy_threshold or None,
        "UnhealthyThresholdCount": check.unhealthy_threshold or None,
        "LoadBalancerArns": list(tg.load_balancer_arns),
        # A target is a task reached at its node's address and host port.
        "TargetType": "instance",
        "IpAddressType": "ipv4",
    }
    if check_protocol == "HTTP":
        out["HealthCheckPath"] = check.path or "/"
        out["Matcher"] = {"HttpCode": check.matcher or "200"}
    if tg.protocol == "HTTP":
        out["ProtocolVersion"] = "HTTP1"
    return out


def attributes(tg: t.TargetGroup) -> list[Shape]:
    return [{"Key": DEREGISTRATION_DELAY, "Value": str(tg.deregistration_delay_seconds)}]


def target_health(item: t.TargetHealthDescription) -> Shape:
    health: Shape = {"State": item.health.state or "initial"}
    if item.health.reason:
        health["Reason"] = item.health.reason
    if item.health.description:
        health["Description"] = item.health.description
    # The target is the task (Port: where its node forwards to it, the host port, once the
    # task has one), or a registered address.
    target: Shape = {"Id": item.task_id or item.address}
    out: Shape = {"Target": target, "TargetHealth": health}
    if item.port:
        target["Port"] = item.port
        out["HealthCheckPort"] = str(item.port)
    return out

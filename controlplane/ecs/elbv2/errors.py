"""ELBv2's error codes, and how a refusal from the Traffic service becomes one: the gRPC
status says what kind of refusal it is, the action says which resource it concerns (a
NOT_FOUND from DeleteListener is ListenerNotFound)."""

from __future__ import annotations

import re

import grpc

from controlplane.ecs.errors import EcsError

# ELBv2's codes, as botocore's model names them (each error shape's ``code``).
VALIDATION = "ValidationError"
LB_NOT_FOUND = "LoadBalancerNotFound"
TG_NOT_FOUND = "TargetGroupNotFound"
LISTENER_NOT_FOUND = "ListenerNotFound"
RULE_NOT_FOUND = "RuleNotFound"
INVALID_CONFIGURATION = "InvalidConfigurationRequest"
UNSUPPORTED_PROTOCOL = "UnsupportedProtocol"
RESOURCE_IN_USE = "ResourceInUse"
NOT_PERMITTED = "OperationNotPermitted"


def validation(message: str) -> EcsError:
    return EcsError(VALIDATION, message)


def refused(code: str, message: str) -> EcsError:
    return EcsError(code, message)


class TrafficError(Exception):
    """A call to the Traffic service that ended with a status other than OK; ``elb_code``
    the ELBv2 code its handler named, when it was called in process (a gRPC status does
    not carry it)."""

    def __init__(self, code: grpc.StatusCode, message: str, elb_code: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.elb_code = elb_code


# What a refusal means, per action, when the status alone does not say (ALREADY_EXISTS from
# CreateListener is a listener on a port already taken; from CreateRule, a priority).
_DUPLICATE = {
    "CreateLoadBalancer": "DuplicateLoadBalancerName",
    "CreateTargetGroup": "DuplicateTargetGroupName",
    "CreateListener": "DuplicateListener",
    "CreateRule": "PriorityInUse",
}
# NOT_FOUND: the resource the message names, else the one the action is about.
_NOUNS = (("target group", TG_NOT_FOUND), ("target_group", TG_NOT_FOUND), ("targetgroup", TG_NOT_FOUND),
          ("listener", LISTENER_NOT_FOUND), ("rule", RULE_NOT_FOUND), ("load balancer", LB_NOT_FOUND),
          ("load_balancer", LB_NOT_FOUND), ("loadbalancer", LB_NOT_FOUND))
_ABOUT = {
    "TargetGroup": TG_NOT_FOUND, "TargetHealth": TG_NOT_FOUND, "Listener": LISTENER_NOT_FOUND,
    "Rule": RULE_NOT_FOUND, "LoadBalancer": LB_NOT_FOUND,
}


_SERVER_SIDE = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN)


def not_found_code(action: str, message: str) -> str:
    lowered = message.lower()
    # The field the message starts with names the resource ("target_group: ... not found").
    field = lowered.split(":", 1)[0]
    for noun, code in _NOUNS:
        if noun in field:
            return code
    for noun, code in _NOUNS:
        if noun in lowered:
            return code
    for word, code in _ABOUT.items():
        if word in action:
            return code
    return VALIDATION


# The Traffic API names fields as its messages do (proto3's JSON names); an ELBv2 caller
# knows them by the action's parameter names. Per action, the parameter each field came from.
_HEALTH = {
    "healthCheck.intervalSeconds": "HealthCheckIntervalSeconds",
    "healthCheck.timeoutSeconds": "HealthCheckTimeoutSeconds",
    "healthCheck.healthyThreshold": "HealthyThresholdCount",
    "healthCheck.unhealthyThreshold": "UnhealthyThresholdCount", "healthCheck.path": "HealthCheckPath",
    "healthCheck.matcher": "Matcher.HttpCode", "healthCheck.protocol": "HealthCheckProtocol",
}
_PARAMETERS: dict[str, dict[str, str]] = {
    "CreateLoadBalancer": {"name": "Name", "type": "Type"},
    "CreateTargetGroup": {"name": "Name", "protocol": "Protocol", "port": "Port", **_HEALTH},
    "CreateListener": {"loadBalancer": "LoadBalancerArn", "port": "Port", "protocol": "Protocol",
                       "defaultTargetGroup": "DefaultActions.member.1.TargetGroupArn"},
    "CreateRule": {"listenerArn": "ListenerArn", "priority": "Priority", "hostPatterns": "Conditions",
                   "pathPatterns": "Conditions", "conditions": "Conditions",
                   "targetGroup": "Actions.member.1.TargetGroupArn"},
    "ModifyTargetGroupAttributes": {"targetGroup": "TargetGroupArn",
                                    "deregistrationDelaySeconds": "deregistration_delay.timeout_seconds"},
    "DeleteListener": {"listenerArn": "ListenerArn"},
    "DeleteRule": {"ruleArn": "RuleArn"},
    "DeleteTargetGroup": {"targetGroup": "TargetGroupArn"},
    "DeleteLoadBalancer": {"loadBalancer": "LoadBalancerArn"},
    "DescribeTargetHealth": {"targetGroup": "TargetGroupArn"},
    "DescribeTargetGroups": {"loadBalancer": "LoadBalancerArn"},
}
_FIELD = re.compile(r"([A-Za-z.]+)((?:\[\d+\])*): ")


def _named_as_elbv2(action: str, message: str) -> str:
    """``healthCheck.timeoutSeconds: …`` as ``HealthCheckTimeoutSeconds (healthCheck.timeoutSeconds): …``."""
    match = _FIELD.match(message)
    parameter = _PARAMETERS.get(action, {}).get(match.group(1)) if match else None
    if match is None or parameter is None:
        return message
    return f"{parameter} ({match.group(1)}{match.group(2)}): {message[match.end():]}"


def from_traffic(exc: TrafficError, action: str) -> EcsError:
    """The ELBv2 error for a Traffic refusal met while running ``action``: the code the
    handler named, else one read from the status and the action."""
    code = exc.code
    exc = TrafficError(code, _named_as_elbv2(action, exc.message), exc.elb_code)
    # ECS's exception names ("ClusterNotFoundException", "ClientException") are not ELBv2's.
    if exc.elb_code and not exc.elb_code.endswith("Exception") and code not in _SERVER_SIDE:
        return EcsError(exc.elb_code, exc.message)
    if code == grpc.StatusCode.NOT_FOUND:
        return EcsError(not_found_code(action, exc.message), exc.message)
    if code == grpc.StatusCode.ALREADY_EXISTS:
        return EcsError(_DUPLICATE.get(action, INVALID_CONFIGURATION), exc.message)
    if code == grpc.StatusCode.FAILED_PRECONDITION:
        kind = RESOURCE_IN_USE if action.startswith("Delete") else INVALID_CONFIGURATION
        return EcsError(kind, exc.message)
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        return EcsError(VALIDATION, exc.message)
    if code == grpc.StatusCode.PERMISSION_DENIED:
        return EcsError("AccessDenied", exc.message, 403)
    if code == grpc.StatusCode.UNAVAILABLE:
        return EcsError("ServiceUnavailable", exc.message, 503)
    return EcsError("InternalFailure", exc.message, 500)

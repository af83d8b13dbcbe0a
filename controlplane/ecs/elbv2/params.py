"""Reading one action's parameters: each action names the ones it acts on; any other
parameter it is given is refused by name, with the reason Shoal does not act on it (no
field is accepted and forgotten). Values are checked and converted here, each error
naming the parameter as the request spelled it."""

from __future__ import annotations

import re
from collections.abc import Iterable

from controlplane.ecs.elbv2.errors import UNSUPPORTED_PROTOCOL, refused, validation
from controlplane.ecs.elbv2.query import Params
from shoal.v1 import resources_pb2 as r

# Why Shoal refuses what it refuses; a parameter not here gets the generic sentence.
_WHY = {
    "Subnets": "Shoal's load balancers listen on the cluster's nodes, not in subnets; leave it out",
    "SubnetMappings": "Shoal's load balancers listen on the cluster's nodes, not in subnets; leave it out",
    "SecurityGroups": "Shoal has no security groups; a node's firewall decides who reaches its listeners",
    "CustomerOwnedIpv4Pool": "Shoal has no address pools; listeners use the nodes' addresses",
    "IpamPools": "Shoal has no address pools; listeners use the nodes' addresses",
    "EnablePrefixForIpv6SourceNat": "Shoal's listeners do no source NAT",
    "SslPolicy": "Shoal's listeners are HTTP or TCP; TLS is not supported",
    "Certificates": "Shoal's listeners are HTTP or TCP; TLS is not supported",
    "AlpnPolicy": "Shoal's listeners are HTTP or TCP; TLS is not supported",
    "MutualAuthentication": "Shoal's listeners are HTTP or TCP; TLS is not supported",
    "Transforms": "Shoal's rules forward requests unchanged",
    "TargetControlPort": "Shoal's targets are tasks, reached on their traffic port",
    "Include": "Shoal reports target health only (no anomaly detection)",
}
_INTEGER = re.compile(r"-?[0-9]{1,10}")
_NOT_TAGGABLE = "Shoal keeps no tags on listeners and rules; tag the load balancer or target group"


def only(params: Params, accepted: Iterable[str], not_taggable: bool = False, where: str = "") -> None:
    """Refuses the first parameter of ``params`` not in ``accepted``; ``where`` is the path
    of a nested structure (``DefaultActions.member.1``) the error names it by."""
    allowed = set(accepted)
    prefix = where + "." if where else ""
    for name in params:
        if name not in allowed:
            if name == "Tags" and not_taggable:
                raise validation(f"Tags: {_NOT_TAGGABLE}")
            why = _WHY.get(name, "not supported by Shoal's ELBv2 endpoint; leave it out")
            raise validation(f"{prefix}{name}: {why}")


def text(params: Params, name: str, required: bool = False, default: str = "", where: str = "") -> str:
    value = params.get(name)
    label = f"{where}.{name}" if where else name
    if value is None or value == "":
        if required:
            raise validation(f"{label}: required")
        return default
    if not isinstance(value, str):
        raise validation(f"{label}: must be a single value, not a structure")
    return value


def integer(params: Params, name: str, low: int, high: int, required: bool = False, where: str = "") -> int | None:
    raw = text(params, name, required, where=where)
    label = f"{where}.{name}" if where else name
    if raw == "":
        return None
    if not _INTEGER.fullmatch(raw):
        raise validation(f"{label}: {raw[:40]!r} is not an integer")
    value = int(raw)
    if not low <= value <= high:
        raise validation(f"{label}: {value} is out of range; must be {low} to {high}")
    return value


def boolean(params: Params, name: str) -> bool | None:
    raw = text(params, name)
    if raw == "":
        return None
    if raw.lower() not in ("true", "false"):
        raise validation(f"{name}: {raw[:40]!r} is not true or false")
    return raw.lower() == "true"


def choice(params: Params, name: str, allowed: Iterable[str], default: str = "", why: str = "") -> str:
    value = text(params, name, default=default)
    options = list(allowed)
    if value not in options:
        raise validation(f"{name}: {value[:40]!r} is not supported; Shoal accepts {' or '.join(options)}"
                         + (f" ({why})" if why else ""))
    return value


def protocol(params: Params, name: str, required: bool = True) -> str:
    """An HTTP or TCP protocol; the others are UnsupportedProtocol, as ELBv2 answers."""
    value = text(params, name, required)
    if value and value not in ("HTTP", "TCP"):
        raise refused(UNSUPPORTED_PROTOCOL, f"{name}: {value[:40]!r} is not supported; Shoal's load balancers "
                                            "speak HTTP (application) or TCP (network)")
    return value


def strings(params: Params, name: str, required: bool = False) -> list[str]:
    value = params.get(name)
    if value is None or value == "":
        if required:
            raise validation(f"{name}: required")
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise validation(f"{name}: must be a list of values ({name}.member.N)")
    return value


def structures(params: Params, name: str, required: bool = False) -> list[Params]:
    value = params.get(name)
    if value is None or value == "":
        if required:
            raise validation(f"{name}: required")
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise validation(f"{name}: must be a list of structures ({name}.member.N.<Field>)")
    return value


def tags(params: Params) -> list[r.Tag]:
    out = []
    for i, item in enumerate(structures(params, "Tags"), 1):
        only(item, ("Key", "Value"), where=f"Tags.member.{i}")
        out.append(r.Tag(key=text(item, "Key", required=True), value=text(item, "Value")))
        if len(out[-1].key) > 128:
            raise validation(f"Tags.member.{i}.Key: at most 128 characters")
    return out


def one_of(params: Params, *names: str) -> None:
    """ELBv2 takes at most one of these filters in a call."""
    given = [n for n in names if params.get(n) not in (None, "", [])]
    if len(given) > 1:
        raise validation(f"{' and '.join(given)}: give only one of them")


def forward_target(actions: list[Params], field: str) -> str:
    """The target group of a single forward action (``DefaultActions`` or ``Actions``)."""
    if len(actions) != 1:
        raise validation(f"{field}: give exactly one action (a forward to one target group); got {len(actions)}")
    action = actions[0]
    where = f"{field}.member.1"
    kind = text(action, "Type", required=True)
    if kind != "forward":
        raise validation(f"{where}.Type: {kind[:40]!r} is not supported; Shoal's actions forward to a target group")
    only(action, ("Type", "TargetGroupArn", "ForwardConfig", "Order"), where=where)
    arn = text(action, "TargetGroupArn")
    forward = action.get("ForwardConfig")
    if forward is not None:
        if not isinstance(forward, dict):
            raise validation(f"{where}.ForwardConfig: must be a structure")
        only(forward, ("TargetGroups",), where=f"{where}.ForwardConfig")
        groups = structures(forward, "TargetGroups", required=True)
        if len(groups) != 1:
            raise validation(f"{where}.ForwardConfig.TargetGroups: Shoal forwards to exactly one target group "
                             "(no weighted groups)")
        only(groups[0], ("TargetGroupArn", "Weight"), where=f"{where}.ForwardConfig.TargetGroups.member.1")
        inner = text(groups[0], "TargetGroupArn", required=True)
        if arn and inner != arn:
            raise validation(f"{where}.ForwardConfig: names a target group other than {where}.TargetGroupArn")
        arn = inner
    if not arn:
        raise validation(f"{where}.TargetGroupArn: required")
    return arn

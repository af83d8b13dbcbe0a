"""RegisterTargets and DeregisterTargets: addresses Shoal does not run (ELBv2 TargetType
``ip``) kept in their target group as desired state (``TargetGroup.registered_targets``).
Every node's proxy sends them traffic and health-checks them itself (what DescribeTargetHealth
makes of those checks: registered_health.py); a deregistered one drains for the group's
deregistration delay, then leaves the record on its next write and the routing table at once.

An address is a door into whatever the nodes' proxies can reach, so loopback, link-local,
unspecified, multicast, the nodes' own addresses and the control plane's and etcd's are
refused (registering 127.0.0.1:2379 would hand etcd to anyone allowed to register targets)
unless the replica was started with ``--allow-local-targets``."""

from __future__ import annotations

import ipaddress
import time

import grpc

from controlplane.api import traffic_checks as check
from controlplane.api.context import ApiContext
from controlplane.api.traffic_state import find_target_group, not_found
from shoal.errors import ApiError
from shoal.v1 import traffic_pb2 as t

# ELBv2's limit on targets per target group.
MAX_TARGETS = 1000


def _invalid(message: str) -> ApiError:
    return ApiError(grpc.StatusCode.INVALID_ARGUMENT, message, "ValidationError")


def _refused_address(ctx: ApiContext, address: str, where: str) -> None:
    try:
        ip = _ip(address)
    except ValueError:
        raise _invalid(f"{where}.Id: {address[:64]!r} is not an IP address; Shoal registers targets of type ip "
                       "(tasks join a target group through their service's loadBalancers)") from None
    if ctx.allow_local_targets:
        return
    if ip.is_loopback or ip.is_link_local or ip.is_unspecified or ip.is_multicast or ip.is_reserved:
        raise ApiError(grpc.StatusCode.PERMISSION_DENIED,
                       f"{where}.Id: {address} is a loopback, link-local or reserved address; the nodes' proxies "
                       "would send traffic to their own host's services (the control plane allows it with "
                       "--allow-local-targets)", "InvalidTarget")
    nodes = {n.msg.address for n in ctx.state.nodes() if n.msg.address}
    if any(_ip(a) == ip for a in nodes if _is_ip(a)):
        raise ApiError(grpc.StatusCode.PERMISSION_DENIED,
                       f"{where}.Id: {address} is a node's own address; its services are not targets (the control "
                       "plane allows it with --allow-local-targets)", "InvalidTarget")
    if any(_ip(a) == ip for a in ctx.control_plane_hosts if _is_ip(a)):
        raise ApiError(grpc.StatusCode.PERMISSION_DENIED,
                       f"{where}.Id: {address} is the control plane's or etcd's address; it is not a target (the "
                       "control plane allows it with --allow-local-targets)", "InvalidTarget")


def _ip(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """An IPv4-mapped IPv6 address (::ffff:127.0.0.1) is the IPv4 one it maps: judged and stored as that.
    An IPv6 zone ("fe80::1%eth0") is refused: ipaddress takes any text after the '%', newlines
    too, and the proxies' config would carry it."""
    if "%" in address:
        raise ValueError(f"{address!r} has an IPv6 zone")
    ip = ipaddress.ip_address(address)
    mapped = getattr(ip, "ipv4_mapped", None)
    return mapped if mapped is not None else ip


def _is_ip(address: str) -> bool:
    try:
        _ip(address)
    except ValueError:
        return False
    return True


def _wanted(ctx: ApiContext, req: t.RegisterTargetsRequest, tg: t.TargetGroup, register: bool
            ) -> list[tuple[str, int]]:
    if not req.targets:
        raise _invalid("Targets: give at least one target")
    out: list[tuple[str, int]] = []
    for i, target in enumerate(req.targets, 1):
        where = f"Targets.member.{i}"
        port = check.port(target.port, f"{where}.Port") if target.port else tg.port
        if register:
            _refused_address(ctx, target.id, where)
        elif not _is_ip(target.id):
            raise _invalid(f"{where}.Id: {target.id[:64]!r} is not an IP address")
        # One spelling per address ("::1" and "0:0::1" are one target).
        out.append((str(_ip(target.id)), port))
    return out


def _change(ctx: ApiContext, req: t.RegisterTargetsRequest, register: bool) -> t.TargetGroupResponse:
    cluster = ctx.require_cluster(req.cluster).msg.cluster_name
    rec = find_target_group(ctx, cluster, req.target_group)
    wanted = _wanted(ctx, req, rec.msg, register)

    def change(tg: t.TargetGroup | None) -> t.TargetGroup:
        if tg is None or tg.target_group_arn != rec.msg.target_group_arn:
            raise not_found(f"TargetGroupArn: target group {req.target_group[:256]!r} was deleted",
                            "TargetGroupNotFound")
        now = time.time()
        kept = [x for x in tg.registered_targets if not x.deregister_until or x.deregister_until > now]
        by_key = {(x.id, x.port): x for x in kept}
        for key in wanted:
            have = by_key.get(key)
            if register:
                if have is None:
                    by_key[key] = t.RegisteredTarget(id=key[0], port=key[1], registered_at=now)
                else:
                    have.deregister_until = 0  # registered again while draining: back in rotation
            elif have is not None and not have.deregister_until:
                # ELBv2: deregistering a target that is not registered succeeds.
                have.deregister_until = now + tg.deregistration_delay_seconds
        # A delay of zero leaves at once.
        targets = [x for x in by_key.values() if not x.deregister_until or x.deregister_until > now]
        if len(targets) > MAX_TARGETS:
            raise ApiError(grpc.StatusCode.RESOURCE_EXHAUSTED,
                           f"Targets: a target group holds at most {MAX_TARGETS} targets", "TooManyTargets")
        del tg.registered_targets[:]
        tg.registered_targets.extend(sorted(targets, key=lambda x: (x.id, x.port)))
        return tg

    out = ctx.state.update(rec.key, t.TargetGroup, change, field="targetGroup")
    return t.TargetGroupResponse(target_group=out.msg)


def register(ctx: ApiContext, req: t.RegisterTargetsRequest) -> t.TargetGroupResponse:
    return _change(ctx, req, True)


def deregister(ctx: ApiContext, req: t.RegisterTargetsRequest) -> t.TargetGroupResponse:
    return _change(ctx, req, False)


"""Reads of the Traffic records (load balancers, target groups, namespaces) and the lookup of
each by name or ARN, shared by their API modules and by the service API. Lookups by ARN
check the stored ARN: a resource deleted and made again under the same name has a new one,
and the old ARN no longer finds it."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

import grpc
from google.protobuf.message import Message

from controlplane.api.context import ApiContext
from controlplane.state import Record
from shoal import keys
from shoal.arns import elb_name
from shoal.errors import ApiError
from shoal.store.base import Conflict
from shoal.v1 import resources_pb2 as r
from shoal.v1 import traffic_pb2 as t

M = TypeVar("M", bound=Message)


def not_found(message: str, code: str) -> ApiError:
    return ApiError(grpc.StatusCode.NOT_FOUND, message, code)


def in_use(message: str) -> ApiError:
    return ApiError(grpc.StatusCode.FAILED_PRECONDITION, message, "ResourceInUse")


@contextlib.contextmanager
def deleting(field: str) -> Iterator[None]:
    """Around a delete of a record as it was read (compare-and-set on its revision): a change
    since, such as a new user the caller's in-use check did not see, refuses the delete with
    an error naming ``field``. The delete stays in the caller, the record's one writer."""
    try:
        yield
    except Conflict:
        raise ApiError(grpc.StatusCode.ABORTED, f"{field}: changed while being deleted; try again",
                       "ResourceInUse") from None


@dataclass(frozen=True)
class Kind(Generic[M]):
    """A Traffic record kind, as the finder needs it."""

    what: str  # in messages: "load balancer"
    not_found: str  # the error code when none matches
    msg_type: type[M]
    key: Callable[[str, str], str]  # (cluster, name) -> its key
    arn_of: Callable[[M], str]
    # The name an ARN of this kind carries; None: the ARN carries only an id (Cloud Map's),
    # so a lookup by ARN reads the cluster's records of the kind.
    name_in_arn: Callable[[str], str] | None
    prefix: str


LOAD_BALANCER = Kind("load balancer", "LoadBalancerNotFound", t.LoadBalancer, keys.load_balancer,
                     lambda m: m.load_balancer_arn, elb_name, keys.LOADBALANCERS)
TARGET_GROUP = Kind("target group", "TargetGroupNotFound", t.TargetGroup, keys.target_group,
                    lambda m: m.target_group_arn, elb_name, keys.TARGETGROUPS)
NAMESPACE = Kind("namespace", "NamespaceNotFound", t.Namespace, keys.namespace, lambda m: m.arn, None,
                 keys.NAMESPACES)


def lookup(ctx: ApiContext, kind: Kind[M], cluster: str, ref: str) -> Record[M] | None:
    """The record ``ref`` (a name or an ARN) names in ``cluster``, or None."""
    if not ref.startswith("arn:"):
        return ctx.state.load(kind.key(cluster, ref), kind.msg_type) if ref else None
    if kind.name_in_arn is None:
        found = [rec for rec in all_of(ctx, kind, cluster) if kind.arn_of(rec.msg) == ref]
        return found[0] if found else None
    name = kind.name_in_arn(ref)
    rec = ctx.state.load(kind.key(cluster, name), kind.msg_type) if name else None
    return rec if rec is not None and kind.arn_of(rec.msg) == ref else None


def find(ctx: ApiContext, kind: Kind[M], cluster: str, ref: str, field: str) -> Record[M]:
    """``lookup``, or the API's error naming ``field``: required when empty, else not found."""
    if not ref:
        raise ApiError(grpc.StatusCode.INVALID_ARGUMENT, f"{field}: required (a {kind.what} name or ARN)",
                       "ValidationError")
    rec = lookup(ctx, kind, cluster, ref)
    if rec is None:
        raise not_found(f"{field}: {kind.what} {ref[:256]!r} not found in cluster {cluster!r}", kind.not_found)
    return rec


def find_load_balancer(ctx: ApiContext, cluster: str, ref: str, field: str = "loadBalancer"
                       ) -> Record[t.LoadBalancer]:
    return find(ctx, LOAD_BALANCER, cluster, ref, field)


def find_target_group(ctx: ApiContext, cluster: str, ref: str, field: str = "targetGroup"
                      ) -> Record[t.TargetGroup]:
    return find(ctx, TARGET_GROUP, cluster, ref, field)


def find_namespace(ctx: ApiContext, cluster: str, ref: str, field: str) -> Record[t.Namespace]:
    """By name, or by ARN (Cloud Map's ARNs carry only the namespace's id)."""
    return find(ctx, NAMESPACE, cluster, ref, field)


def find_listener(lb: t.LoadBalancer, arn: str, field: str = "listenerArn") -> t.Listener:
    for listener in lb.listeners:
        if listener.listener_arn == arn:
            return listener
    raise not_found(f"{field}: listener {arn[:256]!r} not found", "ListenerNotFound")


def all_of(ctx: ApiContext, kind: Kind[M], cluster: str) -> list[Record[M]]:
    return ctx.state.load_all(f"{kind.prefix}{cluster}/", kind.msg_type)


def load_balancers(ctx: ApiContext, cluster: str) -> list[Record[t.LoadBalancer]]:
    return all_of(ctx, LOAD_BALANCER, cluster)


def target_groups(ctx: ApiContext, cluster: str) -> list[Record[t.TargetGroup]]:
    return all_of(ctx, TARGET_GROUP, cluster)


def namespaces(ctx: ApiContext, cluster: str) -> list[Record[t.Namespace]]:
    return all_of(ctx, NAMESPACE, cluster)


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

"""ECS's custom attributes on container instances (PutAttributes, DeleteAttributes,
ListAttributes), checked as ECS checks them. A put or delete changes every instance it names
in one transaction, or none. The attributes live on the node record twice: in
``custom_attributes`` (this module's, so an agent re-registering cannot drop them) and
merged into ``attributes``, which placement's memberOf reads, so a new attribute is usable in
the next placement."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import grpc

from controlplane.api.context import ApiContext
from controlplane.errors import ApiError, invalid, not_found
from controlplane.state import Record
from shoal.arns import last_segment
from shoal.store.base import Compare, Conflict, Put
from shoal.v1 import resources_pb2 as r

TARGET_TYPE = "container-instance"
MAX_PER_CALL = 10
# ECS: at most 10 custom attributes per resource.
MAX_PER_INSTANCE = 10
NAME = re.compile(r"[A-Za-z0-9_./\\-]{1,128}")
VALUE = re.compile(r"[A-Za-z0-9_.@/\\: -]{1,128}")
# Attributes the agent reports (ecs.os-type, ecs.availability-zone, ...) are ECS's own.
RESERVED_PREFIX = "ecs."
_RETRIES = 5


@dataclass(frozen=True)
class Target:
    name: str
    value: str
    target_type: str
    target_id: str


def merged_attributes(agent: Iterable[r.Attribute], custom: Iterable[r.Attribute]) -> list[r.Attribute]:
    """The node's attributes: the agent's, with the custom ones added or winning by name."""
    custom = list(custom)
    names = {a.name for a in custom}
    return [a for a in agent if a.name not in names] + custom


def check(items: Sequence[Target], *, deleting: bool = False) -> None:
    if not items:
        raise invalid("attributes: at least one attribute is required")
    if len(items) > MAX_PER_CALL:
        raise invalid(f"attributes: at most {MAX_PER_CALL} attributes per call")
    for i, a in enumerate(items):
        where = f"attributes[{i}]"
        if not NAME.fullmatch(a.name):
            raise invalid(f"{where}.name: 1-128 letters, digits, hyphens, underscores, periods and slashes")
        if a.name.startswith(RESERVED_PREFIX):
            raise invalid(f"{where}.name: names beginning {RESERVED_PREFIX!r} are reserved for ECS's own attributes")
        if not deleting and a.value and (not VALUE.fullmatch(a.value) or a.value != a.value.strip()):
            raise invalid(f"{where}.value: 1-128 letters, digits, hyphens, underscores, periods, at signs, "
                          "slashes, colons or inner spaces")
        if a.target_type not in ("", TARGET_TYPE):
            raise invalid(f"{where}.targetType: only {TARGET_TYPE} is supported")
        if not a.target_id:
            raise invalid(f"{where}.targetId: required: the container instance's id or ARN")


def _targets(ctx: ApiContext, cluster: str, items: Sequence[Target]) -> dict[str, Record[r.ContainerInstance]]:
    found: dict[str, Record[r.ContainerInstance]] = {}
    for a in items:
        node_id = last_segment(a.target_id)
        if node_id in found:
            continue
        rec = ctx.state.node(cluster, node_id)
        if rec is None or rec.msg.status == "INACTIVE":
            raise not_found(f"targetId: container instance {a.target_id[:200]!r} not found in cluster {cluster!r}",
                            "TargetNotFoundException")
        found[node_id] = rec
    return found


def _write(ctx: ApiContext, cluster: str, items: Sequence[Target], deleting: bool) -> None:
    for _ in range(_RETRIES):
        nodes = _targets(ctx, cluster, items)
        changed: dict[str, r.ContainerInstance] = {}
        for a in items:
            node_id = last_segment(a.target_id)
            node = changed.get(node_id)
            if node is None:
                node = changed[node_id] = r.ContainerInstance()
                node.CopyFrom(nodes[node_id].msg)
            custom = [c for c in node.custom_attributes if c.name != a.name]
            if not deleting:
                custom.append(r.Attribute(name=a.name, value=a.value))
            if len(custom) > MAX_PER_INSTANCE:
                raise ApiError(grpc.StatusCode.INVALID_ARGUMENT,
                               f"attributes: container instance {node_id} would have more than {MAX_PER_INSTANCE} "
                               "custom attributes", "AttributeLimitExceededException")
            agent = [x for x in node.attributes if x.name not in {c.name for c in node.custom_attributes}]
            if deleting:
                agent = [x for x in agent if x.name != a.name]
            del node.custom_attributes[:]
            node.custom_attributes.extend(custom)
            del node.attributes[:]
            node.attributes.extend(merged_attributes(agent, custom))
        try:
            ctx.store.txn([Compare(nodes[i].key, nodes[i].mod_revision) for i in changed],
                          [Put(nodes[i].key, n.SerializeToString()) for i, n in changed.items()])
            return
        except Conflict:
            continue
    raise invalid("attributes: the container instances kept changing; try again")


def put(ctx: ApiContext, cluster: str, items: Sequence[Target]) -> None:
    check(items)
    _write(ctx, cluster, items, deleting=False)


def delete(ctx: ApiContext, cluster: str, items: Sequence[Target]) -> None:
    check(items, deleting=True)
    _write(ctx, cluster, items, deleting=True)


def list_(ctx: ApiContext, cluster: str, target_type: str, name: str = "", value: str = "") -> list[Target]:
    """Every attribute of the cluster's container instances (ECS's own and the custom ones),
    by instance then name; ``value`` filters only together with ``name``, as in ECS."""
    if target_type != TARGET_TYPE:
        raise invalid(f"targetType: must be {TARGET_TYPE}")
    if value and not name:
        raise invalid("attributeValue: give attributeName with it")
    out = []
    for rec in sorted(ctx.state.nodes(cluster), key=lambda rec: rec.msg.container_instance_arn):
        if rec.msg.status == "INACTIVE":
            continue
        for a in sorted(rec.msg.attributes, key=lambda a: a.name):
            if (not name or a.name == name) and (not value or a.value == value):
                out.append(Target(a.name, a.value, TARGET_TYPE, rec.msg.container_instance_arn))
    return out

"""TagResource, UntagResource, ListTagsForResource: tags live in each resource's own
``tags`` field, so a resource is found from its ECS ARN and rewritten with a
compare-and-set (the controllers' writes compare revisions too, so neither side loses
the other's change)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from google.protobuf.message import Message

from controlplane.api.context import ApiContext
from controlplane.errors import invalid, not_found
from shoal import keys
from shoal.v1 import resources_pb2 as r
from shoal.validation import has_control

MAX_TAGS = 50
MAX_KEY = 128
MAX_VALUE = 256
_ARN = re.compile(r"arn:[^:]+:ecs:[^:]*:[^:]*:(?P<kind>[a-z-]+)/(?P<rest>.+)")


@dataclass(frozen=True)
class _Target:
    key: str
    cls: type[Message]
    what: str


def _target(ctx: ApiContext, arn: str) -> _Target:
    m = _ARN.fullmatch(arn or "")
    if m is None:
        raise invalid(f"resourceArn: {arn[:200]!r} is not an ECS resource ARN")
    kind, parts = m["kind"], m["rest"].split("/")
    if kind == "cluster" and len(parts) == 1:
        ctx.require_cluster(parts[0])
        return _Target(keys.cluster(parts[0]), r.Cluster, f"cluster {parts[0]!r}")
    if kind == "task-definition" and len(parts) == 1:
        family, _, rev = parts[0].rpartition(":")
        if family and rev.isdigit():
            return _Target(keys.taskdef(family, int(rev)), r.TaskDefinition, f"task definition {parts[0]!r}")
    if len(parts) == 2:
        cluster, name = parts
        if kind in ("service", "task", "container-instance"):
            ctx.require_cluster(cluster)
        if kind == "service":
            return _Target(keys.service(cluster, name), r.Service, f"service {name!r}")
        if kind == "task":
            return _Target(keys.task(cluster, name), r.Task, f"task {name!r}")
        if kind == "container-instance":
            return _Target(keys.node(cluster, name), r.ContainerInstance, f"container instance {name!r}")
    raise invalid(f"resourceArn: {arn[:200]!r} names no resource that can be tagged "
                  "(cluster, service, task, task-definition or container-instance)")


def check(tags: Iterable[r.Tag]) -> None:
    """ECS's limits on tags given with a resource or to TagResource; raises naming the tag."""
    tags = list(tags)
    if len(tags) > MAX_TAGS:
        raise invalid(f"tags: at most {MAX_TAGS}, got {len(tags)}")
    for i, t in enumerate(tags):
        if not 1 <= len(t.key) <= MAX_KEY:
            raise invalid(f"tags[{i}].key: must be 1 to {MAX_KEY} characters")
        if len(t.value) > MAX_VALUE:
            raise invalid(f"tags[{i}].value: at most {MAX_VALUE} characters")
        for part, text in (("key", t.key), ("value", t.value)):
            if has_control(text):
                raise invalid(f"tags[{i}].{part}: {text[:64]!r} holds a control character")
        if t.key.lower().startswith("aws:"):
            raise invalid(f"tags[{i}].key: the prefix 'aws:' is reserved")


def list_tags(ctx: ApiContext, arn: str) -> list[r.Tag]:
    target = _target(ctx, arn)
    rec = ctx.state.load(target.key, target.cls)
    if rec is None:
        raise not_found(f"resourceArn: {target.what} not found", "ResourceNotFoundException")
    return list(rec.msg.tags)


def _rewrite(ctx: ApiContext, arn: str, change) -> None:
    target = _target(ctx, arn)

    def retag(msg: Message | None) -> Message:
        if msg is None:
            raise not_found(f"resourceArn: {target.what} not found", "ResourceNotFoundException")
        merged = change({t.key: t.value for t in msg.tags})
        if len(merged) > MAX_TAGS:
            raise invalid(f"tags: a resource holds at most {MAX_TAGS} tags")
        del msg.tags[:]
        msg.tags.extend(r.Tag(key=k, value=v) for k, v in merged.items())
        return msg

    ctx.state.update(target.key, target.cls, retag, field="resourceArn")


def tag(ctx: ApiContext, arn: str, tags: list[r.Tag]) -> None:
    """Adds ``tags``, replacing the value of keys already there."""
    if not tags:
        raise invalid("tags: give at least one tag")
    check(tags)
    _rewrite(ctx, arn, lambda current: {**current, **{t.key: t.value for t in tags}})


def untag(ctx: ApiContext, arn: str, tag_keys: list[str]) -> None:
    """Removes the tags with these keys; keys that are not there are ignored, as in ECS."""
    if not tag_keys:
        raise invalid("tagKeys: give at least one key")
    drop = set(tag_keys)
    _rewrite(ctx, arn, lambda current: {k: v for k, v in current.items() if k not in drop})

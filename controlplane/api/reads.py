"""Hot reads served from the replica's watch-fed cache (``controlplane.cache``) instead of
etcd: ListTasks read every task from etcd on each call, 0.6-1.0 s at p99 while 5,000 tasks
rolled out; ListTasks' cluster and DescribeServices' cluster and services come from it too
(an etcd round trip each, on an interpreter busy with thousands of agents' reports).

Consistency: a replica answers from its cache once the cache's watch has delivered every
change up to this replica's own last put under the prefix (so a client reading through the
replica it wrote through reads its writes); until then it waits up to ``READ_WAIT`` seconds,
then reads etcd as before. Writes through another replica, and the leader's placements, show
up as soon as the watch delivers them (milliseconds, on a healthy etcd): a list may briefly
lag them, as ECS's list calls may.
"""

from __future__ import annotations

from typing import TypeVar

from google.protobuf.message import Message

from controlplane.api.context import ApiContext
from controlplane.state import Record
from shoal import keys
from shoal.store.tracking import WriteTracking
from shoal.v1 import resources_pb2 as r

READ_WAIT = 1.0
# The prefixes whose records this module may answer from the cache: the replica's store
# notes its own last write under each (controlplane/server.py), for read your writes.
TRACKED = (keys.TASKS, keys.SERVICES, keys.CLUSTERS)

M = TypeVar("M", bound=Message)


def tasks(ctx: ApiContext, cluster: str, service: str = "") -> list[Record[r.Task]]:
    """Every task of ``cluster`` in key order, as ``State.tasks`` returns them; with
    ``service``, at least that service's (from the cache, only those: no scan of the rest)."""
    cache, store = ctx.cache, ctx.store
    if cache is not None and isinstance(store, WriteTracking) and cache.caught_up(
            keys.TASKS, store.last_write(keys.TASKS), READ_WAIT):
        if service:
            return cache.service_tasks(cluster, service)  # kept in key order by the index
        return sorted(cache.records_under(f"{keys.TASKS}{cluster}/"), key=lambda rec: rec.key)
    return ctx.state.tasks(cluster)


def record(ctx: ApiContext, key: str, cls: type[M]) -> Record[M] | None:
    """The record at ``key`` (a cluster, a service), as ``State.load`` returns it. Only a
    record the cache holds is answered from it: one it lacks may have been written through
    another replica a moment ago, so the store says whether it exists."""
    cache, store = ctx.cache, ctx.store
    prefix = next((p for p in TRACKED if key.startswith(p)), None)
    if (cache is not None and prefix is not None and isinstance(store, WriteTracking)
            and cache.caught_up(prefix, store.last_write(prefix), READ_WAIT)):
        held = cache.record(key)
        if held is not None:
            return held  # type: ignore[return-value]
    return ctx.state.load(key, cls)


def require_cluster(ctx: ApiContext, name_or_arn: str) -> Record[r.Cluster]:
    """``ApiContext.require_cluster`` through ``record``."""
    return ctx.require_cluster(name_or_arn, load=lambda key: record(ctx, key, r.Cluster))

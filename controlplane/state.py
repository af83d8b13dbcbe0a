"""Typed records over the store: each value is a shoal.v1 protobuf message, read together
with the revision it was written at so that every read-modify-write can be a
compare-and-set on that revision."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from google.protobuf.message import Message

from controlplane.errors import invalid
from shoal import keys
from shoal.store.base import KV, Conflict, Store
from shoal.store.update import update
from shoal.v1 import resources_pb2 as r

M = TypeVar("M", bound=Message)


@dataclass
class Record(Generic[M]):
    msg: M
    mod_revision: int
    key: str


def decode(cls: type[M], data: bytes) -> M:
    msg = cls()
    msg.ParseFromString(data)
    return msg


def _copy(msg: M) -> M:
    copy = type(msg)()
    copy.CopyFrom(msg)
    return copy


class State:
    """Reads straight from the store (linearizable), for API handlers on any replica."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def load(self, key: str, cls: type[M]) -> Record[M] | None:
        kv = self.store.get(key)
        if kv is None:
            return None
        return Record(decode(cls, kv.value), kv.mod_revision, key)

    def load_all(self, prefix: str, cls: type[M]) -> list[Record[M]]:
        return [Record(decode(cls, kv.value), kv.mod_revision, kv.key) for kv in self.store.list(prefix).kvs]

    def update(self, key: str, cls: type[M], mutate: Callable[[M | None], M | None],
               field: str = "", known: Record[M] | None = None) -> Record[M] | None:
        """``store.update.update`` over typed records: ``mutate`` gets a fresh decoded copy
        (None if absent) to change and return, or None for "no change". Returns the record
        as it stands afterwards. With ``field``, running out of retries is an API error
        naming it ("try again"); without, the ``Conflict`` propagates.

        ``known``: the record as a cache last saw it. The first attempt starts from it,
        without reading the store; if the store has moved on, the compare fails and the
        usual read-modify-write follows (as it does when ``mutate`` changes nothing). It
        saves a round trip per write on a hot path."""
        if known is not None:
            msg = mutate(_copy(known.msg))
            # "No change" from a copy that may be stale is no answer: the store's says.
            if msg is not None:
                try:
                    revision = self.store.cas(key, msg.SerializeToString(), known.mod_revision)
                except Conflict:
                    pass
                else:
                    return Record(msg, revision, key)

        def on_bytes(kv: KV | None) -> bytes | None:
            msg = mutate(decode(cls, kv.value) if kv is not None else None)
            return None if msg is None else msg.SerializeToString()

        try:
            kv = update(self.store, key, on_bytes)
        except Conflict:
            if field:
                raise invalid(f"{field}: concurrent updates; try again") from None
            raise
        return None if kv is None else Record(decode(cls, kv.value), kv.mod_revision, key)

    def cluster(self, name: str) -> Record[r.Cluster] | None:
        return self.load(keys.cluster(name), r.Cluster)

    def clusters(self) -> list[Record[r.Cluster]]:
        return self.load_all(keys.CLUSTERS, r.Cluster)

    def node(self, cluster: str, node_id: str) -> Record[r.ContainerInstance] | None:
        return self.load(keys.node(cluster, node_id), r.ContainerInstance)

    def nodes(self, cluster: str | None = None) -> list[Record[r.ContainerInstance]]:
        prefix = keys.NODES + (f"{cluster}/" if cluster else "")
        return self.load_all(prefix, r.ContainerInstance)

    def taskdef(self, family: str, revision: int) -> Record[r.TaskDefinition] | None:
        return self.load(keys.taskdef(family, revision), r.TaskDefinition)

    def taskdef_revisions(self, family: str) -> list[Record[r.TaskDefinition]]:
        return self.load_all(f"{keys.TASKDEFS}{family}/", r.TaskDefinition)

    def service(self, cluster: str, name: str) -> Record[r.Service] | None:
        return self.load(keys.service(cluster, name), r.Service)

    def services(self, cluster: str) -> list[Record[r.Service]]:
        return self.load_all(f"{keys.SERVICES}{cluster}/", r.Service)

    def task(self, cluster: str, task_id: str) -> Record[r.Task] | None:
        return self.load(keys.task(cluster, task_id), r.Task)

    def tasks(self, cluster: str) -> list[Record[r.Task]]:
        return self.load_all(f"{keys.TASKS}{cluster}/", r.Task)

    def alive_node_ids(self) -> set[str]:
        return {kv.key[len(keys.ALIVE):] for kv in self.store.list(keys.ALIVE).kvs}

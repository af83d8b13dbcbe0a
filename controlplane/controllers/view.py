"""One controller cycle's picture of the cluster, read from the leader's cache, and the
writer through which the leader changes it (every write fenced by leadership)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from google.protobuf.message import Message

from controlplane.cache import Cache
from controlplane.routing import sources
from controlplane.routing.targets import assigned_targets, deregister_until, is_discovered
from controlplane.state import Record
from controlplane.taskspec import is_live
from shoal import keys
from shoal.election import Election
from shoal.store import batch
from shoal.store.base import Compare, Conflict, Delete, Put, Store
from shoal.v1 import resources_pb2 as r
from shoal.v1 import traffic_pb2 as t


def clone(msg: Message) -> Message:
    """Cache records are shared between cycles: change a copy, never the original."""
    copy = type(msg)()
    copy.CopyFrom(msg)
    return copy


@dataclass
class View:
    nodes: dict[str, Record[r.ContainerInstance]] = field(default_factory=dict)
    tasks: dict[str, Record[r.Task]] = field(default_factory=dict)
    services: list[Record[r.Service]] = field(default_factory=list)
    taskdefs: dict[str, r.TaskDefinition] = field(default_factory=dict)
    alive: set[str] = field(default_factory=set)
    target_groups: dict[str, t.TargetGroup] = field(default_factory=dict)
    # (cluster, load balancer name) -> its default target group's ARN
    default_groups: dict[tuple[str, str], str] = field(default_factory=dict)
    # key -> the pre-pull intent stored there (controllers/prepull.py)
    prepulls: dict[str, r.PrePull] = field(default_factory=dict)
    # Names of the capacity providers marked Fargate: their nodes take FARGATE tasks only.
    fargate: frozenset[str] = frozenset()

    @classmethod
    def read(cls, cache: Cache) -> View:
        view = cls()
        for rec in cache.records(keys.NODES):
            view.nodes[rec.msg.id] = rec
        for rec in cache.records(keys.TASKS):
            view.tasks[rec.msg.id] = rec
        view.services = cache.records(keys.SERVICES)
        for rec in cache.records(keys.TASKDEFS):
            view.taskdefs[rec.msg.task_definition_arn] = rec.msg
        view.alive = {k[len(keys.ALIVE):] for k in cache.keys_under(keys.ALIVE)}
        for rec in cache.records(sources.TARGETGROUPS):
            view.target_groups[rec.msg.target_group_arn] = rec.msg
        for rec in cache.records(sources.LOADBALANCERS):
            view.default_groups[(rec.msg.cluster, rec.msg.load_balancer_name)] = rec.msg.default_target_group_arn
        view.prepulls = {rec.key: rec.msg for rec in cache.records(keys.PREPULL)}
        view.fargate = frozenset(rec.msg.name for rec in cache.records(keys.CAPACITY_PROVIDERS) if rec.msg.fargate)
        return view

    def service_of(self, task: r.Task) -> r.Service | None:
        if not task.service_name:
            return None
        return next((rec.msg for rec in self.services
                     if rec.msg.cluster == task.cluster and rec.msg.service_name == task.service_name), None)

    def targets_of(self, task: r.Task) -> list[r.AssignedTarget]:
        """The target groups ``task`` serves, as its assignment carries them."""
        if not self.target_groups:
            return []
        defaults = {name: arn for (cluster, name), arn in self.default_groups.items() if cluster == task.cluster}
        return assigned_targets(task, self.service_of(task), self.target_groups, defaults)

    def drain(self, task: r.Task, now: float) -> None:
        """Sets ``deregister_until`` on a target the leader is stopping (desired STOPPED):
        proxies drop it at once, its agent stops it when its deregistration delay is over."""
        if not task.deregister_until:
            task.deregister_until = deregister_until(task, self.targets_of(task),
                                                     is_discovered(self.service_of(task)), now)

    def apply(self, key: str, msg: Message | None, revision: int) -> None:
        """Takes in one of the leader's own writes (``msg`` None: a delete), so a controller
        sees what the controllers before it in the cycle wrote without re-reading the cache."""
        if key.startswith(keys.TASKS):
            if msg is None:
                self.tasks.pop(key.rpartition("/")[2], None)
            else:
                self.tasks[key.rpartition("/")[2]] = Record(msg, revision, key)
        elif key.startswith(keys.NODES):
            if msg is None:
                self.nodes.pop(key.rpartition("/")[2], None)
            else:
                self.nodes[key.rpartition("/")[2]] = Record(msg, revision, key)
        elif key.startswith(keys.SERVICES):
            kept = [rec for rec in self.services if rec.key != key]
            if msg is not None:
                at = next((i for i, rec in enumerate(self.services) if rec.key == key), len(kept))
                kept.insert(at, Record(msg, revision, key))
            # A new list: a controller iterating the old one is not disturbed.
            self.services = kept

    def tasks_by_service(self) -> dict[tuple[str, str], list[Record[r.Task]]]:
        out: dict[tuple[str, str], list[Record[r.Task]]] = defaultdict(list)
        for rec in self.tasks.values():
            if rec.msg.service_name:
                out[(rec.msg.cluster, rec.msg.service_name)].append(rec)
        return out


class Writer:
    """Leader-only writes: each transaction also requires that we still hold leadership,
    and what it wrote is recorded in the cache at once."""

    def __init__(self, store: Store, election: Election, cache: Cache) -> None:
        self.store = store
        self.election = election
        self.cache = cache

    def commit(
        self, compares: Sequence[Compare], puts: Sequence[tuple[str, Message]], deletes: Sequence[str] = ()
    ) -> int:
        ops: list[Put | Delete] = [Put(k, m.SerializeToString()) for k, m in puts]
        ops += [Delete(k) for k in deletes]
        revision = self.store.txn([self.election.fence(), *compares], ops)
        for k, m in puts:
            self.cache.record_put(k, m, revision)
        for k in deletes:
            self.cache.record_delete(k, revision)
        return revision

    def put_task(self, rec: Record[r.Task] | None, task: r.Task, td: r.TaskDefinition | None = None,
                 targets: Sequence[r.AssignedTarget] = ()) -> int:
        return self.commit(*task_write(rec, task, td, targets))

    def commit_many(self, writes: Sequence[Write]) -> list[int | None]:
        """Commits independent writes, many to a transaction (a thousand one-task
        transactions cost a thousand etcd round trips). Each write still carries its own
        compares, so a write that would have lost alone still loses; a transaction that
        fails is retried one write at a time, so one lost compare costs only its own write.
        Returns, per write, its revision or None if it lost."""
        out: list[int | None] = [None] * len(writes)
        # The fence rides on every transaction: room for it is reserved.
        for indices in batch.chunks(writes, _write_size, reserved_compares=1):
            chunk = [(i, writes[i]) for i in indices]
            if len(chunk) > 1:
                try:
                    revision = self.commit([c for _, w in chunk for c in w[0]], [p for _, w in chunk for p in w[1]],
                                           [d for _, w in chunk for d in w[2]])
                except Conflict:
                    pass
                else:
                    for i, _ in chunk:
                        out[i] = revision
                    continue
            for i, w in chunk:
                try:
                    out[i] = self.commit(*w)
                except Conflict:
                    continue
        return out


# compares, puts, deletes: the arguments of Writer.commit.
Write = tuple[Sequence[Compare], Sequence[tuple[str, Message]], Sequence[str]]


def task_write(rec: Record[r.Task] | None, task: r.Task, td: r.TaskDefinition | None = None,
               targets: Sequence[r.AssignedTarget] = ()) -> Write:
    """The write `Writer.put_task` makes: the task, compared on the revision it was read at
    (create-only if new), and in the same transaction its node's assignment kept in step —
    the only place an assignment is written. A placed task that is not STOPPED is assigned
    (the task as written, its definition ``td`` and the target groups it serves,
    ``targets``); a STOPPED one no longer is."""
    key = keys.task(task.cluster, task.id)
    compares = [Compare(key, rec.mod_revision)] if rec else [Compare(key, 0, on_create=True)]
    puts: list[tuple[str, Message]] = [(key, task)]
    deletes: list[str] = []
    if task.node_id:
        assignment = keys.assignment(task.node_id, task.id)
        if is_live(task):
            puts.append((assignment, r.TaskAssignment(task=task, task_definition=td, targets=targets)))
        else:
            deletes.append(assignment)
    return compares, puts, deletes


def _write_size(w: Write) -> batch.Size:
    compares, puts, deletes = w
    return batch.Size(len(compares), [k for k, _ in puts] + list(deletes),
                      sum(len(c.key) for c in compares) + sum(len(k) + m.ByteSize() for k, m in puts)
                      + sum(len(k) for k in deletes))

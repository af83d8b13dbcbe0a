"""Writers of many records stay inside etcd's transaction limits (128 ops, 1.5 MiB) and keep
each record whole: RunTask with a large count, and the leader's batched task writes, on the
in-memory store (which enforces etcd's limits) and on a real etcd."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence

import pytest

from controlplane.api import taskdefs, tasks
from controlplane.api.context import ApiContext
from controlplane.cache import Cache
from controlplane.controllers.view import Writer, task_write
from controlplane.state import decode
from shoal import keys
from shoal.election import Election
from shoal.replica_lease import ReplicaLease
from shoal.store import batch
from shoal.store.base import MAX_TXN_OPS, Compare, Delete, Put, Store, StoreError
from shoal.store.memory import MemoryStore
from shoal.v1 import operator_pb2 as op
from shoal.v1 import resources_pb2 as r
from tests.fixtures.etcd import FakeClock, StoreUnderTest

TASKDEF = {"family": "app", "containerDefinitions": [
    {"name": "app", "image": "busybox", "memory": 16, "cpu": 16, "portMappings": [{"containerPort": 80}]}]}


@pytest.fixture
def store(any_store: StoreUnderTest) -> Store:
    return any_store.store


def api(store: Store) -> ApiContext:
    ctx = ApiContext(store)
    ctx.ensure_default_cluster()
    taskdefs.register(ctx, op.RegisterTaskDefinitionRequest(json=json.dumps(TASKDEF)))
    return ctx


def test_run_task_above_the_txn_limit_creates_every_task(store: Store) -> None:
    ctx = api(store)
    count = tasks.MAX_RUN_COUNT
    assert count > MAX_TXN_OPS
    resp = tasks.run(ctx, op.RunTaskRequest(cluster="default", task_definition="app", count=count))
    assert len(resp.tasks) == count and not resp.failures
    stored = store.list(keys.TASKS)
    assert sorted(kv.key.rsplit("/", 1)[1] for kv in stored.kvs) == sorted(t.id for t in resp.tasks)
    # As few transactions as the limit allows, not one per task.
    assert len({kv.mod_revision for kv in stored.kvs}) == math.ceil(count / MAX_TXN_OPS)


class FailingAfter(MemoryStore):
    """Fails every transaction after the first ``ok`` ones, as an etcd going away would."""

    def __init__(self, ok: int) -> None:
        super().__init__(clock=FakeClock())
        self.ok = ok

    def txn(self, compares: Sequence[Compare], ops: Sequence[Put | Delete]) -> int:
        if self.ok == 0:
            raise StoreError("etcd unreachable (test)")
        self.ok -= 1
        return super().txn(compares, ops)


def test_run_task_failing_part_way_says_which_tasks_exist() -> None:
    store = FailingAfter(ok=10)
    try:
        ctx = api(store)
        store.ok = 2  # the cluster and the task definition are written; two chunks of tasks land
        resp = tasks.run(ctx, op.RunTaskRequest(cluster="default", task_definition="app", count=300))
        assert len(resp.tasks) == 2 * MAX_TXN_OPS
        assert len(resp.failures) == 300 - 2 * MAX_TXN_OPS
        assert {f.reason for f in resp.failures} == {"STORE_UNAVAILABLE"}
        stored = {kv.key.rsplit("/", 1)[1] for kv in store.list(keys.TASKS).kvs}
        assert stored == {t.id for t in resp.tasks}
        assert not stored & {f.arn.rsplit("/", 1)[1] for f in resp.failures}
        store.ok = 0  # the first chunk failing fails the call: nothing was created
        with pytest.raises(StoreError):
            tasks.run(ctx, op.RunTaskRequest(cluster="default", task_definition="app", count=300))
        assert len(store.list(keys.TASKS).kvs) == 2 * MAX_TXN_OPS
    finally:
        store.close()


def test_leader_batches_keep_each_task_with_its_assignment(store: Store) -> None:
    """Placement's batched write of 300 tasks, each with its assignment and a compare on the
    task (plus the fence): every chunk fits, and a task and its assignment share a revision."""
    lease = ReplicaLease(store, 10)
    lease.keep_alive_once()
    election = Election(store, lease, "me")
    assert election.campaign().startswith("became leader")
    writer = Writer(store, election, Cache(store, on_change=lambda: None))
    writes = []
    for i in range(300):
        task = r.Task(id=f"t{i:03d}", cluster="default", node_id="n1", last_status="PENDING")
        writes.append(task_write(None, task))  # a placed, live task: its assignment comes with it
    results = writer.commit_many(writes)
    assert None not in results
    for i in range(300):
        t = store.get(keys.task("default", f"t{i:03d}"))
        a = store.get(keys.assignment("n1", f"t{i:03d}"))
        assert t is not None and a is not None
        assert t.mod_revision == a.mod_revision == results[i]
        assert decode(r.TaskAssignment, a.value).task.id == f"t{i:03d}"
    assert len(set(results)) == math.ceil(300 / (MAX_TXN_OPS // 2))


def test_chunks_never_split_a_group_nor_exceed_the_limits() -> None:
    def size(g: tuple[int, list[str], int]) -> batch.Size:
        return batch.Size(*g)

    groups = [(1, [f"k{i}", f"a{i}"], 100) for i in range(200)] + [(0, ["big"], batch.TXN_BYTES)]
    chunks = batch.chunks(groups, size, reserved_compares=1)
    assert [i for c in chunks for i in c] == list(range(len(groups)))
    for c in chunks:
        assert sum(groups[i][0] for i in c) + 1 <= MAX_TXN_OPS
        assert sum(len(groups[i][1]) for i in c) <= MAX_TXN_OPS
        assert sum(groups[i][2] for i in c) <= batch.TXN_BYTES
    assert chunks[-1] == [200]
    # The same key twice goes to the next transaction: etcd refuses a key put twice.
    assert batch.chunks([(0, ["k"], 1), (0, ["k"], 1)], size) == [[0], [1]]
    # A group too big on its own goes alone, for the store to take or refuse.
    huge = (0, [f"h{i}" for i in range(MAX_TXN_OPS + 1)], 1)
    assert batch.chunks([(0, ["a"], 1), huge, (0, ["b"], 1)], size) == [[0], [1], [2]]

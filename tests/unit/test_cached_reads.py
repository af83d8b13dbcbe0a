"""ListTasks' tasks, and the cluster and services ListTasks and DescribeServices look up,
come from the replica's watch-fed cache once it holds the replica's own last write under
their prefix (read your writes), and from the store while it does not."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from controlplane.api import reads
from controlplane.api.context import ApiContext
from controlplane.errors import ApiError
from shoal import keys
from shoal.store.memory import MemoryStore
from shoal.store.tracking import WriteTracking
from shoal.v1 import resources_pb2 as r
from tests.fixtures.plane import cached_context


def task_key(cluster: str, task_id: str) -> str:
    return f"{keys.TASKS}{cluster}/{task_id}"


def put_task(ctx: ApiContext, cluster: str, task_id: str) -> int:
    return ctx.store.put(task_key(cluster, task_id), r.Task(id=task_id, cluster=cluster).SerializeToString())


@pytest.fixture
def ctx() -> Iterator[ApiContext]:
    with cached_context() as context:
        yield context


def test_a_replica_reads_its_own_task_writes_from_the_cache(ctx: ApiContext,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    put_task(ctx, "default", "b")
    put_task(ctx, "other", "x")
    revision = put_task(ctx, "default", "a")
    assert ctx.store.last_write(keys.TASKS) == revision  # type: ignore[attr-defined]

    def no_store_reads(*_args: object) -> None:
        raise AssertionError("read the store although the cache had caught up")

    monkeypatch.setattr(ctx.state, "tasks", no_store_reads)
    assert [rec.msg.id for rec in reads.tasks(ctx, "default")] == ["a", "b"]


def test_a_lagging_cache_sends_the_read_to_the_store(ctx: ApiContext, monkeypatch: pytest.MonkeyPatch) -> None:
    assert ctx.cache is not None
    ctx.cache.close()  # its watch delivers nothing more: it lags every later write
    monkeypatch.setattr(reads, "READ_WAIT", 0.05)
    put_task(ctx, "default", "late")
    assert not ctx.cache.records_under(f"{keys.TASKS}default/")
    assert [rec.msg.id for rec in reads.tasks(ctx, "default")] == ["late"]


def test_without_a_cache_reads_go_to_the_store() -> None:
    ctx = ApiContext(MemoryStore())
    ctx.store.put(task_key("default", "t"), r.Task(id="t").SerializeToString())
    assert [rec.msg.id for rec in reads.tasks(ctx, "default")] == ["t"]


def test_a_cluster_and_a_service_the_cache_holds_are_read_from_it(ctx: ApiContext,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    ctx.ensure_default_cluster()
    key = keys.service("default", "web")
    ctx.store.put(key, r.Service(service_name="web", desired_count=1).SerializeToString())
    ctx.store.put(key, r.Service(service_name="web", desired_count=2).SerializeToString())  # the replica's last

    def no_store_reads(*_args: object) -> None:
        raise AssertionError("read the store although the cache had caught up")

    monkeypatch.setattr(ctx.state, "load", no_store_reads)
    assert reads.require_cluster(ctx, "default").msg.cluster_name == "default"
    assert reads.record(ctx, key, r.Service).msg.desired_count == 2  # its own write, read back
    with pytest.raises(ApiError, match="not found"):
        # A cluster the cache lacks is asked of the store (here: absent there too).
        monkeypatch.undo()
        reads.require_cluster(ctx, "nowhere")


def test_a_record_the_cache_lacks_or_lags_is_read_from_the_store(ctx: ApiContext,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    assert ctx.cache is not None
    ctx.cache.close()  # its watch delivers nothing more
    monkeypatch.setattr(reads, "READ_WAIT", 0.05)
    key = keys.service("default", "web")
    # Written by another replica: not tracked here, and the cache never saw it.
    WriteTracking(ctx.store.inner, []).put(key, r.Service(service_name="web").SerializeToString())  # type: ignore[attr-defined]
    assert reads.record(ctx, key, r.Service).msg.service_name == "web"
    # Written through this replica, the cache behind it: the store answers, with the write.
    ctx.store.put(key, r.Service(service_name="web", desired_count=3).SerializeToString())
    assert reads.record(ctx, key, r.Service).msg.desired_count == 3

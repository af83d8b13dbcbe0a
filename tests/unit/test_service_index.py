"""The cache's per-service task index against the in-memory store: counts and members follow
every put and delete the watch delivers, the leader's own writes (record_put/record_delete)
and a re-listing, and ListTasks filtered by service reads only that service's tasks."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from controlplane.api import reads
from controlplane.api.context import ApiContext
from controlplane.service_index import ServiceIndex
from controlplane.state import Record
from shoal import keys
from shoal.v1 import resources_pb2 as r
from tests.fixtures.plane import cached_context


def states(cache, cluster: str, service: str) -> dict[str, str]:
    """{task id: lastStatus} of the service's tasks as the index holds them."""
    return {rec.msg.id: rec.msg.last_status for rec in cache.service_tasks(cluster, service)}


def task(task_id: str, service: str = "web", last: str = "PENDING", desired: str = "RUNNING") -> r.Task:
    return r.Task(id=task_id, cluster="default", service_name=service, last_status=last, desired_status=desired,
                  task_arn=f"arn:task/{task_id}")


@pytest.fixture
def ctx() -> Iterator[ApiContext]:
    with cached_context() as context:
        yield context


def put(ctx: ApiContext, t: r.Task, cluster: str = "default") -> int:
    rev = ctx.store.put(keys.task(cluster, t.id), t.SerializeToString())
    assert ctx.cache is not None and ctx.cache.caught_up(keys.TASKS, rev, 5)
    return rev


def test_the_index_follows_the_watch(ctx: ApiContext) -> None:
    cache = ctx.cache
    assert cache is not None
    put(ctx, task("a"))
    put(ctx, task("b"))
    put(ctx, task("c", service="api"))
    put(ctx, task("z"), cluster="other")
    assert states(cache, "default", "web") == {"a": "PENDING", "b": "PENDING"}
    put(ctx, task("a", last="RUNNING"))
    assert states(cache, "default", "web") == {"a": "RUNNING", "b": "PENDING"}
    put(ctx, task("b", last="STOPPED", desired="STOPPED"))
    assert states(cache, "default", "web") == {"a": "RUNNING", "b": "STOPPED"}
    assert sorted(rec.msg.id for rec in cache.service_tasks("default", "web")) == ["a", "b"]
    assert ctx.store.delete(keys.task("default", "b"))
    put(ctx, task("d", service="api"))  # delivered after the delete: the watch keeps order
    assert [rec.msg.id for rec in cache.service_tasks("default", "web")] == ["a"]
    assert states(cache, "default", "api") == {"c": "PENDING", "d": "PENDING"}
    assert states(cache, "other", "web") == {"z": "PENDING"}
    assert states(cache, "default", "nope") == {}


def test_own_writes_and_a_relisting_keep_the_index(ctx: ApiContext) -> None:
    cache = ctx.cache
    assert cache is not None
    rev = put(ctx, task("a"))
    cache.record_put(keys.task("default", "a"), task("a", last="RUNNING"), rev + 100)
    assert states(cache, "default", "web") == {"a": "RUNNING"}
    cache.record_delete(keys.task("default", "a"), rev + 101)
    assert states(cache, "default", "web") == {}
    put(ctx, task("b", last="RUNNING"))
    # A re-listing (what follows a watch that ended) rebuilds from the store, which never
    # saw the pretend own writes: "a" as stored (PENDING) and "b".
    cache._sync(keys.TASKS)
    assert states(cache, "default", "web") == {"a": "PENDING", "b": "RUNNING"}


def test_list_tasks_by_service_reads_only_that_services_tasks(ctx: ApiContext,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    put(ctx, task("a"))
    put(ctx, task("b", service="api"))

    def no_scan(*_args: object) -> None:
        raise AssertionError("scanned every task of the cluster")

    assert ctx.cache is not None
    monkeypatch.setattr(ctx.cache, "records_under", no_scan)
    monkeypatch.setattr(ctx.state, "tasks", no_scan)
    assert [rec.msg.id for rec in reads.tasks(ctx, "default", "web")] == ["a"]


def test_a_task_moving_between_services_leaves_the_first() -> None:
    index = ServiceIndex()
    key = keys.task("default", "a")
    first = Record(task("a", service="web"), 1, key)
    index.put(key, None, first)
    index.put(key, first, Record(task("a", service="api", last="RUNNING"), 2, key))
    assert index.tasks("default", "web") == []
    assert [rec.msg.last_status for rec in index.tasks("default", "api")] == ["RUNNING"]


def rec(task_id: str, service: str = "web", last: str = "PENDING") -> Record:
    key = keys.task("default", task_id)
    return Record(task(task_id, service=service, last=last), 1, key)


def test_the_index_lists_a_service_in_key_order_through_joins_moves_and_leaves() -> None:
    index = ServiceIndex()
    index.replace({r_.key: r_ for r_ in (rec("b"), rec("a:9"), rec("a:10"))})
    ids = lambda: [r_.msg.id for r_ in index.tasks("default", "web")]  # noqa: E731
    assert ids() == ["a:10", "a:9", "b"]  # key (etcd) order, not the order they came in
    index.put(keys.task("default", "a:9"), rec("a:9"), rec("a:9", last="RUNNING"))  # changed, not moved
    assert ids() == ["a:10", "a:9", "b"]
    assert index.tasks("default", "web")[1].msg.last_status == "RUNNING"  # the new record, not the old
    index.put(keys.task("default", "0"), None, rec("0"))  # joins first
    assert ids() == ["0", "a:10", "a:9", "b"]
    index.put(keys.task("default", "a:10"), rec("a:10"), rec("a:10", service="api"))  # moves out
    assert ids() == ["0", "a:9", "b"]
    assert [r_.msg.id for r_ in index.tasks("default", "api")] == ["a:10"]
    index.put(keys.task("default", "b"), rec("b"), None)  # leaves
    assert ids() == ["0", "a:9"]
    index.put(keys.task("default", "0"), rec("0"), None)
    index.put(keys.task("default", "a:9"), rec("a:9"), None)
    assert ids() == []

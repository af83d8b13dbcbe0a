"""shoal_tasks and shoal_service_* are read from the cache at scrape time: they follow the
cluster, a deleted service takes its series with it, and followers export none."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from controlplane.cache import Cache
from controlplane.cluster_metrics import ClusterCollector
from shoal import keys
from shoal.store.memory import MemoryStore
from shoal.v1 import resources_pb2 as r
from tests.waiting import wait_for


def scrape(collector: ClusterCollector) -> str:
    registry = CollectorRegistry()
    registry.register(collector)
    return generate_latest(registry).decode()


def put_service(store: MemoryStore, name: str, status: str = "ACTIVE", desired: int = 2, running: int = 1) -> None:
    svc = r.Service(cluster="default", service_name=name, status=status, desired_count=desired,
                    running_count=running)
    store.put(keys.service("default", name), svc.SerializeToString())


def put_task(store: MemoryStore, task_id: str, service: str, status: str) -> None:
    task = r.Task(id=task_id, cluster="default", service_name=service, last_status=status)
    store.put(keys.task("default", task_id), task.SerializeToString())


@pytest.fixture
def started_cache() -> Iterator[Callable[[MemoryStore], Cache]]:
    """``started_cache(store)``: a started Cache on ``store``, closed at teardown."""
    made: list[Cache] = []

    def start(store: MemoryStore) -> Cache:
        cache = Cache(store, on_change=lambda: None)
        made.append(cache)
        cache.start()
        return cache

    try:
        yield start
    finally:
        for cache in made:
            cache.close()


def test_series_follow_the_cluster_and_go_with_a_deleted_service(started_cache) -> None:
    store = MemoryStore()
    put_service(store, "web")
    put_task(store, "t1", "web", "RUNNING")
    put_task(store, "t2", "web", "PENDING")
    put_task(store, "t3", "web", "STOPPED")
    put_task(store, "t4", "", "RUNNING")
    cache = started_cache(store)
    text = scrape(ClusterCollector(cache, lambda: True))
    assert 'shoal_tasks{cluster="default",service="web",status="RUNNING"} 1.0' in text
    assert 'shoal_tasks{cluster="default",service="web",status="PENDING"} 1.0' in text
    assert 'shoal_tasks{cluster="default",service="",status="RUNNING"} 1.0' in text
    assert 'status="STOPPED"' not in text
    assert 'shoal_service_desired_tasks{cluster="default",service="web"} 2.0' in text
    assert 'shoal_service_running_tasks{cluster="default",service="web"} 1.0' in text

    put_service(store, "web", status="INACTIVE")  # what DeleteService leaves once drained
    # The cache hears of the change through the store's watch, on the watch's thread.
    collector = ClusterCollector(cache, lambda: True)
    wait_for(lambda: 'service="web"' not in scrape(collector), 5, "the INACTIVE service's series to go")
    text = scrape(collector)
    assert 'shoal_tasks{cluster="default",service="",status="RUNNING"} 1.0' in text


def test_a_follower_exports_no_cluster_series(started_cache) -> None:
    store = MemoryStore()
    put_service(store, "web")
    put_task(store, "t1", "web", "RUNNING")
    text = scrape(ClusterCollector(started_cache(store), lambda: False))
    assert 'service="web"' not in text

"""The cluster-wide event feed: which record changes tell which events, the filters, and
the cache feeding it (listing, watch, the leader's own writes) over the in-memory store."""

from __future__ import annotations

import threading

from controlplane.cache import Cache
from controlplane.feed import EventFeed, check_request, drafts
from shoal import keys
from shoal.store.memory import MemoryStore
from shoal.v1 import events_pb2 as ev
from shoal.v1 import resources_pb2 as r
from tests.waiting import wait_for


def svc(*messages: str, deployments: list[r.Deployment] | None = None) -> r.Service:
    s = r.Service(service_name="web", cluster="default", status="ACTIVE", deployments=deployments or [])
    for i, m in enumerate(messages):
        s.events.add(id=f"e{i}", created_at=100.0 + i, message=m)
    s.events.reverse()  # stored newest first
    return s


def task(status: str, desired: str = "RUNNING", **kw) -> r.Task:
    return r.Task(id="t1", cluster="default", service_name="web", group="service:web", node_id="n1",
                  last_status=status, desired_status=desired, **kw)


def test_service_events_are_taken_once_oldest_first_with_their_own_times() -> None:
    old = svc("(service web) has started 1 tasks.")
    new = svc("(service web) has started 1 tasks.", "(service web) has reached a steady state.",
              "(service web) has started 2 tasks.")
    got = drafts(keys.SERVICES, old, new)
    assert [(d[0], d[5], d[6]) for d in got] == [
        ("service", "(service web) has reached a steady state.", 101.0),
        ("service", "(service web) has started 2 tasks.", 102.0)]
    assert drafts(keys.SERVICES, new, new) == []


def test_deployments_tell_their_start_and_rollout_state() -> None:
    before = svc(deployments=[r.Deployment(id="ecs-svc/1", rollout_state="IN_PROGRESS")])
    started = svc(deployments=[r.Deployment(id="ecs-svc/1", rollout_state="IN_PROGRESS"),
                               r.Deployment(id="ecs-svc/2", task_definition="web:2", desired_count=3,
                                            rollout_state="IN_PROGRESS")])
    assert [d[5] for d in drafts(keys.SERVICES, before, started)] == [
        "(service web) deployment ecs-svc/2 started: web:2, 3 desired"]
    failed = svc(deployments=[r.Deployment(id="ecs-svc/1", rollout_state="FAILED",
                                           rollout_state_reason="circuit breaker tripped")])
    assert [d[5] for d in drafts(keys.SERVICES, before, failed)] == [
        "(service web) deployment ecs-svc/1 FAILED: circuit breaker tripped"]


def test_task_state_changes_name_node_reason_and_exit_codes() -> None:
    assert drafts(keys.TASKS, task("PENDING"), task("PENDING")) == []
    running = drafts(keys.TASKS, task("PENDING"), task("RUNNING"))
    assert [(d[0], d[2], d[3], d[4], d[5]) for d in running] == [
        ("task", "web", "n1", "t1", "task t1 PENDING -> RUNNING on n1")]
    stopped = task("STOPPED", "STOPPED", stopped_reason="Essential container in task exited")
    stopped.containers.add(name="app", exit_code=3)
    (d,) = drafts(keys.TASKS, task("RUNNING", "STOPPED"), stopped)
    assert d[5] == "task t1 RUNNING -> STOPPED on n1: Essential container in task exited (app exit 3)"
    (d,) = drafts(keys.TASKS, task("RUNNING"), task("RUNNING", "STOPPED", stopped_reason="Task stopped by user"))
    assert d[5] == "task t1 desired STOPPED on n1: Task stopped by user"


def test_node_changes() -> None:
    n = r.ContainerInstance(id="n1", hostname="agent-1", cluster="default", status="ACTIVE", agent_connected=True)
    draining = r.ContainerInstance()
    draining.CopyFrom(n)
    draining.status = "DRAINING"
    lost = r.ContainerInstance()
    lost.CopyFrom(n)
    lost.agent_connected = False
    assert [d[5] for d in drafts(keys.NODES, None, n)] == ["node agent-1 (n1) registered (ACTIVE)"]
    assert [d[5] for d in drafts(keys.NODES, n, draining)] == ["node agent-1 (n1) ACTIVE -> DRAINING"]
    assert [d[5] for d in drafts(keys.NODES, n, lost)] == ["node agent-1 (n1) agent disconnected (node lost)"]
    assert [d[5] for d in drafts(keys.NODES, n, None)] == ["node agent-1 (n1) deregistered"]


def test_filters_and_bad_requests() -> None:
    feed = EventFeed(clock=lambda: 500.0)
    feed.observe(keys.TASKS, [("k", task("PENDING"), task("RUNNING"))], listing=False)
    other = task("PENDING")
    other.service_name, other.node_id, other.id = "api", "n2", "t2"
    feed.observe(keys.TASKS, [("k2", None, other)], listing=False)
    feed.observe(keys.SERVICES, [("s", None, svc("(service web) has started 1 tasks."))], listing=False)

    def messages(**kw) -> list[str]:
        return [e.message for e in feed.list(ev.ListEventsRequest(**kw)).events]

    assert len(messages()) == 3
    assert messages(service="api") == ["task t2 created (service:web), PENDING"]
    assert messages(node="n1") == ["task t1 PENDING -> RUNNING on n1"]
    # The service event keeps its own time (100); the derived ones are stamped when seen (500).
    assert messages(kinds=["service"], since=50) == ["(service web) has started 1 tasks."]
    assert messages(kinds=["task"], since=501) == []
    assert messages(limit=1) == [messages()[-1]]
    assert check_request(ev.ListEventsRequest(kinds=["bogus"])) == "kinds: 'bogus' is not one of " \
                                                                  "service, deployment, task, node, chaos"
    assert "since" in check_request(ev.ListEventsRequest(since=-1))
    assert "limit" in check_request(ev.ListEventsRequest(limit=10**6))


def test_recorded_events_are_listed_and_wake_followers() -> None:
    feed = EventFeed(clock=lambda: 700.0)
    version = feed.version
    feed.record("chaos", "default", "chaos drain-node by admin: drained node n1", node="n1")
    assert feed.version == version + 1
    listed = feed.list(ev.ListEventsRequest(kinds=["chaos"], node="n1")).events
    assert [(e.kind, e.created_at, e.message) for e in listed] == [
        ("chaos", 700.0, "chaos drain-node by admin: drained node n1")]
    assert feed.list(ev.ListEventsRequest(kinds=["task"])).events == []


def test_the_ring_is_bounded() -> None:
    feed = EventFeed(capacity=3)
    for i in range(5):
        t = task("RUNNING")
        t.id = f"t{i}"
        feed.observe(keys.TASKS, [("k", task("PENDING"), t)], listing=False)
    got = feed.list(ev.ListEventsRequest()).events
    assert [e.task for e in got] == ["t2", "t3", "t4"] and got[-1].seq == 5


def test_the_cache_feeds_it_from_listing_watch_and_own_writes() -> None:
    store = MemoryStore()
    store.put(keys.service("default", "web"), svc("(service web) was created.").SerializeToString())
    store.put(keys.task("default", "t1"), task("RUNNING").SerializeToString())
    feed = EventFeed()
    cache = Cache(store, on_change=lambda: None)
    cache.add_listener(feed.observe)
    cache.start()
    try:
        # A fresh replica knows the stored service events, not the tasks' pasts.
        assert [e.message for e in feed.list(ev.ListEventsRequest()).events] == ["(service web) was created."]
        woke = threading.Event()

        def follower() -> None:
            if feed.wait_for_event(1, 10):
                woke.set()

        threading.Thread(target=follower, daemon=True).start()
        store.put(keys.task("default", "t1"), task("STOPPED", "STOPPED").SerializeToString())
        wait_for(woke.is_set, 5, "the follower to wake on the watched change")
        (stopped,) = feed.list(ev.ListEventsRequest(kinds=["task"])).events
        assert stopped.message.startswith("task t1 RUNNING -> STOPPED")
        # The leader's own write is told at once (its later echo is ignored by the cache).
        cache.record_put(keys.node("default", "n9"), r.ContainerInstance(id="n9", cluster="default",
                                                                         status="ACTIVE"), 10_000)
        assert [e.message for e in feed.list(ev.ListEventsRequest(kinds=["node"])).events] == [
            "node n9 registered (ACTIVE)"]
    finally:
        cache.close()


def test_a_gateway_write_held_at_once_is_told_once() -> None:
    """An agent's report the gateway wrote is held by the cache before the watch brings it
    (``note_put``); the feed hears of the change then, and not again from the watch's echo."""
    store = MemoryStore()
    key = keys.task("default", "t1")
    store.put(key, task("PENDING").SerializeToString())
    feed = EventFeed()
    cache = Cache(store, on_change=lambda: None)
    cache.add_listener(feed.observe)
    cache.start()
    try:
        running = task("RUNNING")
        revision = store.put(key, running.SerializeToString())
        cache.note_put(key, running, revision)
        store.put(keys.task("default", "t2"), task("PENDING").SerializeToString())
        wait_for(lambda: cache.record(keys.task("default", "t2")) is not None, 5, "the watch to catch up")
        messages = [e.message for e in feed.list(ev.ListEventsRequest(kinds=["task"])).events]
        assert messages.count("task t1 PENDING -> RUNNING on n1") == 1, messages
    finally:
        cache.close()

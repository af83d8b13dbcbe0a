"""The event feed's stored history: the leader writes what its feed derives (fenced by its
leadership, capped, lease-bound), a follower writes nothing, and a replica started later
begins its feed with that history."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from controlplane import event_log
from controlplane.event_log import EventLog
from controlplane.feed import EventFeed
from controlplane.writers import WriterCheck
from shoal import keys
from shoal.store.base import Compare
from shoal.store.memory import MemoryStore
from shoal.v1 import events_pb2 as ev
from shoal.v1 import resources_pb2 as r


@pytest.fixture
def store() -> Iterator[MemoryStore]:
    s = MemoryStore()
    yield s
    s.close()


class Leadership:
    """Who leads, as Election tells it: is_leader, and the fence on the leader key."""

    def __init__(self, store: MemoryStore, leading: bool) -> None:
        self.leading, self.revision = leading, 0
        if leading:
            self.revision = store.put(keys.leader("controllers"), b"one")

    def fence(self) -> Compare:
        return Compare(keys.leader("controllers"), self.revision, on_create=True)


def fed(store: MemoryStore, leadership: Leadership, capacity: int = 1000) -> tuple[EventFeed, EventLog]:
    feed = EventFeed()
    log = EventLog(WriterCheck(store), lambda: leadership.leading, leadership.fence, capacity)
    feed.seed(log.load())
    feed.on_events = log.offer
    return feed, log


def node(status: str) -> r.ContainerInstance:
    return r.ContainerInstance(id="n1", cluster="default", hostname="agent-1", status=status, agent_connected=True)


def test_a_replica_started_later_shows_the_leaders_history(store: MemoryStore) -> None:
    leader_feed, leader_log = fed(store, Leadership(store, leading=True))
    follower_feed, follower_log = fed(store, Leadership(store, leading=False))
    for feed in (leader_feed, follower_feed):
        feed.observe(keys.NODES, [("k", node("ACTIVE"), node("DRAINING"))], listing=False)
        feed.record("chaos", "default", "a chaos run")
    assert follower_log.flush() == 0 and leader_log.flush() == 1, "only the leader writes, and no chaos run"
    stored = store.list(keys.EVENTS).kvs
    assert len(stored) == 1 and stored[0].lease, "bound to a lease"

    later, _ = fed(store, Leadership(store, leading=False))
    held = later.list(ev.ListEventsRequest()).events
    assert [e.message for e in held] == ["node agent-1 (n1) ACTIVE -> DRAINING"]
    assert held[0].created_at == leader_feed.list(ev.ListEventsRequest(kinds=["node"])).events[0].created_at
    assert later.list(ev.ListEventsRequest()).last_seq == 1


def test_a_deposed_leader_writes_nothing_and_the_history_is_capped(store: MemoryStore, monkeypatch) -> None:
    monkeypatch.setattr(event_log, "TRIM_INTERVAL", 0.0)
    leadership = Leadership(store, leading=True)
    feed, log = fed(store, leadership, capacity=3)
    for i in range(5):
        feed.observe(keys.TASKS, [("k", None, r.Task(id=f"t{i}", cluster="default", last_status="PENDING"))],
                     listing=False)
    assert log.flush() == 5
    assert [kv.value for kv in store.list(keys.EVENTS).kvs] == [
        e.SerializeToString() for e in feed.list(ev.ListEventsRequest()).events[-3:]], "the newest 3 kept"
    # Another replica took the leader key while this one still believes it leads: its next
    # batch is fenced off.
    store.delete(keys.leader("controllers"))
    store.put(keys.leader("controllers"), b"two")
    feed.observe(keys.TASKS, [("k", None, r.Task(id="late", cluster="default", last_status="PENDING"))],
                 listing=False)
    assert log.flush() == 0 and len(store.list(keys.EVENTS).kvs) == 3

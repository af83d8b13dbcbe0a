"""The assignment feed (one watch per replica, fanned out to the agent streams it holds) and
the gateway's merging of what agents report into task records, on the in-memory store: the
feed on its own, the reports through a real AgentGatewayService over in-process gRPC with a
scripted agent."""

from __future__ import annotations

import queue
import time
from collections.abc import Iterator

import pytest

from controlplane.api.agent_stream import AgentStream, Outbox
from controlplane.api.agents import AgentGatewayService
from controlplane.api.context import ApiContext
from controlplane.assignments import AssignmentFeed
from controlplane.authz import AUTH_DENIED
from controlplane.cache import Cache
from controlplane.loop_server import LoopServer
from controlplane.state import Record, State, decode
from shoal import keys
from shoal.netutil import free_port
from shoal.replica_lease import ReplicaLease
from shoal.store.memory import MemoryStore
from shoal.v1 import agent_pb2, agent_pb2_grpc
from shoal.v1 import resources_pb2 as r
from tests.fake_agent import FakeAgent
from tests.fixtures.etcd import FakeClock
from tests.waiting import wait_for

TTL = 10.0


def assignment(node: str, task_id: str, desired: str = "RUNNING") -> tuple[str, bytes]:
    task = r.Task(id=task_id, cluster="default", node_id=node, desired_status=desired)
    return keys.assignment(node, task_id), r.TaskAssignment(task=task).SerializeToString()


# ---- the assignment feed ---------------------------------------------------------------------


def test_feed_gives_each_node_its_current_set_then_every_change(memory_store: MemoryStore) -> None:
    memory_store.put(*assignment("n1", "a"))
    memory_store.put(*assignment("n2", "b"))
    feed = AssignmentFeed(memory_store)
    feed.start()
    try:
        got: queue.Queue = queue.Queue()
        other: queue.Queue = queue.Queue()
        feed.subscribe("n1", got.put)
        feed.subscribe("n2", other.put)
        first = got.get_nowait()  # at once, on subscribing
        assert [a.task.id for a in first.tasks] == ["a"]
        other.get_nowait()

        rev = memory_store.put(*assignment("n1", "c"))
        update = got.get(timeout=5)
        assert sorted(a.task.id for a in update.tasks) == ["a", "c"] and update.revision == rev
        rev = memory_store.put(*assignment("n1", "a", desired="STOPPED"))
        update = got.get(timeout=5)
        assert {a.task.id: a.task.desired_status for a in update.tasks} == {"a": "STOPPED", "c": "RUNNING"}
        assert update.revision == rev
        memory_store.delete(keys.assignment("n1", "a"))
        rev = memory_store.list(keys.ASSIGNMENTS).revision
        update = got.get(timeout=5)
        assert [a.task.id for a in update.tasks] == ["c"] and update.revision == rev
        # n2 heard nothing of n1's changes; its revision is the one it was listed at.
        assert other.empty()
        assert [a.task.id for a in feed.current("n2").tasks] == ["b"]
        assert feed.current("n2").revision < rev
        assert not feed.current("unknown").tasks, "a node with no assignments gets an empty set"
    finally:
        feed.close()


def test_feed_unsubscribe_stops_delivery(memory_store: MemoryStore) -> None:
    feed = AssignmentFeed(memory_store)
    feed.start()
    try:
        got: queue.Queue = queue.Queue()
        unsubscribe = feed.subscribe("n1", got.put)
        got.get_nowait()
        unsubscribe()
        memory_store.put(*assignment("n1", "a"))
        # Another subscriber's delivery shows the change went through the feed.
        seen: queue.Queue = queue.Queue()
        feed.subscribe("n1", seen.put)
        wait_for(lambda: [a.task.id for a in feed.current("n1").tasks] == ["a"], 5, "the feed saw the put")
        assert got.empty()
    finally:
        feed.close()


# ---- reports through the gateway -------------------------------------------------------------


class Gateway:
    """A real AgentGatewayService served over gRPC in-process."""

    def __init__(self, store: MemoryStore) -> None:
        self.store = store
        self.ctx = ApiContext(store)
        self.ctx.ensure_default_cluster()
        # A clock that stands still: the replica lease stays fresh, the gateway never cut off.
        lease = ReplicaLease(store, TTL, clock=FakeClock())
        lease.keep_alive_once()
        self.feed = AssignmentFeed(store)
        self.feed.start()
        self.service = AgentGatewayService(self.ctx, self.feed, lease, TTL)
        # As the replica serves it: the stream on an event loop, registration in a pool.
        self.server = LoopServer(workers=16, options=(), maximum_concurrent_rpcs=64, interceptors=())
        agent_pb2_grpc.add_AgentGatewayServicer_to_server(self.service, self.server)
        port = free_port()
        self.server.add_insecure_port(f"127.0.0.1:{port}")
        self.server.start()
        self.endpoint = f"127.0.0.1:{port}"

    def close(self) -> None:
        self.server.stop(grace=0, timeout=5)
        self.feed.close()


@pytest.fixture
def gateway(memory_store: MemoryStore) -> Iterator[Gateway]:
    g = Gateway(memory_store)
    try:
        yield g
    finally:
        g.close()


@pytest.fixture
def agent(gateway: Gateway) -> Iterator[FakeAgent]:
    a = FakeAgent(gateway.endpoint, "h1").connect()
    try:
        wait_for(lambda: gateway.store.get(keys.alive(a.node_id)), 10, "the agent's stream held")
        yield a
    finally:
        a.close()


def put_task(store: MemoryStore, node: str, task_id: str, **fields) -> r.Task:
    """A task placed on ``node`` as the placement controller leaves it, with its assignment."""
    task = r.Task(id=task_id, cluster="default", node_id=node, last_status="PENDING", desired_status="RUNNING",
                  version=1, **fields)
    task.containers.add(name="app", last_status="PENDING")
    store.put(keys.task("default", task_id), task.SerializeToString())
    store.put(keys.assignment(node, task_id), r.TaskAssignment(task=task).SerializeToString())
    return task


def stored(store: MemoryStore, task_id: str) -> r.Task:
    return decode(r.Task, store.get(keys.task("default", task_id)).value)


def change(task_id: str, status: str, **fields) -> agent_pb2.TaskStateChange:
    containers = fields.pop("containers", [r.Container(name="app", last_status=status, runtime_id="cid-1")])
    return agent_pb2.TaskStateChange(task_id=task_id, last_status=status, containers=containers, **fields)


def test_reports_move_a_task_forward_only(gateway: Gateway, agent: FakeAgent) -> None:
    store = gateway.store
    put_task(store, agent.node_id, "t1")
    at = time.time() - 5
    bound = r.NetworkBinding(bind_ip="0.0.0.0", container_port=80, host_port=32768, protocol="tcp")
    agent.send(change("t1", "RUNNING", at=at, containers=[
        r.Container(name="app", last_status="RUNNING", runtime_id="cid-1", network_bindings=[bound]),
        r.Container(name="not-in-the-task", last_status="RUNNING")]))
    task = wait_for(lambda: (t := stored(store, "t1")).last_status == "RUNNING" and t, 5, "RUNNING")
    assert task.started_at == pytest.approx(at) and task.version == 2
    assert [(c.name, c.last_status, c.runtime_id, list(c.network_bindings)) for c in task.containers] == \
        [("app", "RUNNING", "cid-1", [bound])]
    # A late report of an earlier state changes nothing; the next report shows it was read.
    agent.send(change("t1", "PENDING", containers=[r.Container(name="app", last_status="PENDING")]))
    agent.send(change("t1", "RUNNING", health_status="HEALTHY"))
    task = wait_for(lambda: (t := stored(store, "t1")).health_status == "HEALTHY" and t, 5, "HEALTHY")
    assert task.last_status == "RUNNING" and task.containers[0].last_status == "RUNNING"
    assert task.version == 3  # the PENDING report wrote nothing
    # An unknown status is refused without touching the task.
    agent.send(change("t1", "EXPLODED"))
    agent.send(change("t1", "RUNNING", health_status="UNHEALTHY"))
    task = wait_for(lambda: (t := stored(store, "t1")).health_status == "UNHEALTHY" and t, 5, "UNHEALTHY")
    assert task.last_status == "RUNNING" and task.version == 4


def test_a_stopped_report_is_recorded_and_final(gateway: Gateway, agent: FakeAgent) -> None:
    store = gateway.store
    put_task(store, agent.node_id, "t1")
    exited = r.Container(name="app", last_status="STOPPED", runtime_id="cid-1", exit_code=3, reason="exit 3")
    agent.send(change("t1", "STOPPED", containers=[exited], stopped_reason="Essential container exited",
                      stop_code="EssentialContainerExited", at=123.0))
    task = wait_for(lambda: (t := stored(store, "t1")).last_status == "STOPPED" and t, 5, "STOPPED")
    # The gateway writes what the agent observed only: the wish (desiredStatus) and the
    # assignment are the leader's to change (tests/unit/test_writers.py follows them).
    assert (task.desired_status, task.stopped_at, task.stop_code, task.stopped_reason) == \
        ("RUNNING", 123.0, "EssentialContainerExited", "Essential container exited")
    assert (task.containers[0].exit_code, task.containers[0].reason) == (3, "exit 3")
    # Once STOPPED, a report of RUNNING cannot bring it back.
    agent.send(change("t1", "RUNNING"))
    put_task(store, agent.node_id, "t2")
    agent.send(change("t2", "RUNNING"))
    wait_for(lambda: stored(store, "t2").last_status == "RUNNING", 5, "t2 RUNNING")
    assert stored(store, "t1").last_status == "STOPPED"


def test_the_control_planes_stop_reason_is_kept(gateway: Gateway, agent: FakeAgent) -> None:
    store = gateway.store
    put_task(store, agent.node_id, "t1", stopped_reason="Task stopped by user", stop_code="UserInitiated")
    agent.send(change("t1", "STOPPED", stopped_reason="exit 137", stop_code="EssentialContainerExited"))
    task = wait_for(lambda: (t := stored(store, "t1")).last_status == "STOPPED" and t, 5, "STOPPED")
    assert (task.stopped_reason, task.stop_code) == ("Task stopped by user", "UserInitiated")


def test_an_agent_cannot_report_another_nodes_task(gateway: Gateway, agent: FakeAgent) -> None:
    store = gateway.store
    theirs = put_task(store, "other-node", "theirs")
    put_task(store, agent.node_id, "mine")
    agent.send(change("theirs", "STOPPED"))
    agent.send(change("mine", "RUNNING"))
    wait_for(lambda: stored(store, "mine").last_status == "RUNNING", 5, "mine RUNNING")
    assert stored(store, "theirs") == theirs
    assert store.get(keys.assignment("other-node", "theirs")) is not None


# ---- reports starting from the replica's cache -------------------------------------------------


@pytest.fixture
def cached_gateway(gateway: Gateway) -> Iterator[Gateway]:
    gateway.ctx.cache = Cache(gateway.store, on_change=lambda: None)
    gateway.ctx.cache.start()
    try:
        yield gateway
    finally:
        gateway.ctx.cache.close()


def test_a_report_on_a_task_the_cache_holds_reads_nothing_from_the_store(
        cached_gateway: Gateway, monkeypatch: pytest.MonkeyPatch) -> None:
    store, cache = cached_gateway.store, cached_gateway.ctx.cache
    agent = FakeAgent(cached_gateway.endpoint, "h1").connect()
    try:
        wait_for(lambda: store.get(keys.alive(agent.node_id)), 10, "the agent's stream held")
        key = keys.task("default", "t1")
        put_task(store, agent.node_id, "t1")
        wait_for(lambda: cache.record(key), 5, "the cache holding t1")
        reads = []
        real_get = store.get
        monkeypatch.setattr(store, "get", lambda k: reads.append(k) or real_get(k))
        agent.send(change("t1", "RUNNING"))
        wait_for(lambda: decode(r.Task, real_get(key).value).last_status == "RUNNING", 5, "RUNNING")
        assert key not in reads
    finally:
        agent.close()


def test_a_stale_known_record_costs_a_read_not_a_lost_write() -> None:
    store = MemoryStore(clock=FakeClock())
    key = keys.task("default", "t1")
    old = r.Task(id="t1", node_id="n1", last_status="PENDING", version=1)
    old_rev = store.put(key, old.SerializeToString())
    store.put(key, r.Task(id="t1", node_id="n1", last_status="PENDING", health_status="HEALTHY",
                          version=2).SerializeToString())

    def bump(task: r.Task | None) -> r.Task | None:
        task.last_status = "RUNNING"
        task.version += 1
        return task

    rec = State(store).update(key, r.Task, bump, known=Record(old, old_rev, key))
    # Computed from the store's newer copy, not the stale one: nothing it had is lost.
    assert (rec.msg.health_status, rec.msg.version) == ("HEALTHY", 3)
    assert decode(r.Task, store.get(key).value) == rec.msg
    # "No change" from a stale copy is checked against the store too.
    assert State(store).update(key, r.Task, lambda t: None, known=Record(old, old_rev, key)).msg == rec.msg
    store.close()


def test_a_report_the_cache_saw_before_its_placement_is_judged_by_the_store(cached_gateway: Gateway,
                                                                            agent: FakeAgent) -> None:
    store, cache = cached_gateway.store, cached_gateway.ctx.cache
    key = keys.task("default", "t1")
    # The cache still holds the task unplaced (as it was before the leader placed it).
    put_task(store, agent.node_id, "t1")
    wait_for(lambda: cache.record(key), 5, "the cache holding t1")
    unplaced = r.Task(id="t1", cluster="default", last_status="PROVISIONING", desired_status="RUNNING")
    cached = cache.record
    cache.record = lambda k: Record(unplaced, 1, k) if k == key else cached(k)
    denials = AUTH_DENIED.labels("other_node_task")._value.get()
    agent.send(change("t1", "RUNNING"))
    wait_for(lambda: stored(store, "t1").last_status == "RUNNING", 5, "RUNNING, not refused as another node's")
    # Nor counted as an agent trying another node's task (an alarm an operator would chase).
    assert AUTH_DENIED.labels("other_node_task")._value.get() == denials


def test_reports_are_written_together_and_a_moved_task_is_merged_from_the_store(
        cached_gateway: Gateway, monkeypatch: pytest.MonkeyPatch) -> None:
    store, cache, service = cached_gateway.store, cached_gateway.ctx.cache, cached_gateway.service
    for i in range(5):
        put_task(store, "n1", f"t{i}")
    wait_for(lambda: all(cache.record(keys.task("default", f"t{i}")) for i in range(5)), 5, "the cache holding them")
    # t2 changes in the store after the cache saw it, and the cache has not heard yet.
    held = cache.record
    stale = held(keys.task("default", "t2"))
    moved = stored(store, "t2")
    moved.health_status = "HEALTHY"
    moved.version = 2
    store.put(stale.key, moved.SerializeToString())
    monkeypatch.setattr(cache, "record", lambda k: stale if k == stale.key else held(k))
    txns, cases = [], []
    real_txn, real_cas = store.txn, store.cas
    monkeypatch.setattr(store, "txn", lambda c, o: txns.append(len(o)) or real_txn(c, o))
    monkeypatch.setattr(store, "cas", lambda *a: cases.append(a[0]) or real_cas(*a))
    stream = AgentStream(node_id="n1", cluster="default", outbox=Outbox(cached_gateway.server.loop))
    service._write_reports([(stream, change(f"t{i}", "RUNNING")) for i in range(5)])
    # One transaction for the five, lost on t2; then one compare-and-set each (a one-op
    # transaction in this store), and t2 read from the store and written again, merged into
    # the store's copy: its health is kept.
    assert txns == [5] + [1] * 6
    assert sorted(cases) == sorted([keys.task("default", f"t{i}") for i in range(5)] + [stale.key])
    assert all(stored(store, f"t{i}").last_status == "RUNNING" for i in range(5))
    assert (stored(store, "t2").health_status, stored(store, "t2").version) == ("HEALTHY", 3)
    # The cache holds what was written at once: the next report starts from it.
    assert all(held(keys.task("default", f"t{i}")).msg == stored(store, f"t{i}") for i in range(5))

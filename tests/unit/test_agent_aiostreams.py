"""A hollow fleet's event loop holding its nodes' sessions (agent.aiostreams), against an
in-process fake AgentGateway: the same messages a thread-run GatewayClient sends, sent
when they are put (not at the next heartbeat), and connection attempts in flight bounded."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Iterator

import pytest

from agent.agent import Agent, AgentConfig
from agent.aiostreams import StreamLoop
from agent.connection import GatewayClient, Registration
from agent.hollow import HollowRuntime
from agent.host import HostProbe
from shoal.netutil import free_port
from tests.fakegateway import FakeGateway, assignment, served
from tests.waiting import wait_for


class Node:
    def __init__(self, endpoint: str, state_dir: str, name: str = "h1") -> None:
        self.agent = Agent(AgentConfig(gc_delay=0, resync_interval=0.5), HollowRuntime())
        reg = Registration(cluster="default", hostname=name, cpu_units=2048, memory_mib=1024, state_dir=state_dir)
        self.client = GatewayClient([endpoint], reg, self.agent, HostProbe(), insecure=True)
        self.running: concurrent.futures.Future | None = None

    def boot(self, streams: StreamLoop) -> Node:
        self.agent.start()
        self.running = streams.run(self.client)
        return self


@pytest.fixture
def streams() -> Iterator[tuple[StreamLoop, list[Node]]]:
    loop = StreamLoop(connects=1)
    nodes: list[Node] = []
    yield loop, nodes
    for n in nodes:
        n.client._stopped.set()
    loop.stop([n.running for n in nodes if n.running is not None])
    for n in nodes:
        n.agent.stop()


@pytest.fixture
def fast_gateway() -> Iterator[FakeGateway]:
    yield from served(0.2)


@pytest.fixture
def slow_gateway() -> Iterator[FakeGateway]:
    yield from served(60)


def test_registers_says_hello_first_beats_and_runs_its_tasks(fast_gateway, streams, tmp_path) -> None:
    loop, nodes = streams
    node = Node(fast_gateway.endpoint, str(tmp_path))
    nodes.append(node.boot(loop))
    wait_for(lambda: node.agent.node_id and fast_gateway.connected(node.agent.node_id), 20, "stream held")
    nid = node.agent.node_id
    assert fast_gateway.registrations[0].hostname == "h1"
    assert [m for n, m in fast_gateway.messages if n == nid][0].hello.node_id == nid
    wait_for(lambda: len(fast_gateway.received(nid, "heartbeat")) >= 3, 20, "heartbeats every 0.2 s")
    fast_gateway.assign(nid, [assignment("t1")])
    wait_for(lambda: (s := fast_gateway.state("t1")) and s.last_status == "RUNNING", 20, "t1 RUNNING")
    assert node.client.connected.is_set()


def test_a_report_goes_when_it_is_put_not_at_the_next_heartbeat(slow_gateway, streams, tmp_path) -> None:
    loop, nodes = streams
    node = Node(slow_gateway.endpoint, str(tmp_path))
    nodes.append(node.boot(loop))
    wait_for(lambda: node.agent.node_id and slow_gateway.connected(node.agent.node_id), 20, "stream held")
    nid = node.agent.node_id
    wait_for(lambda: slow_gateway.received(nid, "heartbeat"), 20, "the first heartbeat")
    slow_gateway.assign(nid, [assignment("t1")])
    # The next heartbeat is 60 s away: only the outbox waking the loop sends this.
    wait_for(lambda: (s := slow_gateway.state("t1")) and s.last_status == "RUNNING", 20, "t1 RUNNING reported")
    assert len(slow_gateway.received(nid, "heartbeat")) == 1


def test_attempts_in_flight_are_bounded_and_a_failing_one_frees_its_slot(fast_gateway, streams, tmp_path) -> None:
    loop, nodes = streams
    asyncio.run_coroutine_threadsafe(loop._gate.acquire(), loop.loop).result(10)  # another attempt in flight
    waiting = Node(fast_gateway.endpoint, str(tmp_path / "w"), "waiting")
    nodes.append(waiting.boot(loop))
    assert not waiting.client.connected.wait(0.5)
    assert fast_gateway.registrations == []
    loop.loop.call_soon_threadsafe(loop._gate.release)
    wait_for(waiting.client.connected.is_set, 20, "the waiting node connected once the slot was free")
    # A node whose every attempt fails (nothing listens there) must not keep the only slot.
    failing = Node(f"127.0.0.1:{free_port()}", str(tmp_path / "f"), "failing")
    nodes.append(failing.boot(loop))
    late = Node(fast_gateway.endpoint, str(tmp_path / "l"), "late")
    nodes.append(late.boot(loop))
    wait_for(late.client.connected.is_set, 30, "a node connected beside one that keeps failing")
    assert not failing.client.connected.is_set()


def test_dropped_streams_all_reconnect_through_a_one_slot_gate_and_catch_up(fast_gateway, streams, tmp_path) -> None:
    loop, nodes = streams
    fleet = [Node(fast_gateway.endpoint, str(tmp_path / str(i)), f"n{i}") for i in range(3)]
    nodes.extend(n.boot(loop) for n in fleet)
    wait_for(lambda: all(n.agent.node_id and fast_gateway.connected(n.agent.node_id) for n in fleet), 30,
             "3 streams held")
    first = fleet[0].agent.node_id
    fast_gateway.assign(first, [assignment("t1")])
    wait_for(lambda: (s := fast_gateway.state("t1")) and s.last_status == "RUNNING", 20, "t1 RUNNING")
    hellos = len(fast_gateway.received(first, "hello"))
    fast_gateway.drop_streams()  # as a control-plane restart does, to every node at once
    wait_for(lambda: len(fast_gateway.registrations) >= 6, 30, "every node registered again")
    wait_for(lambda: all(fast_gateway.connected(n.agent.node_id) for n in fleet), 30, "3 streams held again")
    assert len(fast_gateway.received(first, "hello")) == hellos + 1
    # The catch-up after the hello reports the task it kept running.
    assert [m.task_state.task_id for n, m in fast_gateway.messages if n == first and m.HasField("task_state")
            ].count("t1") >= 2


def test_stop_ends_every_session_and_the_loop(fast_gateway, tmp_path) -> None:
    loop = StreamLoop(connects=4)
    nodes = [Node(fast_gateway.endpoint, str(tmp_path / str(i)), f"n{i}").boot(loop) for i in range(3)]
    wait_for(lambda: all(n.client.connected.is_set() for n in nodes), 30, "3 streams held")
    for n in nodes:
        n.client._stopped.set()
    loop.stop([n.running for n in nodes])
    assert all(n.running.cancelled() or n.running.done() for n in nodes)
    assert not loop._thread.is_alive()
    assert not any(n.client.connected.is_set() for n in nodes)
    for n in nodes:
        n.agent.stop()


def test_bad_bound_is_refused() -> None:
    with pytest.raises(ValueError, match="connects in flight"):
        StreamLoop(connects=0)

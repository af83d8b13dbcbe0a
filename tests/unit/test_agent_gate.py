"""The connect gate a hollow fleet's nodes share: a bound on connection attempts in flight,
held by a session from its handshake to a held stream, or to its failure."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from agent.agent import Agent, AgentConfig
from agent.connection import GatewayClient, Registration
from agent.gate import ConnectGate
from agent.hollow import HollowRuntime
from agent.host import HostProbe
from shoal.netutil import free_port
from tests.fakegateway import FakeGateway
from tests.waiting import wait_for


def waiter(gate: ConnectGate) -> tuple[threading.Thread, list[bool]]:
    got: list[bool] = []
    t = threading.Thread(target=lambda: got.append(gate.acquire()), daemon=True)
    t.start()
    return t, got


def test_at_most_limit_slots_and_a_release_lets_the_next_in() -> None:
    gate = ConnectGate(2)
    assert gate.acquire() and gate.acquire()
    t, got = waiter(gate)
    t.join(0.3)
    assert t.is_alive() and got == [] and gate.held == 2
    gate.release()
    t.join(10)
    assert got == [True] and gate.held == 2


def test_close_wakes_waiters_without_a_slot_and_refuses_later_ones() -> None:
    gate = ConnectGate(1)
    assert gate.acquire()
    threads = [waiter(gate) for _ in range(3)]
    gate.close()
    for t, got in threads:
        t.join(10)
        assert got == [False]
    assert gate.acquire() is False
    assert gate.held == 1


def test_bad_limit_and_release_without_acquire_are_refused() -> None:
    with pytest.raises(ValueError, match="connects in flight"):
        ConnectGate(0)
    with pytest.raises(RuntimeError, match="more often than acquired"):
        ConnectGate(1).release()


@pytest.fixture
def gateway() -> Iterator[FakeGateway]:
    gw = FakeGateway(heartbeat_interval=0.2)
    gw.start()
    yield gw
    gw.stop()


def client(endpoints: list[str], gate: ConnectGate, tmp_path) -> GatewayClient:
    agent = Agent(AgentConfig(gc_delay=0, resync_interval=0.5), HollowRuntime())
    reg = Registration(cluster="default", hostname="h1", cpu_units=2048, memory_mib=1024, state_dir=str(tmp_path))
    return GatewayClient(endpoints, reg, agent, HostProbe(), insecure=True, gate=gate)


def test_a_session_waits_for_a_slot_and_frees_it_once_its_stream_is_held(gateway, tmp_path) -> None:
    gate = ConnectGate(1)
    assert gate.acquire()  # another node's attempt in flight
    c = client([gateway.endpoint], gate, tmp_path)
    c.start()
    try:
        assert not c.connected.wait(0.5)
        assert gateway.registrations == []
        gate.release()
        wait_for(c.connected.is_set, 20, "the stream held once the slot was free")
        assert gate.held == 0
    finally:
        gate.close()
        c.stop()


def test_a_failed_attempt_frees_its_slot(tmp_path) -> None:
    gate = ConnectGate(1)
    c = client([f"127.0.0.1:{free_port()}"], gate, tmp_path)
    sentence = c.session(c.endpoints[0])
    assert "UNAVAILABLE" in sentence
    assert gate.held == 0 and not c.connected.is_set()


def test_a_session_of_a_stopping_fleet_does_not_connect(gateway, tmp_path) -> None:
    gate = ConnectGate(1)
    gate.close()
    c = client([gateway.endpoint], gate, tmp_path)
    assert c.session(gateway.endpoint).startswith("stopped before connecting")
    assert gateway.registrations == []

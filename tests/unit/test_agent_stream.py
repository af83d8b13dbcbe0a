"""The whole agent (supervisor + gateway client) against an in-process fake AgentGateway
and the in-memory runtime."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from agent.agent import Agent, AgentConfig
from agent.connection import GatewayClient, Registration
from agent.hollow import HollowRuntime
from agent.host import HostProbe
from agent.runtime import LABEL_NODE
from shoal.netutil import free_port
from tests.fakegateway import FakeGateway, assignment, served
from tests.waiting import wait_for


class Node:
    """One agent wired as agent.main wires it, minus the process."""

    def __init__(self, endpoints: list[str], state_dir: str, rt: HollowRuntime, node_id: str = "") -> None:
        self.rt = rt
        self.agent = Agent(AgentConfig(node_id=node_id, gc_delay=0, resync_interval=0.5), rt)
        reg = Registration(cluster="default", hostname="h1", cpu_units=2048, memory_mib=1024,
                           attributes={"ecs.os-type": "linux", "zone": "a"}, metrics_port=9999, state_dir=state_dir)
        self.client = GatewayClient(endpoints, reg, self.agent, HostProbe(), insecure=True)

    def boot(self) -> Node:
        if not self.agent.node_id:
            assert self.client.register_until_done()
        self.agent.restore()
        self.agent.start()
        self.client.start()
        return self

    def stop(self) -> None:
        self.client.stop()
        self.agent.stop()


@pytest.fixture
def gateway() -> Iterator[FakeGateway]:
    yield from served(0.2)


@pytest.fixture
def nodes() -> Iterator[list[Node]]:
    made: list[Node] = []
    yield made
    for n in made:
        n.stop()


def test_register_persist_hello_catchup_heartbeat_and_run(gateway, nodes, tmp_path):
    node = Node([gateway.endpoint], str(tmp_path), HollowRuntime()).boot()
    nodes.append(node)
    nid = node.agent.node_id
    assert json.loads((tmp_path / "node.json").read_text())["node_id"] == nid
    reg = gateway.registrations[0]
    assert (reg.cpu_units, reg.memory_mib, reg.metrics_port, reg.node_id) == (2048, 1024, 9999, "")
    wait_for(lambda: gateway.connected(nid), 10, "agent stream")
    first = [m for n, m in gateway.messages if n == nid][0]
    assert first.hello.node_id == nid
    wait_for(lambda: len(gateway.received(nid, "heartbeat")) >= 2, 10, "heartbeats")
    gateway.assign(nid, [assignment("t1")])
    wait_for(lambda: (s := gateway.state("t1")) and s.last_status == "RUNNING", 10, "t1 RUNNING")


def test_reconnect_rotates_endpoints_catches_up_and_keeps_tasks(gateway, nodes, tmp_path):
    dead = f"127.0.0.1:{free_port()}"
    rt = HollowRuntime()
    node = Node([dead, gateway.endpoint], str(tmp_path), rt).boot()
    nodes.append(node)
    nid = node.agent.node_id
    gateway.assign(nid, [assignment("t1")])
    wait_for(lambda: (s := gateway.state("t1")) and s.last_status == "RUNNING", 10, "t1 RUNNING")
    # The control plane goes away and comes back: tasks keep running, state is re-sent.
    gateway.stop()
    containers = rt.list({LABEL_NODE: nid})
    second = FakeGateway(heartbeat_interval=0.2)
    second.start(gateway.port)
    try:
        second.assignments[nid] = gateway.assignments[nid]
        wait_for(lambda: second.state("t1") is not None, 15, "catch-up state after reconnect")
        assert second.state("t1").last_status == "RUNNING"
        assert rt.list({LABEL_NODE: nid}) == containers
        assert second.registrations[0].node_id == nid  # re-registered under the same identity
    finally:
        second.stop()


def test_restarted_agent_keeps_identity_and_adopts(gateway, nodes, tmp_path):
    rt = HollowRuntime()
    first = Node([gateway.endpoint], str(tmp_path), rt).boot()
    nodes.append(first)  # stopped by the fixture should the test fail before it stops it
    nid = first.agent.node_id
    gateway.assign(nid, [assignment("t1")])
    wait_for(lambda: (s := gateway.state("t1")) and s.last_status == "RUNNING", 10, "t1 RUNNING")
    first.stop()
    nodes.remove(first)
    again = Node([gateway.endpoint], str(tmp_path), rt, node_id=nid).boot()
    nodes.append(again)
    wait_for(lambda: len([r for r in gateway.registrations if r.node_id == nid]) >= 1, 10, "re-registration")
    wait_for(lambda: again.agent.revision >= 1 and again.agent.last_sentence, 10, "a cycle on the new set")
    assert len(rt.creates) == 1


def test_assignment_removal_while_connected(gateway, nodes, tmp_path):
    rt = HollowRuntime()
    node = Node([gateway.endpoint], str(tmp_path), rt).boot()
    nodes.append(node)
    nid = node.agent.node_id
    gateway.assign(nid, [assignment("t1"), assignment("t2")])
    wait_for(lambda: len(rt.list({LABEL_NODE: nid})) == 2, 10, "two containers")
    gateway.assign(nid, [assignment("t2")])
    wait_for(lambda: len(rt.list({LABEL_NODE: nid})) == 1, 10, "t1 removed")

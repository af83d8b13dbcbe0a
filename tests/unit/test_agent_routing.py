"""Routing tables on the agent: ``Agent.apply_routing`` hands each table to every routing
consumer and ignores older ones; the stream delivers ``ControlMessage.routing`` to it; the
proxy's exporter port travels in the registration and comes out of /sd."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from agent.agent import Agent, AgentConfig
from agent.connection import GatewayClient, Registration
from agent.hollow import HollowRuntime
from agent.host import HostProbe
from controlplane.http import sd_targets
from controlplane.state import State
from shoal import keys
from shoal.store.memory import MemoryStore
from shoal.v1 import agent_pb2, traffic_pb2
from shoal.v1 import resources_pb2 as r
from tests.fakegateway import FakeGateway, served
from tests.waiting import wait_for


class Recorder:
    def __init__(self, fail: bool = False) -> None:
        self.tables: list[int] = []
        self.fail = fail

    def apply(self, table: traffic_pb2.RoutingTable) -> str:
        self.tables.append(table.revision)
        if self.fail:
            raise RuntimeError("boom")
        return f"recorded {table.revision}"


def test_every_consumer_gets_the_table_older_ones_are_ignored_and_a_failure_stays_local():
    agent = Agent(AgentConfig(node_id="n1"), HollowRuntime())
    broken, proxy, dns = Recorder(fail=True), Recorder(), Recorder()
    agent.routing_consumers += [broken, proxy, dns]
    said = agent.apply_routing(traffic_pb2.RoutingTable(revision=5))
    assert said == "routing table at revision 5: Recorder failed: boom; recorded 5; recorded 5"
    assert agent.apply_routing(
        traffic_pb2.RoutingTable(revision=4)) == "ignored routing table at revision 4: already applied 5"
    agent.apply_routing(traffic_pb2.RoutingTable(revision=5))
    assert proxy.tables == dns.tables == broken.tables == [5, 5]


def test_no_consumer_is_said():
    agent = Agent(AgentConfig(node_id="n1"), HollowRuntime())
    assert agent.apply_routing(traffic_pb2.RoutingTable(revision=1)).endswith("no routing consumers")


@pytest.fixture
def gateway() -> Iterator[FakeGateway]:
    yield from served(0.2)


def test_the_stream_hands_routing_tables_to_the_agent_and_registration_names_the_proxy_port(gateway, tmp_path):
    agent = Agent(AgentConfig(resync_interval=0.5), HollowRuntime())
    consumer = Recorder()
    agent.routing_consumers.append(consumer)
    reg = Registration(cluster="default", hostname="h1", cpu_units=1024, memory_mib=512, state_dir=str(tmp_path),
                       proxy_metrics_port=9101)
    client = GatewayClient([gateway.endpoint], reg, agent, HostProbe(), insecure=True)
    assert client.register_until_done()
    agent.start()
    client.start()
    try:
        assert gateway.registrations[0].proxy_metrics_port == 9101
        wait_for(lambda: gateway.connected(agent.node_id), 10, "agent stream")
        table = traffic_pb2.RoutingTable(revision=3, backends=[traffic_pb2.RouteBackend(name="tg", mode="http")])
        gateway.send(agent.node_id, agent_pb2.ControlMessage(routing=table))
        wait_for(lambda: consumer.tables == [3], 10, "the routing table at the consumer")
        # The stream goes on: assignments still arrive after a routing table.
        gateway.assign(agent.node_id, [])
        wait_for(lambda: agent.desired == {}, 10, "an assignment set after the table")
    finally:
        client.stop()
        agent.stop()


def test_sd_lists_each_proxy_exporter_beside_its_agent_with_a_component_label():
    store = MemoryStore()
    state = State(store)
    for node_id, proxy_port in (("n1", 9101), ("n2", 0)):
        node = r.ContainerInstance(id=node_id, cluster="c", hostname=node_id, address="10.0.0.1", metrics_port=9100,
                                   proxy_metrics_port=proxy_port)
        store.put(keys.node("c", node_id), node.SerializeToString())
        store.put(keys.alive(node_id), b"")
    targets = sd_targets(state)
    proxies = [g for g in targets if g["labels"].get("component") == "proxy"]
    assert proxies == [{"targets": ["10.0.0.1:9101"],
                        "labels": {"cluster": "c", "node": "n1", "hostname": "n1", "zone": "", "component": "proxy"}}]
    assert sorted(g["labels"]["node"] for g in targets if "component" not in g["labels"]) == ["n1", "n2"]

"""Container specs from assignments, identity persistence, cgroup reading, metrics."""

import os

import pytest

from agent import cgroups, identity, spec
from agent.agent import Agent, AgentConfig
from agent.hollow import HollowRuntime
from agent.metrics import AgentMetrics
from agent.runtime import LABEL_NODE, LABEL_SPEC_HASH, LABEL_TASK
from shoal.v1 import agent_pb2, traffic_pb2
from shoal.v1 import resources_pb2 as r
from tests.fakegateway import assignment


def web_def(**kw) -> r.ContainerDefinition:
    d = r.ContainerDefinition(name="web", image="shoal/busybox:latest", cpu=256, memory=128,
                              command=["httpd", "-f", "-p", "8080"],
                              port_mappings=[r.PortMapping(container_port=8080, protocol="tcp")], **kw)
    d.environment.add(name="A", value="1")
    d.health_check.command.extend(["CMD-SHELL", "wget -q -O- localhost:8080"])
    d.health_check.interval = 5
    return d


def test_spec_carries_limits_ports_labels_and_healthcheck():
    a = assignment("a" * 32, [web_def(memory_reservation=64)], bindings={"web": [(8080, 31000)]})
    [(cdef, s)] = spec.build(a, node_id="n1", bind_ip="127.0.0.1", default_stop_timeout=7)
    assert s.name == f"shoal-{'a' * 12}-web"
    assert s.cpu_shares == 256 and s.memory_mib == 128 and s.memory_reservation_mib == 64
    assert [(p.container_port, p.host_port, p.host_ip) for p in s.ports] == [(8080, 31000, "127.0.0.1")]
    assert s.labels[LABEL_NODE] == "n1" and s.labels[LABEL_TASK] == "a" * 32
    assert s.healthcheck.test == ("CMD-SHELL", "wget -q -O- localhost:8080") and s.healthcheck.interval == 5
    assert s.healthcheck.retries == 3
    assert s.stop_timeout == 7 and s.environment == {"A": "1"}
    assert s.labels[LABEL_SPEC_HASH] == spec.spec_hash(s)


def test_cpu_shares_minimum_and_host_mode_has_no_published_ports():
    d = web_def(stop_timeout=3)
    d.cpu = 0
    [(_, s)] = spec.build(assignment("t" * 32, [d], network_mode="host"), node_id="n1")
    assert s.cpu_shares == 2 and s.ports == () and s.network_mode == "host" and s.stop_timeout == 3


def test_spec_hash_changes_with_spec():
    a1 = assignment("t" * 32, [web_def()])
    a2 = assignment("t" * 32, [web_def(user="nobody")])
    h1 = spec.build(a1, node_id="n")[0][1].labels[LABEL_SPEC_HASH]
    h2 = spec.build(a2, node_id="n")[0][1].labels[LABEL_SPEC_HASH]
    assert h1 != h2 and h1 == spec.build(a1, node_id="n")[0][1].labels[LABEL_SPEC_HASH]


def test_start_order_follows_depends_on():
    app = r.ContainerDefinition(name="app", image="i", depends_on=[r.ContainerDependency(container_name="db")])
    db = r.ContainerDefinition(name="db", image="i")
    assert [d.name for d in spec.start_order([app, db])] == ["db", "app"]


def test_identity_round_trip_and_bad_file(tmp_path):
    assert identity.load(str(tmp_path)) == {}
    identity.save(str(tmp_path), "node-1", "prod")
    assert identity.load(str(tmp_path)) == {"node_id": "node-1", "cluster": "prod"}
    (tmp_path / "node.json").write_text("{not json")
    with pytest.raises(identity.IdentityError, match="node.json"):
        identity.load(str(tmp_path))


def test_cgroup_v1_and_v2_layouts(tmp_path):
    v1 = tmp_path / "v1"
    os.makedirs(v1 / "cpuacct/docker/abc")
    os.makedirs(v1 / "memory/docker/abc")
    (v1 / "cpuacct/docker/abc/cpuacct.usage").write_text("2500000000\n")
    (v1 / "memory/docker/abc/memory.usage_in_bytes").write_text("4096\n")
    assert cgroups.usage("abc", str(v1)) == (2.5, 4096)
    v2 = tmp_path / "v2"
    os.makedirs(v2 / "system.slice/docker-abc.scope")
    (v2 / "cgroup.controllers").write_text("cpu memory\n")
    (v2 / "system.slice/docker-abc.scope/cpu.stat").write_text("usage_usec 1500000\nuser_usec 1\n")
    (v2 / "system.slice/docker-abc.scope/memory.current").write_text("8192\n")
    assert cgroups.usage("abc", str(v2)) == (1.5, 8192)
    assert cgroups.usage("nope", str(v2)) is None


def test_metrics_expose_tasks_containers_and_usage():
    from prometheus_client import generate_latest

    rt = HollowRuntime()
    m = AgentMetrics()
    agent = Agent(AgentConfig(node_id="n1"), rt, on_cycle=m.observe_cycle)
    m.attach(agent)
    agent.apply_assignments(agent_pb2.Assignments(revision=1, tasks=[assignment("t1", service="web")]))
    agent.run_cycle()
    text = generate_latest(m.registry).decode()
    assert 'shoal_agent_tasks{node="n1",status="RUNNING"} 1.0' in text
    assert 'shoal_agent_containers{node="n1",state="running"} 1.0' in text
    assert 'shoal_task_memory_bytes{cluster="default",container="main",service="web",task="t1"}' in text
    assert "shoal_agent_reconcile_duration_seconds_count 1.0" in text


def test_dns_goes_to_containers_with_a_network_and_is_not_drift():
    a = assignment("d" * 32, [web_def()], bindings={"web": [(8080, 31000)]})
    [(_, plain)] = spec.build(a, node_id="n1")
    [(_, with_dns)] = spec.build(a, node_id="n1", dns=spec.ContainerDns(servers=("172.17.0.1",), search=("lab",)))
    assert with_dns.dns == ("172.17.0.1",) and with_dns.dns_search == ("lab",)
    assert plain.dns == () and plain.dns_search == ()
    # The responder follows the routing table; a container is not replaced when that changes.
    assert with_dns.labels[LABEL_SPEC_HASH] == plain.labels[LABEL_SPEC_HASH]
    a.task_definition.network_mode = "none"
    [(_, isolated)] = spec.build(a, node_id="n1", dns=spec.ContainerDns(servers=("172.17.0.1",), search=("lab",)))
    assert isolated.dns == () and isolated.dns_search == ()


def test_routing_tables_reach_every_consumer_even_when_one_fails():
    class Broken:
        def apply(self, table):
            raise RuntimeError("boom")

    seen = []

    class Recorder:
        def apply(self, table):
            seen.append(table.revision)
            return f"recorded {table.revision}"

    agent = Agent(AgentConfig(node_id="n1"), HollowRuntime())
    assert "no routing consumers" in agent.apply_routing(traffic_pb2.RoutingTable(revision=1))
    agent.routing_consumers += [Broken(), Recorder()]
    sentence = agent.apply_routing(traffic_pb2.RoutingTable(revision=2))
    assert seen == [2] and "Broken failed" in sentence and "recorded 2" in sentence

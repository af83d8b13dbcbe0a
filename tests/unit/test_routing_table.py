"""The pure routing-table builder (controlplane/routing/table.py), table-driven: which
tasks are servers, which are in rotation, what frontends and DNS records a cluster's load
balancers and namespaces give, and that equal inputs give byte-equal tables."""

from __future__ import annotations

import random

import pytest

from agent.proxy import config as proxy_config
from controlplane.routing.table import build_routing_table
from shoal.v1 import resources_pb2 as r
from shoal.v1 import traffic_pb2 as t

NOW = 1_000_000.0
TG = t.TargetGroup(target_group_arn="arn:tg/web", target_group_name="web", protocol="HTTP", port=80,
                   deregistration_delay_seconds=30, cluster="c", id="tg1")
TCP_TG = t.TargetGroup(target_group_arn="arn:tg/db", target_group_name="db", protocol="TCP", port=5432,
                       cluster="c", id="tg2")
LB = t.LoadBalancer(load_balancer_arn="arn:lb/web", load_balancer_name="web", type="application", cluster="c",
                    id="lb1", default_target_group_arn="arn:tg/web", listeners=[
                        t.Listener(port=8000, protocol="HTTP", default_target_group_arn="arn:tg/web", rules=[
                            t.ListenerRule(rule_arn="r2", priority=20, path_patterns=["/db/*"],
                                           target_group_arn="arn:tg/db"),
                            t.ListenerRule(rule_arn="r1", priority=10, host_patterns=["api.*"],
                                           target_group_arn="arn:tg/web"),
                            t.ListenerRule(rule_arn="r3", priority=5, target_group_arn="arn:tg/gone"),
                        ]),
                        t.Listener(port=9000, protocol="TCP", default_target_group_arn="arn:tg/db",
                                   proxy_protocol=True),
                    ])
NS = t.Namespace(name="lab", cluster="c")
TD = r.TaskDefinition(task_definition_arn="arn:td/web:1", container_definitions=[
    r.ContainerDefinition(name="web", port_mappings=[r.PortMapping(container_port=80, name="http")])])
SVC = r.Service(service_name="web", cluster="c", task_definition="arn:td/web:1",
                load_balancers=[r.ServiceLoadBalancer(target_group_arn="arn:tg/web", container_name="web",
                                                      container_port=80)])
NODES = [r.ContainerInstance(id="n1", cluster="c", address="10.0.0.1", agent_connected=True, status="ACTIVE"),
         r.ContainerInstance(id="n2", cluster="c", address="10.0.0.2", agent_connected=False, status="ACTIVE")]


def task(task_id: str, node: str = "n1", last: str = "RUNNING", desired: str = "RUNNING", health: str = "healthy",
         host_port: int = 32001, deregister_until: float = 0.0, service: str = "web") -> r.Task:
    tk = r.Task(id=task_id, cluster="c", node_id=node, service_name=service, last_status=last,
                desired_status=desired, task_definition_arn="arn:td/web:1", deregister_until=deregister_until,
                containers=[r.Container(name="web", network_bindings=[
                    r.NetworkBinding(container_port=80, host_port=host_port)])])
    if health:
        tk.target_health.add(target_group_arn="arn:tg/web", state=health)
    return tk


def build(tasks, services=(SVC,), lbs=(LB,), groups=(TG, TCP_TG), spaces=(), nodes=NODES) -> t.RoutingTable:
    return build_routing_table("c", services, tasks, nodes, lbs, groups, spaces, 7,
                               taskdefs={TD.task_definition_arn: TD}, now=NOW)


def servers(table: t.RoutingTable, backend: str) -> dict[str, tuple[str, int, bool]]:
    b = next(b for b in table.backends if b.name == backend)
    return {s.name: (s.address, s.port, s.active) for s in b.servers}


@pytest.mark.parametrize(("case", "tk", "expected"), [
    ("running and healthy: in rotation", task("a"), {"a-80": ("10.0.0.1", 32001, True)}),
    ("still initial: listed, out of rotation", task("a", health="initial"), {"a-80": ("10.0.0.1", 32001, False)}),
    ("no check result yet", task("a", health=""), {"a-80": ("10.0.0.1", 32001, False)}),
    ("unhealthy: out of rotation", task("a", health="unhealthy"), {"a-80": ("10.0.0.1", 32001, False)}),
    ("not running yet", task("a", last="ACTIVATING"), {"a-80": ("10.0.0.1", 32001, False)}),
    ("stopping, deregistration delay not over: draining",
     task("a", last="DEACTIVATING", desired="STOPPED", deregister_until=NOW + 5), {"a-80": ("10.0.0.1", 32001, False)}),
    ("stopping, delay over: gone", task("a", desired="STOPPED", deregister_until=NOW - 1), {}),
    ("stopping, not a drained stop: gone", task("a", desired="STOPPED"), {}),
    ("stopped: gone", task("a", last="STOPPED", desired="STOPPED"), {}),
    ("on a lost node: gone, no draining", task("a", node="n2"), {}),
    ("lost node, even while draining", task("a", node="n2", desired="STOPPED", deregister_until=NOW + 5), {}),
    ("no host port bound yet", task("a", host_port=0), {}),
    ("a task of another service", task("a", service="other"), {}),
])
def test_which_tasks_are_servers(case, tk, expected):
    assert servers(build([tk]), "tg1") == expected, case


def test_frontends_follow_listeners_in_priority_order():
    table = build([task("a")])
    assert [(f.name, f.port, f.mode, f.proxy_protocol, f.internal) for f in table.frontends] == [
        ("lb-lb1-8000", 8000, "http", False, False), ("lb-lb1-9000", 9000, "tcp", True, False)]
    http = table.frontends[0]
    # The rule naming an unknown target group has no backend to go to.
    assert [(x.priority, list(x.host_patterns), list(x.path_patterns), x.backend) for x in http.rules] == [
        (10, ["api.*"], [], "tg1"), (20, [], ["/db/*"], "tg2")]
    assert http.default_backend == "tg1" and table.frontends[1].default_backend == "tg2"
    assert [(b.name, b.mode, b.deregistration_delay_seconds) for b in table.backends] == [
        ("tg1", "http", 30), ("tg2", "tcp", 0)]


def test_load_balancer_name_means_its_default_target_group():
    svc = r.Service(service_name="web", cluster="c", load_balancers=[
        r.ServiceLoadBalancer(load_balancer_name="web", container_name="web", container_port=80)])
    assert servers(build([task("a")], services=[svc]), "tg1") == {"a-80": ("10.0.0.1", 32001, True)}


def test_service_registries_give_srv_capable_records_of_healthy_tasks():
    svc = r.Service(service_name="api", cluster="c", service_registries=[
        r.ServiceRegistry(namespace="lab", container_name="web", container_port=80)])
    tasks = [task("a", service="api"), task("b", service="api", health="unhealthy", host_port=32002)]
    table = build(tasks, services=[svc], lbs=(), groups=(), spaces=[NS])
    assert [(d.name, d.via_proxy, d.backend, d.port) for d in table.dns] == [("api.lab", False, "sd-api-80", 80)]
    assert servers(table, "sd-api-80") == {"a-80": ("10.0.0.1", 32001, True), "b-80": ("10.0.0.1", 32002, False)}
    assert not table.frontends


def test_registry_in_an_unknown_namespace_gives_nothing():
    svc = r.Service(service_name="api", cluster="c", service_registries=[
        r.ServiceRegistry(namespace="nope", container_name="web", container_port=80)])
    table = build([task("a", service="api")], services=[svc], lbs=(), groups=(), spaces=[NS])
    assert not table.dns and not table.backends


def test_service_connect_gives_an_internal_frontend_and_proxied_names():
    svc = r.Service(service_name="api", cluster="c", task_definition="arn:td/web:1",
                    service_connect_configuration=r.ServiceConnectConfiguration(
                        enabled=True, namespace="lab", services=[r.ServiceConnectService(
                            port_name="http", discovery_name="api",
                            client_aliases=[r.ServiceConnectClientAlias(port=8080, dns_name="api")])]))
    table = build([task("a", service="api", health="")], services=[svc], lbs=(), groups=(), spaces=[NS])
    [fe] = table.frontends
    assert (fe.name, fe.port, fe.mode, fe.internal) == ("sc-8080", 8080, "http", True)
    assert [(list(x.host_patterns), x.backend) for x in fe.rules] == [(["api", "api.lab"], "sd-api-80")]
    assert [(d.name, d.via_proxy, d.backend, d.port) for d in table.dns] == [
        ("api", True, "sd-api-80", 8080), ("api.lab", True, "sd-api-80", 8080)]
    # No target group: the task is healthy for discovery once its containers are.
    assert servers(table, "sd-api-80") == {"a-80": ("10.0.0.1", 32001, True)}


def test_other_clusters_are_left_out():
    other = t.TargetGroup(target_group_arn="arn:tg/x", protocol="HTTP", cluster="d", id="tgx")
    table = build([task("a")], groups=(TG, TCP_TG, other))
    assert "tgx" not in {b.name for b in table.backends}


def test_equal_inputs_give_byte_equal_tables_whatever_their_order():
    tasks = [task(f"t{i}", host_port=32000 + i) for i in range(20)]
    first = build(tasks).SerializeToString(deterministic=True)
    for seed in range(5):
        shuffled = list(tasks)
        random.Random(seed).shuffle(shuffled)
        assert build(shuffled, groups=(TCP_TG, TG)).SerializeToString(deterministic=True) == first
    assert build_routing_table("c", [SVC], tasks, NODES, [LB], [TG, TCP_TG], [], 7, now=NOW).revision == 7


@pytest.mark.parametrize(("expression", "listening"), [
    ("", [[]]),
    ("attribute:zone == a", [["n1"]]),
    ("attribute:zone in [a, b]", [["n1", "n2"]]),
    ("attribute:zone == c", []),  # no node matches: no node listens, not every node
])
def test_a_load_balancers_node_expression_picks_the_nodes_that_listen(expression, listening):
    nodes = [r.ContainerInstance(id="n1", cluster="c", address="10.0.0.1", agent_connected=True,
                                 attributes=[r.Attribute(name="zone", value="a")]),
             r.ContainerInstance(id="n2", cluster="c", address="10.0.0.2", agent_connected=True,
                                 attributes=[r.Attribute(name="zone", value="b")])]
    lb = t.LoadBalancer(cluster="c", id="lb1", node_expression=expression, listeners=[
        t.Listener(port=8000, protocol="HTTP", default_target_group_arn="arn:tg/web")])
    table = build([task("a")], lbs=[lb], nodes=nodes)
    assert [list(f.node_ids) for f in table.frontends] == listening
    # The target group's backend stays whoever listens.
    assert servers(table, "tg1") == {"a-80": ("10.0.0.1", 32001, True)}


def test_a_long_service_name_gives_backend_names_every_proxy_can_carry():
    """Service names run to 255 characters and HAProxy's proxy names to 100 (config._NAME):
    a name over that made every node refuse the whole table, every load balancer's routes too
    (it is the same table)."""
    long_name = "s" * 255
    svc = r.Service(service_name=long_name, cluster="c", task_definition="arn:td/web:1",
                    service_registries=[r.ServiceRegistry(namespace="lab", container_name="web", container_port=80)],
                    service_connect_configuration=r.ServiceConnectConfiguration(
                        enabled=True, namespace="lab", services=[r.ServiceConnectService(
                            port_name="http", discovery_name="api",
                            client_aliases=[r.ServiceConnectClientAlias(port=8080, dns_name="api")])]))
    other = r.Service(service_name="s" * 254 + "t", cluster="c", task_definition="arn:td/web:1",
                      service_registries=[r.ServiceRegistry(namespace="lab", container_name="web",
                                                            container_port=80)])
    tasks = [task("a", service=long_name, health=""), task("b", service=other.service_name, health="",
                                                           host_port=32002)]
    table = build(tasks, services=[svc, other], lbs=(), groups=(), spaces=[NS])
    rendered = proxy_config.render(table, proxy_config.NodeAddresses("10.0.0.1", "172.17.0.1", 9101, "/run/h.sock"))
    discovery = sorted(b.name for b in table.backends if b.name.startswith("sd-"))
    assert len(discovery) == 2 and all(len(n) <= 100 for n in discovery), discovery
    # Each name still answers with its own service's task.
    by_name = {d.name: d.backend for d in table.dns}
    assert servers(table, by_name[f"{long_name}.lab"]) == {"a-80": ("10.0.0.1", 32001, True)}
    assert servers(table, by_name[f"{other.service_name}.lab"]) == {"b-80": ("10.0.0.1", 32002, True)}
    assert "frontend sc-8080" in rendered.text

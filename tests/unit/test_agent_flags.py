"""The agent's --endpoint/--join read replicas as every other client does (shoal.endpoints);
its --dns flags."""

from __future__ import annotations

import pytest

from agent import main as agent_main
from agent.dns.responder import DnsResponder
from agent.hollow import HollowRuntime
from agent.spec import ContainerDns
from shoal.netutil import free_port
from shoal.v1 import resources_pb2 as r
from shoal.v1 import traffic_pb2 as t


def test_endpoint_lists_replicas_and_brackets_ipv6() -> None:
    assert agent_main._endpoints("cp1:7400, [::1]:7401,") == ["cp1:7400", "[::1]:7401"]


@pytest.mark.parametrize("value", ["", "cp1", "cp1:99999", ":7400"])
def test_a_bad_endpoint_is_a_usage_error_naming_the_flag(value: str) -> None:
    with pytest.raises(agent_main.UsageError, match="^--endpoint: "):
        agent_main._endpoints(value)


def _dns_args(*extra: str):
    return agent_main.parser().parse_args(["--dns", *extra])


class _Bridge(HollowRuntime):
    def bridge_gateway(self) -> str:
        return "172.17.0.1"


def test_dns_listens_on_the_bridge_gateway_and_the_node_address_by_default() -> None:
    r = agent_main.dns_responder(_dns_args("--address", "127.0.0.2", "--dns-upstream", "10.0.0.2:5353"), _Bridge())
    assert r.addresses == ["172.17.0.1", "127.0.0.2"] and r.proxy_address == "172.17.0.1"
    assert r.upstreams == [("10.0.0.2", 5353)] and r.port == 53
    assert agent_main.dns_responder(agent_main.parser().parse_args([]), _Bridge()) is None


@pytest.mark.parametrize("flags,why", [
    (["--dns-address", "0.0.0.0"], "^--dns-address '0.0.0.0': name the addresses"),
    (["--dns-address", "::"], "not a wildcard"),
    (["--dns-address", "node1"], "^--dns-address 'node1': not an IP address"),
    (["--dns-port", "70000"], "^--dns-port: must be 0-65535"),
    (["--dns-upstream", "10.0.0.2,resolver"], "^--dns-upstream 'resolver': not an IP address"),
])
def test_bad_dns_flags_are_usage_errors_naming_the_flag(flags: list[str], why: str) -> None:
    with pytest.raises(agent_main.UsageError, match=why):
        agent_main.dns_responder(_dns_args(*flags), _Bridge())


def test_containers_get_the_responder_only_on_port_53_of_an_address_they_reach() -> None:
    task = r.Task(service_name="api")
    on_bridge = agent_main.dns_responder(_dns_args("--dns-upstream", "10.0.0.2"), _Bridge())
    on_bridge.apply(t.RoutingTable(revision=1, dns=[t.DnsRecord(name="api.lab", backend="sd-api-80")]))
    assert agent_main.container_dns(on_bridge)(task) == ContainerDns(servers=("172.17.0.1",), search=("lab",))
    loopback_only = agent_main.dns_responder(_dns_args("--dns-address", "127.0.0.1"), _Bridge())
    assert agent_main.container_dns(loopback_only) is None
    off_53 = agent_main.dns_responder(_dns_args("--dns-port", "5353"), _Bridge())
    assert agent_main.container_dns(off_53) is None



@pytest.mark.usefixtures("root_logging_kept")
@pytest.mark.parametrize("port", ["-1", "65536"])
def test_a_bad_proxy_metrics_port_is_refused_naming_the_flag(port: str, tmp_path, capsys) -> None:
    code = agent_main.main(["--insecure", "--runtime", "hollow", "--state-dir", str(tmp_path),
                            "--proxy", "--proxy-metrics-port", port])
    assert code == 2
    assert f"--proxy-metrics-port: must be 0-65535, got {port}" in capsys.readouterr().err


def test_the_proxy_binds_its_files_under_the_state_dir_and_containers_reach_it_inside(tmp_path) -> None:
    args = agent_main.parser().parse_args(["--state-dir", str(tmp_path), "--address", "127.0.0.5", "--proxy",
                                           "--proxy-internal-address", "10.9.0.1", "--proxy-metrics-port", "9555"])
    driver = agent_main.make_proxy(args, runtime=None)  # type: ignore[arg-type]
    assert driver.process.config_path == tmp_path / "proxy" / "haproxy.cfg"
    assert (driver.addresses.external, driver.addresses.internal, driver.addresses.metrics_port) == (
        "127.0.0.5", "10.9.0.1", 9555)


@pytest.mark.parametrize("flag", [[], ["--allow-privileged-listener-ports"]])
def test_the_proxy_binds_ports_below_1024_only_with_the_agents_own_flag(tmp_path, flag: list[str]) -> None:
    args = agent_main.parser().parse_args(["--state-dir", str(tmp_path), "--proxy", "--proxy-internal-address",
                                           "10.9.0.1", "--proxy-metrics-port", "9555", *flag])
    driver = agent_main.make_proxy(args, runtime=None)  # type: ignore[arg-type]
    assert driver.addresses.privileged_ports is bool(flag)
    assert agent_main.node_policy(args).privileged_listener_ports is bool(flag)


def test_the_proxy_is_told_the_agents_metrics_and_dns_ports_so_no_route_binds_them(tmp_path, monkeypatch) -> None:
    metrics_port = free_port()
    args = agent_main.parser().parse_args(["--insecure", "--runtime", "hollow", "--state-dir", str(tmp_path),
                                           "--proxy", "--metrics-port", str(metrics_port)])
    responder = DnsResponder(["127.0.0.1"], 0, proxy_address="127.0.0.1", upstreams=[])
    told: list[frozenset[int]] = []

    def make_proxy(args, runtime, reserved_ports=frozenset()):
        told.append(reserved_ports)
        raise agent_main.UsageError("stop before anything else starts")

    monkeypatch.setattr(agent_main, "make_proxy", make_proxy)
    try:
        assert agent_main.run(args, HollowRuntime(), ["127.0.0.1:1"], {}, "", responder=responder) == 2
    finally:
        responder.stop()
    assert told == [frozenset({metrics_port, responder.port})] and responder.port != 0

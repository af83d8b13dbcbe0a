"""The node proxy's pure parts: the HAProxy config rendered from a routing table, the
runtime-API steps between two server sets, and `show proc` parsing."""

from __future__ import annotations

import dataclasses
import re
import shutil
import socket
import subprocess

import pytest

from agent.proxy import config, driver, servers
from agent.proxy.cli import CliError, parse_show_proc
from agent.proxy.config import ConfigError, NodeAddresses, Server
from agent.proxy.process import SOCKET_PATH_MAX, socket_dir_for
from shoal.v1 import traffic_pb2 as t

ADDRS = NodeAddresses(external="10.0.0.5", internal="172.17.0.1", metrics_port=9101,
                      stats_socket="/var/lib/shoal/agent/proxy/haproxy.sock")


def table(**kw) -> t.RoutingTable:
    base = t.RoutingTable(
        revision=7,
        frontends=[
            t.RouteFrontend(name="lb-web-8000", port=8000, mode="http", default_backend="tg-web", rules=[
                t.RouteRule(priority=1, host_patterns=["api.example.com", "*.api.example.com"],
                            path_patterns=["/v1/*"], backend="tg-api"),
                t.RouteRule(priority=2, path_patterns=["/static/?.css"], backend="tg-web"),
            ]),
            t.RouteFrontend(name="lb-db-5432", port=5432, mode="tcp", default_backend="tg-db", proxy_protocol=True),
            t.RouteFrontend(name="sc-8080", port=8080, mode="http", default_backend="sd-api-8080", internal=True),
        ],
        backends=[
            t.RouteBackend(name="tg-web", mode="http", servers=[
                t.RouteServer(name="t1-80", address="10.0.0.5", port=32768, active=True),
                t.RouteServer(name="t2-80", address="10.0.0.6", port=32769, active=False),
            ]),
            t.RouteBackend(name="tg-api", mode="http", deregistration_delay_seconds=120),
            t.RouteBackend(name="tg-db", mode="tcp", servers=[
                t.RouteServer(name="t3-5432", address="10.0.0.7", port=32770, active=True)]),
            t.RouteBackend(name="sd-api-8080", mode="http", servers=[
                t.RouteServer(name="t4-8080", address="10.0.0.7", port=32771, active=True)]),
        ],
    )
    base.MergeFrom(t.RoutingTable(**kw))
    return base


def section(text: str, header: str) -> list[str]:
    lines = text.split("\n\n")
    block = next(b for b in lines if b.startswith(header) or f"\n{header}" in b)
    return [line.strip() for line in block.splitlines()]


def test_global_has_master_worker_admin_socket_with_listener_fds_and_the_exporter():
    out = config.render(table(), ADDRS).text
    assert "    master-worker\n" in out
    assert f"stats socket {ADDRS.stats_socket} mode 600 level admin expose-fd listeners" in out
    exporter = section(out, "frontend shoal-metrics")
    assert "bind 10.0.0.5:9101" in exporter
    assert "http-request use-service prometheus-exporter" in exporter
    # The longest deregistration delay bounds how long an old worker may finish connections.
    assert "hard-stop-after 150s" in out


def test_http_frontend_rules_in_order_then_default_with_forwardfor():
    fe = section(config.render(table(), ADDRS).text, "frontend lb-web-8000")
    assert fe[:4] == ["frontend lb-web-8000", "mode http", "bind 10.0.0.5:8000", "option forwardfor"]
    assert fe[4] == ("acl r0_host req.hdr(host) -m reg -i '^api[.]example[.]com(:[0-9]+)?$' "
                     "'^.*[.]api[.]example[.]com(:[0-9]+)?$'")
    assert fe[5] == "acl r0_path path -m reg '^[/]v1[/].*$'"
    assert fe[6] == "use_backend tg-api if r0_host r0_path"
    assert fe[7:] == ["acl r1_path path -m reg '^[/]static[/].[.]css$'", "use_backend tg-web if r1_path",
                      "default_backend tg-web"]


def test_rendered_patterns_match_as_alb_wildcards():
    """The regexes, read the way HAProxy reads them (inside single quotes), match what ALB's
    patterns match and nothing more."""
    fe = section(config.render(table(), ADDRS).text, "frontend lb-web-8000")
    host = [re.compile(p, re.I) for p in re.findall(r"'([^']*)'", fe[4])]
    path = re.compile(re.findall(r"'([^']*)'", fe[7])[0])
    assert any(h.match("API.example.com:8000") for h in host)
    assert any(h.match("x.y.api.example.com") for h in host)
    assert not any(h.match("apixexample.com") for h in host)
    assert not any(h.match("evil.com/api.example.com") for h in host)
    assert path.match("/static/a.css") and not path.match("/static/ab.css") and not path.match("/static/a.cssx")


def test_tcp_frontend_sends_proxy_v2_from_its_backends_servers_and_internal_binds_inside():
    out = config.render(table(), ADDRS).text
    assert section(out, "frontend lb-db-5432") == ["frontend lb-db-5432", "mode tcp", "bind 10.0.0.5:5432",
                                                   "default_backend tg-db"]
    assert "server t3-5432 10.0.0.7:32770 send-proxy-v2" in section(out, "backend tg-db")
    assert "bind 172.17.0.1:8080" in section(out, "frontend sc-8080")
    assert "server t4-8080 10.0.0.7:32771" in section(out, "backend sd-api-8080")


def test_backends_are_roundrobin_and_draining_servers_start_disabled():
    rendered = config.render(table(), ADDRS)
    web = section(rendered.text, "backend tg-web")
    assert web == ["backend tg-web", "mode http", "balance roundrobin", "server t1-80 10.0.0.5:32768",
                   "server t2-80 10.0.0.6:32769 disabled"]
    assert rendered.servers[("tg-web", "t2-80")] == Server("tg-web", "t2-80", "10.0.0.6", 32769, False)
    assert not [line for line in rendered.skeleton.splitlines() if line.strip().startswith("server ")]


def test_the_skeleton_ignores_servers_and_revision_but_not_routes():
    base = config.render(table(), ADDRS)
    fewer = table()
    del fewer.backends[0].servers[1]
    fewer.revision = 8
    assert config.render(fewer, ADDRS).skeleton == base.skeleton
    rerouted = table()
    rerouted.frontends[0].rules[1].path_patterns[0] = "/img/*"
    assert config.render(rerouted, ADDRS).skeleton != base.skeleton
    unproxied = table()
    unproxied.frontends[1].proxy_protocol = False
    assert config.render(unproxied, ADDRS).skeleton != base.skeleton


def test_the_config_keeps_connections_to_tasks_alive_and_does_no_per_request_work():
    """HAProxy's defaults reuse idle server connections (keep-alive on both sides); a close
    mode, `http-reuse never` or a per-server maxconn would make each task accept or queue per
    request, and a log line would cost a write per request (bench/traffic.py prints the
    connections HAProxy opened beside the requests it sent)."""
    out = config.render(table(), ADDRS).text
    words = [line.split() for line in out.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    for bad in (["option", "httpclose"], ["option", "http-server-close"], ["option", "forceclose"],
                ["option", "http-tunnel"], ["http-reuse", "never"], ["option", "httplog"], ["option", "tcplog"]):
        assert bad not in [w[:2] for w in words], " ".join(bad)
    assert not [w for w in words if w[0] == "log"]
    server_options = [w for w in words if w[0] == "server"]
    assert server_options and not any("maxconn" in w for w in server_options)


def test_a_listener_whose_port_another_program_holds_is_left_out_until_it_is_free():
    """HAProxy fails a whole reload on one bind it cannot make: a Service Connect alias on 22,
    where the host's sshd listens, would have held every route change on the node back."""
    tb = table()
    tb.frontends[2].port = 22
    held = dataclasses.replace(ADDRS, held_elsewhere=frozenset({("172.17.0.1", 22)}))
    out = config.render(tb, held)
    assert out.left_out == (("sc-8080", 22, "another program on this node holds 172.17.0.1:22"),)
    assert out.waits_for_ports and out.binds == {("10.0.0.5", 8000), ("10.0.0.5", 5432)}
    assert re.findall(r"^frontend (\S+)", out.text, re.M) == ["shoal-metrics", "lb-web-8000", "lb-db-5432"]
    # Held on the other address only: this frontend's own bind is free.
    elsewhere = config.render(tb, dataclasses.replace(ADDRS, held_elsewhere=frozenset({("10.0.0.5", 22)})))
    assert elsewhere.left_out == () and not elsewhere.waits_for_ports
    assert config.wanted_binds(tb, ADDRS) == {("10.0.0.5", 8000), ("10.0.0.5", 5432), ("172.17.0.1", 22)}


def test_the_bind_probe_finds_a_port_a_listener_holds_and_not_a_free_one():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert driver.held_elsewhere({("127.0.0.1", port)}) == {("127.0.0.1", port)}
    assert driver.held_elsewhere({("127.0.0.1", port)}) == frozenset()
    # An address this node does not have is HAProxy's to report, not a held port.
    assert driver.held_elsewhere({("192.0.2.77", port)}) == frozenset()


@pytest.mark.skipif(not shutil.which("haproxy"), reason="haproxy not installed")
def test_haproxy_accepts_the_rendered_config(tmp_path):
    path = tmp_path / "haproxy.cfg"
    path.write_text(config.render(table(), ADDRS).text)
    res = subprocess.run(["haproxy", "-c", "-f", str(path)], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


@pytest.mark.parametrize("mutate, field", [
    (lambda tb: setattr(tb.frontends[0], "default_backend", "nope"), "frontends[0] (lb-web-8000).default_backend"),
    (lambda tb: setattr(tb.frontends[0].rules[0], "backend", "tg-db"), "frontends[0] (lb-web-8000).rules[0].backend"),
    (lambda tb: setattr(tb.frontends[1], "mode", "udp"), "frontends[1] (lb-db-5432).mode"),
    (lambda tb: tb.frontends[0].rules[0].host_patterns.append("a'b"), "rules[0].host_patterns"),
    (lambda tb: tb.frontends[0].rules[1].path_patterns.append("/a b"), "rules[1].path_patterns"),
    (lambda tb: tb.frontends[0].rules.add(priority=3, backend="tg-web"), "rules[2]"),
    (lambda tb: setattr(tb.backends[0].servers[0], "address", "web.internal"), "backends[0].servers[0].address"),
    # An IPv6 zone ("%eth0") is free text to ipaddress: a newline there would add config lines.
    (lambda tb: setattr(tb.backends[0].servers[0], "address", "fd00::1%x\n    bind 0.0.0.0:22"),
     "backends[0].servers[0].address"),
    (lambda tb: setattr(tb.backends[0].servers[0], "address", "fd00::1%eth0"), "backends[0].servers[0].address"),
    (lambda tb: setattr(tb.backends[0].servers[1], "name", "t1-80"), "backends[0].servers[1].name"),
    (lambda tb: setattr(tb.backends[0].servers[1], "name", "bad name"), "backends[0].servers[1].name"),
    (lambda tb: setattr(tb.backends[1], "name", "tg-web"), "backends[1].name"),
    (lambda tb: setattr(tb.frontends[2], "name", "shoal-metrics"), "frontends[2].name"),
    (lambda tb: setattr(tb.frontends[0], "proxy_protocol", True), "frontends[0] (lb-web-8000).proxy_protocol"),
])
def test_a_table_the_proxy_cannot_carry_is_refused_naming_the_field(mutate, field):
    tb = table()
    mutate(tb)
    with pytest.raises(ConfigError) as err:
        config.render(tb, ADDRS)
    assert field in str(err.value)


def test_two_frontends_on_one_address_and_port_are_refused_but_inside_and_outside_may_share_a_port():
    tb = table()
    tb.frontends[2].internal = False
    tb.frontends[2].port = 8000
    with pytest.raises(ConfigError, match=r"frontends\[2\] \(sc-8080\)\.port: 10\.0\.0\.5:8000 is already bound "
                                          r"by lb-web-8000"):
        config.render(tb, ADDRS)
    tb.frontends[2].internal = True
    config.render(tb, ADDRS)


def test_a_listener_on_one_of_the_nodes_own_ports_is_left_out_and_the_others_rendered():
    addrs = NodeAddresses(external="10.0.0.5", internal="172.17.0.1", metrics_port=9101,
                          stats_socket="/run/haproxy.sock", reserved=frozenset({9100, 53}))
    tb = table()
    tb.frontends[1].port = 9101  # the proxy's exporter
    tb.frontends[2].port = 53  # the DNS responder, on the side containers reach
    tb.frontends.add(name="lb-agent-9100", port=9100, mode="http", default_backend="tg-web")  # the agent's metrics
    out = config.render(tb, addrs)
    own = "the port is one of this node's own"
    assert out.left_out == (("lb-db-5432", 9101, own), ("sc-8080", 53, own), ("lb-agent-9100", 9100, own))
    assert re.findall(r"^frontend (\S+)", out.text, re.M) == ["shoal-metrics", "lb-web-8000"]
    assert re.findall(r"^\s+bind (\S+)", out.text, re.M) == ["10.0.0.5:9101", "10.0.0.5:8000"]
    assert set(out.servers) == set(config.render(table(), addrs).servers)
    assert config.render(table(), addrs).left_out == ()


def test_a_load_balancer_listener_below_1024_is_left_out_unless_the_node_allows_it():
    """The node judges the port itself: a table from a cluster whose policy is wider than
    this node's, or written around the API, binds no privileged port here."""
    tb = table()
    tb.frontends[0].port = 80
    tb.frontends[2].port = 443  # Service Connect: bound only where this node's containers reach it
    out = config.render(tb, ADDRS)
    assert out.left_out == (("lb-web-8000", 80, "ports below 1024 need this node's "
                                                "--allow-privileged-listener-ports"),)
    assert re.findall(r"^\s+bind (\S+)", out.text, re.M) == ["10.0.0.5:9101", "10.0.0.5:5432", "172.17.0.1:443"]
    allowed = config.render(tb, dataclasses.replace(ADDRS, privileged_ports=True))
    assert allowed.left_out == ()
    assert "10.0.0.5:80" in re.findall(r"^\s+bind (\S+)", allowed.text, re.M)


@pytest.mark.skipif(not shutil.which("haproxy"), reason="haproxy not installed")
def test_haproxy_accepts_a_config_with_a_listener_left_out(tmp_path):
    tb = table()
    tb.frontends[1].port = ADDRS.metrics_port
    path = tmp_path / "haproxy.cfg"
    path.write_text(config.render(tb, ADDRS).text)
    res = subprocess.run(["haproxy", "-c", "-f", str(path)], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


def srv(name: str, active: bool = True, port: int = 1000, backend: str = "b") -> Server:
    return Server(backend, name, "127.0.0.1", port, active)


def cmds(current, desired, parked=()) -> list[str]:
    return [s.command for s in servers.plan({s.key: s for s in current}, {s.key: s for s in desired}, set(parked))]


def test_plan_adds_in_maintenance_then_enables_drains_moves_and_removes():
    assert cmds([srv("a")], [srv("a"), srv("b", port=1001)]) == [
        "add server b/b 127.0.0.1:1001", "set server b/b state ready"]
    assert cmds([srv("a")], [srv("a", active=False)]) == ["set server b/a state drain"]
    assert cmds([srv("a", active=False)], [srv("a")]) == ["set server b/a state ready"]
    assert cmds([srv("a")], [srv("a", port=2000)]) == ["set server b/a addr 127.0.0.1 port 2000",
                                                      "set server b/a state ready"]
    assert cmds([srv("a"), srv("b")], [srv("a")]) == ["set server b/b state maint", "del server b/b"]
    assert cmds([srv("a")], [srv("a")]) == []
    proxied = Server("b", "c", "10.1.1.1", 80, False, proxy_v2=True)
    assert cmds([], [proxied]) == ["add server b/c 10.1.1.1:80 send-proxy-v2", "set server b/c state drain"]


def test_plan_retries_deleting_parked_servers_and_reuses_one_wanted_again():
    assert cmds([srv("a")], [srv("a")], parked=[("b", "old")]) == ["del server b/old"]
    assert cmds([], [srv("old", port=3000)], parked=[("b", "old")]) == [
        "set server b/old addr 127.0.0.1 port 3000", "set server b/old state ready"]
    deletes = [s for s in servers.plan({srv("a").key: srv("a")}, {}, set()) if s.command.startswith("del")]
    assert deletes[0].retry_later and deletes[0].expect == "Server deleted"


def test_show_proc_parsing():
    text = ("#<PID>          <type>          <reloads>       <uptime>        <version>\n"
            "1162            master          5 [failed: 1]   0d00h02m07s     2.6.12\n"
            "# workers\n1271            worker          1               0d00h00m00s     2.6.12\n"
            "# old workers\n1233            worker          3               0d00h00m43s     2.6.12\n"
            "# programs\n\n")
    p = parse_show_proc(text)
    assert (p.master, p.reloads, p.failed, p.workers, p.old_workers) == (1162, 5, 1, [1271], [1233])
    with pytest.raises(CliError):
        parse_show_proc("Unknown command\n")


def test_sockets_leave_a_state_dir_too_deep_for_haproxy(tmp_path):
    assert socket_dir_for(tmp_path) == tmp_path
    deep = tmp_path / ("d" * (SOCKET_PATH_MAX - len(str(tmp_path))))
    private = socket_dir_for(deep)
    try:
        assert private != deep and private.is_dir() and len(str(private / "haproxy.sock")) <= SOCKET_PATH_MAX
    finally:
        private.rmdir()


def test_plan_follows_a_servers_weight_as_a_deployment_shifts_traffic():
    weighted = Server("b", "g", "127.0.0.1", 1000, True, weight=26)
    assert cmds([], [weighted]) == ["add server b/g 127.0.0.1:1000 weight 26", "set server b/g state ready"]
    assert cmds([weighted], [Server("b", "g", "127.0.0.1", 1000, True, weight=256)]) == ["set server b/g weight 256"]
    assert cmds([weighted], [srv("g")]) == ["set server b/g weight 1"]  # the shift is over
    assert cmds([srv("g")], [srv("g")]) == []
    # The driver names what each step did in its sentence.
    assert driver._verb("set server b/g weight 26") == "reweighted"


def test_a_weight_outside_haproxys_range_is_refused():
    tb = t.RoutingTable(cluster="c", revision=1)
    tb.backends.add(name="b", mode="http", servers=[t.RouteServer(name="s", address="127.0.0.1", port=80,
                                                                  active=True, weight=300)])
    with pytest.raises(ConfigError, match=r"backends\[0\]\.servers\[0\]\.weight: 300"):
        config.render(tb, ADDRS)
    tb.backends[0].servers[0].weight = 0
    assert "server s 127.0.0.1:80 weight 0" in config.render(tb, ADDRS).text

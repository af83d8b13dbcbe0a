"""Registered addresses (ELBv2 RegisterTargets) in the routing table and the node proxy's
config: in rotation, draining until their deregistration deadline, then gone; checked by
HAProxy itself with the target group's settings (ELBv2's defaults filled in); a check the
proxy cannot carry refused naming the field; a server added at run time has its checks
switched on."""

from __future__ import annotations

import pytest

from agent.proxy import config, servers
from agent.proxy.config import ConfigError, NodeAddresses, Server
from controlplane.routing.table import build_routing_table
from shoal.v1 import traffic_pb2 as t

NOW = 1_000_000.0
ADDRS = NodeAddresses("127.0.0.1", "127.0.0.1", 9101, "/tmp/s.sock")


def _group(*targets: t.RegisteredTarget, protocol: str = "HTTP") -> t.TargetGroup:
    return t.TargetGroup(target_group_arn="arn:tg/web", target_group_name="web", protocol=protocol, port=80,
                         cluster="c", id="g1", deregistration_delay_seconds=30,
                         health_check=t.HealthCheckConfig(path="/healthz", interval_seconds=7),
                         registered_targets=targets)


def _table(group: t.TargetGroup) -> t.RoutingTable:
    lb = t.LoadBalancer(load_balancer_name="edge", cluster="c", id="lb1", listeners=[
        t.Listener(port=8000, protocol=group.protocol, default_target_group_arn=group.target_group_arn)])
    return build_routing_table("c", [], [], [], [lb], [group], [], 1, now=NOW)


def test_registered_addresses_are_servers_in_rotation_draining_or_gone() -> None:
    table = _table(_group(t.RegisteredTarget(id="10.0.0.5", port=8080),
                          t.RegisteredTarget(id="10.0.0.6", port=80, deregister_until=NOW + 5),
                          t.RegisteredTarget(id="10.0.0.7", port=80, deregister_until=NOW - 1),
                          t.RegisteredTarget(id="fd00::1", port=80)))
    (backend,) = table.backends
    assert [(s.name, s.address, s.port, s.active, s.proxy_checked) for s in backend.servers] == [
        ("ip-10.0.0.5-8080", "10.0.0.5", 8080, True, True),
        ("ip-10.0.0.6-80", "10.0.0.6", 80, False, True),
        ("ip-fd00..1-80", "fd00::1", 80, True, True)]
    hc = backend.health_check
    # The group's own path and interval; ELBv2's HTTP defaults for what it left at zero.
    assert (hc.protocol, hc.path, hc.matcher, hc.interval_seconds, hc.timeout_seconds, hc.healthy_threshold,
            hc.unhealthy_threshold) == ("HTTP", "/healthz", "200", 7, 5, 5, 2)


def test_a_group_without_registered_addresses_has_no_proxy_check() -> None:
    (backend,) = _table(_group()).backends
    assert not backend.HasField("health_check") and not backend.servers


def test_the_proxy_config_checks_registered_servers_with_the_groups_settings() -> None:
    rendered = config.render(_table(_group(t.RegisteredTarget(id="10.0.0.5", port=8080))), ADDRS)
    assert "    server ip-10.0.0.5-8080 10.0.0.5:8080 check\n" in rendered.text
    for line in ("default-server inter 7s rise 5 fall 2", "timeout check 5s", "option httpchk",
                 "http-check send meth GET uri /healthz", "http-check expect status 200"):
        assert f"    {line}\n" in rendered.skeleton, line
    tcp = config.render(_table(_group(t.RegisteredTarget(id="10.0.0.5", port=5432), protocol="TCP")), ADDRS)
    assert "option httpchk" not in tcp.text and "default-server inter 7s" in tcp.text


@pytest.mark.parametrize(("change", "field"), [
    (lambda b: setattr(b.health_check, "path", "/x y"), "health_check.path"),
    (lambda b: setattr(b.health_check, "path", "/x\n    server evil 127.0.0.1:2379"), "health_check.path"),
    (lambda b: setattr(b.health_check, "matcher", "200 or 500"), "health_check.matcher"),
    (lambda b: setattr(b.health_check, "interval_seconds", 0), "health_check.interval_seconds"),
    (lambda b: b.ClearField("health_check"), "proxy_checked"),
])
def test_a_check_the_proxy_cannot_carry_is_refused_naming_the_field(change, field) -> None:
    table = _table(_group(t.RegisteredTarget(id="10.0.0.5", port=8080)))
    change(table.backends[0])
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        config.render(table, ADDRS)


def test_a_checked_server_added_at_run_time_has_its_checks_enabled() -> None:
    checked = Server("g1", "ip-10.0.0.5-80", "10.0.0.5", 80, True, checked=True)
    task = Server("g1", "t1-80", "10.0.0.9", 32768, True)
    steps = [s.command for s in servers.plan({}, {checked.key: checked, task.key: task}, set())]
    assert steps == ["add server g1/ip-10.0.0.5-80 10.0.0.5:80 check", "enable health g1/ip-10.0.0.5-80",
                     "set server g1/ip-10.0.0.5-80 state ready", "add server g1/t1-80 10.0.0.9:32768",
                     "set server g1/t1-80 state ready"]

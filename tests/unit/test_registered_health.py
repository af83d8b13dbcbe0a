"""DescribeTargetHealth for addresses registered with RegisterTargets: what the gateway
stores from each node's proxy (``api/proxy_checks.py``) combined by
``api/registered_health.py``, driven through the control plane's own handlers on an
in-memory store; and the agent's reading of HAProxy's ``show stat`` (``proxy/checks.py``)."""

from __future__ import annotations

import pytest

from agent.proxy import checks
from agent.proxy import driver as driver_mod
from agent.proxy.config import Server
from controlplane.api import proxy_checks, registered_targets, targetgroups
from controlplane.api.context import ApiContext
from controlplane.writers import check as writer_check
from shoal import keys
from shoal.store.memory import MemoryStore
from shoal.v1 import resources_pb2 as r
from shoal.v1 import traffic_pb2 as t

ADDR, PORT = "10.9.0.5", 8080


@pytest.fixture
def ctx() -> ApiContext:
    c = ApiContext(MemoryStore())
    c.ensure_default_cluster()
    return c


def _node(ctx: ApiContext, node_id: str, connected: bool = True) -> None:
    n = r.ContainerInstance(id=node_id, cluster="default", status="ACTIVE", agent_connected=connected)
    ctx.store.put(keys.node("default", node_id), n.SerializeToString())


def _group(ctx: ApiContext) -> t.TargetGroup:
    targetgroups.create(ctx, t.CreateTargetGroupRequest(name="outside", protocol="HTTP", port=PORT,
                                                        deregistration_delay_seconds=0))
    return _register(ctx)


def _register(ctx: ApiContext) -> t.TargetGroup:
    return registered_targets.register(ctx, t.RegisterTargetsRequest(
        target_group="outside", targets=[t.RegisteredTarget(id=ADDR, port=PORT)])).target_group


def _report(ctx: ApiContext, group: t.TargetGroup, node_id: str, state: str, reason: str = "",
            description: str = "", claimed: str = "") -> None:
    h = r.TargetHealth(state=state, reason=reason, description=description)
    proxy_checks.store(ctx, "default", node_id, t.NodeProxyChecks(node_id=claimed, results=[
        t.ProxyCheckResult(target_group_id=group.id, address=ADDR, port=PORT, health=h)]))


def _health(ctx: ApiContext) -> list[tuple[str, str, str]]:
    resp = targetgroups.target_health(ctx, t.TargetGroupRef(target_group="outside"))
    return [(x.health.state, x.health.reason, x.health.description) for x in resp.targets]


def test_initial_until_a_connected_nodes_proxy_reports_a_result(ctx) -> None:
    group = _group(ctx)
    _node(ctx, "n1")
    assert _health(ctx) == [("initial", "Elb.InitialHealthChecking", "Initial health checking in progress")]
    _report(ctx, group, "n1", "initial", "Elb.InitialHealthChecking", "Initial health checking in progress")
    assert _health(ctx)[0][0] == "initial"
    _report(ctx, group, "n1", "healthy")
    assert _health(ctx) == [("healthy", "", "")]


def test_healthy_only_while_no_reporting_node_fails_its_checks(ctx) -> None:
    group = _group(ctx)
    for n in ("n1", "n2", "n3"):
        _node(ctx, n)
    _report(ctx, group, "n1", "healthy")
    _report(ctx, group, "n2", "initial")  # no result yet: does not hold the others back
    assert _health(ctx)[0][0] == "healthy"
    _report(ctx, group, "n3", "unhealthy", "Target.Timeout", "Request timed out")
    state, reason, description = _health(ctx)[0]
    assert (state, reason) == ("unhealthy", "Target.Timeout")
    assert description == "Request timed out on 1 of 3 reporting nodes' proxies (first: node n3)"
    _report(ctx, group, "n1", "unhealthy", "Target.FailedHealthChecks", "Health checks failed: Connection refused")
    assert _health(ctx)[0][:2] == ("unhealthy", "Target.FailedHealthChecks")
    assert "2 of 3" in _health(ctx)[0][2]


def test_a_lost_nodes_last_report_is_ignored(ctx) -> None:
    group = _group(ctx)
    _node(ctx, "n1")
    _node(ctx, "lost", connected=False)
    _report(ctx, group, "lost", "unhealthy", "Target.FailedHealthChecks", "Health checks failed")
    _report(ctx, group, "n1", "healthy")
    assert _health(ctx)[0][0] == "healthy"
    # The lost node alone: nobody has a result, whatever it said last.
    _node(ctx, "n1", connected=False)
    assert _health(ctx)[0][0] == "initial"


def test_a_report_from_before_the_address_was_registered_again_is_stale(ctx) -> None:
    group = _group(ctx)
    _node(ctx, "n1")
    _report(ctx, group, "n1", "unhealthy", "Target.FailedHealthChecks", "Health checks failed")
    assert _health(ctx)[0][0] == "unhealthy"
    registered_targets.deregister(ctx, t.RegisterTargetsRequest(
        target_group="outside", targets=[t.RegisteredTarget(id=ADDR, port=PORT)]))
    assert _health(ctx) == []
    _register(ctx)
    assert _health(ctx)[0][0] == "initial"


def test_draining_whatever_the_proxies_say(ctx) -> None:
    group = _group(ctx)
    targetgroups.modify(ctx, t.ModifyTargetGroupRequest(target_group="outside", deregistration_delay_seconds=300))
    _node(ctx, "n1")
    _report(ctx, group, "n1", "healthy")
    registered_targets.deregister(ctx, t.RegisterTargetsRequest(
        target_group="outside", targets=[t.RegisteredTarget(id=ADDR, port=PORT)]))
    assert _health(ctx) == [("draining", "Target.DeregistrationInProgress", "Target deregistration is in progress")]


def test_the_gateway_stores_a_report_under_the_streams_node_only(ctx) -> None:
    group = _group(ctx)
    _node(ctx, "n1")
    _node(ctx, "n2")
    # n1 claims to be n2: stored as n1's, so n2 has said nothing.
    _report(ctx, group, "n1", "unhealthy", "Target.FailedHealthChecks", "x", claimed="n2")
    stored = [t.NodeProxyChecks.FromString(kv.value) for kv in ctx.store.list(keys.proxy_checks("default")).kvs]
    assert [x.node_id for x in stored] == ["n1"]
    assert "(first: node n1)" in _health(ctx)[0][2]
    # Only the gateway's module may write these records.
    writer_check(keys.proxy_checks("default", "n1"), "controlplane.api.proxy_checks")
    with pytest.raises(RuntimeError, match="only controlplane.api.proxy_checks"):
        writer_check(keys.proxy_checks("default", "n1"), "controlplane.api.targetgroups")


STAT = ("# pxname,svname,status,check_status,check_code,check_desc\n"
        "g1,ip-10.0.0.1-80,UP,L7OK,200,Layer7 check passed\n"
        "g1,ip-10.0.0.2-80,DOWN,L7STS,404,Layer7 wrong status\n"
        "g1,ip-10.0.0.3-80,DOWN,* L4CON,,Layer4 connection problem\n"
        "g1,ip-10.0.0.4-80,DOWN 1/2,L4TOUT,,Layer4 timeout\n"
        "g1,ip-10.0.0.5-80,UP,INI,,Initializing\n"
        "g1,ip-10.0.0.6-80,MAINT,L7OK,200,\n"
        "g1,task-80,UP,,,\n")


def test_show_stat_rows_become_elbv2_verdicts() -> None:
    servers = [Server("g1", f"ip-10.0.0.{i}-80", f"10.0.0.{i}", 80, True, checked=True) for i in range(1, 7)]
    servers.append(Server("g1", "task-80", "10.0.0.9", 80, True))  # a task: its own agent checks it
    got = {x.address: (x.health.state, x.health.reason, x.health.description)
           for x in checks.results(STAT, servers)}
    assert got == {
        "10.0.0.1": ("healthy", "", ""),
        "10.0.0.2": ("unhealthy", "Target.ResponseCodeMismatch", "Health checks failed with these codes: [404]"),
        "10.0.0.3": ("unhealthy", "Target.FailedHealthChecks", "Health checks failed: Layer4 connection problem"),
        "10.0.0.4": ("unhealthy", "Target.Timeout", "Request timed out"),
        "10.0.0.5": ("initial", "Elb.InitialHealthChecking", "Initial health checking in progress"),
    }
    assert all(x.target_group_id == "g1" and x.port == 80 for x in checks.results(STAT, servers))


def test_the_proxy_driver_sends_its_checks_when_they_change_and_again_later(tmp_path, monkeypatch) -> None:
    d = driver_mod.ProxyDriver(tmp_path, "127.0.0.1", "127.0.0.1", 1)
    sent: list[t.NodeProxyChecks] = []
    now = [100.0]
    got: list[t.ProxyCheckResult] = []
    monkeypatch.setattr(driver_mod.time, "monotonic", lambda: now[0])
    monkeypatch.setattr(d, "checks", lambda: list(got))
    d.on_checks = sent.append
    assert d.report_checks() == "" and sent == []  # nothing checked, nothing ever said: no record
    got.append(t.ProxyCheckResult(target_group_id="g1", address=ADDR, port=PORT,
                                  health=r.TargetHealth(state="healthy")))
    assert d.report_checks() == "reported the proxy's checks of registered addresses: 1 healthy"
    assert d.report_checks() == ""  # unchanged
    now[0] += driver_mod.CHECKS_RESEND
    assert d.report_checks() != ""  # unchanged, but resent for a new stream or replica
    got.clear()
    assert d.report_checks() == "reported the proxy's checks of registered addresses: none checked"
    now[0] += driver_mod.CHECKS_RESEND
    assert d.report_checks() == ""  # an empty report is said once
    assert [len(x.results) for x in sent] == [1, 1, 0]

"""ELBv2 RegisterTargets end to end: a real control plane on a real etcd (started with
--allow-local-targets, the explicit flag that lets a test register a loopback address),
boto3's ``elbv2`` client, the routing table its publisher streams to a connected agent, and
that table applied to a real HAProxy whose check results go up the agent's stream as the
agent sends them. An ip target (a plain HTTP server on a free loopback port) takes requests
through the listener and reads ``healthy`` in DescribeTargetHealth; HAProxy's own check
takes it out when it dies and DescribeTargetHealth says ``unhealthy``; DeregisterTargets
drains it and then removes it."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.proxy.driver import ProxyDriver
from shoal.netutil import free_port
from shoal.v1 import traffic_pb2 as t
from tests.integration.test_ecs_gateway import Plane
from tests.integration.test_elbv2_gateway import elbv2_client
from tests.integration.test_node_proxy import BACKEND, get
from tests.waiting import wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def plane(tmp_path: Path) -> Iterator[Plane]:
    if not shutil.which("haproxy"):
        pytest.fail("haproxy is not installed; run scripts/bootstrap.sh", pytrace=False)
    p = Plane(tmp_path, "--allow-local-targets")
    try:
        yield p
    finally:
        p.stop()


@pytest.fixture
def proxy() -> Iterator[ProxyDriver]:
    workdir = tempfile.mkdtemp(prefix="shoal-regt-")  # short: the master's socket path
    driver = ProxyDriver(Path(workdir), "127.0.0.1", "127.0.0.1", free_port())
    driver.start()
    yield driver
    driver.stop()
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def backend() -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(BACKEND), "http", str(port), "outside"], stdout=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
    yield port, proc
    proc.terminate()
    proc.wait(10)


def _answer(port: int) -> tuple[int, str] | None:
    try:
        return get(port, timeout=5)
    except OSError:
        return None


def test_an_ip_target_registered_with_boto3_takes_requests_through_haproxy(plane, proxy, backend) -> None:
    target_port, target = backend
    agent = plane.add_agent("node-1", "a")
    proxy.on_checks = agent.send_proxy_checks  # as the agent wires its proxy to its stream
    elbv2 = elbv2_client(plane, plane.access_key())
    listen = free_port()
    lb = elbv2.create_load_balancer(Name="edge", Type="application")["LoadBalancers"][0]
    tg = elbv2.create_target_group(Name="outside", Protocol="HTTP", Port=80, TargetType="ip",
                                   HealthCheckPath="/", HealthCheckIntervalSeconds=5, HealthCheckTimeoutSeconds=2,
                                   HealthyThresholdCount=2,
                                   UnhealthyThresholdCount=2)["TargetGroups"][0]
    arn = tg["TargetGroupArn"]
    elbv2.modify_target_group_attributes(TargetGroupArn=arn, Attributes=[
        {"Key": "deregistration_delay.timeout_seconds", "Value": "8"}])
    elbv2.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=listen,
                          DefaultActions=[{"Type": "forward", "TargetGroupArn": arn}])
    elbv2.register_targets(TargetGroupArn=arn, Targets=[{"Id": "127.0.0.1", "Port": target_port}])

    def servers() -> list:
        tables = list(agent.routing)
        if not tables:
            return []
        return [s for b in tables[-1].backends for s in b.servers]

    wait_for(lambda: [(s.address, s.port, s.active) for s in servers()] == [("127.0.0.1", target_port, True)], 60,
             "the registered address in the routing table the agent was sent")
    proxy.apply(agent.routing[-1])
    wait_for(lambda: _answer(listen) == (200, "outside"), 60, "the listener to answer from the registered address")
    wait_for(lambda: _health(elbv2, arn) == [({"Id": "127.0.0.1", "Port": target_port}, "healthy", None)], 90,
             "DescribeTargetHealth to say healthy once the node's HAProxy checks pass")

    # Deregistered: draining in the table (no new requests), then gone once the delay ends.
    sent_before = len(agent.routing)
    elbv2.deregister_targets(TargetGroupArn=arn, Targets=[{"Id": "127.0.0.1", "Port": target_port}])
    (row,) = elbv2.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
    assert row["TargetHealth"]["State"] == "draining"

    def draining() -> t.RoutingTable | None:
        return next((x for x in list(agent.routing)[sent_before:]
                     if [s.active for b in x.backends for s in b.servers] == [False]), None)

    wait_for(lambda: draining() is not None, 60, "the target draining in a routing table the agent was sent")
    proxy.apply(draining())
    wait_for(lambda: (_answer(listen) or (0,))[0] == 503, 60, "no new request reaching the draining target")
    wait_for(lambda: servers() == [], 60, "the target leaving the routing table after the delay")
    assert elbv2.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"] == []

    # Registered again, then the address dies: HAProxy's own check takes it out of rotation.
    elbv2.register_targets(TargetGroupArn=arn, Targets=[{"Id": "127.0.0.1", "Port": target_port}])
    wait_for(lambda: [s.active for s in servers()] == [True], 60, "the target back in the routing table")
    proxy.apply(agent.routing[-1])
    wait_for(lambda: _answer(listen) == (200, "outside"), 60, "the target answering again")
    wait_for(lambda: [x[1] for x in _health(elbv2, arn)] == ["healthy"], 90,
             "DescribeTargetHealth to say healthy again for the address registered anew")
    name = f"ip-127.0.0.1-{target_port}"
    assert _status(proxy, name).startswith("UP")
    target.terminate()
    target.wait(10)
    wait_for(lambda: _status(proxy, name).startswith("DOWN"), 60, "HAProxy's own check marking the dead address DOWN")
    assert (_answer(listen) or (0,))[0] == 503
    wait_for(lambda: _health(elbv2, arn) == [({"Id": "127.0.0.1", "Port": target_port}, "unhealthy",
                                              "Target.FailedHealthChecks")], 90,
             "DescribeTargetHealth to say unhealthy once the node's HAProxy checks fail")
    (row,) = elbv2.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
    assert "on 1 of 1 reporting nodes' proxies" in row["TargetHealth"]["Description"]


def _health(elbv2, arn: str) -> list[tuple[dict, str, str | None]]:
    rows = elbv2.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
    return [(x["Target"], x["TargetHealth"]["State"], x["TargetHealth"].get("Reason")) for x in rows]


def _status(proxy: ProxyDriver, server: str) -> str:
    """The server's status in HAProxy's ``show stat`` (UP, DOWN, DRAIN, MAINT, ...)."""
    lines = proxy.process.cli.worker("show stat").splitlines()
    header = lines[0].lstrip("# ").split(",")
    for line in lines[1:]:
        row = dict(zip(header, line.split(","), strict=False))
        if row.get("svname") == server:
            return row.get("status", "")
    return ""

"""Node proxies in a local cluster: each agent process runs HAProxy on a loopback address of
its own, tells the control plane its exporter port, and Prometheus finds the exporter
through /sd; per-backend request counts land in Prometheus after traffic."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

import pytest
import requests

from agent import credentials
from agent.agent import Agent, AgentConfig
from agent.connection import GatewayClient, Registration
from agent.hollow import HollowRuntime
from agent.host import HostProbe
from agent.proxy.driver import ProxyDriver
from autoscaler.policies import metric_expression
from shoal.netutil import free_port
from shoal.scaling_terms import REQUESTS
from shoal.v1 import operator_pb2 as op
from shoal.v1 import scaling_pb2 as sc
from shoal.v1 import traffic_pb2 as t
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

BACKEND = Path(__file__).resolve().parents[1] / "http_backend.py"
NODE_ADDRESS = "127.0.0.200"


def promql(url: str, query: str) -> list[dict]:
    resp = requests.get(f"{url}/api/v1/query", params={"query": query}, timeout=5)
    resp.raise_for_status()
    return resp.json()["data"]["result"]


def test_agents_run_proxies_whose_backend_metrics_reach_prometheus(make_cluster, tmp_path):
    cluster = make_cluster(agents=2, prometheus=True, autoscaler=False)
    assert cluster.prometheus_url, "Prometheus must be installed for this test"
    arns = list(cluster.operator.ListContainerInstances(op.ListContainerInstancesRequest(cluster="default")).arns)
    nodes = cluster.operator.DescribeContainerInstances(
        op.DescribeContainerInstancesRequest(cluster="default", container_instances=arns)).container_instances
    # Agents sharing this host each have a loopback address of their own.
    assert sorted(n.address for n in nodes) == ["127.0.0.2", "127.0.0.3"]
    for n in nodes:
        assert n.proxy_metrics_port > 0
        with urllib.request.urlopen(f"http://{n.address}:{n.proxy_metrics_port}/metrics", timeout=5) as resp:
            assert b"haproxy_process_start_time_seconds" in resp.read()
    wait_for(lambda: len([s for s in promql(cluster.prometheus_url, 'up{component="proxy"}')
                          if s["value"][1] == "1"]) == 2, 60, "Prometheus scraping both node proxies")

    # A node whose routing table has a backend: an agent in this process, joined like any
    # other, with the real driver as its routing consumer.
    backend = subprocess.Popen([sys.executable, str(BACKEND), "http", str(port := free_port()), "m1"],
                               stdout=subprocess.PIPE)
    workdir = tempfile.mkdtemp(prefix="shoal-proxy-test-")
    driver = ProxyDriver(Path(workdir), NODE_ADDRESS, NODE_ADDRESS, free_port(NODE_ADDRESS))
    client = agent = None
    try:
        assert backend.stdout is not None and backend.stdout.readline().strip() == b"ready"
        driver.start()
        endpoints = cluster.endpoint_list.split(",")
        token = cluster.security_env().get("SHOAL_JOIN_TOKEN", "")
        tls, node_id = (credentials.resolve(str(tmp_path / "node"), endpoints[0], token, "proxy-node", "default", "")
                        if token else (None, ""))
        agent = Agent(AgentConfig(cluster="default", node_id=node_id), HollowRuntime())
        agent.routing_consumers.append(driver)
        reg = Registration(cluster="default", hostname="proxy-node", cpu_units=1024, memory_mib=512,
                           address=NODE_ADDRESS, state_dir=str(tmp_path / "node"),
                           proxy_metrics_port=driver.addresses.metrics_port)
        client = GatewayClient(endpoints, reg, agent, HostProbe(), tls=tls, insecure=not token)
        if not node_id:
            assert client.register_until_done()
        agent.restore()
        agent.start()
        client.start()
        fe = free_port(NODE_ADDRESS)
        said = agent.apply_routing(t.RoutingTable(
            revision=1,
            frontends=[t.RouteFrontend(name="lb-m-1", port=fe, mode="http", default_backend="tg-metrics")],
            backends=[t.RouteBackend(name="tg-metrics", mode="http", servers=[
                t.RouteServer(name="m1-80", address="127.0.0.1", port=port, active=True)])]))
        assert "reloaded haproxy for routing table revision 1" in said, said
        for _ in range(25):
            assert requests.get(f"http://{NODE_ADDRESS}:{fe}/", timeout=5).text == "m1\n"
        query = 'haproxy_backend_http_requests_total{proxy="tg-metrics",component="proxy"}'
        series = wait_for(lambda: [s for s in promql(cluster.prometheus_url, query) if float(s["value"][1]) >= 25],
                          60, "the backend's request count in Prometheus")
        assert series[0]["metric"]["node"] == agent.node_id
        # ALBRequestCountPerTarget's PromQL reads these very series: requests per minute per
        # healthy target (one active server here), once rate() has two samples.
        expr = metric_expression(sc.TargetTrackingConfiguration(predefined_metric_type=REQUESTS), "default", "m",
                                 "60s", "tg-metrics")

        def per_target_now() -> list[float]:
            # Requests keep coming, so the counter grows between two scrapes.
            for _ in range(5):
                requests.get(f"http://{NODE_ADDRESS}:{fe}/", timeout=5)
            return [float(s["value"][1]) for s in promql(cluster.prometheus_url, expr) if float(s["value"][1]) > 0]

        per_target = wait_for(per_target_now, 60, "requests per target in Prometheus")
        assert len(per_target) == 1
        healthy = promql(cluster.prometheus_url, 'max(haproxy_backend_active_servers{proxy="tg-metrics"})')
        assert float(healthy[0]["value"][1]) == 1
    finally:
        if client is not None:
            client.stop()
        if agent is not None:
            agent.stop()
        driver.stop()
        shutil.rmtree(workdir, ignore_errors=True)
        backend.terminate()
        backend.wait(10)

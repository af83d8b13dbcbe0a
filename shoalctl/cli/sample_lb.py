"""The quick start's load balancer: `shoal up` puts its sample service behind load balancer
"web", with an HTTP listener on a port free on every node's own address (8000 when it can),
so the first thing to try is one stable URL rather than each task's dynamic host port."""

from __future__ import annotations

import urllib.error
import urllib.request

import grpc

from shoal.v1 import traffic_pb2 as t
from shoal.v1 import traffic_pb2_grpc
from shoalctl.cli.errors import CliError
from shoalctl.local.agents import agent_loopback
from shoalctl.local.cluster import LocalCluster
from shoalctl.local.ports import port_free
from shoalctl.local.statefiles import CLUSTER

NAME = "web"
PORTS = range(8000, 8100)


def pick_port(cluster: LocalCluster) -> int:
    """The first port of PORTS free on every agent's address and outside every agent's
    dynamic host port block (the API refuses a listener there)."""
    blocks = [a.dynamic_ports for a in cluster.agents.values() if a.dynamic_ports]
    for port in PORTS:
        if any(low <= port <= high for low, high in blocks):
            continue
        if all(port_free(port, agent_loopback(n)) for n in cluster.agents):
            return port
    raise CliError(f"no port of {PORTS.start}-{PORTS.stop - 1} is free on every node's address for the sample "
                   "load balancer; free one, or pass --no-sample")


def ensure(cluster: LocalCluster) -> int:
    """Load balancer "web" with an HTTP listener (made unless a listener exists already, on
    a cluster started again from its state dir); returns the listener's port."""
    stub = traffic_pb2_grpc.TrafficStub(cluster.channel)
    try:
        try:
            stub.CreateLoadBalancer(t.CreateLoadBalancerRequest(cluster=CLUSTER, name=NAME), timeout=30)
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.ALREADY_EXISTS:
                raise
        lb = stub.DescribeLoadBalancers(t.DescribeLoadBalancersRequest(cluster=CLUSTER, load_balancers=[NAME]),
                                        timeout=30).load_balancers[0]
        if lb.listeners:
            return lb.listeners[0].port
        port = pick_port(cluster)
        stub.CreateListener(t.CreateListenerRequest(cluster=CLUSTER, load_balancer=NAME, port=port, protocol="HTTP"),
                            timeout=30)
        return port
    except grpc.RpcError as exc:
        raise CliError(f"the sample load balancer {NAME!r}: {exc.details()}") from None


def url(port: int) -> str:
    """The URL on agent-1's address; every node's address answers the same."""
    return f"http://{agent_loopback(1)}:{port}/"


def node_addresses(cluster: LocalCluster) -> str:
    numbers = sorted(cluster.agents)
    first, last = agent_loopback(numbers[0]), agent_loopback(numbers[-1])
    return first if first == last else f"{first} to {last}"


def answers(address: str) -> bool:
    try:
        with urllib.request.urlopen(address, timeout=2) as resp:
            return resp.status == 200 and resp.read().startswith(b"hello from ")
    except (OSError, urllib.error.URLError):
        return False

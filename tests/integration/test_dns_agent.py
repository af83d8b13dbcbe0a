"""The whole path on one node: an agent process started with --dns, a routing table pushed
down its stream (from the fake AgentGateway), and the tasks it starts in Docker resolving a
service by name through the node's responder and reaching it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from dnslib import QTYPE, DNSRecord

from shoal.netutil import free_port
from shoal.v1 import agent_pb2
from shoal.v1 import resources_pb2 as r
from shoal.v1 import traffic_pb2 as t
from tests.bridge import own_network
from tests.fakegateway import FakeGateway, assignment, served
from tests.waiting import wait_for

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def gateway() -> Iterator[FakeGateway]:
    yield from served(0.5)


@pytest.fixture
def node_gateway(docker_client) -> Iterator[str]:
    """A Docker network of this test's own, for its gateway: a host address nobody else binds,
    so the agent's responder can take port 53 there."""
    with own_network(docker_client) as gateway:
        yield gateway


def _resolves(address: str, name: str) -> list[str]:
    try:
        reply = DNSRecord.parse(DNSRecord.question(name).send(address, 53, timeout=2))
    except OSError:
        return []
    return [str(rr.rdata) for rr in reply.rr if rr.rtype == QTYPE.A]


def test_tasks_of_an_agent_with_dns_find_a_service_by_name(gateway, node_gateway, tmp_path, node_cleanup,
                                                         docker_client, busybox_image):
    state_dir, log_path = tmp_path / "dns-node", tmp_path / "agent.log"
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "agent", "--endpoint", gateway.endpoint, "--state-dir", str(state_dir),
             "--insecure", "--name", "dns-node", "--resync-interval", "1", "--gc-delay", "60", "--stop-timeout", "2",
             "--dns", "--dns-address", node_gateway, "--dns-upstream", "127.0.0.1:9"],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def agent_log() -> str:
        return log_path.read_text(errors="replace")[-4000:]

    try:
        node_id = wait_for(lambda: json.loads((state_dir / "node.json").read_text())["node_id"], 30,
                           f"the agent to register; log:\n{agent_log()}")
        node_cleanup.add(node_id)
        wait_for(lambda: gateway.connected(node_id), 30, "the agent's stream")
        host_port = free_port()
        api = assignment(None, [r.ContainerDefinition(
            name="web", image=busybox_image,
            command=["sh", "-c", "echo hello-from-api > /index.html && exec httpd -f -p 8080 -h /"],
            port_mappings=[r.PortMapping(container_port=8080, protocol="tcp")])],
            bindings={"web": [(8080, host_port)]}, service="api")
        gateway.assign(node_id, [api])
        wait_for(lambda: (s := gateway.state(api.task.id)) and s.last_status == "RUNNING", 60,
                 f"the api task RUNNING; log:\n{agent_log()}")
        # What the routing builder would push: api.lab at its task; the client's service
        # registered in the same namespace (no task yet).
        table = t.RoutingTable(cluster="default", revision=5, backends=[
            t.RouteBackend(name="sd-api-8080", mode="http", servers=[
                t.RouteServer(name=f"{api.task.id}-8080", address=node_gateway, port=host_port, active=True)]),
            t.RouteBackend(name="sd-client-80", mode="http"),
        ], dns=[
            t.DnsRecord(name="api.lab", backend="sd-api-8080", port=8080),
            t.DnsRecord(name="client.lab", backend="sd-client-80", port=80),
        ])
        gateway.send(node_id, agent_pb2.ControlMessage(routing=table))
        wait_for(lambda: _resolves(node_gateway, "api.lab") == [node_gateway], 30,
                 f"the node's responder to answer api.lab; log:\n{agent_log()}")

        client = assignment(None, [r.ContainerDefinition(name="probe", image=busybox_image, command=[
            "sh", "-c", "cat /etc/resolv.conf; nslookup api.lab; "
            f"printf 'GET /index.html HTTP/1.0\\r\\n\\r\\n' | nc -w 3 api {host_port}"])], service="client")
        gateway.assign(node_id, [api, client])
        done = wait_for(lambda: (s := gateway.state(client.task.id)) and s.last_status == "STOPPED" and s, 60,
                        f"the client task to finish; log:\n{agent_log()}")
        found = docker_client.containers.list(all=True, filters={"label": f"shoal.task={client.task.id}"})
        assert len(found) == 1, f"{done}\n{agent_log()}"
        output = found[0].logs().decode()
        assert done.containers[0].exit_code == 0, output
        assert f"nameserver {node_gateway}" in output and "search lab" in output
        assert "hello-from-api" in output
        assert "answering 2 names in 1 namespaces (lab) at revision 5" in log_path.read_text()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=20)

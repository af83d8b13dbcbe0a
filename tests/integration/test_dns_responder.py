"""The node's DNS responder for real: a responder on a free port asked over UDP and TCP, a
fake upstream on loopback it forwards to, the agent process with --dns, and busybox
containers started through the runtime layer with Docker's dns option resolving a service."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator

import psutil
import pytest
from dnslib import QTYPE, RCODE, RR, DNSRecord
from dnslib.server import DNSServer

from agent import spec
from agent.dns import server
from agent.dns.responder import DnsResponder
from agent.docker_runtime import DockerRuntime
from shoal.netutil import free_port
from shoal.v1 import resources_pb2 as r
from shoal.v1 import traffic_pb2 as t
from tests.bridge import own_network
from tests.fakegateway import assignment
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

OUTSIDE = "outside.example.test"
# What the fake upstream resolves: a name of the test domain and a real public one.
KNOWN = {OUTSIDE: "198.51.100.7", "pypi.org": "198.51.100.8"}


class _Upstream:
    """The host's resolver, as far as the test needs one: it knows one name."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def resolve(self, request: DNSRecord, handler) -> DNSRecord:
        self.asked.append(f"{handler.protocol}:{request.q.qname}")
        reply = request.reply()
        name = str(request.q.qname).rstrip(".")
        if name in KNOWN and request.q.qtype == QTYPE.A:
            reply.add_answer(*RR.fromZone(f"{name}. 60 A {KNOWN[name]}"))
        else:
            reply.header.rcode = RCODE.NXDOMAIN
        return reply


class _Quiet:
    def __getattr__(self, name):
        return lambda *args: None


@pytest.fixture
def fake_upstream() -> Iterator[tuple[_Upstream, int]]:
    port = free_port()
    resolver = _Upstream()
    servers = [DNSServer(resolver, port=port, address="127.0.0.1", tcp=tcp, logger=_Quiet()) for tcp in (False, True)]
    for s in servers:
        s.start_thread()
    yield resolver, port
    for s in servers:
        s.stop()
        s.server.server_close()


def routing(api_servers: list[t.RouteServer], revision: int = 1) -> t.RoutingTable:
    return t.RoutingTable(
        cluster="default", revision=revision,
        backends=[t.RouteBackend(name="sd-api-8080", mode="http", servers=api_servers)],
        dns=[t.DnsRecord(name="api.lab", backend="sd-api-8080", port=8080)],
    )


def tasks(n: int, address: str = "192.0.2.10", first_port: int = 31000) -> list[t.RouteServer]:
    return [t.RouteServer(name=f"task{i:02d}-8080", address=address, port=first_port + i, active=True)
            for i in range(n)]


def query(port: int, name: str, qtype: str = "A", tcp: bool = False, host: str = "127.0.0.1",
          source: str | None = None) -> DNSRecord:
    q = DNSRecord.question(name, qtype)
    data = q.pack()
    if tcp:
        with socket.create_connection((host, port), timeout=5, source_address=(source, 0) if source else None) as s:
            s.sendall(len(data).to_bytes(2, "big") + data)
            buf = b""
            while len(buf) < 2 or len(buf) < 2 + int.from_bytes(buf[:2], "big"):
                chunk = s.recv(65535)
                assert chunk, "connection closed before the whole answer"
                buf += chunk
            return DNSRecord.parse(buf[2:])
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(5)
        if source:
            s.bind((source, 0))
        s.sendto(data, (host, port))
        return DNSRecord.parse(s.recv(65535))


@pytest.fixture
def responder(fake_upstream) -> Iterator[DnsResponder]:
    _, upstream_port = fake_upstream
    dns = DnsResponder(["127.0.0.1"], 0, "172.17.0.1", [("127.0.0.1", upstream_port)])
    dns.start()
    yield dns
    dns.stop()


def addresses(reply: DNSRecord) -> list[str]:
    return sorted(str(rr.rdata) for rr in reply.rr if rr.rtype == QTYPE.A)


def test_answers_over_udp_and_tcp_and_follows_each_table(responder):
    responder.apply(routing(tasks(2)))
    for tcp in (False, True):
        reply = query(responder.port, "api.lab", tcp=tcp)
        assert reply.header.rcode == RCODE.NOERROR and addresses(reply) == ["192.0.2.10"]
        srv = query(responder.port, "_api._tcp.api.lab", "SRV", tcp=tcp)
        assert sorted(rr.rdata.port for rr in srv.rr) == [31000, 31001]
        assert query(responder.port, "gone.lab", tcp=tcp).header.rcode == RCODE.NXDOMAIN
    # The next table drains one task: it leaves the answers at once, uncached.
    servers = tasks(2)
    servers[0].active = False
    responder.apply(routing(servers, revision=2))
    srv = query(responder.port, "api.lab", "SRV")
    assert [rr.rdata.port for rr in srv.rr] == [31001] and {rr.ttl for rr in srv.rr} == {0}


def test_responders_of_one_host_share_the_port_only_when_asked(fake_upstream):
    """--dns-shared (what `shoal up`'s agents run with): a second responder on the same
    address and port binds and answers the same table; without it the bind is refused."""
    _, upstream_port = fake_upstream
    first = DnsResponder(["127.0.0.1"], 0, "172.17.0.1", [("127.0.0.1", upstream_port)], shared=True)
    first.start()
    try:
        alone = DnsResponder(["127.0.0.1"], first.port, "172.17.0.1", [("127.0.0.1", upstream_port)])
        with pytest.raises(OSError, match=f"127.0.0.1:{first.port}/udp"):
            alone.start()
        second = DnsResponder(["127.0.0.1"], first.port, "172.17.0.1", [("127.0.0.1", upstream_port)],
                              shared=True)
        second.start()
        try:
            for dns in (first, second):
                dns.apply(routing(tasks(2)))
            for tcp in (False, True):
                assert addresses(query(first.port, "api.lab", tcp=tcp)) == ["192.0.2.10"]
            # One of them gone (an agent killed), the port still answers.
            first.stop()
            assert addresses(query(second.port, "api.lab")) == ["192.0.2.10"]
        finally:
            second.stop()
    finally:
        first.stop()


def test_a_large_answer_is_truncated_over_udp_and_whole_over_tcp(responder):
    responder.apply(routing(tasks(60)))
    udp = query(responder.port, "api.lab", "SRV")
    assert udp.header.tc == 1 and not udp.rr
    tcp = query(responder.port, "api.lab", "SRV", tcp=True)
    assert tcp.header.tc == 0 and len(tcp.rr) == 60 and len(tcp.ar) == 60


def test_other_names_are_forwarded_to_the_upstream_over_udp_and_tcp(responder, fake_upstream):
    upstream, _ = fake_upstream
    responder.apply(routing(tasks(1)))
    for tcp in (False, True):
        reply = query(responder.port, OUTSIDE, tcp=tcp)
        assert addresses(reply) == ["198.51.100.7"]
        assert query(responder.port, "nobody.example.test", tcp=tcp).header.rcode == RCODE.NXDOMAIN
    assert upstream.asked == [f"udp:{OUTSIDE}.", "udp:nobody.example.test.",
                              f"tcp:{OUTSIDE}.", "tcp:nobody.example.test."]
    # Shoal's own names never leave the node.
    query(responder.port, "api.lab")
    query(responder.port, "nope.lab")
    assert len(upstream.asked) == 4


def test_a_namespace_named_like_a_top_level_domain_shadows_nothing(responder, fake_upstream):
    """A table that reached the node with namespace `org` (written around the API, or a
    namespace made before the API refused it) must not answer NXDOMAIN for the real .org."""
    upstream, _ = fake_upstream
    table = routing(tasks(1))
    table.dns.add(name="api.org", backend="sd-api-8080", port=8080)
    table.dns.add(name="pypi.org", via_proxy=True, backend="sd-api-8080", port=8080)
    said = responder.apply(table)
    assert "not answering api.org, pypi.org: a namespace may not be a public top-level domain" in said, said
    for tcp in (False, True):
        assert addresses(query(responder.port, "pypi.org", tcp=tcp)) == ["198.51.100.8"]
        # The fake upstream knows no other name: its NXDOMAIN, asked below, not the responder's.
        assert query(responder.port, "files.pythonhosted.org", tcp=tcp).header.rcode == RCODE.NXDOMAIN
        assert addresses(query(responder.port, "api.lab", tcp=tcp)) == ["192.0.2.10"]
    assert upstream.asked == ["udp:pypi.org.", "udp:files.pythonhosted.org.",
                              "tcp:pypi.org.", "tcp:files.pythonhosted.org."]


def test_no_upstream_answering_is_servfail_not_silence(fake_upstream):
    dead = free_port()
    dns = DnsResponder(["127.0.0.1"], 0, "172.17.0.1", [("127.0.0.1", dead)], timeout=0.5)
    dns.start()
    try:
        assert query(dns.port, OUTSIDE).header.rcode == RCODE.SERVFAIL
    finally:
        dns.stop()


def test_idle_tcp_clients_hold_no_more_than_their_share(responder):
    """A client opening TCP connections and sending nothing must not starve anyone: UDP
    queries are still answered, and connections past the cap are closed at once."""
    responder.apply(routing(tasks(1)))
    idle = [socket.create_connection(("127.0.0.1", responder.port), timeout=5)
            for _ in range(server.MOST_CONNECTIONS)]
    try:
        assert addresses(query(responder.port, "api.lab")) == ["192.0.2.10"]
        # One listener accepts in order: this one comes after every idle one has its slot.
        with socket.create_connection(("127.0.0.1", responder.port), timeout=5) as extra:
            assert extra.recv(1) == b""  # closed by the responder, not left hanging
    finally:
        for s in idle:
            s.close()
    wait_for(lambda: _tcp_answers(responder.port), 10, "a TCP query to be answered once the idle clients left")


def _tcp_answers(port: int) -> bool:
    try:
        return addresses(query(port, "api.lab", tcp=True)) == ["192.0.2.10"]
    except OSError:
        return False


def _host_address() -> str:
    for name, addrs in psutil.net_if_addrs().items():
        for a in addrs:
            if a.family == socket.AF_INET and not a.address.startswith("127.") and name != "lo":
                return a.address
    pytest.fail("the host has no non-loopback IPv4 address to test a stranger from")


def test_a_client_outside_the_node_networks_gets_no_recursion(fake_upstream):
    upstream, upstream_port = fake_upstream
    host = _host_address()
    # The node's networks, as this responder is told them, do not hold the client's address.
    dns = DnsResponder([host], 0, "172.17.0.1", [("127.0.0.1", upstream_port)], networks=lambda: [])
    dns.start()
    try:
        dns.apply(routing(tasks(1)))
        refused = query(dns.port, OUTSIDE, host=host, source=host)
        assert refused.header.rcode == RCODE.REFUSED and not refused.rr
        assert upstream.asked == []
        assert addresses(query(dns.port, "api.lab", host=host, source=host, tcp=True)) == ["192.0.2.10"]
    finally:
        dns.stop()


def _agent(*flags: str, state_dir: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH", "")}
    return subprocess.Popen([sys.executable, "-m", "agent", "--insecure", "--runtime", "hollow",
                             "--endpoint", f"127.0.0.1:{free_port()}", "--state-dir", state_dir, *flags],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def test_the_agent_process_serves_dns_with_its_flags(fake_upstream, tmp_path):
    upstream, upstream_port = fake_upstream
    port = free_port()
    proc = _agent("--dns", "--dns-address", "127.0.0.1", "--dns-port", str(port),
                  "--dns-upstream", f"127.0.0.1:{upstream_port}", state_dir=str(tmp_path))
    try:
        # No control plane: the responder serves from the start, forwarding what is not Shoal's.
        def answered():
            try:
                return addresses(query(port, OUTSIDE)) == ["198.51.100.7"]
            except OSError:
                return False
        wait_for(answered, 20, "the agent's responder to forward a query")
        # No routing table yet, so no namespace: even api.lab is the upstream's to answer.
        assert query(port, "api.lab", tcp=True).header.rcode == RCODE.NXDOMAIN
        assert "tcp:api.lab." in upstream.asked
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=20)


def test_the_agent_refuses_a_dns_port_it_cannot_bind(tmp_path):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as held:
        held.bind(("127.0.0.1", 0))
        port = held.getsockname()[1]
        proc = _agent("--dns", "--dns-address", "127.0.0.1", "--dns-port", str(port), "--dns-upstream", "127.0.0.1",
                      state_dir=str(tmp_path))
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert f"--dns-address/--dns-port: cannot listen on 127.0.0.1:{port}/udp" in err
    assert "Traceback" not in err


def test_bad_dns_flags_stop_the_agent_before_it_joins(tmp_path):
    # A join token and an unreachable control plane: the flag is refused before either is used.
    proc = subprocess.run([sys.executable, "-m", "agent", "--dns", "--dns-address", "0.0.0.0", "--join",
                           f"127.0.0.1:{free_port()}", "--token", "x", "--state-dir", str(tmp_path / "state")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "--dns-address '0.0.0.0': name the addresses to listen on, not a wildcard" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "state").exists()


# ---- containers ------------------------------------------------------------------------


@pytest.fixture
def dns_network(docker_client) -> Iterator[str]:
    """A Docker network of this test's own: its gateway is a host address nobody else binds,
    so the responder can take port 53 there (Docker's dns option has no port)."""
    with own_network(docker_client) as gateway:
        yield gateway


def test_a_container_started_with_the_dns_option_resolves_and_reaches_a_service(
        docker_client, busybox_image, node_cleanup, dns_network, fake_upstream):
    """busybox's wget crashes in this image, so the request is made with nc."""
    _, upstream_port = fake_upstream
    node = f"dns-{uuid.uuid4().hex[:10]}"
    node_cleanup.add(node)
    runtime = DockerRuntime()
    gateway = dns_network
    dns = DnsResponder([gateway], 53, gateway, [("127.0.0.1", upstream_port)])
    dns.start()
    try:
        host_port = free_port()
        api_task = assignment(None, [r.ContainerDefinition(
            name="web", image=busybox_image,
            command=["sh", "-c", "echo hello-from-api > /index.html && httpd -f -p 8080 -h /"],
            port_mappings=[r.PortMapping(container_port=8080, host_port=host_port, protocol="tcp")])],
            bindings={"web": [(8080, host_port)]}, service="api")
        for _, s in spec.build(api_task, node_id=node):
            runtime.start(runtime.create(s))
        # The task is reached at the host's address on its host port, as the routing table says.
        dns.apply(routing([t.RouteServer(name="task1-8080", address=gateway, port=host_port, active=True)]))
        client = assignment(None, [r.ContainerDefinition(
            name="client", image=busybox_image, command=["sh", "-c",
                f"nslookup api.lab; nslookup {OUTSIDE}; cat /etc/resolv.conf; "
                # busybox's nc resolves through the C library: resolv.conf, its search list, us.
                f"for i in 1 2 3 4 5 6 7 8 9 10; do printf 'GET /index.html HTTP/1.0\\r\\n\\r\\n' "
                f"| nc -w 2 api {host_port} | grep hello-from-api && exit 0; sleep 0.5; done; exit 1"])],
            service="web")
        [(_, client_spec)] = spec.build(client, node_id=node, dns=spec.ContainerDns(servers=(gateway,),
                                                                                    search=("lab",)))
        container_id = runtime.create(client_spec)
        runtime.start(container_id)
        info = wait_for(lambda: (i := runtime.inspect(container_id)).state == "exited" and i, 60,
                        "the client container to finish")
        output = docker_client.containers.get(container_id).logs().decode()
        assert info.exit_code == 0, output
        assert f"nameserver {gateway}" in output and "search lab" in output
        assert gateway in output.split(OUTSIDE)[0]  # api.lab resolved to the task's host
        assert "198.51.100.7" in output  # a name outside Shoal still resolves, through the host's resolver
        assert "hello-from-api" in output  # the short name reached the service through the search list
    finally:
        dns.stop()
        runtime.close()


def test_the_runtime_reports_the_default_bridge_gateway(docker_client, busybox_image):
    runtime = DockerRuntime()
    try:
        # What containers on the default bridge see as their gateway is the host's address.
        probe = docker_client.containers.run(busybox_image, ["ip", "route"], remove=True, network_mode="bridge")
        expected = re.search(rb"default via (\S+)", probe).group(1).decode()
        assert runtime.bridge_gateway() == expected
    finally:
        runtime.close()

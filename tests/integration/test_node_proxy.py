"""The node proxy with a real HAProxy: routing tables fed straight to the driver (no control
plane), backends as small Python HTTP/TCP servers on loopback and one real container."""

from __future__ import annotations

import http.client
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import pytest

from agent.proxy import config
from agent.proxy.config import NodeAddresses, Rendered
from agent.proxy.driver import ProxyDriver
from agent.proxy.process import HAProxyProcess
from shoal.netutil import free_port, free_ports
from shoal.v1 import traffic_pb2 as t
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

BACKEND = Path(__file__).resolve().parents[1] / "http_backend.py"
CLIENT = "127.0.0.9"  # a loopback source address distinct from the proxy's own


@pytest.fixture(scope="module", autouse=True)
def haproxy_installed() -> None:
    if not shutil.which("haproxy"):
        pytest.fail("haproxy is not installed; run scripts/bootstrap.sh", pytrace=False)


@pytest.fixture
def backends() -> Iterator[Callable[..., int]]:
    """``start(name)`` (HTTP) or ``start(kind="pp2")``: a backend process; returns its port."""
    procs: list[subprocess.Popen[bytes]] = []

    def start(name: str = "", kind: str = "http") -> int:
        port = free_port()
        proc = subprocess.Popen([sys.executable, str(BACKEND), kind, str(port), name], stdout=subprocess.PIPE)
        procs.append(proc)
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
        return port

    yield start
    for proc in procs:
        proc.terminate()
        proc.wait(10)


def make_driver(render=config.render) -> tuple[ProxyDriver, str]:
    # A short directory: the master's unix socket path must fit in 108 bytes.
    workdir = tempfile.mkdtemp(prefix="shoal-proxy-test-")
    return ProxyDriver(Path(workdir), "127.0.0.1", "127.0.0.1", free_port(), render=render), workdir


@pytest.fixture
def proxy() -> Iterator[ProxyDriver]:
    driver, workdir = make_driver()
    driver.start()
    yield driver
    driver.stop()
    shutil.rmtree(workdir, ignore_errors=True)


def http_table(revision: int, port: int, servers: list[tuple[str, int, bool]]) -> t.RoutingTable:
    return t.RoutingTable(
        revision=revision,
        frontends=[t.RouteFrontend(name=f"lb-test-{port}", port=port, mode="http", default_backend="tg-web")],
        backends=[t.RouteBackend(name="tg-web", mode="http", servers=[
            t.RouteServer(name=name, address="127.0.0.1", port=p, active=active) for name, p, active in servers])],
    )


def get(port: int, path: str = "/", source: str | None = None, timeout: float = 10) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout,
                                      source_address=(source, 0) if source else None)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read().decode().strip()
    finally:
        conn.close()


def get_or_none(port: int) -> tuple[int, str] | None:
    try:
        return get(port, timeout=2)
    except OSError:
        return None


def procs_of(driver: ProxyDriver) -> tuple[int, list[int]]:
    p = driver.process.cli.processes()
    return p.reloads, p.workers


def sessions(driver: ProxyDriver, backend: str, server: str) -> int:
    """The server's current sessions (`show stat`'s scur)."""
    for row in driver.process.cli.worker("show stat").splitlines():
        cols = row.split(",")
        if cols[:2] == [backend, server]:
            return int(cols[4])
    raise AssertionError(f"no server {backend}/{server} in show stat")


def test_requests_reach_every_active_server_in_turn(proxy, backends):
    ports = {name: backends(name) for name in ("a", "b", "c")}
    fe = free_port()
    said = proxy.apply(http_table(1, fe, [(n, p, True) for n, p in ports.items()] + [("d", backends("d"), False)]))
    assert said.startswith("reloaded haproxy for routing table revision 1"), said
    answers = [get(fe)[1] for _ in range(9)]
    assert Counter(answers) == {"a": 3, "b": 3, "c": 3}, answers
    for i in range(len(answers) - 2):
        assert sorted(answers[i:i + 3]) == ["a", "b", "c"], answers


def test_a_drained_server_gets_no_new_request_while_its_slow_one_completes(proxy, backends):
    a, b = backends("a"), backends("b")
    fe = free_port()
    proxy.apply(http_table(1, fe, [("a", a, True)]))
    before = procs_of(proxy)
    slow: list[tuple[int, str]] = []
    in_flight = threading.Thread(target=lambda: slow.append(get(fe, "/slow?seconds=3")))
    in_flight.start()
    wait_for(lambda: sessions(proxy, "tg-web", "a") == 1, 10, "the slow request to reach a")
    said = proxy.apply(http_table(2, fe, [("a", a, False), ("b", b, True)]))
    assert "no reload" in said and "draining 1" in said and "added 1" in said, said
    answers = [get(fe)[1] for _ in range(8)]
    assert answers == ["b"] * 8
    assert slow == [] and in_flight.is_alive(), "the slow request ended before the drain was tested"
    in_flight.join(10)
    assert slow == [(200, "a")]
    assert procs_of(proxy) == before


def test_a_removed_server_holding_a_request_is_deleted_once_it_ends(proxy, backends):
    a, b = backends("a"), backends("b")
    fe = free_port()
    proxy.apply(http_table(1, fe, [("a", a, True)]))
    slow: list[tuple[int, str]] = []
    in_flight = threading.Thread(target=lambda: slow.append(get(fe, "/slow?seconds=2")))
    in_flight.start()
    wait_for(lambda: sessions(proxy, "tg-web", "a") == 1, 10, "the slow request to reach a")
    said = proxy.apply(http_table(2, fe, [("b", b, True)]))
    assert said.endswith("1 removed servers wait for their connections to end"), said
    assert proxy.parked == {("tg-web", "a")}
    assert get(fe) == (200, "b")
    in_flight.join(10)
    assert slow == [(200, "a")]
    wait_for(lambda: not proxy.parked, 15, "a deleted by the supervisor")
    assert " a " not in proxy.process.cli.worker("show servers state tg-web")


def test_server_changes_under_steady_load_neither_reload_nor_drop_a_request(proxy, backends):
    ports = {name: backends(name) for name in ("a", "b", "c", "d")}
    fe = free_port()
    proxy.apply(http_table(1, fe, [("a", ports["a"], True), ("b", ports["b"], True)]))
    before = procs_of(proxy)
    seen: Counter[str] = Counter()
    failures: list[str] = []
    stop = threading.Event()

    def steady() -> None:
        while not stop.is_set():
            try:
                status, body = get(fe, timeout=5)
                if status == 200:
                    seen[body] += 1
                else:
                    failures.append(f"{status} {body}")
            except OSError as exc:
                failures.append(repr(exc))

    loop = threading.Thread(target=steady)
    loop.start()
    steps = [
        [("a", True), ("b", True), ("c", True)],     # add c
        [("a", False), ("b", True), ("c", True)],    # drain a
        [("b", True), ("c", True)],                  # remove a
        [("b", False), ("c", True), ("d", True)],    # add d, drain b
        [("c", True), ("d", True)],                  # remove b
    ]
    try:
        for revision, step in enumerate(steps, start=2):
            total = sum(seen.values())
            said = proxy.apply(http_table(revision, fe, [(n, ports[n], active) for n, active in step]))
            assert "no reload" in said, said
            wait_for(lambda total=total: sum(seen.values()) >= total + 30, 30, "requests after the change")
        last = dict(seen)
        wait_for(lambda: seen["c"] > last["c"] and seen["d"] > last["d"], 10, "c and d answering")
    finally:
        stop.set()
        loop.join(10)
    assert failures == []
    assert procs_of(proxy) == before
    assert seen["a"] and seen["b"] and seen["c"] and seen["d"]
    # a and b left the proxy: their deletes went through once their connections ended.
    wait_for(lambda: not proxy.parked, 15, "the removed servers deleted")
    state = proxy.process.cli.worker("show servers state tg-web")
    assert " a " not in state and " b " not in state and " c " in state


def test_a_config_haproxy_refuses_leaves_the_old_proxy_serving(backends):
    def broken(table: t.RoutingTable, addrs: NodeAddresses) -> Rendered:
        good = config.render(table, addrs)
        if table.revision != 2:
            return good
        return Rendered(text=good.text + "\nfrontend broken\n    bind 127.0.0.1:1 nonsense-keyword\n",
                        skeleton=good.skeleton + "broken", servers=good.servers)

    driver, workdir = make_driver(render=broken)
    driver.start()
    try:
        a = backends("a")
        fe, fe2 = free_ports(2)
        driver.apply(http_table(1, fe, [("a", a, True)]))
        before = procs_of(driver)
        said = driver.apply(http_table(2, fe2, [("a", a, True)]))
        assert said.startswith("kept the running proxy on revision 1: the config for routing table revision 2 "
                               "failed validation:"), said
        assert "nonsense-keyword" in said
        assert get(fe) == (200, "a")
        assert procs_of(driver) == before and driver.revision == 1
        # A table the renderer itself refuses changes nothing either.
        bad = http_table(3, fe2, [("a", a, True)])
        bad.frontends[0].default_backend = "missing"
        said = driver.apply(bad)
        assert "no backend named 'missing'" in said and "keeps revision 1" in said, said
        assert get(fe) == (200, "a")
        said = driver.apply(http_table(4, fe2, [("a", a, True)]))
        assert said.startswith("reloaded haproxy for routing table revision 4"), said
        assert get(fe2) == (200, "a")
    finally:
        driver.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def test_a_listener_port_another_program_holds_is_left_out_and_bound_once_free(proxy, backends, caplog):
    """A Service Connect alias or listener on a port a host program holds (sshd's 22, say)
    failed the node's whole reload, so no later route change applied there while it stood."""
    a, b = backends("a"), backends("b")
    fe = free_port()
    proxy.apply(http_table(1, fe, [("a", a, True)]))
    held = socket.socket()
    # As servers bind, so the connection it closes below leaves no TIME_WAIT that holds the port.
    held.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    held.bind(("127.0.0.1", 0))
    held.listen()
    taken = held.getsockname()[1]
    try:
        with caplog.at_level(logging.WARNING, logger="agent.proxy.driver"):
            for revision, servers in ((2, [("a", a, True)]), (3, [("a", a, False), ("b", b, True)])):
                table = http_table(revision, fe, servers)
                table.frontends.add(name="sc-taken", port=taken, mode="http", default_backend="tg-web",
                                    internal=True)
                proxy.apply(table)
                assert proxy.revision == revision
        assert get(fe) == (200, "b"), "the later table's servers serve: the held port blocked nothing"
        warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warned) == 1 and f"sc-taken (port {taken}: another program on this node holds 127.0.0.1:" \
            in warned[0], warned
        with socket.create_connection(("127.0.0.1", taken), timeout=5):
            conn, _ = held.accept()  # the program keeps its port: the proxy shares it with nobody
            conn.close()
    finally:
        held.close()
    # The supervisor tries the table again, and binds the listener once the port is free.
    wait_for(lambda: get_or_none(taken) == (200, "b"), 30, "the listener bound once the port is free")
    assert get(fe) == (200, "b")


def test_a_listener_on_the_nodes_own_ports_is_left_out_warned_once_and_the_others_served(backends, caplog):
    agent_metrics, fe = free_ports(2)
    a = backends("a")
    workdir = tempfile.mkdtemp(prefix="shoal-proxy-test-")
    driver = ProxyDriver(Path(workdir), "127.0.0.1", "127.0.0.1", free_port(),
                         reserved_ports=frozenset({agent_metrics}))
    driver.start()
    try:
        exporter = driver.addresses.metrics_port
        table = http_table(1, fe, [("a", a, True)])
        table.frontends.add(name="lb-exporter", port=exporter, mode="http", default_backend="tg-web")
        table.frontends.add(name="lb-agent", port=agent_metrics, mode="http", default_backend="tg-web")
        with caplog.at_level(logging.WARNING, logger="agent.proxy.driver"):
            said = driver.apply(table)
            assert said.startswith("reloaded haproxy for routing table revision 1"), said
            assert get(fe) == (200, "a")
            status, body = get(exporter, "/metrics")
            assert status == 200 and "haproxy_process_" in body
            with socket.socket() as s:
                s.bind(("127.0.0.1", agent_metrics))  # nothing of the proxy's holds the agent's port
            # Left-out listeners are not in the config at all: tables differing only in them match.
            for revision, tb in ((2, table), (3, http_table(3, fe, [("a", a, True)])), (4, table)):
                tb.revision = revision
                assert driver.apply(tb).startswith(f"routing table revision {revision}: the proxy already matches")
        warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warned) == 2 and warned[0].replace("revision 1", "revision 4") == warned[1], warned
        assert f"lb-exporter (port {exporter}: " in warned[0] and f"lb-agent (port {agent_metrics}: " in warned[0]
    finally:
        driver.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def free_privileged_port() -> int:
    """A port below 1024 nothing holds on 127.0.0.1 now."""
    for port in range(1023, 512, -1):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    pytest.fail("no free port below 1024 on 127.0.0.1")


@pytest.mark.skipif(os.geteuid() != 0, reason="binding a port below 1024 needs root, as the agent has")
def test_a_listener_below_1024_binds_only_on_a_node_that_allows_it(backends, caplog):
    low, fe = free_privileged_port(), free_port()
    a = backends("a")
    table = http_table(1, fe, [("a", a, True)])
    table.frontends.add(name="lb-low", port=low, mode="http", default_backend="tg-web")
    for allowed in (False, True):
        workdir = tempfile.mkdtemp(prefix="shoal-proxy-test-")
        driver = ProxyDriver(Path(workdir), "127.0.0.1", "127.0.0.1", free_port(), privileged_ports=allowed)
        driver.start()
        try:
            caplog.clear()
            with caplog.at_level(logging.WARNING, logger="agent.proxy.driver"):
                said = driver.apply(table)
            assert said.startswith("reloaded haproxy for routing table revision 1"), said
            assert get(fe) == (200, "a")
            warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
            if allowed:
                assert get(low) == (200, "a") and warned == []
            else:
                with socket.socket() as s:
                    s.bind(("127.0.0.1", low))  # the proxy holds nothing there
                assert len(warned) == 1 and f"lb-low (port {low}: ports below 1024 need this node's " \
                    "--allow-privileged-listener-ports)" in warned[0], warned
        finally:
            driver.stop()
            shutil.rmtree(workdir, ignore_errors=True)


def test_x_forwarded_for_carries_the_client_address(proxy, backends):
    fe = free_port()
    proxy.apply(http_table(1, fe, [("a", backends("a"), True)]))
    assert get(fe, "/xff", source=CLIENT) == (200, CLIENT)


def test_proxy_protocol_v2_reaches_a_tcp_backend(proxy, backends):
    fe = free_port()
    table = t.RoutingTable(
        revision=1,
        frontends=[t.RouteFrontend(name="lb-tcp", port=fe, mode="tcp", default_backend="tg-tcp", proxy_protocol=True)],
        backends=[t.RouteBackend(name="tg-tcp", mode="tcp", servers=[
            t.RouteServer(name="p1", address="127.0.0.1", port=backends(kind="pp2"), active=True)])])
    assert "reloaded" in proxy.apply(table)
    with socket.create_connection(("127.0.0.1", fe), timeout=10, source_address=(CLIENT, 0)) as s:
        local_port = s.getsockname()[1]
        answer = s.makefile().readline().strip()
    assert answer == f"src={CLIENT}:{local_port}"
    # A server added at run time sends the header too.
    table.revision = 2
    table.backends[0].servers[0].active = False
    table.backends[0].servers.add(name="p2", address="127.0.0.1", port=backends(kind="pp2"), active=True)
    assert "no reload" in proxy.apply(table)
    with socket.create_connection(("127.0.0.1", fe), timeout=10, source_address=(CLIENT, 0)) as s:
        assert s.makefile().readline().startswith(f"src={CLIENT}:")


def test_a_killed_haproxy_is_restarted_on_the_same_routes(proxy, backends):
    fe = free_port()
    proxy.apply(http_table(1, fe, [("a", backends("a"), True)]))
    old = proxy.process.master_pid
    assert old is not None
    os.kill(old, signal.SIGKILL)
    wait_for(lambda: proxy.process.master_pid not in (None, old) and get(fe, timeout=2) == (200, "a"), 30,
             "a new master serving the routes")


def test_a_proxy_left_by_a_killed_agent_is_replaced_by_the_next_one(backends):
    """A HAProxy that outlived its agent (the watchdog that would have stopped it was
    killed too: a whole process group or session killed, say) holds the ports; the next
    agent on the same state dir stops that one (found by its pid file) and starts its own.
    Here the old one's watchdog sees this process alive and leaves the master running."""
    driver, workdir = make_driver()
    fe = free_port()
    left = HAProxyProcess(Path(workdir))  # what the killed agent had started
    try:
        assert left.check(config.render(http_table(1, fe, [("a", backends("a"), True)]), driver.addresses).text) == ""
        left.install()
        orphan = left.start().master
        assert get(fe) == (200, "a")
        driver.start()
        try:
            assert driver.process.master_pid != orphan
            left.proc.wait(10)  # our child here, so reaped here; in an agent's life, init reaps it
            with pytest.raises(OSError):
                get(fe, timeout=2)
        finally:
            driver.stop()
    finally:
        left.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def test_routes_to_a_real_container(proxy, docker_client: docker.DockerClient, busybox_image: str):
    container = docker_client.containers.run(
        busybox_image, ["sh", "-c", "mkdir -p /www && echo from-container > /www/index.html && "
                                    "exec httpd -f -p 8080 -h /www"],
        detach=True, ports={"8080/tcp": ("127.0.0.1", None)}, labels={"shoal.test": "node-proxy"})
    try:
        def host_port() -> int:
            container.reload()
            bindings = container.attrs["NetworkSettings"]["Ports"].get("8080/tcp") or []
            return int(bindings[0]["HostPort"]) if bindings else 0

        port = wait_for(host_port, 30, "the container's published port")
        fe = free_port()
        proxy.apply(http_table(1, fe, [("task1-8080", port, True)]))
        assert wait_for(lambda: get(fe, timeout=5) == (200, "from-container"), 30, "the container through the proxy")
    finally:
        container.remove(force=True)

"""The Logs service on two in-process replicas over real gRPC, with an in-memory store and
a fake agent gateway: the replica holding the node's stream answers, the other relays to
it (found through the node's alive key), and a caller that leaves cancels the agent's read."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent import futures

import grpc
import pytest

from controlplane.api.context import ApiContext
from controlplane.api.logs import add_logs_service
from shoal import keys
from shoal.netutil import free_port
from shoal.store.memory import MemoryStore
from shoal.v1 import agent_pb2, logs_pb2, logs_pb2_grpc
from shoal.v1 import resources_pb2 as r
from tests.waiting import wait_for


class FakeGateway:
    """Holds the streams of ``nodes``; answers each LogRequest with numbered lines."""

    def __init__(self, nodes: set[str], lines: int = 3, follow_forever: bool = False) -> None:
        self.nodes = nodes
        self.address = ""
        self.lines = lines
        self.on_log_chunk = None
        self.on_stream_end = None
        self.cancelled: list[str] = []
        self._stop: dict[str, threading.Event] = {}

    def holds(self, node_id: str) -> bool:
        return node_id in self.nodes

    def send(self, node_id: str, msg: agent_pb2.ControlMessage) -> bool:
        if node_id not in self.nodes:
            return False
        body = msg.WhichOneof("body")
        if body == "cancel_logs":
            self.cancelled.append(msg.cancel_logs.request_id)
            self._stop.setdefault(msg.cancel_logs.request_id, threading.Event()).set()
        elif body == "log_request":
            req = msg.log_request
            stop = self._stop.setdefault(req.request_id, threading.Event())
            threading.Thread(target=self._answer, args=(node_id, req, stop), daemon=True).start()
        return True

    def _answer(self, node_id: str, req: agent_pb2.LogRequest, stop: threading.Event) -> None:
        if req.container != "app":
            self.on_log_chunk(node_id, agent_pb2.AgentLogChunk(request_id=req.request_id, error="container: no"))
            return
        n = 0
        while not stop.is_set() and (req.follow or n < self.lines):
            self.on_log_chunk(node_id, agent_pb2.AgentLogChunk(request_id=req.request_id, data=f"{n}\n".encode()))
            n += 1
            stop.wait(0.01 if req.follow else 0)
        if not req.follow:
            self.on_log_chunk(node_id, agent_pb2.AgentLogChunk(request_id=req.request_id, eof=True))


def two_replicas(gateway_a, task: r.Task | None = None) -> Iterator[tuple[MemoryStore, FakeGateway, grpc.Channel]]:
    """Replica A holds node n1's stream (``gateway_a``); the yielded channel reaches replica B."""
    store = MemoryStore()
    ctx = ApiContext(store)
    ctx.ensure_default_cluster()
    if task is None:
        task = r.Task(id="t1", cluster="default", node_id="n1", last_status="RUNNING", desired_status="RUNNING")
        task.containers.add(name="app")
        task.containers.add(name="side")
    store.put(keys.task("default", task.id), task.SerializeToString())
    servers = []
    for gateway in (gateway_a, FakeGateway(set())):
        port = free_port()
        gateway.address = f"127.0.0.1:{port}"
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        add_logs_service(ctx, gateway, server)
        server.add_insecure_port(gateway.address)
        server.start()
        servers.append((server, gateway.address))
    store.put(keys.alive("n1"), gateway_a.address.encode())
    channel = grpc.insecure_channel(servers[1][1])
    yield store, gateway_a, channel
    channel.close()
    for server, _ in servers:
        server.stop(0)


@pytest.fixture
def replicas() -> Iterator[tuple[MemoryStore, FakeGateway, grpc.Channel]]:
    yield from two_replicas(FakeGateway({"n1"}))


def read(channel: grpc.Channel, **kw) -> bytes:
    req = logs_pb2.GetTaskLogsRequest(cluster="default", task="t1", **kw)
    return b"".join(c.data for c in logs_pb2_grpc.LogsStub(channel).GetTaskLogs(req, timeout=10))


def code_of(fn) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as err:
        fn()
    return err.value.code(), err.value.details()


def test_relayed_to_the_replica_holding_the_stream(replicas) -> None:
    _, _, channel = replicas
    assert read(channel, container="app") == b"0\n1\n2\n"


def test_errors_name_the_field(replicas) -> None:
    store, _, channel = replicas
    assert code_of(lambda: read(channel)) == (
        grpc.StatusCode.INVALID_ARGUMENT, "container: task t1 has 2 containers (app, side); name one")
    code, details = code_of(lambda: read(channel, container="db"))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and details.startswith("container: task t1 has no container")
    code, details = code_of(lambda: read(channel, container="side"))
    assert code == grpc.StatusCode.NOT_FOUND and details == "container: no", "the agent's refusal, relayed"
    code, details = code_of(lambda: logs_pb2_grpc.LogsStub(channel).GetTaskLogs(
        logs_pb2.GetTaskLogsRequest(cluster="default", task="nope"), timeout=10).next())
    assert code == grpc.StatusCode.NOT_FOUND and details.startswith("task:")
    store.delete(keys.alive("n1"))
    code, details = code_of(lambda: read(channel, container="app"))
    assert code == grpc.StatusCode.UNAVAILABLE and "not connected" in details


def test_a_caller_leaving_a_follow_cancels_the_agent_read(replicas) -> None:
    _, gateway, channel = replicas
    call = logs_pb2_grpc.LogsStub(channel).GetTaskLogs(
        logs_pb2.GetTaskLogsRequest(cluster="default", task="t1", container="app", follow=True), timeout=30)
    first = [next(call).data for _ in range(5)]
    assert first == [b"0\n", b"1\n", b"2\n", b"3\n", b"4\n"]
    call.cancel()
    wait_for(lambda: gateway.cancelled, 10, "the holding replica to cancel the agent's read")

"""A scripted agent for control-plane tests: registers, holds the stream, records every
assignment set it receives and reports whatever task states the test tells it to."""

from __future__ import annotations

import queue
import threading
import time

import grpc

from shoal.security.channels import client_channel
from shoal.security.joining import NodeCredentials
from shoal.v1 import agent_pb2, agent_pb2_grpc, traffic_pb2
from shoal.v1 import resources_pb2 as r


class FakeAgent:
    def __init__(self, endpoint: str, hostname: str, cluster: str = "default", zone: str = "a",
                 cpu_units: int = 2048, memory_mib: int = 2048, heartbeat: float = 0.5,
                 attributes: dict[str, str] | None = None, creds: NodeCredentials | None = None) -> None:
        """``creds``: the node's identity and certificate (see tests/fixtures/pki.py); None
        only against an --insecure control plane."""
        self.endpoint = endpoint
        self.hostname = hostname
        self.cluster = cluster
        self.channel = client_channel(endpoint, creds.tls if creds else None)
        self.stub = agent_pb2_grpc.AgentGatewayStub(self.channel)
        attrs = {"ecs.availability-zone": zone, "ecs.os-type": "linux", "ecs.instance-type": "test"}
        attrs.update(attributes or {})
        resp = self.stub.RegisterNode(agent_pb2.RegisterNodeRequest(
            cluster=cluster, node_id=creds.node_id if creds else "", hostname=hostname, cpu_units=cpu_units,
            memory_mib=memory_mib,
            attributes=[r.Attribute(name=k, value=v) for k, v in attrs.items()], address="127.0.0.1",
        ), timeout=10)
        self.node_id = resp.node_id
        self.heartbeat = heartbeat
        self.latest: agent_pb2.Assignments | None = None
        # Every routing table received, in order.
        self.routing: list[traffic_pb2.RoutingTable] = []
        # Log requests seen, and those the control plane cancelled; each is answered with
        # log_flood chunks (0: none).
        self.log_requests: list[agent_pb2.LogRequest] = []
        self.cancelled_logs: set[str] = set()
        self.log_flood = 0
        self._out: queue.Queue = queue.Queue()
        self._stop = threading.Event()
        self._call = None
        self._reader: threading.Thread | None = None

    def connect(self) -> FakeAgent:
        self._stop.clear()
        self._out = queue.Queue()

        def outgoing():
            yield agent_pb2.AgentMessage(hello=agent_pb2.Hello(cluster=self.cluster, node_id=self.node_id))
            # Heartbeats keep their schedule however busy the stream is, as the real agent's do.
            next_beat = 0.0
            while not self._stop.is_set():
                if time.monotonic() >= next_beat:
                    next_beat = time.monotonic() + self.heartbeat
                    yield agent_pb2.AgentMessage(heartbeat=agent_pb2.Heartbeat(cpu_percent=1.0))
                try:
                    yield self._out.get(timeout=max(0.0, next_beat - time.monotonic()))
                except queue.Empty:
                    continue

        self._call = self.stub.Connect(outgoing())

        def read():
            try:
                for msg in self._call:
                    body = msg.WhichOneof("body")
                    if body == "assignments":
                        self.latest = msg.assignments
                    elif body == "routing":
                        self.routing.append(msg.routing)
                    elif body == "log_request":
                        self.log_requests.append(msg.log_request)
                        threading.Thread(target=self._flood, args=(msg.log_request.request_id,), daemon=True).start()
                    elif body == "cancel_logs":
                        self.cancelled_logs.add(msg.cancel_logs.request_id)
            except grpc.RpcError:
                pass

        self._reader = threading.Thread(target=read, daemon=True)
        self._reader.start()
        return self

    def _flood(self, request_id: str) -> None:
        """Answers a log request with ``log_flood`` chunks of 32 KiB as fast as the stream
        takes them (a container writing without pause), until the request is cancelled."""
        chunk = b"x" * 32 * 1024
        for _ in range(self.log_flood):
            if request_id in self.cancelled_logs or self._stop.is_set():
                return
            while self._out.qsize() > 64 and not self._stop.is_set():
                self._stop.wait(0.001)  # keep pace with the stream instead of queueing without bound
            self._out.put(agent_pb2.AgentMessage(log_chunk=agent_pb2.AgentLogChunk(request_id=request_id, data=chunk)))

    def disconnect(self) -> None:
        self._stop.set()
        if self._call is not None:
            self._call.cancel()

    def close(self) -> None:
        self.disconnect()
        self.channel.close()

    def tasks(self) -> dict[str, r.TaskAssignment]:
        latest = self.latest
        return {a.task.id: a for a in latest.tasks} if latest else {}

    def send(self, change: agent_pb2.TaskStateChange) -> None:
        """Sends a state change exactly as given."""
        self._out.put(agent_pb2.AgentMessage(task_state=change))

    def send_proxy_checks(self, report: traffic_pb2.NodeProxyChecks) -> None:
        """Sends a node proxy's check results (what the real agent hands its ProxyDriver)."""
        self._out.put(agent_pb2.AgentMessage(proxy_checks=report))

    def report(self, task_id: str, status: str, exit_code: int | None = None, reason: str = "",
               stop_code: str = "", container_status: str | None = None) -> None:
        assignment = self.tasks()[task_id]
        containers = []
        for c in assignment.task.containers:
            out = r.Container(name=c.name, last_status=container_status or status, runtime_id="fake-" + c.name)
            out.network_bindings.extend(c.network_bindings)
            if exit_code is not None:
                out.exit_code = exit_code
            containers.append(out)
        self._out.put(agent_pb2.AgentMessage(task_state=agent_pb2.TaskStateChange(
            task_id=task_id, last_status=status, containers=containers, stopped_reason=reason,
            stop_code=stop_code, at=time.time())))

    def run_everything(self) -> None:
        """Acts like a healthy agent once: every task wanted RUNNING is reported RUNNING,
        every task wanted STOPPED is reported STOPPED."""
        for task_id, a in self.tasks().items():
            if a.task.desired_status == "RUNNING" and a.task.last_status != "RUNNING":
                self.report(task_id, "RUNNING")
            elif a.task.desired_status == "STOPPED":
                self.report(task_id, "STOPPED", exit_code=0)

"""An in-process AgentGateway for tests: records registrations and
everything agents send, and pushes assignment sets the test chooses. It is how the agent
is tested end to end without the real control plane."""

from __future__ import annotations

import queue
import threading
import uuid
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass, field

import grpc

from shoal.v1 import agent_pb2, agent_pb2_grpc
from shoal.v1 import resources_pb2 as r


@dataclass
class _Stream:
    node_id: str
    outbox: queue.Queue = field(default_factory=queue.Queue)
    closed: threading.Event = field(default_factory=threading.Event)


class FakeGateway(agent_pb2_grpc.AgentGatewayServicer):
    def __init__(self, heartbeat_interval: float = 0.5) -> None:
        self.heartbeat_interval = heartbeat_interval
        self._lock = threading.Lock()
        self.registrations: list[agent_pb2.RegisterNodeRequest] = []
        self.messages: list[tuple[str, agent_pb2.AgentMessage]] = []
        self.states: dict[str, agent_pb2.TaskStateChange] = {}
        self.assignments: dict[str, agent_pb2.Assignments] = {}
        self._streams: list[_Stream] = []
        self._revision = 0
        self.server: grpc.Server | None = None
        self.port = 0

    # ---- server ----------------------------------------------------------------------

    def start(self, port: int = 0) -> int:
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=32))
        agent_pb2_grpc.add_AgentGatewayServicer_to_server(self, self.server)
        self.port = self.server.add_insecure_port(f"127.0.0.1:{port}")
        self.server.start()
        return self.port

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.drop_streams()
        if self.server is not None:
            self.server.stop(grace=0).wait(5)

    # ---- AgentGateway ----------------------------------------------------------------

    def RegisterNode(self, request: agent_pb2.RegisterNodeRequest, context: grpc.ServicerContext):  # noqa: N802
        node_id = request.node_id or uuid.uuid4().hex
        with self._lock:
            self.registrations.append(request)
        return agent_pb2.RegisterNodeResponse(
            node_id=node_id,
            container_instance_arn=f"arn:shoal:ecs:local:000000000000:container-instance/{request.cluster}/{node_id}",
            heartbeat_interval_seconds=self.heartbeat_interval,
            lease_ttl_seconds=self.heartbeat_interval * 3,
        )

    def Connect(self, request_iterator, context: grpc.ServicerContext):  # noqa: N802
        first = next(request_iterator)
        node_id = first.hello.node_id
        stream = _Stream(node_id)
        with self._lock:
            self.messages.append((node_id, first))
            self._streams.append(stream)
            current = self.assignments.get(node_id)
        if current is not None:
            stream.outbox.put(current)

        def read() -> None:
            try:
                for msg in request_iterator:
                    with self._lock:
                        self.messages.append((node_id, msg))
                        if msg.HasField("task_state"):
                            self.states[msg.task_state.task_id] = msg.task_state
            except Exception:  # the agent went away; the stream ends below
                pass
            stream.closed.set()

        threading.Thread(target=read, daemon=True).start()
        context.add_callback(stream.closed.set)
        try:
            while not stream.closed.is_set():
                try:
                    item = stream.outbox.get(timeout=0.1)
                except queue.Empty:
                    continue
                yield item if isinstance(item, agent_pb2.ControlMessage) else agent_pb2.ControlMessage(assignments=item)
        finally:
            with self._lock:
                if stream in self._streams:
                    self._streams.remove(stream)

    # ---- what tests drive and read ---------------------------------------------------

    def assign(self, node_id: str, tasks: list[r.TaskAssignment], revision: int | None = None) -> int:
        """Makes ``tasks`` the node's complete set and pushes it to its open streams."""
        with self._lock:
            if revision is None:
                self._revision += 1
                revision = self._revision
            msg = agent_pb2.Assignments(revision=revision, tasks=tasks)
            self.assignments[node_id] = msg
            streams = [s for s in self._streams if s.node_id == node_id]
        for s in streams:
            s.outbox.put(msg)
        return revision

    def send(self, node_id: str, msg: agent_pb2.ControlMessage) -> None:
        """Sends ``msg`` (a LogRequest, say) down the node's open streams."""
        with self._lock:
            streams = [s for s in self._streams if s.node_id == node_id]
        for s in streams:
            s.outbox.put(msg)

    def drop_streams(self) -> None:
        with self._lock:
            streams = list(self._streams)
        for s in streams:
            s.closed.set()

    def connected(self, node_id: str) -> bool:
        with self._lock:
            return any(s.node_id == node_id and not s.closed.is_set() for s in self._streams)

    def state(self, task_id: str) -> agent_pb2.TaskStateChange | None:
        with self._lock:
            return self.states.get(task_id)

    def received(self, node_id: str, kind: str) -> list[agent_pb2.AgentMessage]:
        with self._lock:
            return [m for n, m in self.messages if n == node_id and m.HasField(kind)]


def assignment(
    task_id: str | None = None,
    containers: list[r.ContainerDefinition] | None = None,
    *,
    cluster: str = "default",
    network_mode: str = "bridge",
    bindings: dict[str, list[tuple[int, int]]] | None = None,
    desired: str = "RUNNING",
    last_status: str = "PENDING",
    service: str = "",
) -> r.TaskAssignment:
    """A TaskAssignment as the control plane would send it; ``bindings`` maps a container
    name to (container_port, host_port) pairs chosen at placement."""
    task_id = task_id or uuid.uuid4().hex
    containers = containers or [r.ContainerDefinition(name="main", image="shoal/busybox:latest",
                                                      command=["sleep", "3600"])]
    td = r.TaskDefinition(family="test", revision=1, network_mode=network_mode,
                          task_definition_arn="arn:shoal:ecs:local:000000000000:task-definition/test:1")
    td.container_definitions.extend(containers)
    task = r.Task(id=task_id, cluster=cluster, desired_status=desired, last_status=last_status,
                  task_arn=f"arn:shoal:ecs:local:000000000000:task/{cluster}/{task_id}", service_name=service)
    for c in containers:
        tc = task.containers.add(name=c.name, image=c.image, last_status="PENDING")
        for cport, hport in (bindings or {}).get(c.name, []):
            tc.network_bindings.add(bind_ip="0.0.0.0", container_port=cport, host_port=hport, protocol="tcp")
    return r.TaskAssignment(task=task, task_definition=td)


def served(heartbeat_interval: float) -> Iterator[FakeGateway]:
    """A started FakeGateway, stopped after: a fixture's body (``yield from served(0.2)``)."""
    gw = FakeGateway(heartbeat_interval=heartbeat_interval)
    gw.start()
    yield gw
    gw.stop()

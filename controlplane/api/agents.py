"""The AgentGateway gRPC service: node registration, and one stream per agent that
carries heartbeats and task state up and the node's assignments down.

Liveness: while an agent heartbeats, its key under alive/ exists, bound to this
replica's lease. When heartbeats stop for a TTL (agent dead, frozen or cut off) the key
is deleted; the leader's node controller sees that and replaces the node's service tasks.
A replica that dies takes its agents' keys with its lease; the agents reconnect elsewhere.
A replica cut off from etcd sends its agents away (UNAVAILABLE) once its lease has gone
unrefreshed for half a TTL, so they re-put their keys through another replica before the
lease expires with them.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import grpc

from controlplane import keys
from controlplane.api.context import ApiContext
from controlplane.api.nodes import deregistered_error, refuse_if_deregistered
from controlplane.assignments import AssignmentFeed
from controlplane.errors import ApiError, abort_with, grpc_errors, invalid
from controlplane.metrics import CONNECTED_AGENTS
from controlplane.replica_lease import ReplicaLease
from controlplane.store.base import Compare, Conflict, Delete, Put, StoreError
from controlplane.taskspec import STATUS_ORDER
from shoal.logs import kv
from shoal.security.authz import record_denial
from shoal.v1 import agent_pb2, agent_pb2_grpc
from shoal.v1 import resources_pb2 as r
from shoal.validation import check_name

log = logging.getLogger(__name__)

_ATTEMPTS = 20
_MAX_ATTRIBUTES = 64
_CLOSE = object()


def _cut_off_error() -> ApiError:
    return ApiError(grpc.StatusCode.UNAVAILABLE, "this replica cannot reach etcd; connect to another replica",
                    "ServerException")


@dataclass
class _Stream:
    node_id: str
    cluster: str
    outbox: queue.Queue = field(default_factory=queue.Queue)
    last_heartbeat: float = field(default_factory=time.monotonic)
    alive_revision: int = 0
    closed: bool = False


class AgentGatewayService(agent_pb2_grpc.AgentGatewayServicer):
    def __init__(self, ctx: ApiContext, feed: AssignmentFeed, lease: ReplicaLease, ttl: float) -> None:
        self.ctx = ctx
        self.feed = feed
        self.lease = lease
        self.ttl = ttl
        self._lock = threading.Lock()
        self._streams: dict[str, _Stream] = {}
        # Nodes whose stream ended but whose alive key stands until their TTL runs out:
        # a quick reconnect (to this or another replica) must not look like a lost node.
        self._lingering: dict[str, _Stream] = {}
        lease.on_new_lease(self._rewrite_alive_keys)
        # This replica's gRPC address, the value of the alive keys it writes: another
        # replica relays calls that need an agent's stream (logs) to it.
        self.address = ""
        # Hooks of the log relay (controlplane/api/logs.py): chunks an agent sends up, and
        # the end of an agent's stream.
        self.on_log_chunk: Callable[[str, agent_pb2.AgentLogChunk], None] | None = None
        self.on_stream_end: Callable[[str], None] | None = None

    def holds(self, node_id: str) -> bool:
        """Whether this replica holds the node's stream."""
        with self._lock:
            stream = self._streams.get(node_id)
        return stream is not None and not stream.closed

    def send(self, node_id: str, msg: agent_pb2.ControlMessage) -> bool:
        """Queues ``msg`` on the node's stream if this replica holds it."""
        with self._lock:
            stream = self._streams.get(node_id)
        if stream is None or stream.closed:
            return False
        stream.outbox.put(msg)
        return True

    # ---- registration ----------------------------------------------------------------

    @grpc_errors
    def RegisterNode(self, request: agent_pb2.RegisterNodeRequest, context) -> agent_pb2.RegisterNodeResponse:
        if self.cut_off():
            raise _cut_off_error()
        cluster = self.ctx.require_cluster(request.cluster or "default").msg.cluster_name
        if request.node_id:
            refuse_if_deregistered(self.ctx.store, request.node_id)
        _check_registration(request)
        for _ in range(_ATTEMPTS):
            node_id = request.node_id or uuid.uuid4().hex
            rec = self.ctx.state.node(cluster, node_id)
            node = rec.msg if rec else r.ContainerInstance(
                id=node_id,
                cluster=cluster,
                container_instance_arn=self.ctx.arns.node(cluster, node_id),
                ec2_instance_id=node_id,
                status="ACTIVE",
                registered_at=time.time(),
            )
            node.hostname = request.hostname
            node.cpu_units = request.cpu_units
            node.memory_mib = request.memory_mib
            node.address = request.address
            node.metrics_port = request.metrics_port
            node.agent_version = request.agent_version
            del node.attributes[:]
            node.attributes.extend(request.attributes)
            node.dynamic_port_low = request.dynamic_port_low
            node.dynamic_port_high = request.dynamic_port_high
            try:
                if rec is None:
                    self.ctx.store.create(keys.node(cluster, node_id), node.SerializeToString())
                else:
                    self.ctx.store.cas(rec.key, node.SerializeToString(), rec.mod_revision)
            except Conflict:
                continue
            log.info("node registered", extra=kv(node=node_id, cluster=cluster, host=request.hostname))
            return agent_pb2.RegisterNodeResponse(
                node_id=node_id,
                container_instance_arn=node.container_instance_arn,
                heartbeat_interval_seconds=max(self.ttl / 4, 0.25),
                lease_ttl_seconds=self.ttl,
            )
        raise invalid("nodeId: concurrent registrations; try again")

    # ---- the stream ------------------------------------------------------------------

    def Connect(self, request_iterator, context: grpc.ServicerContext):
        if self.cut_off():
            abort_with(context, _cut_off_error())
        try:
            first = next(request_iterator)
        except StopIteration:
            return
        if first.WhichOneof("body") != "hello":
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "the first message on the stream must be hello")
        hello = first.hello
        try:
            node = self.ctx.state.node(hello.cluster or "default", hello.node_id)
        except StoreError as exc:
            context.abort(grpc.StatusCode.UNAVAILABLE, f"state store unavailable: {exc}")
        if node is None:
            try:
                refuse_if_deregistered(self.ctx.store, hello.node_id)  # the better answer, if so
            except ApiError as exc:
                abort_with(context, exc)
            except StoreError as exc:
                context.abort(grpc.StatusCode.UNAVAILABLE, f"state store unavailable: {exc}")
            context.abort(grpc.StatusCode.NOT_FOUND, f"nodeId: {hello.node_id!r} is not registered; register first")
        stream = _Stream(node_id=hello.node_id, cluster=node.msg.cluster)
        with self._lock:
            old = self._streams.pop(stream.node_id, None)
            self._lingering.pop(stream.node_id, None)
            self._streams[stream.node_id] = stream
        if old is not None:
            old.closed = True
            old.outbox.put(_CLOSE)
            if self.on_stream_end is not None:
                self.on_stream_end(stream.node_id)
        CONNECTED_AGENTS.set(len(self._streams))
        try:
            # Checked only now that the stream is held: a deregistration after this check
            # finds the stream in end_deregistered_streams, so none slips between the two.
            refuse_if_deregistered(self.ctx.store, stream.node_id)
            self._put_alive(stream)
        except ApiError as exc:
            self._end(stream)
            abort_with(context, exc)
        except StoreError as exc:
            self._end(stream)
            context.abort(grpc.StatusCode.UNAVAILABLE, f"state store unavailable: {exc}")
        log.info("agent connected", extra=kv(node=stream.node_id, cluster=stream.cluster))
        unsubscribe = self.feed.subscribe(stream.node_id, lambda a: stream.outbox.put(a))
        reader = threading.Thread(
            target=self._read, args=(stream, request_iterator), name=f"agent-{stream.node_id[:8]}", daemon=True
        )
        reader.start()
        context.add_callback(lambda: stream.outbox.put(_CLOSE))
        try:
            while True:
                item = stream.outbox.get()
                if item is _CLOSE:
                    return
                if isinstance(item, ApiError):  # sent away: cut off from etcd, or deregistered
                    abort_with(context, item)
                if isinstance(item, agent_pb2.ControlMessage):
                    yield item
                    continue
                # Only the newest set matters: skip sets already superseded in the queue.
                while not stream.outbox.empty():
                    nxt = stream.outbox.get_nowait()
                    if nxt is _CLOSE:
                        return
                    if isinstance(nxt, ApiError):
                        abort_with(context, nxt)
                    if isinstance(nxt, agent_pb2.ControlMessage):
                        yield nxt
                        continue
                    item = nxt
                yield agent_pb2.ControlMessage(assignments=item)
        finally:
            unsubscribe()
            self._end(stream)
            log.info("agent stream ended", extra=kv(node=stream.node_id))

    def _read(self, stream: _Stream, request_iterator) -> None:
        try:
            for msg in request_iterator:
                if stream.closed:
                    return
                body = msg.WhichOneof("body")
                if body == "heartbeat":
                    stream.last_heartbeat = time.monotonic()
                    if not stream.alive_revision:
                        self._put_alive(stream)
                elif body == "task_state":
                    stream.last_heartbeat = time.monotonic()
                    self._apply_task_state(stream, msg.task_state)
                elif body == "log_chunk" and self.on_log_chunk is not None:
                    self.on_log_chunk(stream.node_id, msg.log_chunk)
        except grpc.RpcError:
            pass  # the agent went away; liveness takes it from here
        except Exception:
            log.exception("agent stream reader failed", extra=kv(node=stream.node_id))
        finally:
            stream.outbox.put(_CLOSE)

    def _end(self, stream: _Stream) -> None:
        stream.closed = True
        current = False
        with self._lock:
            if self._streams.get(stream.node_id) is stream:
                del self._streams[stream.node_id]
                self._lingering[stream.node_id] = stream
                current = True
        CONNECTED_AGENTS.set(len(self._streams))
        if current and self.on_stream_end is not None:
            self.on_stream_end(stream.node_id)

    # ---- deregistration ----------------------------------------------------------------

    def end_deregistered_streams(self) -> str:
        """Ends the stream of every node held here that has been deregistered (the node
        watch of server.py calls this on each change under deregistered/). Returns what
        it did."""
        with self._lock:
            held = list(self._streams.values())
        if not held:
            return ""
        gone = {kv.key.rsplit("/", 1)[-1] for kv in self.ctx.store.list(keys.DEREGISTERED).kvs}
        ended = [s for s in held if s.node_id in gone and not s.closed]
        for stream in ended:
            stream.outbox.put(deregistered_error(stream.node_id))
        if not ended:
            return ""
        return f"ended the streams of {len(ended)} deregistered nodes: {', '.join(s.node_id[:12] for s in ended)}"

    # ---- liveness ----------------------------------------------------------------------

    def cut_off(self) -> bool:
        """True when etcd is out of reach and the replica lease (with every agent key on it)
        may expire: see ``ReplicaLease.cut_off``."""
        return self.lease.cut_off()

    def shed_if_cut_off(self) -> str:
        """Ends every agent stream while this replica is cut off from etcd, so the agents
        move to another replica and re-put their alive keys there (bound to its lease)
        before this replica's lease expires and takes the keys with it: their nodes are
        then never judged lost. Returns what it did."""
        if not self.cut_off():
            return ""
        with self._lock:
            streams = [s for s in self._streams.values() if not s.closed]
        for stream in streams:
            stream.outbox.put(_cut_off_error())
        if not streams:
            return ""
        return (f"replica lease unrefreshed for {self.lease.age():.1f}s (etcd out of reach): "
                f"sent {len(streams)} agents to another replica")

    def _put_alive(self, stream: _Stream) -> None:
        stream.alive_revision = self.ctx.store.put(keys.alive(stream.node_id), self.address.encode(),
                                                   lease=self.lease.lease_id)

    def _rewrite_alive_keys(self, lease_id: int) -> None:
        with self._lock:
            streams = list(self._streams.values())
        for stream in streams:
            try:
                self._put_alive(stream)
            except StoreError as exc:
                log.warning("could not rewrite alive key: %s", exc, extra=kv(node=stream.node_id))

    def expire_silent_agents(self) -> str:
        """Deletes the alive key of every agent silent for a TTL. Returns what it did."""
        now = time.monotonic()
        with self._lock:
            candidates = list(self._streams.values()) + list(self._lingering.values())
        expired = []
        for stream in candidates:
            if now - stream.last_heartbeat <= self.ttl or not stream.alive_revision:
                continue
            try:
                # Only our own write: if another replica re-put the key, the agent lives there.
                self.ctx.store.delete(keys.alive(stream.node_id), stream.alive_revision)
            except Conflict:
                pass
            except StoreError as exc:
                return f"could not expire silent agents: {exc}"
            stream.alive_revision = 0
            expired.append(stream.node_id)
            with self._lock:
                if self._lingering.get(stream.node_id) is stream:
                    del self._lingering[stream.node_id]
        if expired:
            return f"marked {len(expired)} silent agents lost: {', '.join(n[:12] for n in expired)}"
        return ""

    # ---- task state ------------------------------------------------------------------------

    def _apply_task_state(self, stream: _Stream, change: agent_pb2.TaskStateChange) -> None:
        if change.last_status not in STATUS_ORDER:
            log.warning("agent sent unknown status %r", change.last_status, extra=kv(node=stream.node_id))
            return
        for _ in range(_ATTEMPTS):
            try:
                rec = self.ctx.state.task(stream.cluster, change.task_id)
            except StoreError as exc:
                log.warning("task state dropped, store unavailable: %s", exc, extra=kv(task=change.task_id))
                return
            if rec is None:
                return
            task = rec.msg
            if task.node_id != stream.node_id:
                # An agent may only report its own tasks (like Kubernetes' NodeRestriction).
                record_denial("other_node_task", f"shoal:node:{stream.node_id}",
                              "agent reported a task of another node", task=change.task_id, owner=task.node_id)
                return
            if not _merge(task, change):
                return
            ops: list[Put | Delete] = [Put(rec.key, task.SerializeToString())]
            if task.last_status == "STOPPED":
                ops.append(Delete(keys.assignment(task.node_id, task.id)))
            try:
                self.ctx.store.txn([Compare(rec.key, rec.mod_revision)], ops)
            except Conflict:
                continue
            except StoreError as exc:
                log.warning("task state dropped, store unavailable: %s", exc, extra=kv(task=task.id))
                return
            log.info("task %s", task.last_status.lower(), extra=kv(task=task.id, node=stream.node_id))
            return


def _merge(task: r.Task, change: agent_pb2.TaskStateChange) -> bool:
    """Applies what the agent saw. A status never moves backwards (a task the control plane
    already stopped stays STOPPED). Returns whether anything changed."""
    before = task.SerializeToString()
    if STATUS_ORDER[change.last_status] >= STATUS_ORDER[task.last_status]:
        task.last_status = change.last_status
    by_name = {c.name: c for c in task.containers}
    for reported in change.containers:
        mine = by_name.get(reported.name)
        if mine is None:
            continue
        mine.runtime_id = reported.runtime_id or mine.runtime_id
        if STATUS_ORDER.get(reported.last_status, -1) >= STATUS_ORDER.get(mine.last_status, -1):
            mine.last_status = reported.last_status
        if reported.HasField("exit_code"):
            mine.exit_code = reported.exit_code
        if reported.reason:
            mine.reason = reported.reason
        if reported.health_status:
            mine.health_status = reported.health_status
        if reported.network_bindings:
            del mine.network_bindings[:]
            mine.network_bindings.extend(reported.network_bindings)
    if change.health_status:
        task.health_status = change.health_status
    at = change.at or time.time()
    if task.last_status == "RUNNING" and not task.started_at:
        task.started_at = at
    if task.last_status == "STOPPED":
        task.desired_status = "STOPPED"
        if not task.stopped_at:
            task.stopped_at = at
        if not task.stopped_reason:
            task.stopped_reason = change.stopped_reason
            task.stop_code = change.stop_code
    if task.SerializeToString() == before:
        return False
    task.version += 1
    return True


def _check_registration(req: agent_pb2.RegisterNodeRequest) -> None:
    if req.node_id:
        check_name(req.node_id, "nodeId")
    if len(req.hostname) > 255:
        raise invalid("hostname: at most 255 characters")
    if req.cpu_units <= 0 or req.cpu_units > 1024 * 1024:
        raise invalid("cpuUnits: must be between 1 and 1048576")
    if req.memory_mib <= 0 or req.memory_mib > 64 * 1024 * 1024:
        raise invalid("memoryMib: must be positive")
    low, high = req.dynamic_port_low, req.dynamic_port_high
    if (low or high) and not 1024 <= low < high <= 65535:
        raise invalid("dynamicPortLow/dynamicPortHigh: need 1024 <= low < high <= 65535")
    if len(req.attributes) > _MAX_ATTRIBUTES:
        raise invalid(f"attributes: at most {_MAX_ATTRIBUTES}")
    for i, attr in enumerate(req.attributes):
        if not attr.name or len(attr.name) > 128 or not all(ch.isalnum() or ch in "-_./@:" for ch in attr.name):
            raise invalid(f"attributes[{i}].name: 1-128 letters, digits or -_./@:")
        if len(attr.value) > 128:
            raise invalid(f"attributes[{i}].value: at most 128 characters")


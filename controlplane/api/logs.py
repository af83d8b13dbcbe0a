"""The Logs gRPC service: `shoal logs` without a shell on the node, and `shoal exec`
(ExecuteCommand, checked and audited by ``execute``) by the same path.

The replica holding the node agent's stream asks the agent for the container's output
(a LogRequest down the stream) and relays the AgentLogChunks that come back. A replica
that does not hold the stream finds the one that does in the node's alive key (its value is
that replica's gRPC address) and relays the call there, marked ``relayed`` so it is never
passed on twice. When the caller goes away the agent is told (CancelLogs), so a follow
never outlives its reader; when the agent's stream ends the call ends UNAVAILABLE.

The chunks arrive on the thread that reads the agent's stream, heartbeats included, so
relaying them never waits: each call buffers at most ``_BUFFER`` chunks (``_BUFFER_BYTES``),
and a call whose reader falls that far behind is cancelled and the agent told to stop,
rather than its node being judged lost for heartbeats stuck behind a log."""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

import grpc

from controlplane import authz
from controlplane.api import execute
from controlplane.api.agents import AgentGatewayService
from controlplane.api.context import ApiContext
from controlplane.errors import ApiError, conflict, invalid, not_found
from shoal import keys
from shoal.arns import last_segment
from shoal.errors import rpc_status
from shoal.logs import kv
from shoal.store.base import StoreError
from shoal.v1 import agent_pb2, logs_pb2, logs_pb2_grpc
from shoal.v1 import resources_pb2 as r

log = logging.getLogger(__name__)

# How often a waiting relay checks that its caller is still there.
_POLL = 1.0
# What one call may have waiting for its reader. The agent's stream is never made to wait
# on a reader (its heartbeats share that stream): a reader this far behind is cut off.
_BUFFER = 1024
_BUFFER_BYTES = 8 * 1024 * 1024
_END = object()

OpenChannel = Callable[[str], grpc.Channel]
M = TypeVar("M", logs_pb2.GetTaskLogsRequest, logs_pb2.ExecuteCommandRequest)


class _Pending:
    """One call's chunks on their way from the agent's stream to the call's reader,
    bounded so that the stream never waits."""

    def __init__(self, node_id: str, task_id: str, context: grpc.ServicerContext) -> None:
        self.node_id = node_id
        self.task_id = task_id
        self.context = context
        self._items: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._count = 0
        self._bytes = 0

    def offer(self, chunk: agent_pb2.AgentLogChunk) -> bool:
        """Queues ``chunk`` without waiting; False when the reader is too far behind."""
        size = chunk.ByteSize()
        with self._lock:
            if self._count >= _BUFFER or self._bytes + size > _BUFFER_BYTES:
                return False
            self._count += 1
            self._bytes += size
        self._items.put(chunk)
        return True

    def end(self, why: str, code: grpc.StatusCode | None = None) -> None:
        """No more chunks: the call ends, with ``code`` and ``why`` as its status when given."""
        self._items.put((_END, why, code))

    def take(self, timeout: float) -> object:
        """The next chunk or (_END, why, code); raises queue.Empty after ``timeout``."""
        item = self._items.get(timeout=timeout)
        if isinstance(item, agent_pb2.AgentLogChunk):
            with self._lock:
                self._count -= 1
                self._bytes -= item.ByteSize()
        return item


@dataclass(frozen=True)
class Target:
    task: r.Task
    container: str


def resolve(ctx: ApiContext, req: logs_pb2.GetTaskLogsRequest | logs_pb2.ExecuteCommandRequest) -> Target:
    """The task and container a request names; raises ApiError naming the field at fault."""
    cluster = ctx.require_cluster(req.cluster or "default").msg.cluster_name
    task_id = last_segment(req.task)
    if not task_id:
        raise invalid("task: required (a task id or ARN)")
    if isinstance(req, logs_pb2.GetTaskLogsRequest):
        if req.since_seconds < 0:
            raise invalid(f"sinceSeconds: must be 0 or more, got {req.since_seconds}")
        if req.tail < 0:
            raise invalid(f"tail: must be 0 or more, got {req.tail}")
    rec = ctx.state.task(cluster, task_id)
    if rec is None:
        raise not_found(f"task: task {task_id!r} not found in cluster {cluster!r}", "InvalidParameterException")
    task = rec.msg
    names = [c.name for c in task.containers]
    container = req.container
    if not container:
        if len(names) != 1:
            raise invalid(f"container: task {task_id} has {len(names)} containers ({', '.join(names)}); name one")
        container = names[0]
    elif container not in names:
        raise invalid(f"container: task {task_id} has no container {container!r} (it has {', '.join(names)})")
    if not task.node_id:
        raise conflict(f"task: task {task_id} is {task.last_status} and has not been placed on a node yet")
    return Target(task, container)


LOGS_SERVICE_NAME = logs_pb2.DESCRIPTOR.services_by_name["Logs"].full_name


def add_logs_service(ctx: ApiContext, gateway: AgentGatewayService, server: grpc.Server,
                     open_channel: OpenChannel | None = None) -> LogsService:
    service = LogsService(ctx, gateway, open_channel or insecure_channel)
    logs_pb2_grpc.add_LogsServicer_to_server(service, server)
    return service


def insecure_channel(address: str) -> grpc.Channel:
    return grpc.insecure_channel(address)


class LogsService(logs_pb2_grpc.LogsServicer):
    def __init__(self, ctx: ApiContext, gateway: AgentGatewayService,
                 open_channel: OpenChannel = insecure_channel) -> None:
        """``open_channel``: how this replica reaches another (TLS when the cluster uses it)."""
        self.ctx = ctx
        self.gateway = gateway
        self.open_channel = open_channel
        self._lock = threading.Lock()
        self._pending: dict[str, _Pending] = {}
        gateway.on_log_chunk = self._on_chunk
        gateway.on_stream_end = self._on_stream_end

    # ---- hooks on the agent streams ---------------------------------------------------------

    def _on_chunk(self, node_id: str, chunk: agent_pb2.AgentLogChunk) -> None:
        # Runs on the thread that also reads the agent's heartbeats: it must never wait.
        with self._lock:
            pending = self._pending.get(chunk.request_id)
        if pending is None or pending.node_id != node_id:
            return  # a reader that left, or a node answering for another's request
        if not pending.offer(chunk):
            self._cut_off(chunk.request_id, pending)

    def _cut_off(self, request_id: str, pending: _Pending) -> None:
        """Ends a call whose reader stopped reading: the agent stops reading the container's
        output, and the call is cancelled, which also frees the thread stuck sending to it."""
        log.warning("log reader too slow; ending its call", extra=kv(
            request=request_id, task=pending.task_id, node=pending.node_id,
            limit=f"{_BUFFER} chunks or {_BUFFER_BYTES >> 20} MiB"))
        self._drop(request_id, "the reader was too slow")
        self.gateway.send(pending.node_id, agent_pb2.ControlMessage(
            cancel_logs=agent_pb2.CancelLogs(request_id=request_id)))
        pending.context.cancel()

    def _on_stream_end(self, node_id: str) -> None:
        with self._lock:
            ids = [rid for rid, p in self._pending.items() if p.node_id == node_id]
        for rid in ids:
            self._drop(rid, f"node {node_id}'s agent disconnected")

    def _drop(self, request_id: str, why: str, code: grpc.StatusCode | None = None) -> None:
        with self._lock:
            pending = self._pending.pop(request_id, None)
        if pending is not None:
            pending.end(why, code)

    # ---- the call ----------------------------------------------------------------------

    def GetTaskLogs(self, request: logs_pb2.GetTaskLogsRequest, context: grpc.ServicerContext
                    ) -> Iterator[logs_pb2.LogChunk]:
        target, address = self._route(request, context, resolve)
        if address:
            log.info("relaying logs to the replica holding the node", extra=kv(task=target.task.id, replica=address))
            yield from self._relay(address, request, context, lambda stub, req: stub.GetTaskLogs(req))
            return
        ask = agent_pb2.LogRequest(task_id=target.task.id, container=target.container, follow=request.follow,
                                   since_seconds=request.since_seconds, tail=request.tail)
        for item in self._from_agent(target, context, "logs", lambda rid: agent_pb2.ControlMessage(
                log_request=_with_id(ask, rid))):
            if item.data:
                yield logs_pb2.LogChunk(data=item.data)

    def ExecuteCommand(self, request: logs_pb2.ExecuteCommandRequest, context: grpc.ServicerContext
                       ) -> Iterator[logs_pb2.ExecOutput]:
        if request.interactive or request.tty:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                          "interactive: ExecuteCommand takes no input; use ExecuteInteractive for -i/-t")
        return self._execute(request, iter(()), context)

    def ExecuteInteractive(self, request_iterator: Iterator[logs_pb2.ExecInput], context: grpc.ServicerContext
                           ) -> Iterator[logs_pb2.ExecOutput]:
        first = next(request_iterator, None)
        if first is None or first.WhichOneof("body") != "start":
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "start: the first message must be the request")
        return self._execute(first.start, request_iterator, context)

    def _execute(self, request: logs_pb2.ExecuteCommandRequest, inputs: Iterator[logs_pb2.ExecInput],
                 context: grpc.ServicerContext) -> Iterator[logs_pb2.ExecOutput]:
        identity = authz.current_identity()
        target, address = self._route(request, context, lambda ctx, req: execute.check(ctx, req, resolve(ctx, req)))
        if address and (request.interactive or request.tty):
            outputs = self._relay(address, request, context, lambda stub, req: stub.ExecuteInteractive(
                itertools.chain([logs_pb2.ExecInput(start=req)], inputs)))
        elif address:
            outputs = self._relay(address, request, context, lambda stub, req: stub.ExecuteCommand(req))
        else:
            outputs = self._exec_local(target, request, inputs, context)
        if request.relayed:
            # The replica the caller reached records it, under the caller's identity.
            yield from outputs
            return
        code: int | None = None
        try:
            for out in outputs:
                if out.HasField("exit_code"):
                    code = out.exit_code
                yield out
        finally:
            execute.audit(self.ctx, target.task, target.container, request.command,
                          str(identity) if identity else "an unauthenticated caller (--insecure)", code,
                          interactive=request.interactive, tty=request.tty)

    def _exec_local(self, target: Target, request: logs_pb2.ExecuteCommandRequest,
                    inputs: Iterator[logs_pb2.ExecInput], context: grpc.ServicerContext
                    ) -> Iterator[logs_pb2.ExecOutput]:
        ask = agent_pb2.ExecRequest(task_id=target.task.id, container=target.container, command=request.command,
                                    stdin=request.interactive, tty=request.tty,
                                    rows=request.size.rows, cols=request.size.cols)
        node_id = target.task.node_id

        def started(rid: str) -> None:
            if request.interactive or request.tty:
                threading.Thread(target=self._forward_input, args=(node_id, rid, request, inputs, context),
                                 daemon=True, name=f"exec-in-{rid[:8]}").start()

        for item in self._from_agent(target, context, "exec", lambda rid: agent_pb2.ControlMessage(
                exec_request=_with_id(ask, rid)), started):
            if item.data:
                yield logs_pb2.ExecOutput(data=item.data)
            if item.HasField("exit_code"):
                yield logs_pb2.ExecOutput(exit_code=item.exit_code)

    def _forward_input(self, node_id: str, request_id: str, request: logs_pb2.ExecuteCommandRequest,
                       inputs: Iterator[logs_pb2.ExecInput], context: grpc.ServicerContext) -> None:
        """Sends the caller's input down the node's stream until it ends or the call does. The
        agent bounds what waits there (agent/exec_input.py); each piece is bounded here."""
        try:
            for msg in inputs:
                with self._lock:
                    if request_id not in self._pending:
                        return  # the call ended
                chunk = _input_chunk(request_id, msg, request.interactive)
                if isinstance(chunk, str):
                    # The call's own thread ends it (abort works only there), and tells the agent.
                    log.warning("exec input refused", extra=kv(request=request_id, why=chunk))
                    self._drop(request_id, chunk, grpc.StatusCode.INVALID_ARGUMENT)
                    return
                self.gateway.send(node_id, agent_pb2.ControlMessage(exec_input=chunk))
        except grpc.RpcError:
            return  # the caller went away; the call's own end tells the agent

    def _route(self, request, context: grpc.ServicerContext, check: Callable) -> tuple[Target, str]:
        """The request's target, and the address of the replica to relay to ("": this one)."""
        try:
            target = check(self.ctx, request)
            node_id = target.task.node_id
            if self.gateway.holds(node_id):
                return target, ""
            if request.relayed:
                raise ApiError(grpc.StatusCode.UNAVAILABLE,
                               f"task: node {node_id} of task {target.task.id} moved to another replica; try again")
            return target, self._holder_address(target)
        except ApiError as exc:
            context.abort(exc.code, exc.message)
        except StoreError as exc:
            context.abort(grpc.StatusCode.UNAVAILABLE, f"state store unavailable: {exc}")
        raise AssertionError("context.abort returned")

    def _holder_address(self, target: Target) -> str:
        """The gRPC address of the replica holding the node's stream, from its alive key."""
        node_id = target.task.node_id
        found = self.ctx.store.get(keys.alive(node_id))
        if found is None:
            raise ApiError(grpc.StatusCode.UNAVAILABLE, f"task: node {node_id} of task {target.task.id} is not "
                                                        "connected; its logs stay on the node until it returns")
        address = found.value.decode(errors="replace")
        if not address or address == self.gateway.address:
            raise ApiError(grpc.StatusCode.UNAVAILABLE,
                           f"task: node {node_id} of task {target.task.id} is reconnecting; try again")
        return address

    def _relay(self, address: str, request: M, context: grpc.ServicerContext,
               start: Callable[[logs_pb2_grpc.LogsStub, M], Iterator]) -> Iterator:
        forwarded = type(request)()
        forwarded.CopyFrom(request)
        forwarded.relayed = True
        channel = self.open_channel(address)
        call = start(logs_pb2_grpc.LogsStub(channel), forwarded)
        context.add_callback(call.cancel)
        try:
            yield from call
        except grpc.RpcError as exc:
            if context.is_active():
                code, details = rpc_status(exc)
                code = code or grpc.StatusCode.UNAVAILABLE
                if code == grpc.StatusCode.UNAVAILABLE:
                    context.abort(code, f"replica {address} holding the node's stream is unreachable: {details}")
                context.abort(code, details)
        finally:
            call.cancel()
            channel.close()

    def _from_agent(self, target: Target, context: grpc.ServicerContext, what: str,
                    ask: Callable[[str], agent_pb2.ControlMessage],
                    started: Callable[[str], None] = lambda _rid: None) -> Iterator[agent_pb2.AgentLogChunk]:
        """Sends ``ask(request_id)`` down the node's stream, calls ``started(request_id)``, and
        yields the AgentLogChunks that answer it, up to the one with ``eof``; an agent's error
        or a lost node aborts the call."""
        node_id = target.task.node_id
        request_id = uuid.uuid4().hex
        pending = _Pending(node_id, target.task.id, context)
        with self._lock:
            self._pending[request_id] = pending
        context.add_callback(lambda: self._drop(request_id, "the caller went away"))
        ended = ""
        agent_done = False
        try:
            if not self.gateway.send(node_id, ask(request_id)):
                context.abort(grpc.StatusCode.UNAVAILABLE, f"task: node {node_id} of task {target.task.id} "
                                                           "is not connected")
            started(request_id)
            while True:
                try:
                    item = pending.take(_POLL)
                except queue.Empty:
                    if not context.is_active():
                        ended = "the caller went away"
                        return
                    continue
                if isinstance(item, tuple) and item[0] is _END:
                    ended = item[1]
                    if item[2] is not None:
                        context.abort(item[2], ended)
                    if context.is_active() and "disconnected" in ended:
                        context.abort(grpc.StatusCode.UNAVAILABLE, f"task: {ended} while streaming {what}")
                    return
                if item.error:
                    ended, agent_done = item.error, True
                    code = (grpc.StatusCode.NOT_FOUND if item.error.startswith(("task:", "container:"))
                            else grpc.StatusCode.UNAVAILABLE)
                    context.abort(code, item.error)
                yield item
                if item.eof:
                    ended, agent_done = "end of output", True
                    return
        finally:
            with self._lock:
                self._pending.pop(request_id, None)
            if not agent_done:
                # The agent may still be reading (a follow): tell it to stop.
                self.gateway.send(node_id, agent_pb2.ControlMessage(
                    cancel_logs=agent_pb2.CancelLogs(request_id=request_id)))
            log.info(f"{what} stream ended", extra=kv(task=target.task.id, node=node_id, container=target.container,
                                                      why=ended or "aborted"))


# Most bytes one ExecInput may carry (the CLI sends what one read of its stdin gives).
MAX_INPUT = 64 * 1024


def _input_chunk(request_id: str, msg: logs_pb2.ExecInput, interactive: bool) -> agent_pb2.ExecInputChunk | str:
    """The agent's form of one caller input, or why the call cannot take it (which ends the call)."""
    body = msg.WhichOneof("body")
    if body == "stdin":
        if not interactive:
            return "stdin: the command was started without interactive (-i); it takes no input"
        if len(msg.stdin) > MAX_INPUT:
            return f"stdin: at most {MAX_INPUT} bytes a message, got {len(msg.stdin)}"
        return agent_pb2.ExecInputChunk(request_id=request_id, data=msg.stdin)
    if body == "stdin_eof":
        return agent_pb2.ExecInputChunk(request_id=request_id, eof=True)
    if body == "resize":
        if not (msg.resize.rows and msg.resize.cols):
            return "resize: rows and cols must both be set"
        return agent_pb2.ExecInputChunk(request_id=request_id, rows=msg.resize.rows, cols=msg.resize.cols)
    return f"start: only the first message may be the request, got {body or 'an empty message'}"


A = TypeVar("A", agent_pb2.LogRequest, agent_pb2.ExecRequest)


def _with_id(ask: A, request_id: str) -> A:
    out = type(ask)()
    out.CopyFrom(ask)
    out.request_id = request_id
    return out

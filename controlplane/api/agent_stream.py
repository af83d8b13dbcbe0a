"""The agent gateway's half that holds each agent's ``Connect`` stream: Hello, then a reader
task (heartbeats, task reports, log chunks up) while the call itself sends the node's
assignment sets and control messages down. Both run on the server's event loop
(controlplane/loop_server.py), so nothing here may wait: store work goes to the gateway's
``store_pool``, task reports to their batches. Also ends the streams of deregistered nodes."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from concurrent import futures
from dataclasses import dataclass, field
from typing import TypeVar

import grpc
import grpc.aio

from controlplane.api import proxy_checks
from controlplane.api.context import ApiContext
from controlplane.api.nodes import deregistered_error, refuse_if_deregistered
from controlplane.assignments import AssignmentFeed
from controlplane.errors import ApiError, abort_with_async
from controlplane.metrics import CONNECTED_AGENTS, PREPULLS
from shoal import keys
from shoal.logs import kv
from shoal.store.base import StoreError
from shoal.v1 import agent_pb2, traffic_pb2

log = logging.getLogger(__name__)

_CLOSE = object()
T = TypeVar("T")


class Outbox:
    """What goes down one agent's stream, put from any thread, taken on the event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._queue: asyncio.Queue = asyncio.Queue()

    def put(self, item: object) -> None:
        self._loop.call_soon_threadsafe(self._queue.put_nowait, item)

    async def messages(self) -> AsyncIterator[agent_pb2.ControlMessage | ApiError]:
        """The messages to send, until the stream is closed. Of assignment sets, only the
        newest of those waiting is sent: it supersedes the rest."""
        while True:
            items = [await self._queue.get()]
            while not self._queue.empty():
                items.append(self._queue.get_nowait())
            newest = max((i for i, item in enumerate(items) if isinstance(item, agent_pb2.Assignments)),
                         default=-1)
            for i, item in enumerate(items):
                if item is _CLOSE:
                    return
                if isinstance(item, agent_pb2.Assignments):
                    if i == newest:
                        yield agent_pb2.ControlMessage(assignments=item)
                else:
                    yield item


@dataclass
class AgentStream:
    node_id: str
    cluster: str
    outbox: Outbox
    last_heartbeat: float = field(default_factory=time.monotonic)
    alive_revision: int = 0
    closed: bool = False


class Streams:
    """Part of ``AgentGatewayService`` (controlplane/api/agents.py), which sets these."""

    ctx: ApiContext
    feed: AssignmentFeed
    store_pool: futures.Executor
    _lock: threading.Lock
    _streams: dict[str, AgentStream]
    _lingering: dict[str, AgentStream]
    on_log_chunk: Callable[[str, agent_pb2.AgentLogChunk], None] | None
    on_stream_end: Callable[[str], None] | None
    routing_for: Callable[[str], agent_pb2.ControlMessage | None]
    # From the other parts of the service.
    refusal_if_cut_off: Callable[[], ApiError | None]
    _put_alive: Callable[[AgentStream], None]
    _apply_task_state: Callable[[AgentStream, agent_pb2.TaskStateChange], None]

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

    def broadcast(self, cluster: str, msg: agent_pb2.ControlMessage) -> int:
        """Queues ``msg`` on every stream of ``cluster`` held here; returns how many."""
        with self._lock:
            held = [s for s in self._streams.values() if s.cluster == cluster and not s.closed]
        for stream in held:
            stream.outbox.put(msg)
        return len(held)

    async def Connect(self, request_iterator: AsyncIterator[agent_pb2.AgentMessage],
                      context: grpc.aio.ServicerContext) -> AsyncIterator[agent_pb2.ControlMessage]:
        # On the server's event loop (controlplane/loop_server.py): anything that may wait
        # (the store) goes to the gateway's small pool, so 1,000 streams never need 1,000 threads.
        loop = asyncio.get_running_loop()

        def blocking(fn: Callable[..., T], *args: object) -> asyncio.Future[T]:
            return loop.run_in_executor(self.store_pool, fn, *args)

        if (refusal := self.refusal_if_cut_off()) is not None:
            await abort_with_async(context, refusal)
        first = await anext(aiter(request_iterator), None)
        if first is None:
            return
        if first.WhichOneof("body") != "hello":
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "the first message on the stream must be hello")
        hello = first.hello
        try:
            node = await blocking(self.ctx.state.node, hello.cluster or "default", hello.node_id)
            if node is None:
                # The better answer, if so.
                await blocking(refuse_if_deregistered, self.ctx.store, hello.node_id)
        except ApiError as exc:
            await abort_with_async(context, exc)
        except StoreError as exc:
            await context.abort(grpc.StatusCode.UNAVAILABLE, f"state store unavailable: {exc}")
        if node is None:
            await context.abort(grpc.StatusCode.NOT_FOUND,
                                f"nodeId: {hello.node_id!r} is not registered; register first")
        stream = AgentStream(node_id=hello.node_id, cluster=node.msg.cluster, outbox=Outbox(loop))
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
        reader: asyncio.Task | None = None
        unsubscribe: Callable[[], None] = lambda: None  # noqa: E731
        try:
            try:
                # Checked only now that the stream is held: a deregistration after this check
                # finds the stream in end_deregistered_streams, so none slips between the two.
                await blocking(refuse_if_deregistered, self.ctx.store, stream.node_id)
                await blocking(self._put_alive, stream)
            except ApiError as exc:
                await abort_with_async(context, exc)
            except StoreError as exc:
                await context.abort(grpc.StatusCode.UNAVAILABLE, f"state store unavailable: {exc}")
            log.info("agent connected", extra=kv(node=stream.node_id, cluster=stream.cluster))
            unsubscribe = self.feed.subscribe(stream.node_id, stream.outbox.put)
            if (routing := self.routing_for(stream.cluster)) is not None:
                stream.outbox.put(routing)  # the cluster's current table, at once
            reader = asyncio.create_task(self._read(stream, request_iterator, blocking))
            async for message in stream.outbox.messages():
                if isinstance(message, ApiError):  # sent away: cut off from etcd, or deregistered
                    await abort_with_async(context, message)
                yield message
        finally:
            if reader is not None:
                reader.cancel()
            unsubscribe()
            self._end(stream)
            log.info("agent stream ended", extra=kv(node=stream.node_id))

    async def _read(self, stream: AgentStream, request_iterator: AsyncIterator[agent_pb2.AgentMessage],
                    blocking: Callable[..., asyncio.Future]) -> None:
        try:
            async for msg in request_iterator:
                if stream.closed:
                    return
                body = msg.WhichOneof("body")
                if body == "heartbeat":
                    stream.last_heartbeat = time.monotonic()
                    if not stream.alive_revision:
                        await blocking(self._put_alive, stream)
                elif body == "task_state":
                    stream.last_heartbeat = time.monotonic()
                    self._apply_task_state(stream, msg.task_state)
                elif body == "log_chunk" and self.on_log_chunk is not None:
                    self.on_log_chunk(stream.node_id, msg.log_chunk)
                elif body == "prepull_report":
                    _prepull_reported(stream.node_id, msg.prepull_report)
                elif body == "proxy_checks":
                    await blocking(self._store_proxy_checks, stream, msg.proxy_checks)
        except (grpc.RpcError, asyncio.CancelledError):
            pass  # the agent went away; liveness takes it from here
        except Exception:
            log.exception("agent stream reader failed", extra=kv(node=stream.node_id))
        finally:
            stream.outbox.put(_CLOSE)

    def _store_proxy_checks(self, stream: AgentStream, report: traffic_pb2.NodeProxyChecks) -> None:
        try:
            said = proxy_checks.store(self.ctx, stream.cluster, stream.node_id, report)
        except StoreError as exc:
            # The agent sends its checks again when they next change, and on its next stream.
            log.warning(f"storing the proxy's checks failed: {exc}", extra=kv(node=stream.node_id))
            return
        log.info(said, extra=kv(node=stream.node_id, cluster=stream.cluster))

    def _end(self, stream: AgentStream) -> None:
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


def _prepull_reported(node_id: str, report: agent_pb2.PrePullReport) -> None:
    """A node's pre-pull ended: counted and logged (the intent itself stays the leader's)."""
    PREPULLS.labels("ok" if report.ok else "failed").inc()
    fields = kv(node=node_id, deployment=report.deployment_id, image=report.image, seconds=round(report.seconds, 3))
    if report.ok:
        log.info("image pre-pulled", extra=fields)
    else:
        log.warning(f"pre-pull failed: {report.error}", extra=fields)

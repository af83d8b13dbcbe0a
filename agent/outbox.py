"""What one agent stream sends up, in two lanes. Task-state reports go in the control lane
and are always sent first, in the order they were put; container output (log chunks) goes
in the log lane, in the order it was offered, and only when the control lane is empty. So
a report never waits behind a log, whatever a log's size or the link's speed.

The log lane is bounded per log request and in total. A request's reader thread that finds
no room waits for it (the link drains the lane), but not for ever: a request that cannot
queue a chunk within ``wait`` seconds is ended with an error chunk saying so, behind what
it already queued, like the control plane ends a reader that falls behind."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from shoal.v1 import agent_pb2


@dataclass(frozen=True)
class Limit:
    chunks: int
    bytes: int


# A chunk is at most 32 KiB (agent.requests.MAX_CHUNK), so a request holds up to 4 MiB and all
# requests together up to 16 MiB, whatever the link does.
PER_REQUEST = Limit(chunks=256, bytes=4 << 20)
TOTAL = Limit(chunks=1024, bytes=16 << 20)
# How long a request may find no room before it is ended.
SEND_WAIT = 10.0

CLOSED = object()


class Refused(Exception):
    """A chunk the log lane will not take; the message says why. Its request is over."""


class _Request:
    def __init__(self) -> None:
        self.chunks = 0
        self.bytes = 0
        self.ended = ""  # why no more of its chunks are taken


class Outbox:
    def __init__(self, *, per_request: Limit = PER_REQUEST, total: Limit = TOTAL,
                 wait: float = SEND_WAIT) -> None:
        self.per_request = per_request
        self.total = total
        self.wait = wait
        self._cond = threading.Condition()
        self._control: deque[agent_pb2.AgentMessage] = deque()
        self._logs: deque[tuple[_Request, agent_pb2.AgentMessage, int]] = deque()
        self._requests: dict[str, _Request] = {}
        self._chunks = 0
        self._bytes = 0
        self._closed = False
        # Called (under the outbox's lock, so it must not block) whenever ``take`` may have
        # something new: a sender on an event loop waits for it instead of a thread in `take`.
        self.on_ready: Callable[[], None] | None = None

    # ---- the control lane -------------------------------------------------------------------

    def put(self, msg: agent_pb2.AgentMessage) -> None:
        """Queues a control message; dropped once closed (the next stream catches up)."""
        with self._cond:
            if self._closed:
                return
            self._control.append(msg)
            self._notify()

    # ---- the log lane -----------------------------------------------------------------------

    def offer(self, request_id: str, data: bytes) -> None:
        """Queues a piece of ``request_id``'s output, waiting for room up to ``wait`` seconds.
        Raises Refused when the request was dropped, the outbox closed, or the wait ran out;
        in the last case the request's reader is told with an error chunk."""
        msg = agent_pb2.AgentMessage(log_chunk=agent_pb2.AgentLogChunk(request_id=request_id, data=data))
        size = msg.ByteSize()
        deadline = time.monotonic() + self.wait
        with self._cond:
            req = self._requests.setdefault(request_id, _Request())
            while not self._room(req, size):
                if req.ended or self._closed:
                    raise Refused(req.ended or "the stream to the control plane ended")
                left = deadline - time.monotonic()
                if left <= 0:
                    req.ended = (f"logs: the link to the control plane did not take this output for "
                                 f"{self.wait:g}s ({req.chunks} chunks, {req.bytes >> 10} KiB waiting); "
                                 "stream ended")
                    self._append(req, agent_pb2.AgentMessage(log_chunk=agent_pb2.AgentLogChunk(
                        request_id=request_id, error=req.ended)), 0)
                    raise Refused(req.ended)
                self._cond.wait(left)
            self._append(req, msg, size)

    def finish(self, request_id: str, last: agent_pb2.AgentLogChunk | None) -> None:
        """The end of ``request_id``: queues ``last`` (its eof or error chunk, outside the
        limits: one per request) unless the request was already ended, and forgets it."""
        with self._cond:
            req = self._requests.pop(request_id, None) or _Request()
            if last is not None and not req.ended and not self._closed:
                self._append(req, agent_pb2.AgentMessage(log_chunk=last), 0)

    def drop(self, request_id: str, why: str = "the reader went away") -> None:
        """Nobody reads ``request_id`` any more: its queued chunks go, its next offer is refused."""
        with self._cond:
            req = self._requests.get(request_id)
            if req is None:
                return
            req.ended = why
            kept: deque[tuple[_Request, agent_pb2.AgentMessage, int]] = deque()
            for item in self._logs:
                if item[0] is req:
                    self._count(req, -item[2])
                else:
                    kept.append(item)
            self._logs = kept
            self._notify()

    def _notify(self) -> None:
        self._cond.notify_all()
        if self.on_ready is not None:
            self.on_ready()

    def _room(self, req: _Request, size: int) -> bool:
        if req.ended or self._closed:
            return False
        # An empty lane always takes one chunk, so no chunk is too big to ever be sent.
        if req.chunks == 0 and self._chunks == 0:
            return True
        return (req.chunks < self.per_request.chunks and req.bytes + size <= self.per_request.bytes
                and self._chunks < self.total.chunks and self._bytes + size <= self.total.bytes)

    def _append(self, req: _Request, msg: agent_pb2.AgentMessage, size: int) -> None:
        self._logs.append((req, msg, size))
        self._count(req, size)
        self._notify()

    def _count(self, req: _Request, size: int) -> None:
        """Adds a chunk of ``size`` bytes (removes one if negative); 0 is an end chunk,
        outside the limits."""
        if size == 0:
            return
        step = 1 if size > 0 else -1
        req.chunks += step
        req.bytes += size
        self._chunks += step
        self._bytes += size

    # ---- the sender -------------------------------------------------------------------------

    def take(self, timeout: float) -> agent_pb2.AgentMessage | object | None:
        """The next message to send (control lane first), CLOSED once closed, or None when
        nothing came within ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                if self._closed:
                    return CLOSED
                if self._control:
                    return self._control.popleft()
                if self._logs:
                    req, msg, size = self._logs.popleft()
                    self._count(req, -size)
                    self._notify()
                    return msg
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)

    def close(self) -> None:
        """The stream ended: everything queued goes, waiting offers are refused."""
        with self._cond:
            self._closed = True
            self._control.clear()
            self._logs.clear()
            self._chunks = self._bytes = 0
            self._requests.clear()
            self._notify()

    def queued(self, request_id: str = "") -> tuple[int, int]:
        """(chunks, bytes) in the log lane, of one request or all."""
        with self._cond:
            if not request_id:
                return self._chunks, self._bytes
            req = self._requests.get(request_id)
            return (req.chunks, req.bytes) if req is not None else (0, 0)

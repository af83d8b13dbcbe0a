"""What the log and exec relays share: the requests a relay is serving at once, each with the
engine stream it reads (None until open) and the outbox of the agent stream that asked, a
limit on how many run together, and the output handed to the outbox in bounded pieces."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

from agent.outbox import Outbox, Refused
from agent.runtime import ContainerRuntimeError
from shoal.v1 import agent_pb2

# Bigger pieces are split, so one chatty container cannot hold the stream for long.
MAX_CHUNK = 32 * 1024


class Closable(Protocol):
    def close(self) -> None: ...


S = TypeVar("S", bound=Closable)


class Requests(Generic[S]):
    """At most ``limit`` requests at once; thread-safe."""

    def __init__(self, limit: int, what: str) -> None:
        self.limit = limit
        self.what = what  # "log streams", "commands": said when the limit refuses one
        self._lock = threading.Lock()
        self._held: dict[str, tuple[S | None, Outbox]] = {}

    def start(self, request_id: str, outbox: Outbox, node_id: str,
              run: Callable[[], None], thread_name: str) -> None:
        """Runs ``run`` in a thread of its own, or ends the request at once with an error when
        ``limit`` requests are already running."""
        with self._lock:
            busy = len(self._held) >= self.limit
            if not busy:
                self._held[request_id] = (None, outbox)
        if busy:
            outbox.finish(request_id, agent_pb2.AgentLogChunk(
                request_id=request_id, error=f"node {node_id} already serves {self.limit} {self.what}"))
            return
        threading.Thread(target=run, name=thread_name, daemon=True).start()

    def attach(self, request_id: str, stream: S, outbox: Outbox) -> bool:
        """Records the request's open stream; False when it was cancelled before it opened."""
        with self._lock:
            if request_id not in self._held:
                return False
            self._held[request_id] = (stream, outbox)
            return True

    def held(self, request_id: str) -> bool:
        with self._lock:
            return request_id in self._held

    def release(self, request_id: str) -> None:
        """The request ended on its own."""
        with self._lock:
            self._held.pop(request_id, None)

    def cancel(self, request_id: str) -> bool:
        """Its reader went away: its queued output is dropped and its stream closed. False
        when no such request runs."""
        with self._lock:
            if request_id not in self._held:
                return False
            stream, outbox = self._held.pop(request_id)
        outbox.drop(request_id)
        if stream is not None:
            stream.close()
        return True

    def close(self, request_id: str) -> None:
        """Ends the request's stream but keeps its outbox entry, so the request's own thread
        can still say why it ended."""
        with self._lock:
            stream = self._held.get(request_id, (None, None))[0]
        if stream is not None:
            stream.close()

    def cancel_all(self) -> None:
        with self._lock:
            ids = list(self._held)
        for request_id in ids:
            self.cancel(request_id)

    def __len__(self) -> int:
        with self._lock:
            return len(self._held)


def offer(outbox: Outbox, request_id: str, chunk: bytes) -> None:
    """Queues ``chunk`` in pieces of at most MAX_CHUNK bytes (raises Refused as the outbox does)."""
    for i in range(0, len(chunk), MAX_CHUNK):
        outbox.offer(request_id, chunk[i:i + MAX_CHUNK])


# What ends a request before its output does, for the relays to catch as one.
ENDINGS = (Refused, LookupError, ContainerRuntimeError)


def ended(request_id: str, exc: Exception) -> tuple[str, agent_pb2.AgentLogChunk | None]:
    """The outcome to log and the last chunk for the reader when ``exc`` (one of ENDINGS)
    ended the request: none when the outbox refused it (it is gone), the error otherwise."""
    if isinstance(exc, Refused):
        return f"refused by the outbox: {exc}", None
    if isinstance(exc, LookupError):
        return "refused", agent_pb2.AgentLogChunk(request_id=request_id, error=str(exc))
    return "failed", agent_pb2.AgentLogChunk(request_id=request_id, error=f"container engine: {exc}")

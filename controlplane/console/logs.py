"""A task's output in the console: the session's identity is judged for GetTaskLogs (admins,
and viewers granted ``logs``), then the replica asks its own Logs API as itself, so the
output takes the path `shoal logs` takes (to the replica holding the node's stream, down the
agent's stream) and the same limits hold. Lines reach the page as server-sent events, each
a JSON string the page puts in as text."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Callable

import grpc

from controlplane.authz import decide_or_raise
from shoal.errors import rpc_status
from shoal.security.ca import Identity
from shoal.v1 import logs_pb2, logs_pb2_grpc

METHOD = "/shoal.v1.Logs/GetTaskLogs"
TAIL = 500
KEEPALIVE = 15.0
_DONE = object()


def authorize(identity: Identity | None, insecure: bool) -> None:
    if not insecure:
        decide_or_raise(METHOD, identity, via="console")


class LogSource:
    """``open_channel(address)`` reaches a replica as this replica; ``address`` is its own."""

    def __init__(self, open_channel: Callable[[str], grpc.Channel], address: str) -> None:
        self.open_channel = open_channel
        self.address = address

    def follow(self, cluster: str, task: str, container: str, write: Callable[[bytes], None],
               closing: threading.Event) -> None:
        """Streams the last lines and then new ones into ``write`` as server-sent events until
        the output ends, the page leaves (``write`` raises OSError) or ``closing`` is set."""
        channel = self.open_channel(self.address)
        call = logs_pb2_grpc.LogsStub(channel).GetTaskLogs(logs_pb2.GetTaskLogsRequest(
            cluster=cluster, task=task, container=container, follow=True, tail=TAIL))
        items: queue.Queue[object] = queue.Queue(maxsize=1024)
        threading.Thread(target=_pump, args=(call, items), name="console-logs", daemon=True).start()
        partial = b""
        try:
            while not closing.is_set():
                try:
                    item = items.get(timeout=KEEPALIVE)
                except queue.Empty:
                    write(b": keepalive\n\n")
                    continue
                if item is _DONE:
                    write(_event("end", "end of output"))
                    return
                if isinstance(item, grpc.RpcError):
                    _, details = rpc_status(item)
                    write(_event("failed", details or "the log stream failed"))
                    return
                lines = (partial + item).split(b"\n")
                partial = lines.pop()
                write(b"".join(_event("line", line.decode(errors="replace")) for line in lines))
        finally:
            call.cancel()
            channel.close()


def _pump(call, items: queue.Queue[object]) -> None:
    """Moves the call's chunks onto ``items``; a page that stopped taking them for a minute
    has its call cancelled (the Logs API then tells the agent to stop reading)."""
    try:
        for chunk in call:
            items.put(chunk.data, timeout=60)
        items.put(_DONE, timeout=60)
    except queue.Full:
        call.cancel()
    except grpc.RpcError as exc:
        if exc.code() != grpc.StatusCode.CANCELLED:
            items.put(exc)


def _event(kind: str, text: str) -> bytes:
    return f"event: {kind}\ndata: {json.dumps(text)}\n\n".encode()

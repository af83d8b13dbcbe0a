"""Container output for `shoal logs`: the control plane sends a LogRequest down the agent's
stream, the agent reads the container's output from the engine in a thread of its own and
queues it in the log lane of that stream's outbox as AgentLogChunk messages, ending with
``eof`` (or ``error``). A CancelLogs (the reader went away), a broken stream or a lane that
stays full (a link too slow for the output, see agent.outbox) closes the engine's log
stream, so a follow never outlives its reader nor grows the agent's memory."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator

import docker
import docker.errors

import shoal.logs
from agent.engine_errors import engine_errors
from agent.outbox import Outbox
from agent.requests import ENDINGS, Requests, ended, offer
from agent.runtime import LogStream
from shoal.v1 import agent_pb2

log = logging.getLogger(__name__)

# Concurrent log readers per agent; each holds a thread and an engine connection.
MAX_STREAMS = 64


class LogRelay:
    """Answers the control plane's LogRequests for the tasks of ``agent``."""

    def __init__(self, agent) -> None:
        self.agent = agent
        self._requests: Requests[LogStream] = Requests(MAX_STREAMS, "log streams")

    def handle(self, msg, outbox: Outbox) -> bool:
        """Takes a ControlMessage that came down the stream ``outbox`` goes up; returns False
        when it is not about logs."""
        body = msg.WhichOneof("body")
        if body == "log_request":
            req = msg.log_request
            self._requests.start(req.request_id, outbox, self.agent.node_id, lambda: self._run(req, outbox),
                                 f"logs-{req.request_id[:8]}")
            return True
        if body == "cancel_logs":
            self.cancel(msg.cancel_logs.request_id)
            return True
        return False

    def active(self) -> int:
        return len(self._requests)

    def cancel(self, request_id: str) -> None:
        self._requests.cancel(request_id)

    def cancel_all(self) -> None:
        self._requests.cancel_all()

    # ---- one request -------------------------------------------------------------------

    def container_id(self, task_id: str, name: str) -> str:
        """The engine's id of container ``name`` (may be empty when the task has one) of task
        ``task_id`` on this node; raises LookupError naming the field."""
        with self.agent._lock:
            task = self.agent.tasks.get(task_id)
            if task is None:
                raise LookupError(f"task: {task_id} is not on node {self.agent.node_id} (stopped and removed?)")
            containers = dict(task.containers)
        if not name:
            if len(containers) != 1:
                raise LookupError(f"container: task {task_id} has {len(containers)} containers "
                                  f"({', '.join(sorted(containers))}); name one")
            name = next(iter(containers))
        c = containers.get(name)
        if c is None:
            raise LookupError(f"container: task {task_id} has no container {name!r} "
                              f"(it has {', '.join(sorted(containers))})")
        if not c.runtime_id:
            raise LookupError(f"container: {name} of task {task_id} has not been created yet")
        return c.runtime_id

    def _run(self, req: agent_pb2.LogRequest, outbox: Outbox) -> None:
        outcome = "eof"
        last: agent_pb2.AgentLogChunk | None = None  # what ends the request for its reader
        stream: LogStream | None = None
        try:
            cid = self.container_id(req.task_id, req.container)
            since = time.time() - req.since_seconds if req.since_seconds > 0 else 0
            stream = self.agent.runtime.logs(cid, follow=req.follow, since=since, tail=max(0, req.tail))
            if not self._requests.attach(req.request_id, stream, outbox):  # cancelled before it started
                outcome = "cancelled"
                return
            for chunk in stream:
                offer(outbox, req.request_id, chunk)
            if stream.closed:
                outcome = "cancelled"
                return
            last = agent_pb2.AgentLogChunk(request_id=req.request_id, eof=True)
        except ENDINGS as exc:
            outcome, last = ended(req.request_id, exc)
        except Exception as exc:
            closed = not self._requests.held(req.request_id)
            # Closing the engine's stream from another thread surfaces here as a read error.
            outcome = "cancelled" if closed else "failed"
            if not closed:
                log.exception("log stream failed", extra=shoal.logs.kv(request=req.request_id))
                last = agent_pb2.AgentLogChunk(request_id=req.request_id, error=f"reading logs failed: {exc}")
        finally:
            if stream is not None:
                stream.close()
            outbox.finish(req.request_id, last)
            self._requests.release(req.request_id)
            log.info(f"log stream ended: {outcome}", extra=shoal.logs.kv(
                request=req.request_id, task=req.task_id, container=req.container or "-", follow=req.follow,
                node=self.agent.node_id))


# ---- engines ---------------------------------------------------------------------------------

def docker_logs(api: docker.APIClient, container_id: str, *, follow: bool, since: float = 0,
                tail: int = 0) -> LogStream:
    with engine_errors(f"logs of {container_id[:12]}"):
        stream = api.logs(container_id, stdout=True, stderr=True, stream=True, follow=follow,
                          since=since or None, tail=tail if tail > 0 else "all")
    return LogStream(iter(stream), stream.close)


def hollow_lines(name: str, started_at: float, running: Callable[[], bool], *, follow: bool,
                 since: float = 0, tail: int = 0, interval: float = 1.0) -> LogStream:
    """A hollow container "writes" one line per ``interval`` since it started."""
    stop = threading.Event()

    def line(n: int) -> bytes:
        return f"{name}: hollow line {n}\n".encode()

    def gen() -> Iterator[bytes]:
        now = time.time()
        first = max(0, int((since - started_at) / interval) + 1) if since else 0
        written = max(0, int((now - started_at) / interval)) if started_at else 0
        lo = max(first, written - tail) if tail > 0 else first
        for n in range(lo, written):
            yield line(n)
        n = written
        while follow and not stop.is_set() and running():
            stop.wait(max(0.0, started_at + (n + 1) * interval - time.time()))
            if stop.is_set():
                return
            yield line(n)
            n += 1

    return LogStream(gen(), stop.set)

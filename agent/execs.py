"""Commands in a task's container for `shoal exec`: the control plane sends an ExecRequest
down the agent's stream, the agent runs the command through the engine's exec API (on a
terminal when asked) in a thread of its own and sends its output back in the log lane of
that stream's outbox as AgentLogChunk messages, exactly as a LogRequest's, the last one with ``eof`` and the exit
code (or ``error``). A CancelLogs with the request's id, or a broken stream, stops reading
its output; the command itself runs to its end in the container, as `docker exec` does when
its client goes away. A command started with stdin or a terminal takes ExecInputChunks
(its input, its input's end, terminal resizes) through agent.exec_input's bounded queue."""

from __future__ import annotations

import logging
import socket
import threading

import docker
import docker.errors

import shoal.logs
from agent.engine_errors import ENGINE_ERRORS, engine_errors
from agent.exec_input import InputQueue
from agent.logs import LogRelay
from agent.outbox import Outbox
from agent.requests import ENDINGS, Requests, ended, offer
from agent.runtime import ContainerRuntimeError, ExecStream, TerminalSize
from shoal.v1 import agent_pb2

log = logging.getLogger(__name__)

# Concurrent commands per agent; each holds a thread and an engine connection.
MAX_EXECS = 16


class ExecRelay:
    """Answers the control plane's ExecRequests for the tasks of ``logs.agent``; finds
    containers as ``logs`` does."""

    def __init__(self, logs: LogRelay) -> None:
        self.logs = logs
        self.agent = logs.agent
        self._requests: Requests[ExecStream] = Requests(MAX_EXECS, "commands")
        self._lock = threading.Lock()
        self._inputs: dict[str, InputQueue] = {}

    def handle(self, msg, outbox: Outbox) -> bool:
        """Takes a ControlMessage that came down the stream ``outbox`` goes up; returns False
        when it is not an exec's (a CancelLogs is taken only for a running exec)."""
        body = msg.WhichOneof("body")
        if body == "exec_request":
            req = msg.exec_request
            if req.stdin or req.tty:
                # Input may come before the command starts: it waits in the queue.
                with self._lock:
                    self._inputs[req.request_id] = InputQueue()
            self._requests.start(req.request_id, outbox, self.agent.node_id, lambda: self._run(req, outbox),
                                 f"exec-{req.request_id[:8]}")
            return True
        if body == "exec_input":
            self._input(msg.exec_input)
            return True
        if body == "cancel_logs":
            return self._requests.cancel(msg.cancel_logs.request_id)
        return False

    def _input(self, chunk: agent_pb2.ExecInputChunk) -> None:
        # On the thread that reads the stream: queue it, never wait.
        with self._lock:
            inputs = self._inputs.get(chunk.request_id)
        if inputs is None or inputs.put(chunk):
            return
        if inputs.overflowed:
            log.warning("exec input not read; ending the command", extra=shoal.logs.kv(
                request=chunk.request_id, node=self.agent.node_id, limit=f"{inputs.limit >> 10} KiB"))
            self._requests.close(chunk.request_id)

    def cancel_all(self) -> None:
        self._requests.cancel_all()

    def _run(self, req: agent_pb2.ExecRequest, outbox: Outbox) -> None:
        outcome = "eof"
        last: agent_pb2.AgentLogChunk | None = None
        stream: ExecStream | None = None
        with self._lock:
            inputs = self._inputs.get(req.request_id)
        try:
            if not req.command:
                raise LookupError("command: required")
            cid = self.logs.container_id(req.task_id, req.container)
            size = TerminalSize(req.rows or 24, req.cols or 80) if req.tty else None
            stream = self.agent.runtime.exec(cid, list(req.command), stdin=req.stdin, tty=size)
            if not self._requests.attach(req.request_id, stream, outbox):  # cancelled before it started
                outcome = "cancelled"
                return
            if inputs is not None and inputs.overflowed:
                stream.close()  # its input overflowed before it started
            elif inputs is not None and stream.input is not None:
                threading.Thread(target=self._write, args=(req.request_id, inputs, stream), daemon=True,
                                 name=f"exec-in-{req.request_id[:8]}").start()
            for chunk in stream:
                if stream.closed:
                    break
                offer(outbox, req.request_id, chunk)
            if inputs is not None and inputs.overflowed:
                outcome = "input not read"
                last = agent_pb2.AgentLogChunk(request_id=req.request_id, error=(
                    f"stdin: the command left more than {inputs.limit >> 10} KiB of its input unread; it was ended"))
                return
            if stream.closed:
                outcome = "cancelled"
                return
            code = stream.exit_code()
            outcome = f"exit {code}"
            last = agent_pb2.AgentLogChunk(request_id=req.request_id, eof=True, exit_code=code)
        except ENDINGS as exc:
            outcome, last = ended(req.request_id, exc)
        except Exception as exc:
            outcome = "failed"
            log.exception("exec failed", extra=shoal.logs.kv(request=req.request_id))
            last = agent_pb2.AgentLogChunk(request_id=req.request_id, error=f"running the command failed: {exc}")
        finally:
            if inputs is not None:
                inputs.close()
                with self._lock:
                    self._inputs.pop(req.request_id, None)
            outbox.finish(req.request_id, last)
            self._requests.release(req.request_id)
            log.info(f"exec ended: {outcome}", extra=shoal.logs.kv(
                request=req.request_id, task=req.task_id, container=req.container or "-", node=self.agent.node_id))

    def _write(self, request_id: str, inputs: InputQueue, stream: ExecStream) -> None:
        assert stream.input is not None
        why = inputs.pump(stream.input)
        log.info(f"exec input ended: {why}", extra=shoal.logs.kv(request=request_id, node=self.agent.node_id))


def docker_exec(api: docker.APIClient, container_id: str, command: list[str], *, stdin: bool = False,
                tty: TerminalSize | None = None) -> ExecStream:
    if stdin or tty is not None:
        return _docker_session(api, container_id, command, stdin, tty)
    what = f"exec in {container_id[:12]}"
    with engine_errors(what):
        exec_id = api.exec_create(container_id, command, stdout=True, stderr=True, stdin=False, tty=False)["Id"]
        output = api.exec_start(exec_id, stream=True, tty=False, demux=False)

    # The engine's stream cannot be closed from another thread; a cancel stops the reading
    # between chunks (ExecRelay checks ``closed``).
    return ExecStream(iter(output), lambda: None, _exit_code(api, exec_id, what))


def _exit_code(api: docker.APIClient, exec_id: str, what: str):
    def exit_code() -> int:
        try:
            code = api.exec_inspect(exec_id).get("ExitCode")
        except ENGINE_ERRORS as exc:
            raise ContainerRuntimeError(f"{what}: its exit code could not be read: {exc}") from exc
        if code is None:
            raise ContainerRuntimeError(f"{what}: the engine gave no exit code")
        return int(code)
    return exit_code


class _DockerInput:
    """Writes to the exec's hijacked engine connection; the reader uses the same socket."""

    def __init__(self, api: docker.APIClient, exec_id: str, sock: socket.socket, what: str) -> None:
        self.api = api
        self.exec_id = exec_id
        self.sock = sock
        self.what = what

    def write(self, data: bytes) -> None:
        self.sock.sendall(data)

    def close_stdin(self) -> None:
        self.sock.shutdown(socket.SHUT_WR)

    def resize(self, size: TerminalSize) -> None:
        try:
            self.api.exec_resize(self.exec_id, height=size.rows, width=size.cols)
        except ENGINE_ERRORS as exc:
            # A resize racing the command's end; the command goes on either way.
            log.info(f"{self.what}: resize refused: {exc}")


def _docker_session(api: docker.APIClient, container_id: str, command: list[str], stdin: bool,
                    tty: TerminalSize | None) -> ExecStream:
    """The exec on the engine's hijacked connection: output read from it (demultiplexed
    unless on a terminal), input written to it, closed from any thread by shutting it down."""
    what = f"exec in {container_id[:12]}"
    with engine_errors(what):
        exec_id = api.exec_create(container_id, command, stdout=True, stderr=True, stdin=True,
                                  tty=tty is not None)["Id"]
        raw = api.exec_start(exec_id, tty=tty is not None, socket=True)
    sock: socket.socket = getattr(raw, "_sock", raw)
    feed = _DockerInput(api, exec_id, sock, what)
    if tty is not None:
        feed.resize(tty)
    if not stdin:
        # -t without -i: the terminal's input is never written (docker exec -t does the same).
        sock.shutdown(socket.SHUT_WR)

    def chunks():
        try:
            for _stream, data in docker.utils.socket.frames_iter(raw, tty is not None):
                if data:
                    yield data
        except (OSError, ValueError, docker.errors.DockerException):
            return  # shut down by a cancel, or the engine went away: the exit code tells

    def close() -> None:
        sock.shutdown(socket.SHUT_RDWR)
        sock.close()

    return ExecStream(chunks(), close, _exit_code(api, exec_id, what), feed)

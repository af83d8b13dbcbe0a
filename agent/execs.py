"""Commands in a task's container for `shoal exec`: the control plane sends an ExecRequest
down the agent's stream, the agent runs the command through the engine's exec API (no TTY)
in a thread of its own and sends its output back in the log lane of that stream's outbox as
AgentLogChunk messages, exactly as a LogRequest's, the last one with ``eof`` and the exit
code (or ``error``). A CancelLogs with the request's id, or a broken stream, stops reading
its output; the command itself runs to its end in the container, as `docker exec` does when
its client goes away."""

from __future__ import annotations

import logging

import docker
import docker.errors
import requests.exceptions

import shoal.logs
from agent.logs import LogRelay
from agent.outbox import Outbox, Refused
from agent.requests import Requests, offer
from agent.runtime import ContainerRuntimeError, ExecStream, NotFound, RuntimeUnavailable
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

    def handle(self, msg, outbox: Outbox) -> bool:
        """Takes a ControlMessage that came down the stream ``outbox`` goes up; returns False
        when it is not an exec's (a CancelLogs is taken only for a running exec)."""
        body = msg.WhichOneof("body")
        if body == "exec_request":
            req = msg.exec_request
            self._requests.start(req.request_id, outbox, self.agent.node_id, lambda: self._run(req, outbox),
                                 f"exec-{req.request_id[:8]}")
            return True
        if body == "cancel_logs":
            return self._requests.cancel(msg.cancel_logs.request_id)
        return False

    def cancel_all(self) -> None:
        self._requests.cancel_all()

    def _run(self, req: agent_pb2.ExecRequest, outbox: Outbox) -> None:
        outcome = "eof"
        last: agent_pb2.AgentLogChunk | None = None
        stream: ExecStream | None = None
        try:
            if not req.command:
                raise LookupError("command: required")
            cid = self.logs.container_id(req.task_id, req.container)
            stream = self.agent.runtime.exec(cid, list(req.command))
            if not self._requests.attach(req.request_id, stream, outbox):  # cancelled before it started
                outcome = "cancelled"
                return
            for chunk in stream:
                if stream.closed:
                    break
                offer(outbox, req.request_id, chunk)
            if stream.closed:
                outcome = "cancelled"
                return
            code = stream.exit_code()
            outcome = f"exit {code}"
            last = agent_pb2.AgentLogChunk(request_id=req.request_id, eof=True, exit_code=code)
        except Refused as exc:
            outcome = f"refused by the outbox: {exc}"
        except LookupError as exc:
            outcome = "refused"
            last = agent_pb2.AgentLogChunk(request_id=req.request_id, error=str(exc))
        except ContainerRuntimeError as exc:
            outcome = "failed"
            last = agent_pb2.AgentLogChunk(request_id=req.request_id, error=f"container engine: {exc}")
        except Exception as exc:
            outcome = "failed"
            log.exception("exec failed", extra=shoal.logs.kv(request=req.request_id))
            last = agent_pb2.AgentLogChunk(request_id=req.request_id, error=f"running the command failed: {exc}")
        finally:
            outbox.finish(req.request_id, last)
            self._requests.release(req.request_id)
            log.info(f"exec ended: {outcome}", extra=shoal.logs.kv(
                request=req.request_id, task=req.task_id, container=req.container or "-", node=self.agent.node_id))


def docker_exec(api: docker.APIClient, container_id: str, command: list[str]) -> ExecStream:
    what = f"exec in {container_id[:12]}"
    try:
        exec_id = api.exec_create(container_id, command, stdout=True, stderr=True, stdin=False, tty=False)["Id"]
        output = api.exec_start(exec_id, stream=True, tty=False, demux=False)
    except docker.errors.NotFound as exc:
        raise NotFound(f"{what}: {exc.explanation or exc}") from exc
    except docker.errors.APIError as exc:
        raise ContainerRuntimeError(f"{what}: {exc.explanation or exc}") from exc
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        raise RuntimeUnavailable(f"{what}: {exc}") from exc

    def exit_code() -> int:
        try:
            code = api.exec_inspect(exec_id).get("ExitCode")
        except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
            raise ContainerRuntimeError(f"{what}: its exit code could not be read: {exc}") from exc
        if code is None:
            raise ContainerRuntimeError(f"{what}: the engine gave no exit code")
        return int(code)

    # The engine's stream cannot be closed from another thread; a cancel stops the reading
    # between chunks (ExecRelay checks ``closed``).
    return ExecStream(iter(output), lambda: None, exit_code)

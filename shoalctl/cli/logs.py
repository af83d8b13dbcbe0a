"""`shoal logs TASK [--container C] [--follow] [--since 10m] [--tail N]`: a container's
output, read on its node and streamed through the control plane (no shell on the host)."""

from __future__ import annotations

import sys
from collections.abc import Callable

import grpc

from shoal.durations import parse_duration
from shoal.v1 import logs_pb2, logs_pb2_grpc
from shoalctl.cli import refs
from shoalctl.cli.client import add_target_flags, connect, connection, describe_rpc_error, endpoint
from shoalctl.cli.errors import CliError


def show_logs(a) -> int:
    if a.tail is not None and a.tail < 0:
        raise CliError(f"--tail: must be 0 or more, got {a.tail}")
    request = logs_pb2.GetTaskLogsRequest(
        cluster=a.cluster, task=refs.task_id(connect(a), a.cluster, a.task), container=a.container or "",
        follow=a.follow,
        since_seconds=int(parse_duration(a.since, "--since")) if a.since else 0, tail=a.tail or 0,
    )
    return stream(endpoint(a.endpoint), request, _write_stdout)


def _write_stdout(data: bytes) -> None:
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


def stream(target_endpoint: str, request: logs_pb2.GetTaskLogsRequest, write: Callable[[bytes], None]) -> int:
    """Hands each chunk of the task's output to ``write`` until the stream ends (at once
    without --follow; when the task stops with it); CliError when no replica can serve it."""
    conn = connection(target_endpoint)
    targets = conn.targets
    last: grpc.RpcError | None = None
    # Any replica relays to the one holding the node; try the next only if one is unreachable
    # before it has sent anything.
    for target in targets:
        channel = conn.open(target)
        got = False
        try:
            for chunk in logs_pb2_grpc.LogsStub(channel).GetTaskLogs(request):
                got = True
                write(chunk.data)
            return 0
        except grpc.RpcError as exc:
            last = exc
            if exc.code() == grpc.StatusCode.CANCELLED:
                # The control plane ends a call whose reader fell far behind rather than let it
                # hold up the node's stream (heartbeats share it).
                raise CliError("the control plane ended this log stream: output was not read fast enough "
                               "(its buffer on the control plane filled); run again with --since") from None
            if got or exc.code() != grpc.StatusCode.UNAVAILABLE or "task:" in (exc.details() or ""):
                raise CliError(describe_rpc_error(exc, target)) from None
        except BrokenPipeError:
            return 0  # `shoal logs ... | head`: the reader has had enough
        finally:
            channel.close()
    assert last is not None
    raise CliError(describe_rpc_error(last, ",".join(targets)))


def register(sub) -> None:
    p = sub.add_parser("logs", help="show a task container's output (streamed from its node)")
    p.add_argument("task", help="task id (or a unique prefix of it, as `task list` prints) or ARN")
    p.add_argument("--container", "-c", help="container name (needed when the task has several)")
    p.add_argument("--follow", "-f", action="store_true", help="keep printing what the container writes")
    p.add_argument("--since", help="only output of the last DURATION (30s, 10m, 2h, 1d)")
    p.add_argument("--tail", type=int, help="only the last N lines")
    add_target_flags(p, cluster=True)
    p.set_defaults(func=show_logs)

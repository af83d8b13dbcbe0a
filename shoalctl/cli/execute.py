"""`shoal exec [-i] [-t] TASK [--container C] -- CMD [ARG...]`: runs a command in a RUNNING
task's container through its node's agent (no shell on the host, no SSM), prints its output
as it comes and exits with the command's exit code. Needs the `exec` permission and
enableExecuteCommand on the task or its service. ``-i`` sends this process's stdin to the
command; ``-t`` runs it on a terminal, with the local one in raw mode while attached
(shoalctl/cli/terminal.py)."""

from __future__ import annotations

import argparse
import os
import sys

import grpc

from shoal.v1 import logs_pb2, logs_pb2_grpc
from shoalctl.cli import refs, terminal
from shoalctl.cli.client import add_target_flags, connect, connection, describe_rpc_error, endpoint
from shoalctl.cli.errors import CliError


def _late_options(a) -> list[str]:
    """The command after "--"; options written between TASK and "--" are set on ``a``."""
    words = list(a.command)
    if "--" not in words:
        return words
    cut = words.index("--")
    late = argparse.ArgumentParser(prog="shoal exec", add_help=False)
    late.add_argument("--container", "-c")
    late.add_argument("--cluster")
    late.add_argument("--endpoint")
    late.add_argument("--interactive", "-i", action="store_true", default=None)
    late.add_argument("--tty", "-t", action="store_true", default=None)
    try:
        given = late.parse_args(words[:cut])
    except SystemExit:
        raise CliError(f"options before --: {' '.join(words[:cut])!r} are not --container, --cluster, "
                       "--endpoint, -i or -t") from None
    for name, value in vars(given).items():
        if value is not None:
            setattr(a, name, value)
    return words[cut + 1:]


def run_exec(a) -> int:
    command = _late_options(a)
    if not command:
        raise CliError("command: give the command after --, e.g. shoal exec TASK -- ls -l /")
    # The id as the tables print it (a unique prefix), as `shoal logs` takes it.
    task = refs.task_id(connect(a), a.cluster, a.task)
    request = logs_pb2.ExecuteCommandRequest(cluster=a.cluster, task=task, container=a.container or "",
                                             command=command, interactive=bool(a.interactive), tty=bool(a.tty))
    if not (a.interactive or a.tty):
        return _call(a, request, lambda stub: stub.ExecuteCommand(request))
    if a.tty and not os.isatty(sys.stdin.fileno()):
        raise CliError("-t: stdin is not a terminal (use -i alone to pipe input)")
    with terminal.Session(sys.stdin.fileno(), interactive=bool(a.interactive), tty=bool(a.tty)) as session:
        if session.size is not None:
            request.size.CopyFrom(session.size)
        # Each target tried gets the input afresh; only an unreachable one is passed over,
        # before it read any of it.
        return _call(a, request, lambda stub: stub.ExecuteInteractive(session.inputs(request)))


def _call(a, request: logs_pb2.ExecuteCommandRequest, start) -> int:
    conn = connection(endpoint(a.endpoint))
    out = sys.stdout.buffer
    last: grpc.RpcError | None = None
    # Any replica relays to the one holding the node. The next replica is tried only when one
    # could not be reached at all: a call that reached a replica may have run the command.
    for target in conn.targets:
        channel = conn.open(target)
        try:
            code: int | None = None
            for piece in start(logs_pb2_grpc.LogsStub(channel)):
                if piece.data:
                    out.write(piece.data)
                    out.flush()
                if piece.HasField("exit_code"):
                    code = piece.exit_code
            if code is None:
                raise CliError("the command's output ended without an exit code (its node went away?)")
            return code
        except grpc.RpcError as exc:
            last = exc
            unreachable = exc.code() == grpc.StatusCode.UNAVAILABLE and "failed to connect" in (exc.details() or "")
            if not unreachable:
                raise CliError(describe_rpc_error(exc, target)) from None
        except BrokenPipeError:
            return 0
        finally:
            channel.close()
    assert last is not None
    raise CliError(describe_rpc_error(last, ",".join(conn.targets)))


def register(sub) -> None:
    p = sub.add_parser("exec", help="run a command in a task's container (through its node's agent)")
    p.add_argument("task", help="task id or ARN")
    p.add_argument("--container", "-c", help="container name (needed when the task has several)")
    p.add_argument("--interactive", "-i", action="store_true", help="send this stdin to the command")
    p.add_argument("--tty", "-t", action="store_true",
                   help="run the command on a terminal (this one in raw mode while attached)")
    add_target_flags(p, cluster=True)
    # Everything after TASK; options given after TASK are read from it, up to "--" (argparse
    # cannot take options between a positional and the rest of the line).
    p.add_argument("command", nargs=argparse.REMAINDER, help="[--container C] [-i] [-t] -- COMMAND [ARG...]")
    p.set_defaults(func=run_exec)

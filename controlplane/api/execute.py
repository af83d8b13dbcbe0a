"""`shoal exec` (Logs.ExecuteCommand): what may run where, and the record of what ran.

A command runs only in a RUNNING task wanted RUNNING, only when execute command is enabled
for it — RunTask's ``enableExecuteCommand`` for a standalone task, its service's current
setting for a service task — and only for callers with the ``exec`` permission (admins, and
viewers granted it; controlplane/authz.py). Every exec is logged with who ran what, where,
and how it ended; one into a service's task is also a service event, so DescribeServices and
`shoal events` show it."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from typing import Protocol, TypeVar

import grpc

from controlplane.api import services
from controlplane.api.context import ApiContext
from controlplane.errors import ApiError, invalid
from shoal.logs import kv
from shoal.v1 import logs_pb2
from shoal.v1 import resources_pb2 as r

log = logging.getLogger(__name__)


class _Target(Protocol):
    task: r.Task


T = TypeVar("T", bound=_Target)

# ECS's words when execute command is off for the task.
NOT_ENABLED = ("The execute command failed because execute command was not enabled when the task was run or the "
               "execute command agent isn't running. Wait and try again or run a new task with execute command "
               "enabled and try again.")
MAX_COMMAND_BYTES = 64 * 1024
# How much of a command an event or a log line shows.
SHOWN = 200


def check(ctx: ApiContext, req: logs_pb2.ExecuteCommandRequest, target: T) -> T:
    """``target`` (the resolved task and container) when the command may run there; raises
    ApiError naming what is wrong otherwise."""
    if not req.command or not req.command[0]:
        raise invalid("command: required (the command and its arguments, e.g. -- ls -l /)")
    if sum(len(a.encode()) for a in req.command) > MAX_COMMAND_BYTES:
        raise invalid(f"command: at most {MAX_COMMAND_BYTES} bytes")
    task = target.task
    if task.last_status != "RUNNING" or task.desired_status != "RUNNING":
        raise ApiError(grpc.StatusCode.FAILED_PRECONDITION,
                       f"task: task {task.id} is {task.last_status} (desired {task.desired_status}); commands run "
                       "only in a RUNNING task", "InvalidParameterException")
    if not enabled(ctx, task):
        raise ApiError(grpc.StatusCode.FAILED_PRECONDITION, NOT_ENABLED, "InvalidParameterException")
    return target


def enabled(ctx: ApiContext, task: r.Task) -> bool:
    if task.enable_execute_command:
        return True
    if not task.service_name:
        return False
    rec = ctx.state.service(task.cluster, task.service_name)
    return rec is not None and rec.msg.enable_execute_command


def audit(ctx: ApiContext, task: r.Task, container: str, command: Sequence[str], who: str,
          exit_code: int | None, *, interactive: bool = False, tty: bool = False) -> None:
    """Records one exec that ran (or was cut off: ``exit_code`` None); one that took input
    or ran on a terminal is marked so (its input itself is not recorded)."""
    shown = " ".join(command)
    shown = shown if len(shown) <= SHOWN else shown[:SHOWN] + "…"
    flags = ("i" if interactive else "") + ("t" if tty else "")
    shown = f"(-{flags}) {shown}" if flags else shown
    ending = f"exit code {exit_code}" if exit_code is not None else "ended without an exit code"
    exec_id = uuid.uuid4().hex[:8]
    log.info("exec", extra=kv(exec_id=exec_id, who=who, task=task.id, node=task.node_id, container=container,
                              command=shown, outcome=ending))
    if task.service_name:
        services.note_event(ctx, task.cluster, task.service_name,
                            f"(service {task.service_name}) (exec {exec_id}) {who} ran a command in "
                            f"(task {task.id}) (container {container}): {shown} -> {ending}.")


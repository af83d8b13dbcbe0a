"""ECS's container restart policy: a container with ``restartPolicy.enabled`` that exits is
started again in place (same container, same task) instead of ending the task, unless its
exit code is one of ``ignoredExitCodes`` or it ran less than ``restartAttemptPeriod``
seconds since it was last (re)started: a container may restart at most once per period,
and one that keeps dying young is left stopped (then, if essential, the task stops)."""

from __future__ import annotations

import logging
import time

import shoal.logs
from agent.runtime import ContainerRuntimeError, Runtime
from agent.tasks import LocalContainer, LocalTask

log = logging.getLogger(__name__)

DEFAULT_ATTEMPT_PERIOD = 300


def period(c: LocalContainer, cap: float | None = None) -> float:
    p = c.restart_policy
    seconds = float(p.restart_attempt_period or DEFAULT_ATTEMPT_PERIOD) if p is not None else 0.0
    # The agent's --max-restart-attempt-period lets tests and labs use periods below ECS's 60 s.
    return min(seconds, cap) if cap is not None else seconds


def decide(c: LocalContainer, exit_code: int | None, now: float, cap: float | None = None) -> tuple[bool, str]:
    """(restart it?, why not, as the container's reason; "" when there is no policy)."""
    p = c.restart_policy
    if p is None or not p.enabled:
        return False, ""
    if exit_code is not None and exit_code in p.ignored_exit_codes:
        return False, f"restart policy: exit code {exit_code} is ignored"
    since = c.last_restart_at if c.restart_count else c.started_at
    wait = period(c, cap)
    # started_at 0: adopted after an agent restart, start time unknown; it ran a while.
    if since and now - since < wait:
        return False, (f"restart policy: exited {now - since:.0f}s after it started, "
                       f"within the {wait:.0f}s restartAttemptPeriod; not restarted")
    return True, ""


def restart(runtime: Runtime, task: LocalTask, names: tuple[str, ...], node_id: str) -> list[str]:
    """Starts the named containers again; returns the names restarted. One that cannot be
    started is marked STOPPED with the engine's reason (the reconciler handles the rest)."""
    done = []
    for name in names:
        c = task.containers.get(name)
        if c is None or not c.restart_pending:
            continue
        c.restart_pending = False
        try:
            runtime.start(c.runtime_id)
        except ContainerRuntimeError as exc:
            c.last_status, c.reason = "STOPPED", f"restart policy: restart failed: {exc}"
            continue
        now = time.time()
        c.restart_count += 1
        c.last_restart_at = c.started_at = now
        c.last_status = "RUNNING"
        c.reason = f"restarted {c.restart_count} time{'s' if c.restart_count != 1 else ''} (restart policy)"
        done.append(name)
        log.info("container restarted by its restart policy",
                 extra=shoal.logs.kv(task=task.task_id, node=node_id, container=name, restarts=c.restart_count,
                                     exit_code=c.exit_code))
    return done

"""Starting a task's containers as ECS does: volumes first, then every container created
(in an order where volumesFrom sources exist first), then each one started once the
containers it dependsOn meet their conditions:

- START: the dependency has been started;
- COMPLETE: it has exited, whatever its exit code;
- SUCCESS: it has exited with code 0 (any other code fails the task);
- HEALTHY: its Docker health check passes (unhealthy or exited fails the task).

A condition not met within the waiting container's startTimeout (DEFAULT_START_TIMEOUT
when it has none) fails the task too."""

from __future__ import annotations

import time
from collections.abc import Callable

from agent import volumes
from agent.runtime import ContainerInfo, ContainerSpec, Runtime, StartError
from agent.tasks import LocalTask
from shoal.v1 import resources_pb2 as r

DEFAULT_START_TIMEOUT = 120.0
POLL_INTERVAL = 0.25


class DependencyFailed(Exception):
    """A dependency can never meet its condition; the message is the task's stoppedReason."""


class Cancelled(Exception):
    """The task was stopped (or the agent is stopping) while containers waited."""


class ContainerFailed(Exception):
    """The engine refused to create or start ``container``."""

    def __init__(self, container: str, cause: Exception) -> None:
        super().__init__(f"container {container}: {cause}" if container else str(cause))
        self.container = container
        self.cause = cause


def start_timeouts(td: r.TaskDefinition, default: float = DEFAULT_START_TIMEOUT) -> dict[str, float]:
    """Seconds each container waits for its dependencies: its startTimeout, else ``default``."""
    return {c.name: float(c.start_timeout) if c.HasField("start_timeout") else default
            for c in td.container_definitions}


def condition_state(condition: str, info: ContainerInfo) -> tuple[bool, str]:
    """(met, why it never will be: "" while it still may)."""
    exited = info.state == "exited"
    if condition == "START":
        return info.state in ("running", "exited"), ""
    if condition == "COMPLETE":
        return exited, ""
    if condition == "SUCCESS":
        if exited:
            return (True, "") if info.exit_code == 0 else (False, f"exited with code {info.exit_code}")
        return False, ""
    if condition == "HEALTHY":
        if info.health == "HEALTHY":
            return True, ""
        if info.health == "UNHEALTHY":
            return False, "is unhealthy"
        if exited:
            return False, f"exited with code {info.exit_code} before it became healthy"
        return False, ""
    return False, f"has an unknown condition {condition!r}"


def wait_for_dependencies(runtime: Runtime, task: LocalTask, cdef: r.ContainerDefinition, timeout: float,
                          cancelled: Callable[[], bool], poll: float = POLL_INTERVAL) -> None:
    """Returns once every dependency of ``cdef`` meets its condition; raises
    DependencyFailed or Cancelled."""
    pending = [(d.container_name, d.condition) for d in cdef.depends_on if d.container_name in task.containers]
    deadline = time.monotonic() + timeout
    while pending:
        if cancelled():
            raise Cancelled(f"task stopped while container {cdef.name} waited for its dependencies")
        still = []
        for name, condition in pending:
            dep = task.containers[name]
            if not dep.runtime_id:
                still.append((name, condition))
                continue
            info = runtime.inspect(dep.runtime_id)
            if info.state == "exited":
                dep.last_status, dep.exit_code = "STOPPED", info.exit_code
            dep.health = info.health
            met, never = condition_state(condition, info)
            if never:
                raise DependencyFailed(f"DependencyFailed: container {cdef.name} depends on {name} ({condition}), "
                                       f"but {name} {never}")
            if not met:
                still.append((name, condition))
        pending = still
        if not pending:
            return
        if time.monotonic() >= deadline:
            waits = ", ".join(f"{n} ({c})" for n, c in pending)
            raise DependencyFailed(f"DependencyTimeout: container {cdef.name} waited {timeout:.0f}s for {waits}")
        time.sleep(poll)


def start_containers(runtime: Runtime, task: LocalTask, specs: list[tuple[r.ContainerDefinition, ContainerSpec]],
                     assignment: r.TaskAssignment, *, node_id: str, cancelled: Callable[[], bool],
                     default_timeout: float = DEFAULT_START_TIMEOUT) -> None:
    """Volumes, then create all, then start each when its dependencies allow. Raises
    ContainerFailed, DependencyFailed or Cancelled; the containers made so far carry their
    runtime ids in ``task`` so the caller can stop them."""
    _, needed = volumes.sources(assignment, node_id)
    for v in needed:
        try:
            runtime.ensure_volume(v)
        except StartError as exc:
            raise ContainerFailed("", exc) from exc
    for cdef, s in specs:
        try:
            task.containers[cdef.name].runtime_id = runtime.create(s)
        except StartError as exc:
            raise ContainerFailed(cdef.name, exc) from exc
    timeouts = start_timeouts(assignment.task_definition, default_timeout)
    for cdef, _ in specs:
        wait_for_dependencies(runtime, task, cdef, timeouts.get(cdef.name, default_timeout), cancelled)
        c = task.containers[cdef.name]
        try:
            runtime.start(c.runtime_id)
        except StartError as exc:
            raise ContainerFailed(cdef.name, exc) from exc
        c.last_status = "RUNNING"
        c.started_at = time.time()

"""The agent's decisions, kept free of I/O: first a passive sync of what the runtime shows
into the agent's task records, then a plan of steps from desired (the latest assignment
set) against actual. Each plan carries a sentence saying what it decided."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from agent import restarts
from agent.runtime import LABEL_TASK, ContainerInfo
from agent.tasks import ESSENTIAL_EXITED, FAILED_TO_START, LocalTask, bindings_of
from shoal.v1 import resources_pb2 as r

# Control-plane statuses that mean the task's containers once existed on this node.
_STARTED = ("ACTIVATING", "RUNNING", "DEACTIVATING", "STOPPING", "DEPROVISIONING")


@dataclass(frozen=True)
class Action:
    # start | stop | remove | gc | report_stopped | restart (container_ids: container names) |
    # deactivate (a draining target: DEACTIVATING until its deregister_until)
    kind: str
    task_id: str
    stop_code: str = ""
    reason: str = ""
    container_ids: tuple[str, ...] = ()


@dataclass
class Plan:
    actions: list[Action] = field(default_factory=list)
    sentence: str = ""
    # Epoch seconds at which a plan would decide differently with nothing else changed (a
    # draining target's deregister_until), or None.
    wake_at: float | None = None

    def of(self, kind: str) -> list[Action]:
        return [a for a in self.actions if a.kind == kind]


def group_by_task(infos: list[ContainerInfo]) -> dict[str, list[ContainerInfo]]:
    out: dict[str, list[ContainerInfo]] = {}
    for info in infos:
        out.setdefault(info.labels.get(LABEL_TASK, ""), []).append(info)
    return out


def sync_observed(
    tasks: dict[str, LocalTask], observed: dict[str, list[ContainerInfo]],
    busy: set[str] | frozenset[str] = frozenset(), *, now: float | None = None, restart_period_cap: float | None = None,
) -> set[str]:
    """Folds what the runtime shows into running tasks' records (exits, health, ports);
    returns the ids of tasks whose reportable state changed. Busy tasks are skipped: the
    operation in flight owns them. An exited container its restart policy restarts stays
    RUNNING with ``restart_pending`` set."""
    now = time.time() if now is None else now
    changed: set[str] = set()
    for task_id, task in tasks.items():
        if task_id in busy or task.last_status not in ("RUNNING", "DEACTIVATING"):
            continue
        by_id = {i.id: i for i in observed.get(task_id, [])}
        for c in task.containers.values():
            if c.last_status == "STOPPED" or not c.runtime_id:
                continue
            info = by_id.get(c.runtime_id)
            if info is None:
                c.last_status, c.reason = "STOPPED", "container removed outside the agent"
                changed.add(task_id)
                continue
            if info.state == "exited":
                restart, why = restarts.decide(c, info.exit_code, now, restart_period_cap)
                if restart:
                    c.exit_code, c.restart_pending = info.exit_code, True
                    continue
                c.last_status, c.exit_code = "STOPPED", info.exit_code
                c.reason = info.error or why or c.reason
                changed.add(task_id)
            if info.health != c.health:
                c.health = info.health
                changed.add(task_id)
            ports = bindings_of(info)
            if ports and ports != c.bindings:
                c.bindings = ports
                changed.add(task_id)
        before = task.health
        task.recompute_health()
        if task.health != before:
            changed.add(task_id)
    return changed


def plan(
    desired: dict[str, r.TaskAssignment] | None,
    tasks: dict[str, LocalTask],
    observed: dict[str, list[ContainerInfo]],
    *,
    now: float,
    gc_delay: float,
    busy: set[str] | frozenset[str] = frozenset(),
) -> Plan:
    """``busy`` tasks have an operation in flight and are left alone. ``desired`` is None
    until the first assignment set arrives: until then nothing is
    started or removed, only exits are handled and stopped containers collected."""
    out = Plan()
    n_busy = 0
    for task_id in sorted(set(desired or {}) | set(tasks) | set(observed)):
        if not task_id:
            continue
        task = tasks.get(task_id)
        infos = observed.get(task_id, [])
        ids = tuple(i.id for i in infos)
        if task_id in busy:
            n_busy += 1
            continue
        a = desired.get(task_id) if desired is not None else None
        if desired is not None and a is None:
            if ids or task is not None:
                out.actions.append(Action("remove", task_id, container_ids=ids))
            continue
        if task is not None and task.last_status == "STOPPED":
            if ids and now - task.stopped_at >= gc_delay:
                out.actions.append(Action("gc", task_id, container_ids=ids))
            elif any(i.state == "running" for i in infos):
                out.actions.append(Action("stop", task_id, task.stop_code, task.stopped_reason))
            continue
        if a is None:
            # No assignment set yet: act only on what the node itself shows.
            if task is not None and task.last_status == "RUNNING" and task.essential_exited():
                out.actions.append(Action("stop", task_id, ESSENTIAL_EXITED, "Essential container in task exited"))
            continue
        if a.task.desired_status == "STOPPED":
            if task is not None and a.task.deregister_until > now and task.last_status in ("RUNNING", "DEACTIVATING"):
                # A draining target: its containers keep serving in-flight requests until then.
                if task.last_status == "RUNNING":
                    out.actions.append(Action("deactivate", task_id))
                out.wake_at = min(out.wake_at or a.task.deregister_until, a.task.deregister_until)
                continue
            if task is not None:
                out.actions.append(Action("stop", task_id, a.task.stop_code,
                                          a.task.stopped_reason or "Task stopped by the control plane"))
            elif ids:
                out.actions.append(Action("remove", task_id, container_ids=ids))
            elif a.task.last_status != "STOPPED":
                out.actions.append(Action("report_stopped", task_id, a.task.stop_code,
                                          a.task.stopped_reason or "Task stopped before it started"))
            continue
        # desired RUNNING
        if task is None:
            if ids:
                # Containers without a record are a half-done start from before a restart.
                out.actions.append(Action("remove", task_id, container_ids=ids))
            elif a.task.last_status in _STARTED:
                out.actions.append(Action("report_stopped", task_id, ESSENTIAL_EXITED,
                                          "Task containers disappeared while the agent was away"))
            elif a.task.last_status != "STOPPED":
                out.actions.append(Action("start", task_id))
            continue
        if task.last_status == "RUNNING" and task.refusal:
            # Restored after a restart with a narrower policy: the node no longer runs it.
            out.actions.append(Action("stop", task_id, FAILED_TO_START, task.refusal))
            continue
        pending = tuple(c.name for c in task.containers.values() if c.restart_pending)
        if task.last_status == "RUNNING" and pending:
            out.actions.append(Action("restart", task_id, container_ids=pending))
            continue
        if task.last_status == "RUNNING" and (gone := task.essential_exited()):
            out.actions.append(Action("stop", task_id, ESSENTIAL_EXITED, "Essential container in task exited",
                                      container_ids=(gone.name,)))
    out.sentence = _sentence(out, len(tasks), n_busy, desired)
    return out


def _sentence(p: Plan, known: int, busy: int, desired: dict | None) -> str:
    parts = []
    for kind, verb in (("start", "starting"), ("stop", "stopping"), ("remove", "removing"),
                       ("gc", "collecting"), ("report_stopped", "reporting stopped"),
                       ("restart", "restarting containers of"), ("deactivate", "draining")):
        n = len(p.of(kind))
        if n:
            parts.append(f"{verb} {n} task{'s' if n != 1 else ''}")
    if busy:
        parts.append(f"{busy} busy")
    if not parts:
        what = "waiting for the first assignment set" if desired is None else "nothing to do"
        return f"{what}; {known} tasks known"
    return "; ".join(parts) + f" ({known} tasks known)"

"""The service scheduler's EXTERNAL half: a service whose tasks come from its task sets.
Each task set keeps ``computed_desired(desired_count, task_set)`` tasks of its own task
definition running (its scale of the service's desired count, rounded up); surplus tasks are
stopped, unplaced and pending ones first; a task failing its container or target group
health check (after the service's grace period) is replaced. A DRAINING task set (DeleteTaskSet) is scaled to
zero and forgotten once none of its tasks is left running or draining; a task of no task set
is stopped. The
counts and the stability status are written back into the task sets."""

from __future__ import annotations

import time
from collections import Counter

from controlplane import capacity_strategy
from controlplane.controllers.service_ops import ServiceOps, launch_delay
from controlplane.controllers.view import View, clone, task_write
from controlplane.events import add_event
from controlplane.state import Record
from controlplane.task_sets import DRAINING, computed_desired, stability
from controlplane.taskspec import is_live, new_task
from shoal.store.base import Compare, Conflict
from shoal.v1 import resources_pb2 as r


def reconcile_task_sets(ctl: ServiceOps, view: View, rec: Record[r.Service], tasks: list[Record[r.Task]]) -> str:
    """Quickly failing tasks throttle launches per task set, as they do per deployment in a
    service the controller deploys itself."""
    svc = clone(rec.msg)
    now = time.time()
    live = [t for t in tasks if t.msg.desired_status == "RUNNING" and is_live(t.msg)]
    sets = {ts.id: ts for ts in svc.task_sets}
    did: list[str] = []
    orphans = [t for t in live if t.msg.task_set_id not in sets]
    for t in orphans:
        ctl.stop_task(view, t, "Task set was deleted", "ServiceSchedulerInitiated")
    if orphans:
        did.append(f"stopped {len(orphans)} tasks of no task set")
    fresh: list[r.Task] = []
    for ts in svc.task_sets:
        mine = [t for t in live if t.msg.task_set_id == ts.id]
        want = computed_desired(svc.desired_count, ts)
        if ts.status != DRAINING:
            unhealthy = ctl.stop_unhealthy(view, svc, mine)
            if unhealthy:
                did.append(f"task set {ts.id}: stopped {len(unhealthy)} unhealthy tasks")
                mine = [t for t in mine if t not in unhealthy]
        if len(mine) > want:
            doomed = sorted(mine, key=lambda t: t.msg.last_status == "RUNNING")[:len(mine) - want]
            why = ("Task set was deleted" if ts.status == DRAINING
                   else f"Scaling activity initiated by (task set {ts.id})")
            for t in doomed:
                ctl.stop_task(view, t, why, "ServiceSchedulerInitiated")
            did.append(f"task set {ts.id}: stopped {len(doomed)} tasks to scale in to {want}")
        elif len(mine) < want:
            td = view.taskdefs.get(ts.task_definition)
            wait = launch_delay(tasks, ts.id, now)
            if td is None:
                did.append(f"task set {ts.id}: task definition {ts.task_definition} is gone; starts nothing")
            elif wait > 0:
                did.append(f"task set {ts.id}: holding launches for {wait:.0f}s: tasks keep failing to start")
            else:
                started = [_task(ctl, svc, ts, td) for _ in range(want - len(mine))]
                _give_providers(ts, started, [t.msg for t in mine])
                fresh += started
                did.append(f"task set {ts.id}: started {len(started)} tasks")
        _count(ts, [t.msg for t in mine], want, now)
    if fresh:
        created = ctl.writer.commit_many([task_write(None, task) for task in fresh])
        if None in created:
            raise Conflict(f"{created.count(None)} of {len(fresh)} new task set tasks were not created")
    # A DRAINING task set stays until its stopping tasks have stopped: a target draining
    # through its deregistration delay is still listed in its group by the task set's entry.
    stopping = {t.msg.task_set_id for t in tasks if t.msg.last_status != "STOPPED"}
    gone = [ts for ts in svc.task_sets if ts.status == DRAINING and ts.id not in stopping]
    for ts in gone:
        svc.task_sets.remove(ts)
        add_event(svc, f"(service {svc.service_name}) task set {ts.id} was deleted.")
        did.append(f"task set {ts.id}: deleted (no tasks left)")
    svc.running_count = sum(ts.running_count for ts in svc.task_sets)
    svc.pending_count = sum(ts.pending_count for ts in svc.task_sets)
    if svc.SerializeToString() != rec.msg.SerializeToString():
        ctl.writer.commit([Compare(rec.key, rec.mod_revision)], [(rec.key, svc)])
    return f"{svc.service_name}: " + ", ".join(did) if did else ""


def _task(ctl: ServiceOps, svc: r.Service, ts: r.TaskSet, td: r.TaskDefinition) -> r.Task:
    task = new_task(svc.cluster, td, arns=ctl.arns, group=f"service:{svc.service_name}", started_by=ts.id,
                    service_name=svc.service_name, constraints=list(td.placement_constraints)
                    + list(svc.placement_constraints), strategies=svc.placement_strategy,
                    deployment_id=ts.id, launch_type=ts.launch_type or "EC2")
    task.task_set_id = ts.id
    return task


def _give_providers(ts: r.TaskSet, fresh: list[r.Task], current: list[r.Task]) -> None:
    if ts.capacity_provider_strategy:
        have = Counter(t.capacity_provider_name for t in current)
        names = capacity_strategy.assign(ts.capacity_provider_strategy, len(fresh), have)
        for task, name in zip(fresh, names, strict=True):
            task.capacity_provider_name = name


def _count(ts: r.TaskSet, mine: list[r.Task], want: int, now: float) -> None:
    """The task set's counts as the cycle found its tasks, and its stability status."""
    ts.computed_desired_count = want
    ts.running_count = sum(1 for t in mine if t.last_status == "RUNNING")
    ts.pending_count = len(mine) - ts.running_count
    status = stability(ts)
    if status != ts.stability_status:
        ts.stability_status, ts.stability_status_at = status, now

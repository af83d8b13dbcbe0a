"""RunTask, StopTask, DescribeTasks, ListTasks, Get/UpdateTaskProtection. The API writes
desire only: RunTask creates PROVISIONING tasks, which the leader's placement controller puts
on nodes (or records why it cannot); StopTask sets desiredStatus STOPPED, which the leader
carries to the node; UpdateTaskProtection sets only a service task's protection fields,
which the leader's service scheduler reads (a protected task is not chosen to stop)."""

from __future__ import annotations

import bisect
import logging
import re
import time

from controlplane import capacity_strategy, fargate, launch_types
from controlplane.api import reads, service_traffic, tags, taskdefs
from controlplane.api.context import ApiContext
from controlplane.api.described import described
from controlplane.api.paging import page_lazy
from controlplane.errors import check_refs, invalid, not_found
from controlplane.placement_input import check_placement
from controlplane.state import Record
from controlplane.taskspec import desire_stop, is_live, is_protected, new_task
from shoal import keys
from shoal.arns import last_segment
from shoal.logs import kv
from shoal.store import batch
from shoal.store.base import Put, StoreError
from shoal.v1 import operator_pb2 as op
from shoal.v1 import resources_pb2 as r
from shoal.validation import has_control

log = logging.getLogger(__name__)

MAX_RUN_COUNT = 1000
_STARTED_BY = re.compile(r"[A-Za-z0-9_/-]{1,128}")
# ECS: protection lasts 120 minutes unless asked otherwise, at most 2,880 (48 hours); at most
# 10 tasks per Get/UpdateTaskProtection call.
PROTECTION_DEFAULT_MINUTES = 120
PROTECTION_MAX_MINUTES = 2880
PROTECTION_MAX_TASKS = 10


def run(ctx: ApiContext, req: op.RunTaskRequest) -> op.TasksResponse:
    cluster_rec = ctx.require_cluster(req.cluster).msg
    cluster = cluster_rec.cluster_name
    count = req.count or 1
    if not 1 <= count <= MAX_RUN_COUNT:
        raise invalid(f"count: must be between 1 and {MAX_RUN_COUNT}")
    td = taskdefs.runnable(ctx, req.task_definition)
    strategy = capacity_strategy.for_request(req.capacity_provider_strategy, req.launch_type, cluster_rec)
    launch_type = launch_types.check(req.launch_type, td.requires_compatibilities)
    launch_type, strategy = fargate.resolve(ctx.state, cluster_rec, td, launch_type if req.launch_type else "",
                                            strategy)
    launch_type = launch_type or launch_types.DEFAULT
    service_traffic.check_listener_ports(ctx, cluster, td)
    constraints = list(td.placement_constraints) + list(req.placement_constraints)
    check_placement(constraints, req.placement_strategy)
    group = req.group or f"family:{td.family}"
    if len(group) > 255 or has_control(group):
        raise invalid(f"group: at most 255 characters, none a control character; got {group[:64]!r}")
    # ECS's grammar: every task of the run keeps it, and ListTasks filters on it.
    if req.started_by and not _STARTED_BY.fullmatch(req.started_by):
        raise invalid(f"startedBy: up to 128 letters, digits, hyphens, slashes and underscores; "
                      f"got {req.started_by[:64]!r}")
    tags.check(req.tags)
    tasks = [
        new_task(
            cluster,
            td,
            arns=ctx.arns,
            group=group,
            started_by=req.started_by,
            constraints=constraints,
            strategies=req.placement_strategy,
            tags=req.tags,
            launch_type=launch_type,
        )
        for _ in range(count)
    ]
    for task in tasks:
        task.enable_execute_command = req.enable_execute_command
    if strategy:
        for task, provider in zip(tasks, capacity_strategy.assign(strategy, count), strict=True):
            task.capacity_provider_name = provider
    return create_tasks(ctx, tasks)


def create_tasks(ctx: ApiContext, tasks: list[r.Task]) -> op.TasksResponse:
    """Writes new tasks, as many to a transaction as etcd takes; each task lands whole.
    The first transaction failing fails the call (nothing was created); a later one failing
    returns the tasks created so far and a failure for each of the others, so the caller
    learns exactly which tasks exist."""
    puts = [Put(keys.task(t.cluster, t.id), t.SerializeToString()) for t in tasks]
    resp = op.TasksResponse()
    for n, indices in enumerate(batch.chunks(puts, batch.op_size)):
        try:
            ctx.store.txn([], [puts[i] for i in indices])
        except StoreError as exc:
            if n == 0:
                raise
            log.warning("RunTask stopped part way: %d of %d tasks created: %s", len(resp.tasks), len(tasks), exc,
                        extra=kv(cluster=tasks[0].cluster, first_missing=tasks[indices[0]].id))
            for t in tasks[indices[0]:]:
                resp.failures.add(arn=t.task_arn, reason="STORE_UNAVAILABLE",
                                  detail=f"task not created (a store timeout may still have created it): {exc}")
            return resp
        resp.tasks.extend(tasks[i] for i in indices)
    return resp


def stop(ctx: ApiContext, req: op.StopTaskRequest) -> op.TaskResponse:
    cluster = ctx.require_cluster(req.cluster).msg.cluster_name
    task_id = last_segment(req.task)
    if not task_id:
        raise invalid("task: required")
    if len(req.reason) > 255:
        raise invalid("reason: at most 255 characters")
    reason = req.reason or "Task stopped by user"

    # The API records the wish only; the leader's controllers carry it to the node's
    # assignment (controlplane/controllers/assignments.py).
    def wish(task: r.Task | None) -> r.Task | None:
        if task is None:
            raise not_found(f"task: task {task_id!r} not found in cluster {cluster!r}", "InvalidParameterException")
        if task.desired_status == "STOPPED":
            return None
        desire_stop(task, reason, "UserInitiated")
        return task

    rec = ctx.state.update(keys.task(cluster, task_id), r.Task, wish, field="task")
    return op.TaskResponse(task=rec.msg)


def describe(ctx: ApiContext, req: op.DescribeTasksRequest) -> op.TasksResponse:
    cluster = ctx.require_cluster(req.cluster).msg.cluster_name
    check_refs("tasks", req.tasks, 100, "task id or ARN")
    found, failures = described(req.tasks, lambda ref: _task(ctx, cluster, ref))
    return op.TasksResponse(tasks=found, failures=failures)


def _task(ctx: ApiContext, cluster: str, ref: str) -> r.Task | None:
    rec = ctx.state.task(cluster, last_segment(ref))
    return rec.msg if rec is not None else None


def list_(ctx: ApiContext, req: op.ListTasksRequest) -> op.ListResponse:
    cluster = reads.require_cluster(ctx, req.cluster).msg.cluster_name
    if req.desired_status not in ("", "RUNNING", "STOPPED", "PENDING"):
        raise invalid("desiredStatus: must be RUNNING, PENDING or STOPPED")
    node = last_segment(req.container_instance)
    # Read once: a request field costs as much as a task's, and this loop sees every task.
    desired, service, started_by = req.desired_status, last_segment(req.service_name), req.started_by
    launch_type = launch_types.check_filter(req.launch_type)
    family = req.family + ":" if req.family else ""
    records = reads.tasks(ctx, cluster, service)

    def pick(rec: Record[r.Task]) -> str | None:
        t = rec.msg
        if desired == "PENDING":
            if t.desired_status != "RUNNING" or t.last_status == "RUNNING":
                return None
        elif desired and t.desired_status != desired:
            return None
        if service and t.service_name != service:
            return None
        if family and not t.task_definition_arn.rpartition("/")[2].startswith(family):
            return None
        if started_by and t.started_by != started_by:
            return None
        if launch_type and (t.launch_type or launch_types.DEFAULT) != launch_type:
            return None
        if node and t.node_id != node:
            return None
        return t.task_arn

    def find(arn: str) -> int | None:
        # The records are in key order, and a task's key ends with the id its ARN ends with.
        return bisect.bisect_left(records, keys.task(cluster, last_segment(arn)), key=lambda rec: rec.key)

    # Paged as the tasks are read: a page costs its own tasks, not the cluster's.
    return page_lazy(records, pick, req.max_results, req.next_token, find)


def _protected_task(task: r.Task, now: float) -> op.ProtectedTask:
    on = is_protected(task, now)
    return op.ProtectedTask(task_arn=task.task_arn, protection_enabled=on,
                            expiration_date=task.protection_expires_at if on else 0.0)


def get_protection(ctx: ApiContext, req: op.GetTaskProtectionRequest) -> op.TaskProtectionResponse:
    cluster = ctx.require_cluster(req.cluster).msg.cluster_name
    check_refs("tasks", req.tasks, PROTECTION_MAX_TASKS, "task id or ARN")
    now = time.time()

    def find(ref: str) -> op.ProtectedTask | None:
        task = _task(ctx, cluster, ref)
        return _protected_task(task, now) if task is not None else None

    found, failures = described(req.tasks, find)
    return op.TaskProtectionResponse(protected_tasks=found, failures=failures)


def _why_unprotectable(task_id: str, task: r.Task | None) -> tuple[str, str] | None:
    """ECS's failure (reason, detail) for a task that cannot take protection, else None."""
    if task is None:
        return "MISSING", ""
    if not is_live(task) or task.desired_status == "STOPPED":
        return "TASK_NOT_VALID", (f"task {task_id} is {task.last_status.lower()} or stopping: "
                                  "only a running task can be protected")
    if not task.service_name:
        return "TASK_NOT_VALID", f"task {task_id} is not part of a service: scale-in protection is for service tasks"
    return None


def update_protection(ctx: ApiContext, req: op.UpdateTaskProtectionRequest) -> op.TaskProtectionResponse:
    """Each task is written alone (compare-and-set on the task), as ECS answers per task: a
    task that is missing, stopped or not a service's is a failure, the others are updated.
    Every input is checked before the first write."""
    cluster = ctx.require_cluster(req.cluster).msg.cluster_name
    check_refs("tasks", req.tasks, PROTECTION_MAX_TASKS, "task id or ARN")
    minutes = req.expires_in_minutes if req.HasField("expires_in_minutes") else PROTECTION_DEFAULT_MINUTES
    if req.protection_enabled and not 1 <= minutes <= PROTECTION_MAX_MINUTES:
        raise invalid(f"expiresInMinutes: must be between 1 and {PROTECTION_MAX_MINUTES} (minutes)")
    now = time.time()
    until = now + minutes * 60 if req.protection_enabled else 0.0
    resp = op.TaskProtectionResponse()
    for ref in req.tasks:
        task_id = last_segment(ref)
        refused: list[tuple[str, str]] = []

        def protect(task: r.Task | None, task_id: str = task_id,
                    refused: list[tuple[str, str]] = refused) -> r.Task | None:
            refused.clear()
            why = _why_unprotectable(task_id, task)
            if why is not None or task is None:
                refused.append(why or ("MISSING", ""))
                return None
            task.protection_enabled = req.protection_enabled
            task.protection_expires_at = until
            return task

        rec = ctx.state.update(keys.task(cluster, task_id), r.Task, protect, field="tasks")
        if refused:
            resp.failures.add(arn=ref, reason=refused[0][0], detail=refused[0][1])
        elif rec is not None:
            log.info("task protection %s", "on" if req.protection_enabled else "off",
                     extra=kv(task=task_id, cluster=cluster, until=until))
            resp.protected_tasks.append(_protected_task(rec.msg, now))
    return resp

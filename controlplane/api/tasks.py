"""RunTask, StopTask, DescribeTasks, ListTasks. RunTask writes PROVISIONING tasks; the
leader's placement controller puts them on nodes (or records why it cannot)."""

from __future__ import annotations

from controlplane import keys
from controlplane.api import reads, taskdefs
from controlplane.api.context import ApiContext
from controlplane.api.paging import page
from controlplane.arns import last_segment
from controlplane.errors import check_refs, invalid, not_found
from controlplane.placement_input import check_placement
from controlplane.store.base import Compare, Conflict, Delete, Put
from controlplane.taskspec import mark_stopping, new_task
from shoal.v1 import operator_pb2 as op
from shoal.v1 import resources_pb2 as r

MAX_RUN_COUNT = 1000
_ATTEMPTS = 20


def run(ctx: ApiContext, req: op.RunTaskRequest) -> op.TasksResponse:
    cluster = ctx.require_cluster(req.cluster).msg.cluster_name
    count = req.count or 1
    if not 1 <= count <= MAX_RUN_COUNT:
        raise invalid(f"count: must be between 1 and {MAX_RUN_COUNT}")
    td = taskdefs.resolve(ctx, req.task_definition).msg
    if td.status != "ACTIVE":
        raise invalid(f"taskDefinition: {td.task_definition_arn} is INACTIVE")
    constraints = list(td.placement_constraints) + list(req.placement_constraints)
    check_placement(constraints, req.placement_strategy)
    group = req.group or f"family:{td.family}"
    if len(group) > 255:
        raise invalid("group: at most 255 characters")
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
        )
        for _ in range(count)
    ]
    # One transaction: a RunTask of N tasks creates all N or none.
    ctx.store.txn([], [Put(keys.task(cluster, t.id), t.SerializeToString()) for t in tasks])
    return op.TasksResponse(tasks=tasks)


def stop(ctx: ApiContext, req: op.StopTaskRequest) -> op.TaskResponse:
    cluster = ctx.require_cluster(req.cluster).msg.cluster_name
    task_id = last_segment(req.task)
    if not task_id:
        raise invalid("task: required")
    if len(req.reason) > 255:
        raise invalid("reason: at most 255 characters")
    for _ in range(_ATTEMPTS):
        rec = ctx.state.task(cluster, task_id)
        if rec is None:
            raise not_found(f"task: task {task_id!r} not found in cluster {cluster!r}", "InvalidParameterException")
        try:
            return op.TaskResponse(task=request_stop(ctx, rec, req.reason or "Task stopped by user", "UserInitiated"))
        except Conflict:
            continue
    raise invalid("task: concurrent updates; try again")


def request_stop(ctx: ApiContext, rec, reason: str, stop_code: str) -> r.Task:
    """Raises Conflict when the task changed since it was read."""
    task = rec.msg
    if task.desired_status == "STOPPED":
        return task
    mark_stopping(task, reason, stop_code)
    ops: list[Put | Delete] = [Put(rec.key, task.SerializeToString())]
    if task.node_id:
        ops.append(assignment_put(ctx, task))
    ctx.store.txn([Compare(rec.key, rec.mod_revision)], ops)
    return task


def assignment_put(ctx: ApiContext, task: r.Task) -> Put:
    """The node's copy of a task: the task and its definition, as the agent needs them."""
    family, _, rev = task.task_definition_arn.rpartition("/")[2].partition(":")
    td = ctx.state.taskdef(family, int(rev))
    assignment = r.TaskAssignment(task=task, task_definition=td.msg if td else None)
    return Put(keys.assignment(task.node_id, task.id), assignment.SerializeToString())


def describe(ctx: ApiContext, req: op.DescribeTasksRequest) -> op.TasksResponse:
    cluster = ctx.require_cluster(req.cluster).msg.cluster_name
    check_refs("tasks", req.tasks, 100, "task id or ARN")
    resp = op.TasksResponse()
    for ref in req.tasks:
        rec = ctx.state.task(cluster, last_segment(ref))
        if rec is None:
            resp.failures.add(arn=ref, reason="MISSING")
        else:
            resp.tasks.append(rec.msg)
    return resp


def list_(ctx: ApiContext, req: op.ListTasksRequest) -> op.ListResponse:
    cluster = ctx.require_cluster(req.cluster).msg.cluster_name
    if req.desired_status not in ("", "RUNNING", "STOPPED", "PENDING"):
        raise invalid("desiredStatus: must be RUNNING, PENDING or STOPPED")
    node = last_segment(req.container_instance)
    # Read once: a request field costs as much as a task's, and this loop sees every task.
    desired, service, started_by = req.desired_status, last_segment(req.service_name), req.started_by
    family = req.family + ":" if req.family else ""
    arns = []
    for rec in reads.tasks(ctx, cluster):
        t = rec.msg
        if desired == "PENDING":
            if t.desired_status != "RUNNING" or t.last_status == "RUNNING":
                continue
        elif desired and t.desired_status != desired:
            continue
        if service and t.service_name != service:
            continue
        if family and not t.task_definition_arn.rpartition("/")[2].startswith(family):
            continue
        if started_by and t.started_by != started_by:
            continue
        if node and t.node_id != node:
            continue
        arns.append(t.task_arn)
    return page(arns, req.max_results, req.next_token)

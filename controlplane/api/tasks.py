"""RunTask, StopTask, DescribeTasks, ListTasks. The API writes desire only: RunTask creates
PROVISIONING tasks, which the leader's placement controller puts on nodes (or records why
it cannot); StopTask sets desiredStatus STOPPED, which the leader carries to the node."""

from __future__ import annotations

import logging

from controlplane import capacity_strategy, launch_types
from controlplane.api import reads, service_traffic, taskdefs
from controlplane.api.context import ApiContext
from controlplane.api.paging import page
from controlplane.errors import check_refs, invalid, not_found
from controlplane.placement_input import check_placement
from controlplane.taskspec import desire_stop, new_task
from shoal import keys
from shoal.arns import last_segment
from shoal.logs import kv
from shoal.store import batch
from shoal.store.base import Put, StoreError
from shoal.v1 import operator_pb2 as op
from shoal.v1 import resources_pb2 as r

log = logging.getLogger(__name__)

MAX_RUN_COUNT = 1000


def run(ctx: ApiContext, req: op.RunTaskRequest) -> op.TasksResponse:
    cluster_rec = ctx.require_cluster(req.cluster).msg
    cluster = cluster_rec.cluster_name
    count = req.count or 1
    if not 1 <= count <= MAX_RUN_COUNT:
        raise invalid(f"count: must be between 1 and {MAX_RUN_COUNT}")
    td = taskdefs.runnable(ctx, req.task_definition)
    strategy = capacity_strategy.for_request(req.capacity_provider_strategy, req.launch_type, cluster_rec)
    launch_type = launch_types.check(req.launch_type, td.requires_compatibilities)
    service_traffic.check_listener_ports(ctx, cluster, td)
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
            launch_type=launch_type,
        )
        for _ in range(count)
    ]
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
    resp = op.TasksResponse()
    for ref in req.tasks:
        rec = ctx.state.task(cluster, last_segment(ref))
        if rec is None:
            resp.failures.add(arn=ref, reason="MISSING")
        else:
            resp.tasks.append(rec.msg)
    return resp


def list_(ctx: ApiContext, req: op.ListTasksRequest) -> op.ListResponse:
    cluster = reads.require_cluster(ctx, req.cluster).msg.cluster_name
    if req.desired_status not in ("", "RUNNING", "STOPPED", "PENDING"):
        raise invalid("desiredStatus: must be RUNNING, PENDING or STOPPED")
    node = last_segment(req.container_instance)
    # Read once: a request field costs as much as a task's, and this loop sees every task.
    desired, service, started_by = req.desired_status, last_segment(req.service_name), req.started_by
    launch_type = launch_types.check_filter(req.launch_type)
    family = req.family + ":" if req.family else ""
    arns = []
    for rec in reads.tasks(ctx, cluster, service):
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
        if launch_type and (t.launch_type or launch_types.DEFAULT) != launch_type:
            continue
        if node and t.node_id != node:
            continue
        arns.append(t.task_arn)
    return page(arns, req.max_results, req.next_token)

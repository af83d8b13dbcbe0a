"""What a task needs from a node, derived from its task definition, and how a new task
record starts out."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from shoal.v1 import resources_pb2 as r

LIVE_STATUSES = ("PROVISIONING", "PENDING", "ACTIVATING", "RUNNING", "DEACTIVATING", "STOPPING", "DEPROVISIONING")
STATUS_ORDER = {s: i for i, s in enumerate(LIVE_STATUSES + ("STOPPED",))}
# The leader's word for a task whose node it cannot reach, while the task's service tolerates
# the disconnect (controllers/nodes.py); the agent's next report replaces it.
UNKNOWN = "UNKNOWN"


@dataclass(frozen=True)
class Needs:
    cpu: int
    memory: int
    fixed_ports: tuple[int, ...]
    dynamic_ports: int


def needs(td: r.TaskDefinition) -> Needs:
    """Task-level cpu/memory when given, else the containers' sum; memoryReservation (the
    soft limit) is what placement reserves when a container sets it, as ECS does."""
    cpu = int(td.cpu) if td.cpu else sum(c.cpu for c in td.container_definitions)
    if td.memory:
        memory = int(td.memory)
    else:
        memory = sum(
            c.memory_reservation if c.HasField("memory_reservation") else (c.memory if c.HasField("memory") else 0)
            for c in td.container_definitions
        )
    fixed: list[int] = []
    dynamic = 0
    for c in td.container_definitions:
        for pm in c.port_mappings:
            host_port = pm.container_port if td.network_mode == "host" else pm.host_port
            if host_port:
                fixed.append(host_port)
            else:
                dynamic += 1
    return Needs(cpu, memory, tuple(fixed), dynamic)


def new_task(
    cluster: str,
    td: r.TaskDefinition,
    *,
    arns,
    group: str,
    started_by: str = "",
    service_name: str = "",
    constraints=(),
    strategies=(),
    deployment_id: str = "",
    tags=(),
    launch_type: str = "EC2",
) -> r.Task:
    task_id = uuid.uuid4().hex
    task = r.Task(
        id=task_id,
        cluster=cluster,
        task_arn=arns.task(cluster, task_id),
        cluster_arn=arns.cluster(cluster),
        task_definition_arn=td.task_definition_arn,
        last_status="PROVISIONING",
        desired_status="RUNNING",
        group=group,
        started_by=started_by,
        service_name=service_name,
        launch_type=launch_type,
        created_at=time.time(),
        deployment_id=deployment_id,
        version=1,
    )
    n = needs(td)
    task.cpu = str(n.cpu)
    task.memory = str(n.memory)
    task.placement_constraints.extend(constraints)
    task.placement_strategy.extend(strategies)
    task.tags.extend(tags)
    for c in td.container_definitions:
        task.containers.add(
            name=c.name,
            image=c.image,
            last_status="PENDING",
            task_arn=task.task_arn,
            container_arn=arns.container(cluster, task_id, c.name),
        )
    return task


def is_live(task: r.Task) -> bool:
    return task.last_status != "STOPPED"


def is_protected(task: r.Task, now: float) -> bool:
    """Scale-in protection (UpdateTaskProtection) holds until it expires; an expired one is
    as none, with no write needed to end it."""
    return task.protection_enabled and now < task.protection_expires_at


def desire_stop(task: r.Task, reason: str, stop_code: str, now: float | None = None) -> None:
    """The wish alone (what the API may write): desiredStatus STOPPED and why. The first
    reason given stays."""
    task.desired_status = "STOPPED"
    task.stopped_reason = task.stopped_reason or reason
    task.stop_code = task.stop_code or stop_code
    task.stopping_at = now or time.time()
    task.version += 1


def mark_stopping(task: r.Task, reason: str, stop_code: str, now: float | None = None) -> None:
    """The leader's stop: ``desire_stop``, and a task that never reached a node is STOPPED
    at once; a placed one is stopped by its agent, which sees the change in its assignment."""
    now = now or time.time()
    desire_stop(task, reason, stop_code, now)
    if not task.node_id:
        task.last_status = "STOPPED"
        task.stopped_at = now
        for c in task.containers:
            c.last_status = "STOPPED"

"""Which nodes pull a deployment's images before its tasks are placed (pure, no I/O).

A deployment that still has tasks to start (a new service, a new task definition rolling
out, a scale-up) gets pre-pull intents on the nodes the scheduler would pick for those
tasks, at most ``max_nodes`` of them: the same placement engine, the service's own
constraints and strategies, one node per task (``distinctInstance``). Resources are left
out of the request on purpose: during a rolling update a node that is full now frees room
as its old tasks stop, and it is exactly the node a new task lands on next. Nodes already
running a task of the deployment's definition have its images and are passed over."""

from __future__ import annotations

from collections.abc import Iterable

from controlplane import placement_input
from controlplane.fargate import LAUNCH_TYPE as FARGATE
from controlplane.scheduler import PlacementInputError, PlacementRequest, schedule
from controlplane.taskspec import is_live
from shoal import keys
from shoal.v1 import resources_pb2 as r

MAX_NODES = 3


def images_of(td: r.TaskDefinition) -> list[str]:
    return sorted({c.image for c in td.container_definitions if c.image})


def _tasks_to_start(d: r.Deployment) -> int:
    return max(0, d.desired_count - d.running_count)


def wanted(services: Iterable[r.Service], nodes: Iterable[r.ContainerInstance], tasks: Iterable[r.Task],
           alive: set[str], taskdefs: dict[str, r.TaskDefinition], max_nodes: int = MAX_NODES,
           fargate: frozenset[str] = frozenset()) -> dict[str, r.PrePull]:
    """The pre-pull intents the cluster should hold now, by key (``keys.prepull``); ``fargate``:
    the names of the Fargate capacity providers, whose nodes pull only for FARGATE services."""
    nodes = list(nodes)
    tasks = list(tasks)
    out: dict[str, r.PrePull] = {}
    for svc in services:
        if svc.status != "ACTIVE" or svc.scheduling_strategy == "DAEMON":
            continue  # a daemon's task is pinned to every node: each pulls for its own task
        primary = next((d for d in svc.deployments if d.status == "PRIMARY"), None)
        if primary is None or primary.rollout_state == "FAILED" or not (want := _tasks_to_start(primary)):
            continue
        td = taskdefs.get(primary.task_definition)
        if td is None or not (images := images_of(td)):
            continue
        group = f"prepull:{svc.cluster}:{svc.service_name}"
        snap = placement_input.snapshot([n for n in nodes if n.cluster == svc.cluster], (), alive, fargate)
        having = {t.node_id for t in tasks if t.cluster == svc.cluster and is_live(t)
                  and t.task_definition_arn == primary.task_definition}
        for node in snap.nodes:
            if node.id in having:
                node.groups[group] += 1  # so distinctInstance passes it over
        request = PlacementRequest(
            count=min(max_nodes, want), cpu=0, memory=0, group=group,
            constraints=[(c.type, c.expression) for c in svc.placement_constraints
                         if c.type != "distinctInstance"] + [("distinctInstance", "")],
            strategies=[(s.type, s.field) for s in svc.placement_strategy],
            fargate=svc.launch_type == FARGATE)
        try:
            plan = schedule(snap, request)
        except PlacementInputError:
            continue  # the service's placement input was checked when written; nothing to do here
        for p in plan.placements:
            out[keys.prepull(p.node_id, primary.id)] = r.PrePull(
                cluster=svc.cluster, service=svc.service_name, deployment_id=primary.id,
                task_definition_arn=primary.task_definition, images=images, created_at=primary.created_at,
                node_id=p.node_id)
    return out

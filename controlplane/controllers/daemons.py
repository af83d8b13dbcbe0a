"""The service scheduler's DAEMON half: one task of the service on every ACTIVE, connected
node matching its placement constraints. The desired count is the number of such nodes.

Per node, as ECS does for daemons: a deployment stops the node's old task before it starts
the new one, on as many nodes at a time as ``minimumHealthyPercent`` allows (at least one,
so a daemon service at 100% still rolls, one node at a time); ``maximumPercent`` is not
used. A deployment leaves a node whose old task has scale-in protection (UpdateTaskProtection)
alone until the protection ends or expires, as for a replica. On a DRAINING node the daemon
is stopped last, once no other task is left on it, protected or not. A
node that leaves (deregistered, or lost: the node controller stops its tasks) gets no
replacement elsewhere."""

from __future__ import annotations

import logging
import math
import time
from collections import defaultdict

from controlplane import placement_input
from controlplane.controllers.critical import drain_reason, grace_of
from controlplane.controllers.service_ops import ServiceOps, launch_delay
from controlplane.controllers.view import View, clone, task_write
from controlplane.deployments import new_deployment
from controlplane.events import add_event
from controlplane.scheduler import cql
from controlplane.scheduler.daemon import PIN, eligible_nodes, pinned_node
from controlplane.state import Record
from controlplane.taskspec import is_live, is_protected, new_task
from shoal.store.base import Compare, Conflict
from shoal.v1 import resources_pb2 as r

DAEMON = "DAEMON"

log = logging.getLogger(__name__)


def node_of(task: r.Task) -> str:
    """Where a daemon task runs or is pinned to run."""
    return task.node_id or pinned_node([(c.type, c.expression) for c in task.placement_constraints])


def reconcile_daemon(ctl: ServiceOps, view: View, rec: Record[r.Service], tasks: list[Record[r.Task]]) -> str:
    svc = clone(rec.msg)
    did: list[str] = []
    primary = next((d for d in svc.deployments if d.status == "PRIMARY"), None)
    if primary is None:
        primary = new_deployment(svc.task_definition, 0)
        svc.deployments.insert(0, primary)
    nodes = {k: n for k, n in view.nodes.items() if n.msg.cluster == svc.cluster}
    constraints = [(c.type, c.expression) for c in svc.placement_constraints]
    # Tasks are counted into the snapshot only when a constraint looks at them (task:group,
    # runningTasksCount); status, connection and attributes need none.
    counted = any(kind == "memberOf" and cql.compiled(text).dynamic for kind, text in constraints)
    snap = placement_input.snapshot([n.msg for n in nodes.values()],
                                    [t.msg for t in view.tasks.values()] if counted else [], view.alive,
                                    view.fargate)
    eligible = eligible_nodes(snap, constraints)
    if svc.desired_count != len(eligible):
        add_event(svc, f"(service {svc.service_name}) desired count changed from {svc.desired_count} to "
                       f"{len(eligible)}: one task per eligible container instance.")
        svc.desired_count = len(eligible)

    on_node: dict[str, list[Record[r.Task]]] = defaultdict(list)
    busy: set[str] = set()  # nodes where a task of this service is still stopping
    for t in tasks:
        if is_live(t.msg) and t.msg.desired_status == "RUNNING":
            on_node[node_of(t.msg)].append(t)
        elif is_live(t.msg):
            busy.add(node_of(t.msg))
    stops: list[tuple[Record[r.Task], str]] = []
    wanted = set(eligible)

    # Nodes that no longer qualify: draining ones keep their daemon until the rest has left.
    for node_id, here in on_node.items():
        if node_id in wanted:
            continue
        node = nodes.get(node_id)
        if node is not None and node.msg.status == "DRAINING":
            if _others_left(view, node_id):
                continue
            why = f"Task stopped because its container instance {node_id} is being drained"
        elif node is not None and node.msg.status == "ACTIVE" and node_id not in view.alive:
            # A lost node's placed tasks are the node controller's to stop (it gives a new
            # leader one TTL of grace); only a daemon never placed there is given up here.
            here = [t for t in here if not t.msg.node_id]
            why = f"Container instance {node_id} is not connected"
        else:
            why = f"Container instance {node_id} no longer matches the service's placement constraints"
        stops += [(t, why) for t in here]

    # Eligible nodes: one task each, of the current revision, rolled node by node.
    min_healthy = math.ceil(len(eligible) * svc.deployment_configuration.minimum_healthy_percent / 100)
    healthy_nodes = sum(1 for n in eligible if any(ctl.healthy(view, t.msg) for t in on_node.get(n, [])))
    budget = max(1, len(eligible) - min_healthy) - (len(eligible) - healthy_nodes)
    start: list[str] = []
    old_left = 0
    protected = 0  # nodes whose old task a deployment waits for (task scale-in protection)
    now = time.time()
    for node_id in eligible:
        here = on_node.get(node_id, [])
        current = sorted((t for t in here if t.msg.task_definition_arn == svc.task_definition),
                         key=lambda t: (t.msg.last_status != "RUNNING", t.msg.created_at))
        old = [t for t in here if t.msg.task_definition_arn != svc.task_definition]
        stops += [(t, f"Deployment {primary.id} replaced this task") for t in current[1:]]
        if current:
            stops += [(t, f"Deployment {primary.id} replaced this task") for t in old]
        elif old:
            # ECS stops a daemon's old task before it starts the new one on that node; a
            # protected one holds its node back until its protection ends (a drain does not wait).
            if any(is_protected(t.msg, now) for t in old):
                protected += 1
                old_left += len(old)
            elif budget > 0 or not any(ctl.healthy(view, t.msg) for t in old):
                budget -= any(ctl.healthy(view, t.msg) for t in old)
                stops += [(t, f"Deployment {primary.id} replaced this task") for t in old]
            else:
                old_left += len(old)
        elif node_id not in busy:
            start.append(node_id)

    if protected:
        did.append(f"{protected} nodes wait for their daemon task's scale-in protection to end")
        add_event(svc, f"(service {svc.service_name}) (deployment {primary.id}) is waiting for "
                       f"{protected} protected daemon tasks of an older deployment (task protection).")
    for t, why in stops:
        ctl.stop_task(view, t, why, "ServiceSchedulerInitiated")
    if stops:
        did.append(f"stopped {len(stops)} tasks")
        add_event(svc, f"(service {svc.service_name}) has stopped {len(stops)} running tasks.")

    td = view.taskdefs.get(svc.task_definition)
    wait = launch_delay(tasks, primary.id, time.time()) if start else 0.0
    if wait > 0:
        did.append(f"holding {len(start)} daemon launches for {wait:.0f}s: tasks keep failing to start")
        start = []
    if start and td is not None and primary.rollout_state != "FAILED":
        created = ctl.writer.commit_many([task_write(None, new_task(
            svc.cluster, td, arns=ctl.arns, group=f"service:{svc.service_name}",
            started_by=primary.id, service_name=svc.service_name,
            constraints=[*svc.placement_constraints, r.PlacementConstraint(type="memberOf", expression=PIN + n)],
            deployment_id=primary.id,
        )) for n in start])
        if None in created:
            raise Conflict(f"{created.count(None)} of {len(start)} daemon tasks were not created")
        did.append(f"started {len(start)} daemon tasks")
        add_event(svc, f"(service {svc.service_name}) has started {len(start)} tasks.")

    drains: list[Record[r.ContainerInstance]] = []
    if svc.daemon_critical:
        drains = _drain_for_failures(svc, nodes, tasks)
        did += [f"drained {n.msg.id}: critical daemon failing" for n in drains]

    stopped_ids = {t.msg.id for t, _ in stops}
    left = [t.msg for t in tasks
            if t.msg.id not in stopped_ids and is_live(t.msg) and t.msg.desired_status == "RUNNING"]
    ctl.update_counts(svc, left, {t.id for t in left if ctl.healthy(view, t)}, primary, old_left=old_left)
    if drains or svc.SerializeToString() != rec.msg.SerializeToString():
        # A node's drain and the service event naming it land together, or neither does.
        ctl.writer.commit([Compare(rec.key, rec.mod_revision), *(Compare(n.key, n.mod_revision) for n in drains)],
                          [(rec.key, svc), *((n.key, n.msg) for n in drains)])
    return f"{svc.service_name}: " + ", ".join(did) if did else ""


def _others_left(view: View, node_id: str) -> bool:
    """Whether a task of no DAEMON service still runs (or is still stopping) on the node."""
    daemons = {(s.msg.cluster, s.msg.service_name) for s in view.services if s.msg.scheduling_strategy == DAEMON}
    return any(t.msg.node_id == node_id and is_live(t.msg) and (t.msg.cluster, t.msg.service_name) not in daemons
               for t in view.tasks.values())


def _drain_for_failures(svc: r.Service, nodes: dict[str, Record[r.ContainerInstance]],
                        tasks: list[Record[r.Task]]) -> list[Record[r.ContainerInstance]]:
    """The ACTIVE nodes where the critical daemon ``svc`` keeps failing
    (controllers/critical.py), each as its record (key and revision read) holding the node
    set DRAINING with the reason, the reason also added to the service's events; the
    replica scheduler then moves the node's other tasks away, as for any drain."""
    by_node: dict[str, list[r.Task]] = defaultdict(list)
    for t in tasks:
        by_node[node_of(t.msg)].append(t.msg)
    drains = []
    now = time.time()
    for node_id, here in by_node.items():
        node = nodes.get(node_id)
        if node is None or node.msg.status != "ACTIVE":
            continue  # already draining (or gone): nothing new to say
        why = drain_reason(svc.service_name, node.msg, here, now, grace_of(svc))
        if not why:
            continue
        drained = clone(node.msg)
        drained.status = "DRAINING"
        drained.status_reason = why
        drains.append(Record(msg=drained, mod_revision=node.mod_revision, key=node.key))
        log.warning("draining node for a critical daemon", extra={"node_id": node_id, "service": svc.service_name})
        add_event(svc, f"(service {svc.service_name}) drained container instance {node_id}: {why}.")
    return drains

"""The service scheduler's availability-zone rebalancing (ECS's availabilityZoneRebalancing:
ENABLED): a steady service whose tasks crowd into some zones — say after a zone's node
returned — is moved back to balance one task at a time, never below its count: a task is
started in the lightest usable zone (pinned there with a memberOf constraint) and recorded
on the service (``rebalancing_task_id``); while it starts, the scheduler does not count it
(the service is one above its desired count on purpose, within maximumPercent); once it is
healthy, one task of the heaviest zone is stopped. A move whose task cannot be placed or
fails is given up, and no new move starts for ``RETRY_AFTER`` seconds.

What to move is ``controlplane.scheduler.rebalance.zone_move``'s pure decision."""

from __future__ import annotations

from controlplane import placement_input
from controlplane.controllers.service_ops import ServiceOps
from controlplane.controllers.view import View, task_write
from controlplane.events import add_event
from controlplane.scheduler import choose_to_stop
from controlplane.scheduler.rebalance import STOP_BY, ZONE_ATTRIBUTE, zone_move
from controlplane.state import Record
from controlplane.taskspec import is_live, is_protected, new_task
from shoal.store.base import Conflict
from shoal.v1 import resources_pb2 as r

ENABLED = "ENABLED"
DISABLED = "DISABLED"
RETRY_AFTER = 300.0

Tasks = list[Record[r.Task]]


def set_aside(view: View, svc: r.Service, new: Tasks) -> tuple[Tasks, Record[r.Task] | None]:
    """``new`` without the move's task while it is live: the service's counts are what they
    were before the move until it takes over."""
    rec = view.tasks.get(svc.rebalancing_task_id) if svc.rebalancing_task_id else None
    if rec is None or not is_live(rec.msg) or rec.msg.desired_status != "RUNNING":
        return new, None
    return [t for t in new if t.msg.id != rec.msg.id], rec


def step(ctl: ServiceOps, view: View, svc: r.Service, td: r.TaskDefinition | None, deployment_id: str,
         new: Tasks, moving: Record[r.Task] | None, healthy: set[str], steady: bool, room: bool, now: float) -> str:
    """Carries a move in flight on, or starts one when the service is ``steady`` (nothing
    else to do this cycle, every task healthy) and has ``room`` for one more task. Writes
    through ``ctl``; changes ``svc`` (the caller writes it). Returns what it did, or ""."""
    if svc.rebalancing_task_id:
        return _carry_on(ctl, view, svc, new, moving, healthy, now)
    if svc.availability_zone_rebalancing != ENABLED or not steady or now < svc.rebalance_not_before or td is None:
        return ""
    node_zone = _usable_zones(view, svc.cluster)
    if any(t.msg.node_id not in node_zone for t in new):
        return ""  # a task on a node that is not usable: the other steps move it first
    move = zone_move([node_zone[t.msg.node_id] for t in new], node_zone.values())
    if move is None:
        return ""
    if not room:
        return f"zones out of balance ({move}), but maximumPercent leaves no room for a task more"
    pin = r.PlacementConstraint(type="memberOf", expression=f"attribute:{ZONE_ATTRIBUTE} == {move.start_in}")
    task = new_task(svc.cluster, td, arns=ctl.arns, group=f"service:{svc.service_name}", started_by=deployment_id,
                    service_name=svc.service_name, constraints=[*svc.placement_constraints, pin],
                    strategies=svc.placement_strategy, deployment_id=deployment_id,
                    launch_type=svc.launch_type or "EC2")
    if None in ctl.writer.commit_many([task_write(None, task)]):
        raise Conflict("rebalancing task not created")
    svc.rebalancing_task_id = task.id
    add_event(svc, f"(service {svc.service_name}) is rebalancing across availability zones: {move}.")
    return f"rebalancing: {move}"


def _carry_on(ctl: ServiceOps, view: View, svc: r.Service, new: Tasks, moving: Record[r.Task] | None,
              healthy: set[str], now: float) -> str:
    if moving is None:
        # Gone or stopped before it took over: the move failed; wait before another.
        svc.rebalancing_task_id = ""
        svc.rebalance_not_before = now + RETRY_AFTER
        add_event(svc, f"(service {svc.service_name}) stopped rebalancing: its new task did not start; "
                       f"retrying in {RETRY_AFTER:.0f}s.")
        return "rebalancing task gone: move given up"
    task = moving.msg
    if not task.node_id and task.placement_message:
        ctl.stop_task(view, moving, "Availability zone rebalancing could not place this task",
                      "ServiceSchedulerInitiated")
        svc.rebalancing_task_id = ""
        svc.rebalance_not_before = now + RETRY_AFTER
        add_event(svc, f"(service {svc.service_name}) was unable to rebalance across availability zones: "
                       f"{task.placement_message}; retrying in {RETRY_AFTER:.0f}s.")
        return "rebalancing task cannot be placed: move given up"
    if task.id not in healthy:
        return ""
    snap = placement_input.snapshot([n.msg for n in view.nodes.values()], [t.msg for t in view.tasks.values()],
                                    view.alive)
    candidates = [(t.msg.id, t.msg.node_id) for t in new
                  if t.msg.last_status == "RUNNING" and not is_protected(t.msg, now)]
    chosen = choose_to_stop(snap, candidates, 1, STOP_BY)
    svc.rebalancing_task_id = ""
    for rec in new:
        if rec.msg.id in chosen:
            ctl.stop_task(view, rec, "Availability zone rebalancing moved this task to another zone",
                      "ServiceSchedulerInitiated")
            add_event(svc, f"(service {svc.service_name}) rebalanced: stopped 1 task on "
                           f"(container-instance {rec.msg.node_id}).")
            return "rebalanced: stopped 1 task in the crowded zone"
    return "rebalancing task took over; nothing to stop"


def _usable_zones(view: View, cluster: str) -> dict[str, str]:
    """node id -> zone of the cluster's ACTIVE, connected nodes that name a zone."""
    out = {}
    for node_id, rec in view.nodes.items():
        node = rec.msg
        if node.cluster != cluster or node.status != "ACTIVE" or node_id not in view.alive:
            continue
        zone = next((a.value for a in node.attributes if a.name == ZONE_ATTRIBUTE), "")
        if zone:
            out[node_id] = zone
    return out

"""Puts PROVISIONING tasks on nodes. The decision is the pure scheduler's; this
controller turns each placement into one transaction that moves the task to PENDING on
its node, reserves its host ports and writes the node's assignment, all fenced by
leadership so two schedulers can never both place."""

from __future__ import annotations

import contextlib
import time
from collections import defaultdict

from controlplane import placement_input
from controlplane.controllers.view import View, Writer, clone, task_write
from controlplane.events import add_event
from controlplane.metrics import PENDING_PLACEMENTS, PLACEMENT_LATENCY
from controlplane.scheduler import Plan, Snapshot, apply_plan, schedule
from controlplane.scheduler.daemon import pinned_node, place_daemon, reserve
from controlplane.state import Record
from controlplane.taskspec import needs
from shoal.store.base import Compare, Conflict
from shoal.v1 import resources_pb2 as r


def _batch_key(task: r.Task) -> tuple:
    return (
        task.cluster,
        task.task_definition_arn,
        task.group,
        tuple((c.type, c.expression) for c in task.placement_constraints),
        tuple((s.type, s.field) for s in task.placement_strategy),
        task.capacity_provider_name,
        task.launch_type,
    )


def _pin(task: r.Task, daemons: set[tuple[str, str]]) -> str:
    """The node of a DAEMON service's task; '' for every other task (one whose constraint
    happens to name one node is placed by the strategies as always)."""
    if (task.cluster, task.service_name) not in daemons:
        return ""
    return pinned_node([(c.type, c.expression) for c in task.placement_constraints])


class PlacementController:
    def __init__(self, writer: Writer) -> None:
        self.writer = writer
        self.unplaced_reasons: dict[tuple[str, str], str] = {}

    def reconcile(self, view: View) -> str:
        waiting = [
            rec for rec in view.tasks.values()
            if rec.msg.last_status == "PROVISIONING" and rec.msg.desired_status == "RUNNING" and not rec.msg.node_id
        ]
        PENDING_PLACEMENTS.set(len(waiting))
        if not waiting:
            return ""
        # Daemon tasks (each pinned to its node) are planned before any replica, each a batch
        # of its own, so a new node gets its daemons first and an unplaced daemon's room is
        # reserved before replicas are planned.
        daemons = {(s.msg.cluster, s.msg.service_name) for s in view.services
                   if s.msg.scheduling_strategy == "DAEMON"}
        batches: dict[tuple, list[Record[r.Task]]] = defaultdict(list)
        for rec in sorted(waiting, key=lambda rec: (not _pin(rec.msg, daemons), rec.msg.created_at)):
            batches[(rec.msg.id,) if _pin(rec.msg, daemons) else _batch_key(rec.msg)].append(rec)
        placed = unplaced = 0
        reasons: list[str] = []
        # One snapshot per cluster per cycle; each batch's committed placements are counted
        # into it, so later batches see them and reuse its feasibility memo.
        snaps: dict[str, Snapshot] = {}
        for batch in batches.values():
            first = batch[0].msg
            td = view.taskdefs.get(first.task_definition_arn)
            if td is None:
                continue
            started = time.perf_counter()
            snap = snaps.get(first.cluster)
            if snap is None:
                nodes = [rec.msg for rec in view.nodes.values() if rec.msg.cluster == first.cluster]
                snap = snaps[first.cluster] = placement_input.snapshot(
                    nodes, (rec.msg for rec in view.tasks.values()), view.alive, view.fargate)
            request = placement_input.request(first, needs(td), len(batch))
            node = _pin(first, daemons)
            plan = place_daemon(snap, request, node) if node else schedule(snap, request)
            PLACEMENT_LATENCY.observe(time.perf_counter() - started)
            assigned = [self._assign(rec.msg, td, view.nodes[placement.node_id].msg, placement.dynamic_ports)
                        for rec, placement in zip(batch, plan.placements, strict=False)]
            # Each placement keeps its own compare on the task's revision: one lost race
            # loses that placement only, as when each was a transaction of its own.
            results = self.writer.commit_many([
                task_write(rec, task, td, view.targets_of(task)) for rec, task in zip(batch, assigned, strict=False)
            ])
            committed = [p for p, revision in zip(plan.placements, results, strict=False) if revision is not None]
            apply_plan(snap, request, Plan(committed, 0, "", {}))
            if node and not committed and node in view.alive:
                reserve(snap, request, node)
            placed += len(committed)
            waiting_msgs = []
            for rec in batch[len(plan.placements):]:
                unplaced += 1
                if rec.msg.placement_message != plan.reason:
                    task = clone(rec.msg)
                    task.placement_message = plan.reason
                    waiting_msgs.append(task_write(rec, task))
            self.writer.commit_many(waiting_msgs)
            if plan.unplaced:
                reasons.append(plan.reason)
                self._note_unplaced(view, first, plan.reason)
        sentence = f"placed {placed} tasks" if placed else ""
        if unplaced:
            sentence += ("; " if sentence else "") + f"{unplaced} tasks wait for capacity: {reasons[0]}"
        return sentence

    def _assign(self, task: r.Task, td: r.TaskDefinition, node: r.ContainerInstance, dynamic: list[int]) -> r.Task:
        task = clone(task)
        task.node_id = node.id
        task.container_instance_arn = node.container_instance_arn
        task.last_status = "PENDING"
        task.placement_message = ""
        task.version += 1
        free = iter(dynamic)
        by_name = {c.name: c for c in task.containers}
        for cd in td.container_definitions:
            container = by_name[cd.name]
            del container.network_bindings[:]
            for pm in cd.port_mappings:
                host_port = pm.container_port if td.network_mode == "host" else (pm.host_port or next(free))
                container.network_bindings.add(
                    bind_ip="0.0.0.0", container_port=pm.container_port, host_port=host_port,
                    protocol=pm.protocol or "tcp",
                )
        return task

    def _note_unplaced(self, view: View, task: r.Task, reason: str) -> None:
        """Says so once on the service's events, as ECS does ("unable to place a task")."""
        if not task.service_name:
            return
        for rec in view.services:
            svc = rec.msg
            if svc.cluster == task.cluster and svc.service_name == task.service_name:
                message = f"(service {svc.service_name}) {reason}"
                if svc.events and svc.events[0].message == message:
                    return
                updated = clone(svc)
                add_event(updated, message)
                # Losing this race only costs the event; the next cycle says it again.
                with contextlib.suppress(Conflict):
                    self.writer.commit([Compare(rec.key, rec.mod_revision)], [(rec.key, updated)])
                return

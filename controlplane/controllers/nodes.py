"""Node lifecycle: keeps each node's agentConnected true to its liveness key, and
replaces the service tasks of a node that is lost (no liveness key for a TTL) or gone
(deregistered). Standalone tasks are left as last reported, as ECS does.

A service with a disconnect tolerance (Nomad's max_client_disconnect) gives a lost node that
long, counted from when the node was judged lost: its tasks read lastStatus UNKNOWN and are
not replaced (the agent keeps running them); if the node comes back in time they get their
status back, after it they are stopped for replacement as without one. A deregistered node
is gone for certain and has no tolerance. A service that also asks for replaceOnDisconnect
has its lost tasks replaced at once (the service controller leaves tasks marked disconnected
out of its count) and, when the node returns in time, keeps the better copy of each
(controllers/reconnect.py) and stops the other."""

from __future__ import annotations

import time
from collections.abc import Callable

from controlplane.controllers.reconnect import keep_better
from controlplane.controllers.view import View, Write, Writer, clone, task_write
from controlplane.state import Record
from controlplane.taskspec import UNKNOWN, is_live, mark_stopping
from shoal import keys
from shoal.store.base import Compare
from shoal.v1 import resources_pb2 as r


class NodeController:
    def __init__(self, writer: Writer, grace: float, clock: Callable[[], float] = time.time) -> None:
        self.writer = writer
        self.clock = clock
        # A new leader has not seen agents reconnect yet: judge no node before this long.
        self.grace = grace
        self.leading_since: float | None = None

    def reconcile(self, view: View) -> str:
        now = time.monotonic()
        if self.leading_since is None:
            self.leading_since = now
        judging = now - self.leading_since >= self.grace
        # One write per node, but many to a transaction: a thousand nodes connecting at once
        # were a thousand sequential round trips, holding up every other controller.
        flips = []
        for node_id, rec in view.nodes.items():
            connected = node_id in view.alive
            if rec.msg.agent_connected != connected and (connected or judging):
                node = clone(rec.msg)
                node.agent_connected = connected
                flips.append(([Compare(rec.key, rec.mod_revision)], [(rec.key, node)], []))
        flipped = [f"{node.hostname or node.id[:12]} {'connected' if node.agent_connected else 'lost'}"
                   for (_, [(_, node)], _), revision in zip(flips, self.writer.commit_many(flips), strict=True)
                   if revision is not None]
        stops, held, back = [], [], []
        wall = self.clock()
        tolerance = {(svc.msg.cluster, svc.msg.service_name): svc.msg.disconnect_tolerance_seconds
                     for svc in view.services}
        replacing = {(svc.msg.cluster, svc.msg.service_name): svc.msg for svc in view.services
                     if svc.msg.replace_on_disconnect}
        returning: dict[tuple[str, str], list[tuple[Record[r.Task], r.Task]]] = {}
        for rec in list(view.tasks.values()):
            task = rec.msg
            if not task.service_name or not task.node_id or not is_live(task):
                continue
            node = view.nodes.get(task.node_id)
            if node is not None and task.node_id in view.alive:
                if task.disconnected_at and (task.cluster, task.service_name) in replacing:
                    returning.setdefault((task.cluster, task.service_name), []).append((rec, _reconnected(task)))
                elif task.disconnected_at:
                    back.append(self._write(view, rec, _reconnected(task)))
                continue
            # A silent node is judged only once the grace has let agents reconnect to a new
            # leader; a deregistered one (its tombstone is there) is gone for certain.
            if not judging and (node is not None or not self._deregistered(task.node_id)):
                continue
            allowed = tolerance.get((task.cluster, task.service_name), 0) if node is not None else 0
            if allowed and not task.disconnected_at:
                held.append(self._write(view, rec, _unknown(task, wall)))
                continue
            if allowed and wall - task.disconnected_at < allowed:
                continue
            why = ("was deregistered" if node is None else
                   f"lost contact with the control plane for longer than its service's disconnect tolerance "
                   f"({allowed}s)" if allowed else "lost contact with the control plane")
            stopped = clone(task)
            stopped.last_status = stopped.desired_status = "STOPPED"
            stopped.stopped_reason = f"Task stopped because its container instance {task.node_id} {why}"
            stopped.stop_code = "TerminationNotice"
            stopped.stopped_at = wall
            stopped.version += 1
            for c in stopped.containers:
                c.last_status = "STOPPED"
            stops.append(task_write(rec, stopped))
        worse = 0
        for svc_key, recs in returning.items():
            back_now, loser_writes = self._keep_better(view, replacing[svc_key], recs, wall)
            back.extend(back_now)
            stops.extend(loser_writes)
            worse += len(loser_writes)
        unknown = sum(1 for revision in self.writer.commit_many(held) if revision is not None)
        returned = sum(1 for revision in self.writer.commit_many(back) if revision is not None)
        replaced = sum(1 for revision in self.writer.commit_many(stops) if revision is not None)
        parts = []
        if flipped:
            parts.append("nodes " + ", ".join(flipped))
        if replaced:
            parts.append(f"stopped {replaced} service tasks on lost or deregistered nodes for replacement"
                         if not worse else f"stopped {replaced} service tasks ({worse} the worse copy on a reconnect)")
        if unknown:
            parts.append(f"{unknown} service tasks on lost nodes are UNKNOWN within their disconnect tolerance")
        if returned:
            parts.append(f"{returned} UNKNOWN tasks are back with their nodes")
        return "; ".join(parts)

    def _keep_better(self, view: View, svc: r.Service, recs: list[tuple[Record[r.Task], r.Task]],
                     wall: float) -> tuple[list[Write], list[Write]]:
        """The returning tasks' writes (marks cleared) and the stops of the worse copies."""
        ids = {rec.msg.id for rec, _ in recs}
        others = {rec.msg.id: rec for rec in view.tasks.values()
                  if rec.msg.cluster == svc.cluster and rec.msg.service_name == svc.service_name
                  and rec.msg.id not in ids and rec.msg.desired_status == "RUNNING" and is_live(rec.msg)
                  and not rec.msg.disconnected_at}
        # An original stopped by hand meanwhile is no copy to keep; it only gets its marks cleared.
        decided = {s.task_id: s.reason for s in keep_better([t for _, t in recs if t.desired_status == "RUNNING"],
                                                            [rec.msg for rec in others.values()],
                                                            svc.desired_count)}
        back, losers = [], []
        for rec, task in recs:
            if task.id in decided:
                mark_stopping(task, decided[task.id], "ServiceSchedulerInitiated", wall)
                view.drain(task, wall)
                losers.append(self._write(view, rec, task))
            else:
                back.append(self._write(view, rec, task))
        for task_id, reason in decided.items():
            if task_id in others:
                loser = clone(others[task_id].msg)
                mark_stopping(loser, reason, "ServiceSchedulerInitiated", wall)
                view.drain(loser, wall)
                losers.append(self._write(view, others[task_id], loser))
        return back, losers

    @staticmethod
    def _write(view: View, rec: Record[r.Task], task: r.Task) -> Write:
        # The task stays assigned: its assignment keeps its definition and targets.
        return task_write(rec, task, view.taskdefs.get(task.task_definition_arn), view.targets_of(task))

    def _deregistered(self, node_id: str) -> bool:
        return self.writer.store.get(keys.deregistered(node_id)) is not None

    def step_down(self) -> None:
        self.leading_since = None


def _unknown(task: r.Task, now: float) -> r.Task:
    held = clone(task)
    held.status_before_disconnect = task.last_status
    held.last_status = UNKNOWN
    held.disconnected_at = now
    held.version += 1
    return held


def _reconnected(task: r.Task) -> r.Task:
    """Back to the status it had, unless its agent has already reported a newer one."""
    back = clone(task)
    if back.last_status == UNKNOWN:
        back.last_status = task.status_before_disconnect or "RUNNING"
    back.status_before_disconnect = ""
    back.disconnected_at = 0.0
    back.version += 1
    return back

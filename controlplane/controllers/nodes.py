"""Node lifecycle: keeps each node's agentConnected true to its liveness key, and
replaces the service tasks of a node that is lost (no liveness key for a TTL) or gone
(deregistered). Standalone tasks are left as last reported, as ECS does."""

from __future__ import annotations

import time

from controlplane.controllers.view import View, Writer, clone, task_write
from controlplane.taskspec import is_live
from shoal import keys
from shoal.store.base import Compare


class NodeController:
    def __init__(self, writer: Writer, grace: float) -> None:
        self.writer = writer
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
        stops = []
        for rec in list(view.tasks.values()):
            task = rec.msg
            if not task.service_name or not task.node_id or not is_live(task):
                continue
            node = view.nodes.get(task.node_id)
            if node is not None and task.node_id in view.alive:
                continue
            # A silent node is judged only once the grace has let agents reconnect to a new
            # leader; a deregistered one (its tombstone is there) is gone for certain.
            if not judging and (node is not None or not self._deregistered(task.node_id)):
                continue
            why = "was deregistered" if node is None else "lost contact with the control plane"
            stopped = clone(task)
            stopped.last_status = stopped.desired_status = "STOPPED"
            stopped.stopped_reason = f"Task stopped because its container instance {task.node_id} {why}"
            stopped.stop_code = "TerminationNotice"
            stopped.stopped_at = time.time()
            stopped.version += 1
            for c in stopped.containers:
                c.last_status = "STOPPED"
            stops.append(task_write(rec, stopped))
        replaced = sum(1 for revision in self.writer.commit_many(stops) if revision is not None)
        parts = []
        if flipped:
            parts.append("nodes " + ", ".join(flipped))
        if replaced:
            parts.append(f"stopped {replaced} service tasks on lost or deregistered nodes for replacement")
        return "; ".join(parts)

    def _deregistered(self, node_id: str) -> bool:
        return self.writer.store.get(keys.deregistered(node_id)) is not None

    def step_down(self) -> None:
        self.leading_since = None

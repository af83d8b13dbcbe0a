"""The agent gateway's task-report half: the one way an agent's view of its tasks reaches
the task record. A report changes only what an agent observes (``OBSERVED``); everything
else is copied from the stored record, whatever the merge did — the status strategy of
Kubernetes, in one place. Desire (desiredStatus) and placement are not the agent's to
write: the leader records a task that stopped by itself as desired STOPPED and removes its
assignment (controlplane/controllers/assignments.py)."""

from __future__ import annotations

import logging
import time

from google.protobuf.message import Message

from controlplane.api.agent_stream import AgentStream
from controlplane.api.context import ApiContext
from controlplane.authz import record_denial
from controlplane.taskspec import STATUS_ORDER
from shoal import keys
from shoal.logs import kv
from shoal.store.base import StoreError
from shoal.v1 import agent_pb2
from shoal.v1 import resources_pb2 as r

log = logging.getLogger(__name__)

# What an agent may change: the task's and each container's observed state. The stop
# reason and code are the agent's to give only when nobody gave one first (a task that
# stopped by itself); ``version`` counts every change.
OBSERVED_TASK_FIELDS = frozenset({
    "last_status", "health_status", "started_at", "stopped_at", "stopped_reason", "stop_code",
    "pull_started_at", "pull_stopped_at", "containers", "version", "target_health",
})
OBSERVED_CONTAINER_FIELDS = frozenset({
    "runtime_id", "last_status", "exit_code", "reason", "network_bindings", "health_status",
})


def observed_update(stored: r.Task, change: agent_pb2.TaskStateChange) -> r.Task | None:
    """The task record after an agent's report, or None when the report changes nothing.
    Starts from ``stored`` and merges the report, then puts back from ``stored`` every
    field that is not observed, so no merge (now or later) can write desire or placement."""
    task = r.Task()
    task.CopyFrom(stored)
    _merge(task, change)
    _keep(task, stored, OBSERVED_TASK_FIELDS)
    for mine, was in zip(task.containers, stored.containers, strict=True):
        _keep(mine, was, OBSERVED_CONTAINER_FIELDS)
    if task == stored:
        return None
    task.version = stored.version + 1
    return task


def _keep(new: Message, old: Message, observed: frozenset[str]) -> None:
    """Copies every field of ``old`` not in ``observed`` over ``new``."""
    for f in old.DESCRIPTOR.fields:
        if f.name in observed:
            continue
        new.ClearField(f.name)
        if f.is_repeated:
            getattr(new, f.name).extend(getattr(old, f.name))
        elif f.message_type is not None or f.has_presence:
            if old.HasField(f.name):
                if f.message_type is not None:
                    getattr(new, f.name).CopyFrom(getattr(old, f.name))
                else:
                    setattr(new, f.name, getattr(old, f.name))
        else:
            setattr(new, f.name, getattr(old, f.name))


class TaskReports:
    """Part of ``AgentGatewayService`` (controlplane/api/agents.py), which sets ``ctx``."""

    ctx: ApiContext

    def _apply_task_state(self, stream: AgentStream, change: agent_pb2.TaskStateChange) -> None:
        if change.last_status not in STATUS_ORDER:
            log.warning("agent sent unknown status %r", change.last_status, extra=kv(node=stream.node_id))
            return

        changed: list[r.Task] = []

        def report(task: r.Task | None) -> r.Task | None:
            del changed[:]
            if task is None:
                return None
            if task.node_id != stream.node_id:
                # An agent may only report its own tasks (like Kubernetes' NodeRestriction).
                record_denial("other_node_task", f"shoal:node:{stream.node_id}",
                              "agent reported a task of another node", task=change.task_id, owner=task.node_id)
                return None
            new = observed_update(task, change)
            changed.extend([new] if new is not None else [])
            return new

        key = keys.task(stream.cluster, change.task_id)
        # Start from the watch-fed cache's copy: a report is usually about a task the cache
        # has current, and a stale copy only costs the read it would have cost anyway.
        known = self.ctx.cache.record(key) if self.ctx.cache is not None else None
        if known is not None and known.msg.node_id != stream.node_id:
            known = None  # placed after the cache last heard: only the store may refuse the report
        try:
            rec = self.ctx.state.update(key, r.Task, report, known=known)
        except StoreError as exc:  # Conflict included: the agent reports again on its next change
            log.warning("task state dropped: %s", exc, extra=kv(task=change.task_id, node=stream.node_id))
            return
        if changed and rec is not None:
            log.info("task %s", rec.msg.last_status.lower(), extra=kv(task=change.task_id, node=stream.node_id))


def _merge(task: r.Task, change: agent_pb2.TaskStateChange) -> None:
    """Applies what the agent saw to ``task``. A status never moves backwards (a task the
    control plane already stopped stays STOPPED)."""
    if STATUS_ORDER[change.last_status] >= STATUS_ORDER[task.last_status]:
        task.last_status = change.last_status
    by_name = {c.name: c for c in task.containers}
    for reported in change.containers:
        mine = by_name.get(reported.name)
        if mine is None:
            continue
        mine.runtime_id = reported.runtime_id or mine.runtime_id
        if STATUS_ORDER.get(reported.last_status, -1) >= STATUS_ORDER.get(mine.last_status, -1):
            mine.last_status = reported.last_status
        if reported.HasField("exit_code"):
            mine.exit_code = reported.exit_code
        if reported.reason:
            mine.reason = reported.reason
        if reported.health_status:
            mine.health_status = reported.health_status
        if reported.network_bindings:
            del mine.network_bindings[:]
            mine.network_bindings.extend(reported.network_bindings)
    if change.health_status:
        task.health_status = change.health_status
    if change.target_health:
        # The agent reports every target group's state each time: the newest list is whole.
        del task.target_health[:]
        task.target_health.extend(change.target_health)
    at = change.at or time.time()
    if task.last_status == "RUNNING" and not task.started_at:
        task.started_at = at
    if task.last_status == "STOPPED":
        if not task.stopped_at:
            task.stopped_at = at
        if not task.stopped_reason:
            task.stopped_reason = change.stopped_reason
            task.stop_code = change.stop_code



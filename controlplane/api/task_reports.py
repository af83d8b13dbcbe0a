"""The agent gateway's task-report half: the one way an agent's view of its tasks reaches
the task record. A report changes only what an agent observes (``OBSERVED``); everything
else is copied from the stored record, whatever the merge did — the status strategy of
Kubernetes, in one place. Desire (desiredStatus) and placement are not the agent's to
write: the leader records a task that stopped by itself as desired STOPPED and removes its
assignment (controlplane/controllers/assignments.py)."""

from __future__ import annotations

import logging
import threading
import time

from google.protobuf.message import Message

from controlplane.api.agent_stream import AgentStream
from controlplane.api.context import ApiContext
from controlplane.authz import record_denial
from controlplane.state import Record
from controlplane.taskspec import STATUS_ORDER, UNKNOWN
from shoal import keys
from shoal.logs import kv
from shoal.store import group_commit
from shoal.store.base import StoreError
from shoal.store.group_commit import Batcher
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
    The report is merged into a copy of ``stored``; the result is ``stored`` with only the
    observed fields taken from that merge, so no merge (now or later) can write desire or
    placement."""
    merged = r.Task()
    merged.CopyFrom(stored)
    _merge(merged, change)
    # Copied field by field from the merge, the observed ones only: a report is handled
    # thousands of times a second during a rollout, and the record has nearly three times as
    # many fields that are not observed (putting those back costs the API its GIL time).
    task = r.Task()
    task.CopyFrom(stored)
    _take(task, merged, _TASK_PLAN)
    for mine, new in zip(task.containers, merged.containers, strict=True):
        _take(mine, new, _CONTAINER_PLAN)
    if task == stored:
        return None
    task.version = stored.version + 1
    return task


# How to copy one field: a plain value, a value or message that may be unset, a list.
_VALUE, _PRESENCE, _LIST = range(3)
Plan = tuple[tuple[str, int, bool], ...]


def _plan(cls: type[Message], fields: frozenset[str]) -> Plan:
    """``_take``'s instructions for ``fields`` of ``cls``, worked out once."""
    plan = []
    for f in cls.DESCRIPTOR.fields:
        if f.name in fields:
            kind = _LIST if f.is_repeated else _PRESENCE if f.has_presence else _VALUE
            plan.append((f.name, kind, f.message_type is not None))
    return tuple(plan)


def _take(new: Message, merged: Message, plan: Plan) -> None:
    """Copies the fields of ``plan`` from ``merged`` over ``new``."""
    for name, kind, is_message in plan:
        if kind == _VALUE:
            setattr(new, name, getattr(merged, name))
        elif kind == _LIST:
            new.ClearField(name)
            getattr(new, name).extend(getattr(merged, name))
        elif not merged.HasField(name):
            new.ClearField(name)
        elif is_message:
            getattr(new, name).CopyFrom(getattr(merged, name))
        else:
            setattr(new, name, getattr(merged, name))


# The containers' list is the stored one, each container's observed fields taken in turn.
_TASK_PLAN = _plan(r.Task, OBSERVED_TASK_FIELDS - {"containers"})
_CONTAINER_PLAN = _plan(r.Container, OBSERVED_CONTAINER_FIELDS)


class TaskReports:
    """Part of ``AgentGatewayService`` (controlplane/api/agents.py), which sets ``ctx`` and
    ``reports`` (a ``Batcher`` over ``_write_reports``)."""

    ctx: ApiContext
    reports: Batcher[tuple[AgentStream, agent_pb2.TaskStateChange], None]

    def _apply_task_state(self, stream: AgentStream, change: agent_pb2.TaskStateChange) -> threading.Event | None:
        """Queues the report; returns what is set once its batch is written (None: refused)."""
        if change.last_status not in STATUS_ORDER:
            log.warning("agent sent unknown status %r", change.last_status, extra=kv(node=stream.node_id))
            return None
        # Written together with the reports other agents send meanwhile. Not waited for (the
        # stream is read on the event loop): a report that fails is logged by _write_reports,
        # and the agent reports the task again on its next change.
        return self.reports.post((stream, change)).done

    def _write_reports(self, reports: list[tuple[AgentStream, agent_pb2.TaskStateChange]]) -> list[None]:
        """Writes a batch of reports: each one the cache has a current-looking copy of goes
        out in one group commit (a compare-and-set each); the rest, and any whose compare
        failed, one by one through ``State.update``, in the order they came."""
        grouped: list[tuple[int, Record[r.Task], r.Task]] = []
        seen: set[str] = set()
        alone: list[int] = []
        moved: set[int] = set()
        for i, (stream, change) in enumerate(reports):
            key = keys.task(stream.cluster, change.task_id)
            known = self._known(key, stream)
            new = observed_update(known.msg, change) if known is not None and key not in seen else None
            seen.add(key)
            if known is None or new is None:
                alone.append(i)  # absent from the cache, placed after it, a repeat, or no change
            else:
                grouped.append((i, known, new))
        try:
            landed = group_commit.commit(self.ctx.store, [
                group_commit.Update(known.key, new.SerializeToString(), known.mod_revision)
                for _, known, new in grouped])
        except StoreError as exc:
            for i, _, _ in grouped:
                self._dropped(reports[i], exc)
        else:
            for (i, known, new), revision in zip(grouped, landed, strict=True):
                if revision is None:
                    moved.add(i)  # its record moved on since the cache saw it
                else:
                    self._written(reports[i], Record(new, revision, known.key))
        for i in sorted([*alone, *moved]):
            self._write_alone(*reports[i], trust_cache=i not in moved)
        return [None] * len(reports)

    def _known(self, key: str, stream: AgentStream) -> Record[r.Task] | None:
        """The cache's copy of the reported task, if it is on the reporting node."""
        known = self.ctx.cache.record(key) if self.ctx.cache is not None else None
        if known is not None and known.msg.node_id != stream.node_id:
            return None  # placed after the cache last heard: only the store may refuse the report
        return known

    def _write_alone(self, stream: AgentStream, change: agent_pb2.TaskStateChange, trust_cache: bool) -> None:
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
        try:
            rec = self.ctx.state.update(key, r.Task, report, known=self._known(key, stream) if trust_cache else None)
        except StoreError as exc:  # Conflict included: the agent reports again on its next change
            self._dropped((stream, change), exc)
            return
        if changed and rec is not None:
            self._written((stream, change), rec)

    def _written(self, report: tuple[AgentStream, agent_pb2.TaskStateChange], rec: Record[r.Task]) -> None:
        stream, change = report
        if self.ctx.cache is not None:
            # The next report of this task starts from what was just written, not from the
            # copy before it (which the watch may not have replaced yet).
            self.ctx.cache.note_put(rec.key, rec.msg, rec.mod_revision)
        log.info("task %s", rec.msg.last_status.lower(), extra=kv(task=change.task_id, node=stream.node_id))

    @staticmethod
    def _dropped(report: tuple[AgentStream, agent_pb2.TaskStateChange], exc: StoreError) -> None:
        stream, change = report
        log.warning("task state dropped: %s", exc, extra=kv(task=change.task_id, node=stream.node_id))


def _merge(task: r.Task, change: agent_pb2.TaskStateChange) -> None:
    """Applies what the agent saw to ``task``. A status never moves backwards (a task the
    control plane already stopped stays STOPPED); UNKNOWN (its node was out of reach) gives
    way to whatever the agent now says."""
    if task.last_status == UNKNOWN or STATUS_ORDER[change.last_status] >= STATUS_ORDER[task.last_status]:
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



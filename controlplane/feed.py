"""The cluster-wide event feed: what changed in the cluster, told as events (ECS's service
events, deployments starting and finishing, tasks changing state, nodes joining, draining,
losing their agent), kept in a bounded ring on every replica and read by ``shoal events`` and
the web console.

The feed is fed by the replica's cache (``Cache.add_listener``): each change of a record is
compared with the record it replaces, so no writer writes anything more. The service events
the leader stores on each service record are taken as they are (their own ids and times),
and a fresh replica starts with them; task, node and deployment events are what this replica
saw happen since it started, after the history the leader kept in the store before it
started (``event_log.py``: the feed tells ``on_events`` what it derived, and is ``seed``-ed
with the stored history before its cache starts). Chaos runs started from a replica's
console are told by that replica's feed alone.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable

from google.protobuf.message import Message

from controlplane.cache import Change
from shoal import keys
from shoal.v1 import events_pb2 as ev
from shoal.v1 import resources_pb2 as r

KINDS = ("service", "deployment", "task", "node", "chaos")
CAPACITY = 10_000
DEFAULT_LIMIT = 1_000

# (kind, cluster, service, node, task, message, created_at or 0 for "now")
Draft = tuple[str, str, str, str, str, str, float]


def _service_drafts(old: r.Service | None, new: r.Service | None) -> list[Draft]:
    if new is None:
        return []
    svc = new.service_name
    seen = {e.id for e in old.events} if old is not None else set()
    out: list[Draft] = [("service", new.cluster, svc, "", "", e.message, e.created_at)
                        for e in reversed(new.events) if e.id not in seen]
    before = {d.id: d for d in old.deployments} if old is not None else {}
    for d in new.deployments:
        was = before.get(d.id)
        if was is None and old is not None:
            out.append(("deployment", new.cluster, svc, "", "",
                        f"(service {svc}) deployment {d.id} started: {d.task_definition}, "
                        f"{d.desired_count} desired", 0.0))
        elif was is not None and was.rollout_state != d.rollout_state and d.rollout_state:
            reason = f": {d.rollout_state_reason}" if d.rollout_state_reason else ""
            out.append(("deployment", new.cluster, svc, "", "",
                        f"(service {svc}) deployment {d.id} {d.rollout_state}{reason}", 0.0))
    return out


def _task_drafts(old: r.Task | None, new: r.Task | None) -> list[Draft]:
    if new is None or (old is not None and old.last_status == new.last_status
                       and old.desired_status == new.desired_status):
        return []
    where = f" on {new.node_id}" if new.node_id else ""
    if old is None:
        text = f"task {new.id} created ({new.group}), {new.last_status or 'PROVISIONING'}"
    elif old.last_status != new.last_status:
        text = f"task {new.id} {old.last_status or '-'} -> {new.last_status}{where}"
        if new.last_status == "STOPPED":
            exits = ", ".join(f"{c.name} exit {c.exit_code}" for c in new.containers if c.HasField("exit_code"))
            text += f": {new.stopped_reason or 'stopped'}" + (f" ({exits})" if exits else "")
    else:
        text = f"task {new.id} desired {new.desired_status}{where}"
        if new.stopped_reason:
            text += f": {new.stopped_reason}"
    return [("task", new.cluster, new.service_name, new.node_id, new.id, text, 0.0)]


def _node_drafts(old: r.ContainerInstance | None, new: r.ContainerInstance | None) -> list[Draft]:
    if new is None:
        if old is None:
            return []
        return [("node", old.cluster, "", old.id, "", f"node {_name(old)} deregistered", 0.0)]
    if old is None:
        return [("node", new.cluster, "", new.id, "", f"node {_name(new)} registered ({new.status})", 0.0)]
    out: list[Draft] = []
    if old.status != new.status:
        reason = f": {new.status_reason}" if new.status_reason else ""
        out.append(("node", new.cluster, "", new.id, "", f"node {_name(new)} {old.status} -> {new.status}{reason}",
                    0.0))
    if old.agent_connected != new.agent_connected:
        text = "agent connected" if new.agent_connected else "agent disconnected (node lost)"
        out.append(("node", new.cluster, "", new.id, "", f"node {_name(new)} {text}", 0.0))
    return out


def _name(node: r.ContainerInstance) -> str:
    return f"{node.hostname} ({node.id})" if node.hostname and node.hostname != node.id else node.id


_DERIVE: dict[str, Callable[[Message | None, Message | None], list[Draft]]] = {
    keys.SERVICES: _service_drafts,
    keys.TASKS: _task_drafts,
    keys.NODES: _node_drafts,
}


def drafts(prefix: str, old: Message | None, new: Message | None) -> list[Draft]:
    """The events one record change tells (pure: the same change, the same events)."""
    derive = _DERIVE.get(prefix)
    return derive(old, new) if derive is not None else []


def matches(e: ev.ClusterEvent, req: ev.ListEventsRequest) -> bool:
    return ((not req.cluster or e.cluster == req.cluster) and (not req.service or e.service == req.service)
            and (not req.node or e.node == req.node) and (not req.kinds or e.kind in req.kinds)
            and e.created_at >= req.since and e.seq > req.after_seq)


def check_request(req: ev.ListEventsRequest) -> str | None:
    """What is wrong with ``req`` (naming the field), or None."""
    bad = [k for k in req.kinds if k not in KINDS]
    if bad:
        return f"kinds: {bad[0][:32]!r} is not one of {', '.join(KINDS)}"
    if req.since < 0:
        return "since: must be an epoch time, not negative"
    if req.limit > CAPACITY:
        return f"limit: at most {CAPACITY}"
    return None


class EventFeed:
    """The ring of events and a condition that wakes followers on every cache change."""

    def __init__(self, capacity: int = CAPACITY, clock: Callable[[], float] = time.time) -> None:
        self._events: deque[ev.ClusterEvent] = deque(maxlen=capacity)
        self._clock = clock
        self._seq = 0
        # Told each batch of events derived or recorded here (the leader's event log).
        self.on_events: Callable[[list[ev.ClusterEvent]], None] = lambda events: None
        # Bumped on every cache change, events or not: the console's pages follow it.
        self.version = 0
        self._changed = threading.Condition()

    def observe(self, prefix: str, changes: Iterable[Change], listing: bool) -> None:
        """Told by the cache of changed records; ``listing``: the prefix was (re-)listed, so
        records seen for the first time are not news, except service events, which carry
        their own history."""
        found: list[Draft] = []
        for _key, old, new in changes:
            if listing and old is None and prefix != keys.SERVICES:
                continue
            found += drafts(prefix, old, new)
        # A listing brings many services' stored events at once: in time order, as they happened.
        found.sort(key=lambda d: d[6] or float("inf"))
        self._append(found)

    def _append(self, found: list[Draft]) -> None:
        added = []
        with self._changed:
            now = self._clock()
            for kind, cluster, service, node, task, message, at in found:
                self._seq += 1
                added.append(ev.ClusterEvent(seq=self._seq, created_at=at or now, kind=kind, cluster=cluster,
                                             service=service, node=node, task=task, message=message))
            self._events.extend(added)
            self.version += 1
            self._changed.notify_all()
        if added:
            self.on_events(added)

    def seed(self, history: Iterable[ev.ClusterEvent]) -> None:
        """Starts the ring with events that happened before this replica started (the
        stored history), each numbered here."""
        self._append([(e.kind, e.cluster, e.service, e.node, e.task, e.message, e.created_at) for e in history])

    def record(self, kind: str, cluster: str, message: str, service: str = "", node: str = "") -> None:
        """Adds an event no record change tells (a chaos run from the console): kept in this
        replica's ring only, like the task and node events it saw."""
        self._append([(kind, cluster, service, node, "", message, 0.0)])

    def list(self, req: ev.ListEventsRequest) -> ev.ListEventsResponse:
        with self._changed:
            held = list(self._events)
            last = self._seq
        picked = [e for e in held if matches(e, req)]
        return ev.ListEventsResponse(events=picked[-(req.limit or DEFAULT_LIMIT):], last_seq=last)

    def wait(self, version: int, timeout: float) -> int:
        """Waits up to ``timeout`` seconds for a change after ``version``; the version now."""
        with self._changed:
            self._changed.wait_for(lambda: self.version != version, timeout)
            return self.version

    def wait_for_event(self, after_seq: int, timeout: float) -> bool:
        """Waits up to ``timeout`` seconds for an event after ``after_seq``."""
        with self._changed:
            return self._changed.wait_for(lambda: self._seq > after_seq, timeout)

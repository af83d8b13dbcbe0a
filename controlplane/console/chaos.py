"""Chaos from the console: the faults the control plane can really make through its own API
(drain a node, stop N tasks of a service, stop N random service tasks of a cluster), each
followed by a measurement of how long the cluster took to notice (a replacement task
created) and to converge back, by the same definition `shoal chaos` uses
(``shoal.convergence``), read from this replica's cache as it changes.

Faults that need the host (killing or freezing an agent, cutting its network, stopping its
dockerd, killing the leader replica) cannot be made from here: they stay with `shoal chaos`.

Each action is judged by ``authz.decide`` on the Operator method it uses (a viewer is
refused), must carry ``confirm`` equal to its name, and runs one at a time per replica; its
start and its outcome are told in the event feed (kind ``chaos``)."""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import grpc

from controlplane.api import nodes as nodes_api
from controlplane.api import tasks as tasks_api
from controlplane.api.context import ApiContext
from controlplane.authz import decide_or_raise
from controlplane.cache import Cache
from controlplane.errors import ApiError, invalid
from controlplane.feed import EventFeed
from controlplane.taskspec import is_live
from shoal import keys
from shoal.convergence import lagging
from shoal.logs import kv
from shoal.security.ca import Identity
from shoal.v1 import operator_pb2 as op
from shoal.v1 import resources_pb2 as r

log = logging.getLogger(__name__)

Body = dict[str, Any]
MAX_COUNT = 100
TIMEOUT = 180.0
KEPT = 20
# What the page says the control plane cannot do, and where to do it instead.
HOST_ONLY = ("kill-agent", "pause-agent", "partition", "stop-docker", "kill-leader", "kill-task (SIGKILL)")


@dataclass
class Fault:
    """What an action did: its lines, the node it hit (drain) and the tasks it stopped."""

    did: list[str]
    services: set[str]
    node: str = ""
    victims: set[str] = field(default_factory=set)
    # Every task id of the cluster just before the fault: a task not among them is a replacement.
    existing: set[str] = field(default_factory=set)


@dataclass
class Run:
    id: str
    action: str
    user: str
    cluster: str
    started_at: float
    started: float
    did: list[str] = field(default_factory=list)
    state: str = "running"  # running, converged, not converged
    noticed_after: float | None = None
    converged_after: float | None = None
    lagging: list[str] = field(default_factory=list)

    def json(self, now: float) -> Body:
        return {"id": self.id, "action": self.action, "user": self.user, "cluster": self.cluster,
                "startedAt": self.started_at, "state": self.state, "did": self.did,
                "noticedAfter": self.noticed_after, "convergedAfter": self.converged_after,
                "elapsed": round((now - self.started) if self.state == "running" else
                                 (self.converged_after or 0.0), 2),
                "lagging": self.lagging}


@dataclass
class Snapshot:
    services: list[r.Service]
    tasks: list[r.Task]
    nodes: list[r.ContainerInstance]
    connected: set[str]


def _text(body: Body, name: str, most: int = 256) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value or len(value) > most:
        raise invalid(f"{name}: required, a string of at most {most} characters")
    return value


def _count(body: Body) -> int:
    count = body.get("count", 1)
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= MAX_COUNT:
        raise invalid(f"count: an integer from 1 to {MAX_COUNT}")
    return count


class Chaos:
    """The runs of this replica's console; ``start`` makes a fault and measures it in a thread."""

    def __init__(self, ctx: ApiContext, cache: Cache, feed: EventFeed, timeout: float = TIMEOUT,
                 rng: random.Random | None = None) -> None:
        self.ctx, self.cache, self.feed, self.timeout = ctx, cache, feed, timeout
        self.rng = rng or random.Random()
        self.closing = threading.Event()
        self._lock = threading.Lock()
        self._runs: list[Run] = []
        # action -> (the Operator method whose permission it needs, what it does)
        self.actions: dict[str, tuple[str, Callable[[str, Body, Snapshot], Fault]]] = {
            "drain-node": ("UpdateContainerInstancesState", self._drain),
            "stop-service-tasks": ("StopTask", self._stop_service_tasks),
            "stop-random-tasks": ("StopTask", self._stop_random_tasks),
        }

    def runs(self) -> Body:
        now = time.monotonic()
        with self._lock:
            runs = [run.json(now) for run in reversed(self._runs)]
        return {"actions": list(self.actions), "hostOnly": list(HOST_ONLY), "runs": runs}

    def snapshot(self, cluster: str) -> Snapshot:
        alive = {k[len(keys.ALIVE):] for k in self.cache.keys_under(keys.ALIVE)}
        nodes = [rec.msg for rec in self.cache.records(keys.NODES)
                 if rec.msg.cluster == cluster and rec.msg.status != "INACTIVE"]
        return Snapshot(
            services=[rec.msg for rec in self.cache.records(keys.SERVICES) if rec.msg.cluster == cluster],
            tasks=[rec.msg for rec in self.cache.records(keys.TASKS) if rec.msg.cluster == cluster],
            nodes=nodes, connected={n.id for n in nodes if n.id in alive})

    def start(self, identity: Identity | None, insecure: bool, user: str, body: Body) -> Body:
        """Judges, makes the fault and starts measuring; raises ApiError naming the field."""
        name = _text(body, "action", 64)
        found = self.actions.get(name)
        if found is None:
            hint = " (needs the host: run `shoal chaos` there)" if name in HOST_ONLY else ""
            raise invalid(f"action: {name[:32]!r} is not one of {', '.join(self.actions)}{hint}")
        method = f"/shoal.v1.Operator/{found[0]}"
        if not insecure:
            decide_or_raise(method, identity, via="console-chaos")
        if body.get("confirm") != name:
            raise invalid(f"confirm: must be the action's name ({name!r}) to run it")
        cluster = _text(body, "cluster")
        with self._lock:
            if any(run.state == "running" for run in self._runs):
                raise ApiError(grpc.StatusCode.FAILED_PRECONDITION,
                               "chaos: a run is still measuring; wait for it to converge or time out")
            before = self.snapshot(cluster)
            fault = found[1](cluster, body, before)
            fault.existing = {t.id for t in before.tasks}
            run = Run(uuid.uuid4().hex[:12], name, user, cluster, time.time(), time.monotonic(), did=list(fault.did))
            self._runs = [*self._runs, run][-KEPT:]
        self.feed.record("chaos", cluster, f"chaos {name} by {user}: {'; '.join(fault.did)}",
                         node=fault.node, service=next(iter(fault.services)) if len(fault.services) == 1 else "")
        log.info("chaos run started", extra=kv(run=run.id, action=name, user=user, cluster=cluster))
        threading.Thread(target=self._measure, args=(run, fault, before.connected), name=f"chaos-{run.id}",
                         daemon=True).start()
        return run.json(time.monotonic())

    def close(self) -> None:
        self.closing.set()

    # ---- the faults (called under the lock, with the picture taken just before) ----

    def _drain(self, cluster: str, body: Body, before: Snapshot) -> Fault:
        node = _text(body, "node")
        rec = next((n for n in before.nodes if node in (n.id, n.hostname)), None)
        if rec is None:
            raise ApiError(grpc.StatusCode.NOT_FOUND, f"node: {node[:64]!r} not found in cluster {cluster[:64]!r}")
        if rec.status != "ACTIVE":
            raise ApiError(grpc.StatusCode.FAILED_PRECONDITION, f"node: {rec.hostname or rec.id} is {rec.status}, "
                                                                 "not ACTIVE; activate it first")
        resp = nodes_api.update_state(self.ctx, op.UpdateContainerInstancesStateRequest(
            cluster=cluster, container_instances=[rec.id], status="DRAINING"))
        if resp.failures:
            raise invalid(f"node: {resp.failures[0].arn[:64]!r} {resp.failures[0].reason}")
        on_node = [t for t in before.tasks if t.node_id == rec.id and t.service_name and is_live(t)]
        return Fault([f"drained node {rec.hostname or rec.id} ({rec.id}): {len(on_node)} service tasks on it"],
                     {t.service_name for t in on_node}, node=rec.id, victims={t.id for t in on_node})

    def _stop_service_tasks(self, cluster: str, body: Body, before: Snapshot) -> Fault:
        service = _text(body, "service")
        if not any(s.service_name == service and s.status == "ACTIVE" for s in before.services):
            raise ApiError(grpc.StatusCode.NOT_FOUND,
                           f"service: {service[:64]!r} not found (or not ACTIVE) in cluster {cluster[:64]!r}")
        return self._stop(cluster, [t for t in before.tasks if t.service_name == service], _count(body),
                          f"service {service}")

    def _stop_random_tasks(self, cluster: str, body: Body, before: Snapshot) -> Fault:
        return self._stop(cluster, [t for t in before.tasks if t.service_name], _count(body),
                          f"cluster {cluster}'s services")

    def _stop(self, cluster: str, candidates: list[r.Task], count: int, of: str) -> Fault:
        running = sorted((t for t in candidates if t.last_status == "RUNNING" and t.desired_status == "RUNNING"),
                         key=lambda t: t.id)
        if not running:
            raise ApiError(grpc.StatusCode.FAILED_PRECONDITION, f"count: {of} has no RUNNING task to stop")
        picked = self.rng.sample(running, min(count, len(running)))
        for t in picked:
            tasks_api.stop(self.ctx, op.StopTaskRequest(cluster=cluster, task=t.id,
                                                        reason="Task stopped by chaos from the console"))
        return Fault([f"stopped {len(picked)} of {len(running)} RUNNING tasks of {of}: "
                      + ", ".join(t.id[:12] for t in picked)], {t.service_name for t in picked},
                     victims={t.id for t in picked})

    # ---- the measurement ----

    def _measure(self, run: Run, fault: Fault, connected: set[str]) -> None:
        version = self.feed.version
        deadline = run.started + self.timeout
        while not self.closing.is_set():
            sentence = self.check(run, fault, connected)
            log.debug("chaos run: %s", sentence, extra=kv(run=run.id))
            if run.state != "running":
                break
            if time.monotonic() >= deadline:
                run.state = "not converged"
                break
            # Woken by every change the cache takes in; the deadline is checked at least once a second.
            version = self.feed.wait(version, 1.0)
        outcome = (f"converged after {run.converged_after:.1f}s" if run.state == "converged"
                   else f"NOT converged within {self.timeout:g}s: {'; '.join(run.lagging)}")
        noticed = f"noticed after {run.noticed_after:.1f}s; " if run.noticed_after is not None else ""
        self.feed.record("chaos", run.cluster, f"chaos {run.action} ({run.id}): {noticed}{outcome}", node=fault.node,
                         service=next(iter(fault.services)) if len(fault.services) == 1 else "")
        log.info("chaos run ended", extra=kv(run=run.id, action=run.action, state=run.state,
                                             converged_after=run.converged_after))

    def check(self, run: Run, fault: Fault, connected: set[str]) -> str:
        """One look at the cache: records when the fault was noticed and when the cluster
        converged; returns what it decided."""
        pic = self.snapshot(run.cluster)
        now = time.monotonic() - run.started
        replacements = [t for t in pic.tasks if t.service_name in fault.services and t.id not in fault.existing]
        if run.noticed_after is None and (replacements or not fault.victims):
            run.noticed_after = round(now, 2)
        behind = lagging(pic.services, pic.tasks, pic.nodes, pic.connected, connected)
        still = [t.id[:12] for t in pic.tasks if t.id in fault.victims and t.last_status != "STOPPED"]
        if still:
            behind.append(f"tasks hit not STOPPED yet: {', '.join(sorted(still))}")
        for s in pic.services:
            if s.service_name in fault.services and s.status == "ACTIVE":
                up = sum(1 for t in pic.tasks if t.service_name == s.service_name and t.last_status == "RUNNING"
                         and t.desired_status == "RUNNING")
                if up != s.desired_count:
                    behind.append(f"service {s.service_name}: {up}/{s.desired_count} tasks RUNNING")
        run.lagging = behind
        if run.noticed_after is not None and not behind:
            run.state, run.converged_after = "converged", round(now, 2)
            return f"converged after {now:.1f}s"
        return f"not converged after {now:.1f}s: {'; '.join(behind) or 'the fault not noticed yet'}"

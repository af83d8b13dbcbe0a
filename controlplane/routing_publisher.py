"""Each replica's push of its clusters' routing tables to the agent streams it holds.

Woken on every cache change, it rebuilds at most once per ``min_interval`` and pauses as
long as a build took (changes in between are taken together, as the controller loop does), only for clusters that have a
load balancer or a namespace, and sends a table only when it differs from the last one sent
to that cluster. A new stream gets the cluster's current table at once (``current``). Also
woken when a draining target's ``deregister_until`` passes, since that changes the table
without any record changing."""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable

from prometheus_client import Histogram

from controlplane.cache import Cache
from controlplane.metrics import REGISTRY
from controlplane.routing import sources
from controlplane.routing.table import build_routing_table
from shoal import keys
from shoal.v1 import agent_pb2
from shoal.worker import Worker

log = logging.getLogger(__name__)

BUILD_SECONDS = Histogram(
    "shoal_routing_build_seconds", "Building every routing table of the replica's clusters once", registry=REGISTRY,
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1),
)

Broadcast = Callable[[str, agent_pb2.ControlMessage], int]


class RoutingPublisher:
    def __init__(self, cache: Cache, broadcast: Broadcast, min_interval: float = 0.1) -> None:
        self.cache = cache
        self.broadcast = broadcast
        self.min_interval = min_interval
        self._wake = threading.Event()
        self._worker = Worker("routing", self._run, wake=self._wake)
        self._lock = threading.Lock()
        # Per cluster: the table last sent (its bytes without the revision, and the message).
        self._sent: dict[str, tuple[bytes, agent_pb2.ControlMessage]] = {}
        self._deadline: float | None = None
        self.builds = 0

    def start(self) -> None:
        self._worker.start()

    def stop(self) -> None:
        """Returns once the build in flight, if any, has finished and said what it sent."""
        self._worker.stop()

    def wake(self) -> None:
        self._wake.set()

    def current(self, cluster: str) -> agent_pb2.ControlMessage | None:
        with self._lock:
            held = self._sent.get(cluster)
        return held[1] if held is not None else None

    def _run(self) -> None:
        earliest = 0.0
        while not self._worker.stopping.is_set():
            timeout = None if self._deadline is None else max(0.0, self._deadline - time.time())
            self._wake.wait(timeout)
            # Joined, not dropped: what arrives during the pause is in the next build.
            self._worker.stopping.wait(max(0.0, earliest - time.monotonic()))
            if self._worker.stopping.is_set():
                return
            self._wake.clear()
            started = time.monotonic()
            try:
                sentence = self.publish()
            except Exception:
                log.exception("routing table build failed (a bug)")
                sentence = ""
            ended = time.monotonic()
            # At most one build per min_interval, and never more than half of one core: a
            # build that took longer than the interval is followed by as long a pause.
            earliest = max(started + self.min_interval, ended + (ended - started))
            if sentence:
                log.info(sentence)

    def publish(self, now: float | None = None) -> str:
        """Builds the table of every cluster with traffic records and sends each that
        changed; returns what it sent."""
        now = time.time() if now is None else now
        started = time.perf_counter()
        lbs, groups, spaces = (_by_cluster(self.cache, p) for p in
                               (sources.LOADBALANCERS, sources.TARGETGROUPS, sources.NAMESPACES))
        clusters = set(lbs) | set(spaces)
        with self._lock:
            gone = [c for c in self._sent if c not in clusters]
        if not clusters and not gone:
            self._deadline = None
            return ""
        services, tasks, nodes = (_by_cluster(self.cache, p) for p in (keys.SERVICES, keys.TASKS, keys.NODES))
        taskdefs = {rec.msg.task_definition_arn: rec.msg for rec in self.cache.records(keys.TASKDEFS)}
        revision = self.cache.revision()
        sent: list[str] = []
        deadline: float | None = None
        for cluster in sorted(clusters | set(gone)):
            table = build_routing_table(cluster, services[cluster], tasks[cluster], nodes[cluster], lbs[cluster],
                                        groups[cluster], spaces[cluster], 0, taskdefs=taskdefs, now=now)
            # Rebuilt when a drain ends: a stopping task's, or a deregistered address's.
            ends = [task.deregister_until for task in tasks[cluster]]
            ends += [x.deregister_until for g in groups[cluster] for x in g.registered_targets]
            for end in ends:
                if end > now and (deadline is None or end < deadline):
                    deadline = end
            body = table.SerializeToString(deterministic=True)
            with self._lock:
                held = self._sent.get(cluster)
            if held is not None and held[0] == body:
                continue
            table.revision = revision
            msg = agent_pb2.ControlMessage(routing=table)
            with self._lock:
                if cluster in clusters:
                    self._sent[cluster] = (body, msg)
                else:
                    self._sent.pop(cluster, None)  # an empty table, once: the proxies let go
            streams = self.broadcast(cluster, msg)
            sent.append(f"{cluster} (revision {revision}, {len(table.frontends)} frontends, "
                        f"{sum(len(b.servers) for b in table.backends)} servers) to {streams} agents")
        self._deadline = deadline
        self.builds += 1
        BUILD_SECONDS.observe(time.perf_counter() - started)
        return "sent the routing table of " + "; ".join(sent) if sent else ""


def _by_cluster(cache: Cache, prefix: str) -> defaultdict[str, list]:
    out: defaultdict[str, list] = defaultdict(list)
    for rec in cache.records(prefix):
        out[rec.msg.cluster].append(rec.msg)
    return out

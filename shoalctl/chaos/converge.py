"""Is the cluster back to what was asked of it? A picture of services, tasks and nodes
read through the Operator API, and a clock that measures how long a fault took to be
noticed and then to be repaired.

Converged is what ``shoal.convergence.lagging`` says (the console's chaos page measures by
the same definition).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from shoal.convergence import lagging
from shoal.paging import batches, every_page
from shoal.v1 import operator_pb2 as op
from shoal.v1 import resources_pb2 as r

# DescribeServices and DescribeTasks take at most this many names, as ECS does.
_BATCH = 100


@dataclass
class Picture:
    services: list[r.Service] = field(default_factory=list)
    tasks: list[r.Task] = field(default_factory=list)
    nodes: list[r.ContainerInstance] = field(default_factory=list)
    at: float = field(default_factory=time.monotonic)

    def connected(self) -> set[str]:
        return {n.id for n in self.nodes if n.agent_connected}

    def node(self, name_or_id: str) -> r.ContainerInstance | None:
        for n in self.nodes:
            if name_or_id in (n.id, n.hostname, n.container_instance_arn):
                return n
        return None

    def lagging(self, expect_connected: set[str] = frozenset()) -> list[str]:  # type: ignore[assignment]
        """What keeps the cluster from being converged, one phrase each ([] = converged)."""
        return lagging(self.services, self.tasks, self.nodes, self.connected(), expect_connected)

    def converged(self, expect_connected: set[str] = frozenset()) -> bool:  # type: ignore[assignment]
        return not self.lagging(expect_connected)


def picture(api: Any, cluster: str = "default") -> Picture:
    """Reads services, live tasks and nodes. ``api`` has the Operator methods, each taking
    only the request (shoalctl.cli.client.Client; it brings its own timeout and failover)."""
    pic = Picture()
    names = every_page(api.ListServices, op.ListServicesRequest(cluster=cluster))
    for batch in batches(names, _BATCH):
        pic.services.extend(api.DescribeServices(op.DescribeServicesRequest(cluster=cluster, services=batch)).services)
    arns = every_page(api.ListTasks, op.ListTasksRequest(cluster=cluster, desired_status="RUNNING"))
    for batch in batches(arns, _BATCH):
        pic.tasks.extend(api.DescribeTasks(op.DescribeTasksRequest(cluster=cluster, tasks=batch)).tasks)
    nodes = every_page(api.ListContainerInstances, op.ListContainerInstancesRequest(cluster=cluster))
    for batch in batches(nodes, _BATCH):
        pic.nodes.extend(api.DescribeContainerInstances(op.DescribeContainerInstancesRequest(
            cluster=cluster, container_instances=batch)).container_instances)
    return pic


@dataclass
class Measurement:
    """Seconds from the fault: until the cluster showed it noticed (None: it never did),
    and until it converged again (None: not within the deadline)."""

    noticed_after: float | None
    converged_after: float | None
    lagging: list[str]

    def sentence(self) -> str:
        noticed = (f"noticed after {self.noticed_after:.1f}s" if self.noticed_after is not None
                   else "no sign that the cluster noticed")
        if self.converged_after is None:
            return f"{noticed}; NOT converged by the deadline: {'; '.join(self.lagging)}"
        return f"{noticed}; converged after {self.converged_after:.1f}s"


class Clock:
    """Started when the fault is made. ``poll()`` takes one picture and records when the
    ``noticed`` predicate first held; ``wait_converged`` polls until converged (after the
    fault was noticed, or once ``notice_within`` passed without it: the cluster may ride
    through a short fault unnoticed)."""

    def __init__(self, api: Any, cluster: str = "default", noticed: Callable[[Picture], bool] | None = None,
                 expect_connected: set[str] | None = None, interval: float = 0.25) -> None:
        self.api = api
        self.cluster = cluster
        self.noticed = noticed
        self.expect_connected = set(expect_connected or ())
        self.interval = interval
        self.started = time.monotonic()
        self.noticed_at: float | None = None
        self.last: Picture | None = None
        self.last_error = ""

    def poll(self) -> Picture | None:
        try:
            pic = picture(self.api, self.cluster)
        except Exception as exc:  # a replica down mid-fault is part of the show
            self.last_error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            return None
        self.last = pic
        if self.noticed_at is None and self.noticed is not None and self.noticed(pic):
            self.noticed_at = pic.at
        return pic

    def hold(self, seconds: float) -> None:
        """Keeps polling (to catch the moment the fault is noticed) for ``seconds``."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.poll()
            time.sleep(min(self.interval, max(0.0, end - time.monotonic())))

    def wait_converged(self, timeout: float, notice_within: float = 0.0) -> Measurement:
        deadline = time.monotonic() + timeout
        notice_deadline = time.monotonic() + notice_within
        while True:
            pic = self.poll()
            waiting_for_notice = (self.noticed is not None and self.noticed_at is None
                                  and time.monotonic() < notice_deadline)
            if pic is not None and not waiting_for_notice and pic.converged(self.expect_connected):
                return self._measurement(pic.at - self.started)
            if time.monotonic() >= deadline:
                return self._measurement(None)
            time.sleep(self.interval)

    def _measurement(self, converged_after: float | None) -> Measurement:
        lagging = self.last.lagging(self.expect_connected) if self.last is not None else []
        if self.last_error and converged_after is None:
            lagging.append(f"last API error: {self.last_error}")
        noticed = self.noticed_at - self.started if self.noticed_at is not None else None
        return Measurement(noticed, converged_after, lagging)

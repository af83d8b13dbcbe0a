"""The agent's /metrics, on its own registry: host CPU and memory, containers and tasks by
state, reconcile latency, and per-container CPU seconds and memory bytes read from cgroup
files at scrape time (through the runtime, so hollow agents report too)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from agent.runtime import LABEL_CLUSTER, LABEL_CONTAINER, LABEL_SERVICE, LABEL_TASK

if TYPE_CHECKING:
    from agent.agent import Agent
    from agent.host import HostProbe

CONTAINER_LABELS = ["cluster", "service", "task", "container"]
TASK_LABELS = ["cluster", "service", "task"]


class _AgentCollector(Collector):
    def __init__(self, agent: Agent, host: HostProbe | None) -> None:
        self.agent = agent
        self.host = host

    def collect(self) -> Iterator:
        node = self.agent.node_id
        if self.host is not None:
            s = self.host.sample()
            yield GaugeMetricFamily("shoal_agent_host_cpu_percent", "Host CPU utilisation, percent.",
                                    value=s.cpu_percent)
            yield GaugeMetricFamily("shoal_agent_host_memory_used_bytes", "Host memory in use.",
                                    value=s.memory_used_bytes)
            yield GaugeMetricFamily("shoal_agent_host_memory_total_bytes", "Host memory in total.",
                                    value=s.memory_total_bytes)
        tasks = GaugeMetricFamily("shoal_agent_tasks", "Tasks known to the agent, by last status.",
                                  labels=["node", "status"])
        for status, n in sorted(Counter(t.last_status for t in self.agent.view()).items()):
            tasks.add_metric([node, status], n)
        yield tasks
        infos = self.agent.containers()
        states = GaugeMetricFamily("shoal_agent_containers", "Containers labelled with this node, by state.",
                                   labels=["node", "state"])
        for state, n in sorted(Counter(i.state for i in infos).items()):
            states.add_metric([node, state], n)
        yield states
        cpu = CounterMetricFamily("shoal_task_cpu_seconds", "CPU time used by a task's container (cgroup).",
                                  labels=CONTAINER_LABELS)
        mem = GaugeMetricFamily("shoal_task_memory_bytes", "Memory used by a task's container (cgroup).",
                                labels=CONTAINER_LABELS)
        for info in infos:
            if info.state != "running":
                continue
            used = self.agent.runtime.usage(info.id)
            if used is None:
                continue
            labels = [info.labels.get(LABEL_CLUSTER, ""), info.labels.get(LABEL_SERVICE, ""),
                      info.labels.get(LABEL_TASK, ""), info.labels.get(LABEL_CONTAINER, "")]
            cpu.add_metric(labels, used[0])
            mem.add_metric(labels, used[1])
        yield cpu
        yield mem
        yield from _reservations(self.agent, infos)


def _reservations(agent: Agent, infos: list) -> Iterator:
    """What each running task reserved (its task-level cpu and memory), so utilisation is
    used ÷ reserved as ECS defines it: the denominators of the service metrics."""
    cpu = GaugeMetricFamily("shoal_task_cpu_reserved_units", "CPU units (1024 = 1 vCPU) a running task reserved.",
                            labels=TASK_LABELS)
    mem = GaugeMetricFamily("shoal_task_memory_reserved_bytes", "Memory a running task reserved.",
                            labels=TASK_LABELS)
    desired = agent.desired or {}
    for task_id in sorted({i.labels.get(LABEL_TASK, "") for i in infos if i.state == "running"}):
        a = desired.get(task_id)
        if a is None:
            continue
        labels = [a.task.cluster, a.task.service_name, task_id]
        cpu.add_metric(labels, int(a.task.cpu or 0))
        mem.add_metric(labels, int(a.task.memory or 0) * 1024 * 1024)
    yield cpu
    yield mem


class AgentMetrics:
    """Owns the registry; ``observe_cycle`` is the agent's on_cycle hook."""

    def __init__(self, host: HostProbe | None = None) -> None:
        self.registry = CollectorRegistry()
        self.host = host
        self.reconcile_seconds = Histogram(
            "shoal_agent_reconcile_duration_seconds", "Time one reconcile cycle took.",
            buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10), registry=self.registry,
        )
        self._server = None
        self._thread: threading.Thread | None = None

    def observe_cycle(self, seconds: float) -> None:
        self.reconcile_seconds.observe(seconds)

    def attach(self, agent: Agent) -> None:
        self.registry.register(_AgentCollector(agent, self.host))

    def serve(self, port: int, address: str = "127.0.0.1") -> int:
        """Starts /metrics; returns the port bound (``port`` 0 lets the OS pick)."""
        self._server, self._thread = start_http_server(port, addr=address, registry=self.registry)
        return int(self._server.server_address[1])

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

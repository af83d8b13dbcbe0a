"""Series that describe the cluster rather than this process (`shoal_tasks`,
`shoal_service_desired_tasks`, `shoal_service_running_tasks`), computed from the cache at
scrape time: a deleted service's series vanish with it instead of lingering as the last value
a controller set, and only the leader exports them, so summing over replicas counts each once."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from controlplane.cache import Cache
from controlplane.cluster_settings import insights_enabled
from shoal import keys

# Services whose tasks still matter; INACTIVE ones stay visible to describe-services only.
_LIVE_SERVICE = ("ACTIVE", "DRAINING")


class ClusterCollector(Collector):
    def __init__(self, cache: Cache, is_leader: Callable[[], bool]) -> None:
        self.cache = cache
        self.is_leader = is_leader

    def collect(self) -> Iterator[GaugeMetricFamily]:
        tasks = GaugeMetricFamily(
            "shoal_tasks", "Tasks not yet stopped, by cluster, service and last status",
            labels=["cluster", "service", "status"],
        )
        desired = GaugeMetricFamily("shoal_service_desired_tasks", "desiredCount", labels=["cluster", "service"])
        running = GaugeMetricFamily("shoal_service_running_tasks", "RUNNING tasks", labels=["cluster", "service"])
        if self.is_leader():
            # A cluster whose containerInsights setting is disabled has no series.
            off = {c.msg.cluster_name for c in self.cache.records(keys.CLUSTERS) if not insights_enabled(c.msg)}
            services = {(s.msg.cluster, s.msg.service_name): s.msg for s in self.cache.records(keys.SERVICES)
                        if s.msg.status in _LIVE_SERVICE and s.msg.cluster not in off}
            counts: Counter[tuple[str, str, str]] = Counter()
            for rec in self.cache.records(keys.TASKS):
                t = rec.msg
                if t.last_status == "STOPPED" or t.cluster in off or (
                        t.service_name and (t.cluster, t.service_name) not in services):
                    continue
                counts[(t.cluster, t.service_name, t.last_status)] += 1
            for labels, n in sorted(counts.items()):
                tasks.add_metric(list(labels), n)
            for (cluster, name), svc in sorted(services.items()):
                desired.add_metric([cluster, name], svc.desired_count)
                running.add_metric([cluster, name], svc.running_count)
        yield tasks
        yield desired
        yield running

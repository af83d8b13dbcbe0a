"""ECS's cluster settings on Shoal. Of ECS's names only containerInsights has a Shoal
meaning: whether the control plane exports the cluster's own series (`shoal_tasks`,
`shoal_service_desired_tasks`, `shoal_service_running_tasks`, controlplane/cluster_metrics.py).
`enabled` (Shoal's default) and `disabled` are served; `enhanced` is refused, as Shoal has no
finer level to turn on."""

from __future__ import annotations

from collections.abc import Sequence

from controlplane.errors import invalid
from shoal.v1 import resources_pb2 as r

CONTAINER_INSIGHTS = "containerInsights"
VALUES = ("enabled", "disabled")


def check(settings: Sequence[r.ClusterSetting], field: str = "settings") -> list[r.ClusterSetting]:
    seen = set()
    for i, s in enumerate(settings):
        if s.name != CONTAINER_INSIGHTS:
            raise invalid(f"{field}[{i}].name: {s.name[:64]!r} is not a cluster setting Shoal has; "
                          f"only {CONTAINER_INSIGHTS}")
        if s.value == "enhanced":
            raise invalid(f"{field}[{i}].value: enhanced is not supported by Shoal; use enabled or disabled")
        if s.value not in VALUES:
            raise invalid(f"{field}[{i}].value: must be enabled or disabled")
        if s.name in seen:
            raise invalid(f"{field}[{i}].name: {s.name} is given twice")
        seen.add(s.name)
    return list(settings)


def merged(current: Sequence[r.ClusterSetting], changes: Sequence[r.ClusterSetting]) -> list[r.ClusterSetting]:
    """``current`` with each of ``changes`` replacing the setting of its name."""
    names = {c.name for c in changes}
    return [s for s in current if s.name not in names] + list(changes)


def insights_enabled(cluster: r.Cluster) -> bool:
    return all(s.value != "disabled" for s in cluster.settings if s.name == CONTAINER_INSIGHTS)

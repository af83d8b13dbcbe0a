"""ECS-format ARNs for Shoal's resources, and the reverse: users may name a resource by
ARN, by name, or (tasks, nodes) by id, as the ECS API allows."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ArnFormat:
    region: str = "local"
    account: str = "000000000000"

    def _base(self) -> str:
        return f"arn:aws:ecs:{self.region}:{self.account}"

    def cluster(self, name: str) -> str:
        return f"{self._base()}:cluster/{name}"

    def task(self, cluster: str, task_id: str) -> str:
        return f"{self._base()}:task/{cluster}/{task_id}"

    def container(self, cluster: str, task_id: str, name: str) -> str:
        return f"{self._base()}:container/{cluster}/{task_id}/{name}"

    def service(self, cluster: str, name: str) -> str:
        return f"{self._base()}:service/{cluster}/{name}"

    def taskdef(self, family: str, revision: int) -> str:
        return f"{self._base()}:task-definition/{family}:{revision}"

    def node(self, cluster: str, node_id: str) -> str:
        return f"{self._base()}:container-instance/{cluster}/{node_id}"


def last_segment(name_or_arn: str) -> str:
    """"arn:...:task/default/abc" -> "abc"; a plain name or id comes back as it is."""
    if name_or_arn.startswith("arn:"):
        return name_or_arn.rsplit("/", 1)[-1]
    return name_or_arn


def cluster_name(name_or_arn: str) -> str:
    if not name_or_arn:
        return "default"
    return last_segment(name_or_arn)

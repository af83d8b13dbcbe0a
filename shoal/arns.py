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

    # ELBv2's shapes: an ARN names the resource's name and its id, so a resource deleted and
    # made again under the same name has a new ARN, as in AWS.
    def _elb(self) -> str:
        return f"arn:aws:elasticloadbalancing:{self.region}:{self.account}"

    def load_balancer(self, lb_type: str, name: str, lb_id: str) -> str:
        return f"{self._elb()}:loadbalancer/{_LB_KIND[lb_type]}/{name}/{lb_id}"

    def target_group(self, name: str, tg_id: str) -> str:
        return f"{self._elb()}:targetgroup/{name}/{tg_id}"

    def listener(self, lb_type: str, lb_name: str, lb_id: str, listener_id: str) -> str:
        return f"{self._elb()}:listener/{_LB_KIND[lb_type]}/{lb_name}/{lb_id}/{listener_id}"

    def listener_rule(self, lb_type: str, lb_name: str, lb_id: str, listener_id: str, rule_id: str) -> str:
        return f"{self._elb()}:listener-rule/{_LB_KIND[lb_type]}/{lb_name}/{lb_id}/{listener_id}/{rule_id}"

    def namespace(self, ns_id: str) -> str:
        # Cloud Map's shape: account-wide, by id only.
        return f"arn:aws:servicediscovery:{self.region}:{self.account}:namespace/{ns_id}"


_LB_KIND = {"application": "app", "network": "net"}


def elb_name(name_or_arn: str) -> str:
    """The load balancer's (or target group's) name in any ELBv2 ARN Shoal makes:
    "...:loadbalancer/app/web/1a2b" -> "web", "...:targetgroup/api/3c4d" -> "api",
    "...:listener/app/web/1a2b/5e6f" -> "web", "...:listener-rule/app/web/1a2b/5e6f/7a8b" -> "web".
    A plain name comes back as it is; an ARN of another shape gives ""."""
    if not name_or_arn.startswith("arn:"):
        return name_or_arn
    resource = name_or_arn.split(":", 5)[-1]
    parts = resource.split("/")
    kind = parts[0]
    wanted = {"loadbalancer": 4, "targetgroup": 3, "listener": 5, "listener-rule": 6}.get(kind)
    if wanted is None or len(parts) != wanted:
        return ""
    return parts[1] if kind == "targetgroup" else parts[2]


def last_segment(name_or_arn: str) -> str:
    """"arn:...:task/default/abc" -> "abc"; a plain name or id comes back as it is."""
    if name_or_arn.startswith("arn:"):
        return name_or_arn.rsplit("/", 1)[-1]
    return name_or_arn


def cluster_name(name_or_arn: str) -> str:
    if not name_or_arn:
        return "default"
    return last_segment(name_or_arn)

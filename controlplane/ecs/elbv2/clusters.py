"""Which cluster an ELBv2 request works on. ELBv2 has no cluster parameter, so each cluster
has an endpoint of its own, named by the path of the endpoint URL: ``/`` is the default
cluster, ``/clusters/<name>`` any other (``aws elbv2 --endpoint-url
https://host:port/clusters/prod``, ``boto3.client("elbv2", endpoint_url=…)``). The SDKs
sign that path, so it cannot be changed on the way. Every Traffic request of the action
then carries the cluster: load balancers, target groups and their names and ports are the
cluster's, as with `shoal lb --cluster`."""

from __future__ import annotations

import re
from typing import Any

from google.protobuf.message import Message

from controlplane.ecs.elbv2.errors import validation
from controlplane.ecs.elbv2.traffic import Traffic

DEFAULT = "default"
PREFIX = "/clusters/"
# ECS's cluster names: up to 255 letters, digits, hyphens and underscores.
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,255}$")


def cluster_of(path: str) -> str:
    """The cluster the endpoint path names; a ValidationError naming the path otherwise."""
    if path in ("", "/"):
        return DEFAULT
    name = path[len(PREFIX):].removesuffix("/") if path.startswith(PREFIX) else ""
    if not _NAME.match(name):
        raise validation(f"endpoint path {path[:80]!r}: ELBv2 is served at / (the default cluster) and at "
                         "/clusters/<cluster name>")
    return name


class Scoped:
    """``traffic`` with every request's ``cluster`` set to ``cluster``."""

    def __init__(self, traffic: Traffic, cluster: str) -> None:
        self.traffic = traffic
        self.cluster = cluster

    def call(self, method: str, request: Message) -> Any:
        if "cluster" in request.DESCRIPTOR.fields_by_name:
            request.cluster = self.cluster  # type: ignore[attr-defined]
        return self.traffic.call(method, request)

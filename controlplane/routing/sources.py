"""Where the Traffic API's records live (the API writes them; every replica's cache reads
them): load balancers with their listeners and rules, target groups and namespaces, each
under ``<prefix><cluster>/<name>``."""

from __future__ import annotations

from google.protobuf.message import Message

from shoal import keys
from shoal.v1 import traffic_pb2 as t

LOADBALANCERS = keys.PREFIX + "loadbalancers/"
TARGETGROUPS = keys.PREFIX + "targetgroups/"
NAMESPACES = keys.PREFIX + "namespaces/"

TYPES: dict[str, type[Message]] = {
    LOADBALANCERS: t.LoadBalancer,
    TARGETGROUPS: t.TargetGroup,
    NAMESPACES: t.Namespace,
}

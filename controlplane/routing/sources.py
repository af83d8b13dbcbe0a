"""The Traffic API's records every replica's cache holds (the API writes them, under
``shoal/keys.py``'s prefixes): load balancers with their listeners and rules, target groups
and namespaces, each under ``<prefix><cluster>/<name>``."""

from __future__ import annotations

from google.protobuf.message import Message

from shoal import keys
from shoal.v1 import traffic_pb2 as t

LOADBALANCERS = keys.LOADBALANCERS
TARGETGROUPS = keys.TARGETGROUPS
NAMESPACES = keys.NAMESPACES

TYPES: dict[str, type[Message]] = {
    LOADBALANCERS: t.LoadBalancer,
    TARGETGROUPS: t.TargetGroup,
    NAMESPACES: t.Namespace,
}

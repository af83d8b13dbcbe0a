"""The cluster's routing table as this node's consumers (the proxy, the DNS responder) see
it: the newest one only, and without the load-balancer frontends whose load balancer listens
only on other nodes (its node expression, evaluated by the control plane into each frontend's
``node_ids``)."""

from __future__ import annotations

import logging
import threading
from typing import Protocol

import shoal.logs
from shoal.v1 import traffic_pb2

log = logging.getLogger(__name__)


def for_node(table: traffic_pb2.RoutingTable, node_id: str) -> traffic_pb2.RoutingTable:
    if all(not f.node_ids or node_id in f.node_ids for f in table.frontends):
        return table
    mine = traffic_pb2.RoutingTable()
    mine.CopyFrom(table)
    del mine.frontends[:]
    mine.frontends.extend(f for f in table.frontends if not f.node_ids or node_id in f.node_ids)
    return mine


class RoutingConsumer(Protocol):
    """Something on the node that converges on the cluster's routing table (the proxy, the
    DNS responder); ``apply`` returns a sentence saying what it did."""

    def apply(self, table: traffic_pb2.RoutingTable, node_id: str) -> str: ...


class RoutingFeed:
    """Hands each routing table the control plane sends to this node's consumers."""

    def __init__(self) -> None:
        self.consumers: list[RoutingConsumer] = []
        self.revision = -1
        self._lock = threading.Lock()

    def apply(self, table: traffic_pb2.RoutingTable, node_id: str) -> str:
        """Hands the cluster's routing table to each routing consumer, unless it is older
        than one already seen (a table of the same revision is applied again: level-triggered,
        after a reconnect). A consumer that fails does not keep the table from the others."""
        with self._lock:
            if table.revision < self.revision:
                return f"ignored routing table at revision {table.revision}: already applied {self.revision}"
            self.revision = table.revision
            # Less the frontends of load balancers that do not listen on this node.
            table = for_node(table, node_id)
            said = []
            for consumer in list(self.consumers):
                try:
                    said.append(consumer.apply(table))
                except Exception as exc:
                    log.exception("routing consumer failed (a bug)", extra=shoal.logs.kv(node=node_id))
                    said.append(f"{type(consumer).__name__} failed: {exc}")
        return f"routing table at revision {table.revision}: " + ("; ".join(said) or "no routing consumers")

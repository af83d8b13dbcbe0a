"""The cluster's routing table as this node's consumers see it: without the load-balancer
frontends whose load balancer listens only on other nodes (its node expression, evaluated by
the control plane into each frontend's ``node_ids``)."""

from __future__ import annotations

from shoal.v1 import traffic_pb2


def for_node(table: traffic_pb2.RoutingTable, node_id: str) -> traffic_pb2.RoutingTable:
    if all(not f.node_ids or node_id in f.node_ids for f in table.frontends):
        return table
    mine = traffic_pb2.RoutingTable()
    mine.CopyFrom(table)
    del mine.frontends[:]
    mine.frontends.extend(f for f in table.frontends if not f.node_ids or node_id in f.node_ids)
    return mine

"""Traffic routing (docs/architecture.md, "Traffic"): the pure builder of a cluster's
``RoutingTable`` (``table``, which also decides which stopping targets still drain), the target
list an assignment carries (``targets``) and the records it is built from (``sources``). The
replica's push of the table to its agent streams wires the cache in, so it stands beside
server.py (``controlplane/routing_publisher.py``)."""

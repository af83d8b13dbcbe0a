"""Traffic routing (docs/architecture.md, "Traffic"): the pure builder of a cluster's
``RoutingTable`` (``table``), what a stopping target waits for (``drain``), the target
list an assignment carries (``targets``), and the replica's push of the table to its agent
streams (``publisher``)."""

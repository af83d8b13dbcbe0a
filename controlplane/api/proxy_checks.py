"""The gateway's one write of what a node's proxy observed of the registered addresses it
checks (HAProxy's own health checks, read by the node's agent): the node's whole report,
under its own id and stamped with the control plane's clock, replacing the last one.
Only observed fields: the report names nothing the API or the leader writes."""

from __future__ import annotations

import time

from controlplane.api.context import ApiContext
from shoal import keys
from shoal.v1 import traffic_pb2 as t

# A report holds at most this many results (ELBv2's 1,000 targets per group, a few groups).
MAX_RESULTS = 10_000


def store(ctx: ApiContext, cluster: str, node_id: str, report: t.NodeProxyChecks) -> str:
    """Stores ``report`` as ``node_id``'s (whatever node it names); returns what it did."""
    results = list(report.results)[:MAX_RESULTS]
    rec = t.NodeProxyChecks(node_id=node_id, at=time.time(), results=results)
    ctx.store.put(keys.proxy_checks(cluster, node_id), rec.SerializeToString())
    counts: dict[str, int] = {}
    for x in results:
        counts[x.health.state] = counts.get(x.health.state, 0) + 1
    said = ", ".join(f"{n} {state}" for state, n in sorted(counts.items())) or "no registered addresses"
    return f"stored the proxy's checks of node {node_id}: {said}"

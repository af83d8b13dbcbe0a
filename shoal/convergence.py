"""Is a cluster back to what was asked of it? The one definition both `shoal chaos` (top
floor, reading through the Operator API) and the console's chaos page (control plane,
reading its cache) measure convergence by.

Converged means: every ACTIVE service has runningCount == desiredCount and no pending
tasks, no task meant to run waits in PROVISIONING or PENDING, and every node expected to be
connected is connected.
"""

from __future__ import annotations

from collections.abc import Iterable

from shoal.v1 import resources_pb2 as r

WAITING = ("PROVISIONING", "PENDING")


def lagging(services: Iterable[r.Service], tasks: Iterable[r.Task], nodes: Iterable[r.ContainerInstance],
            connected: set[str], expect_connected: set[str] = frozenset()) -> list[str]:  # type: ignore[assignment]
    """What keeps the cluster from being converged, one phrase each ([] = converged).
    ``connected``: ids of the nodes whose agent is connected now."""
    out = []
    for s in services:
        if s.status != "ACTIVE":
            continue
        if s.running_count != s.desired_count or s.pending_count:
            out.append(f"service {s.service_name}: {s.running_count}/{s.desired_count} running, "
                       f"{s.pending_count} pending")
    waiting = [t for t in tasks if t.desired_status == "RUNNING" and t.last_status in WAITING]
    if waiting:
        out.append(f"{len(waiting)} tasks waiting in {'/'.join(sorted({t.last_status for t in waiting}))}")
    missing = expect_connected - connected
    if missing:
        names = {n.id: n.hostname or n.id[:12] for n in nodes}
        out.append("nodes not connected: " + ", ".join(sorted(names.get(m, m[:12]) for m in missing)))
    return out

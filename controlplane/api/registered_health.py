"""DescribeTargetHealth's rows for the addresses registered with RegisterTargets, combined
from what each node's proxy observed (``NodeProxyChecks``, stored by the gateway): every
node's HAProxy checks the address itself and routes to it only while its own checks pass,
so a verdict is the nodes' verdicts taken together (pure).

- draining: deregistered, its delay not yet over (``Target.DeregistrationInProgress``);
- unhealthy: the checks fail on some reporting node (a request through that node's
  listener would not reach it), with that node's ELBv2 reason and how many nodes fail;
- healthy: the checks pass on the reporting nodes that have a result, and fail on none;
- initial (``Elb.InitialHealthChecking``): no reporting node has a result yet.

Only reports of connected nodes count (a lost node's last word is stale), and only those
stored after the address was registered (an earlier report is about an earlier life)."""

from __future__ import annotations

from collections.abc import Iterable

from shoal.v1 import resources_pb2 as r
from shoal.v1 import traffic_pb2 as t

INITIAL = ("initial", "Elb.InitialHealthChecking", "Initial health checking in progress")
DRAINING = ("draining", "Target.DeregistrationInProgress", "Target deregistration is in progress")


def health(tg: t.TargetGroup, now: float, reports: Iterable[t.NodeProxyChecks], connected: set[str]
           ) -> list[t.TargetHealthDescription]:
    """One row per registered address of ``tg`` still in it at ``now``."""
    live = [rep for rep in reports if rep.node_id in connected]
    out = []
    for x in tg.registered_targets:
        if x.deregister_until and x.deregister_until <= now:
            continue
        if x.deregister_until:
            h = r.TargetHealth(state=DRAINING[0], reason=DRAINING[1], description=DRAINING[2])
        else:
            h = combine(verdicts(tg.id, x, live))
        out.append(t.TargetHealthDescription(address=x.id, port=x.port, health=h))
    return out


def verdicts(group_id: str, x: t.RegisteredTarget, reports: Iterable[t.NodeProxyChecks]
             ) -> list[tuple[str, r.TargetHealth]]:
    """Each report's verdict on ``x`` (node id, health), sorted by node; reports older than
    ``x``'s registration are left out."""
    out = []
    for rep in reports:
        if rep.at < x.registered_at:
            continue
        for res in rep.results:
            if (res.target_group_id, res.address, res.port) == (group_id, x.id, x.port):
                out.append((rep.node_id, res.health))
                break
    return sorted(out, key=lambda v: v[0])


def combine(seen: list[tuple[str, r.TargetHealth]]) -> r.TargetHealth:
    """The verdicts of several nodes' proxies on one address, taken together."""
    failing = [(node, h) for node, h in seen if h.state == "unhealthy"]
    if failing:
        node, h = failing[0]
        where = f"on {len(failing)} of {len(seen)} reporting nodes' proxies (first: node {node})"
        return r.TargetHealth(state="unhealthy", reason=h.reason or "Target.FailedHealthChecks",
                              description=f"{h.description or 'Health checks failed'} {where}")
    if any(h.state == "healthy" for _, h in seen):
        return r.TargetHealth(state="healthy")
    return r.TargetHealth(state=INITIAL[0], reason=INITIAL[1], description=INITIAL[2])

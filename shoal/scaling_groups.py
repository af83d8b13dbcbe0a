"""Which target group a per-target scaling metric (ALBRequestCountPerTarget) is measured on,
shared by the control plane (which refuses a policy that could never have data) and the
autoscaler (which reads the metric).

ECS's rule is that a policy's ``resourceLabel`` names one target group
(``app/<lb>/<id>/targetgroup/<name>/<id>``). Shoal takes that group when the service or one
of its live task sets uses it. Without a label, the group is the PRIMARY task set's first
one when the service has task sets (the set its external controller considers current,
which takes the traffic), else the service's own first one."""

from __future__ import annotations

from shoal.v1 import resources_pb2 as r

_PRIMARY, _DRAINING = "PRIMARY", "DRAINING"
_MARK = "targetgroup/"


def candidates(svc: r.Service) -> list[str]:
    """The target group ARNs ``svc`` puts tasks behind, the PRIMARY task set's first, then its
    other live task sets', then the service's own; a DRAINING task set's are left out."""
    sets = sorted((ts for ts in svc.task_sets if ts.status != _DRAINING), key=lambda ts: ts.status != _PRIMARY)
    out: list[str] = []
    for attach in [a for ts in sets for a in ts.load_balancers] + list(svc.load_balancers):
        if attach.target_group_arn and attach.target_group_arn not in out:
            out.append(attach.target_group_arn)
    return out


def measured_group(svc: r.Service, resource_label: str = "") -> str:
    """The ARN of the target group the metric is measured on, '' when there is none (no load
    balancer, or the label names a group that neither the service nor a live task set uses)."""
    groups = candidates(svc)
    if not resource_label:
        return groups[0] if groups else ""
    _, mark, tail = resource_label.partition(_MARK)
    if not mark or not tail:
        return ""
    return next((arn for arn in groups if arn.endswith(":" + _MARK + tail)), "")

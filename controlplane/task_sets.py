"""Task sets of an EXTERNAL service, the pure parts the API and the leader share: a task
set's share of the service's desired count, and whether it has reached it."""

from __future__ import annotations

import math

from controlplane.errors import invalid
from shoal.v1 import resources_pb2 as r

EXTERNAL = "EXTERNAL"
CONTROLLERS = ("ECS", EXTERNAL)
PRIMARY, ACTIVE, DRAINING = "PRIMARY", "ACTIVE", "DRAINING"
STEADY, STABILIZING = "STEADY_STATE", "STABILIZING"
PERCENT = "PERCENT"


def is_external(svc: r.Service) -> bool:
    return svc.deployment_controller.type == EXTERNAL


def check_scale(value: object, unit: object) -> r.Scale:
    """ECS's ``scale``: a percentage 0..100 (unit PERCENT, the only unit ECS has)."""
    if unit not in (None, PERCENT):
        raise invalid(f"scale.unit: {unit!r} is not a scale unit; PERCENT is the only one")
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 100:
        raise invalid(f"scale.value: {value!r} must be a number from 0 to 100 (a percentage)")
    return r.Scale(value=float(value), unit=PERCENT)


def computed_desired(desired_count: int, task_set: r.TaskSet) -> int:
    """The tasks ``task_set`` runs: its scale of the service's desired count, rounded up as
    ECS rounds it; none once it is being deleted (DRAINING)."""
    if task_set.status == DRAINING:
        return 0
    # round() first: 3 * 33.4 / 100 is 1.0020000000000002, and 10 * 30 / 100 must be 3, not 4.
    return math.ceil(round(desired_count * task_set.scale.value / 100, 9))


def stability(task_set: r.TaskSet) -> str:
    """STEADY_STATE once it runs exactly its computed desired count and nothing is pending."""
    steady = task_set.running_count == task_set.computed_desired_count and task_set.pending_count == 0
    return STEADY if steady else STABILIZING

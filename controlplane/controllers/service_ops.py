"""What the service scheduler (services.py) lends the strategies it hands a service to
(daemons.py, task_sets.py, rebalance.py): the members they call, as a Protocol, and the
throttle for quickly failing tasks that every strategy obeys. It stands below all of them,
so no strategy imports the scheduler that imports it."""

from __future__ import annotations

from typing import Protocol

from controlplane.controllers.view import View, Writer
from controlplane.state import Record
from shoal.arns import ArnFormat
from shoal.v1 import resources_pb2 as r

FAILURE_CODES = ("TaskFailedToStart", "EssentialContainerExited")


# ECS throttles a service whose tasks keep failing to start; so do we: after
# THROTTLE_AFTER quick failures of the current deployment, launches wait
# THROTTLE_BASE * 2^(failures - THROTTLE_AFTER) seconds (at most THROTTLE_MAX) after the
# last failure, instead of churning through hundreds of tasks.
THROTTLE_AFTER = 3
THROTTLE_BASE = 2.0
THROTTLE_MAX = 300.0
QUICK_FAILURE = 10.0


def launch_delay(tasks: list[Record[r.Task]], deployment_id: str, now: float) -> float:
    """Seconds the service must still wait before starting tasks (0: go ahead);
    ``deployment_id`` is a deployment's or a task set's id."""
    failed_at = sorted(
        t.msg.stopped_at for t in tasks
        if t.msg.deployment_id == deployment_id and t.msg.last_status == "STOPPED"
        and t.msg.stop_code in FAILURE_CODES
        and (not t.msg.started_at or t.msg.stopped_at - t.msg.started_at < QUICK_FAILURE)
    )
    if len(failed_at) < THROTTLE_AFTER:
        return 0.0
    delay = min(THROTTLE_BASE * 2 ** (len(failed_at) - THROTTLE_AFTER), THROTTLE_MAX)
    return max(0.0, failed_at[-1] + delay - now)


class ServiceOps(Protocol):
    writer: Writer
    arns: ArnFormat

    def healthy(self, view: View, task: r.Task) -> bool:
        """Running, passing its essential health checks, and taking traffic as a target."""
        ...

    def stop_task(self, view: View, rec: Record[r.Task], reason: str, code: str) -> None: ...

    def stop_unhealthy(self, view: View, svc: r.Service, tasks: list[Record[r.Task]]) -> list[Record[r.Task]]:
        """Stops those of ``tasks`` that failed their health checks; returns them."""
        ...

    def update_counts(self, svc: r.Service, live: list[r.Task], healthy: set[str], primary: r.Deployment,
                      old_left: int) -> None: ...

"""Critical daemons: a DAEMON service marked ``daemonCritical`` whose task keeps failing on
a node takes that node out of service. A pure decision, carried out by the daemon half of
the service controller (controllers/daemons.py), the leader, which may write node records.

The rule: a node is drained when no task of the critical daemon is RUNNING on it and the
daemon's latest tasks there all failed, the first of that run of failures at least the
service's grace ago (``daemonCriticalGraceSeconds``; unset: ``GRACE_SECONDS``). A failure
is a task that failed to start, or whose essential container exited with a non-zero code;
a task stopped by the scheduler or a user (a deployment, a drain) is no failure and ends the
run, as does a task that is RUNNING again.
The node stays DRAINING until an operator activates it; failures before that count no more."""

from __future__ import annotations

from shoal.v1 import resources_pb2 as r

# Long enough for the service scheduler to start a replacement (its launch throttle waits
# 2-8 s after the third quick failure) and for the image to be pulled again.
GRACE_SECONDS = 60.0
# A service's own grace is checked against these where it is set (controlplane/api/services.py):
# shorter than the scheduler's relaunch throttle drains a node for one slow restart; a day
# longer leaves a node without its critical daemon for longer than anyone would mean.
MIN_GRACE_SECONDS = 10
MAX_GRACE_SECONDS = 86_400


def grace_of(svc: r.Service) -> float:
    """The seconds ``svc``'s critical daemon may stay failed on a node before it drains."""
    return float(svc.daemon_critical_grace_seconds) or GRACE_SECONDS


def failed(task: r.Task) -> bool:
    """Whether a stopped task failed on its own (not stopped by the scheduler or a user)."""
    if task.last_status != "STOPPED":
        return False
    if task.stop_code == "TaskFailedToStart":
        return True
    return task.stop_code == "EssentialContainerExited" and any(
        c.HasField("exit_code") and c.exit_code != 0 for c in task.containers)


def failing_since(tasks: list[r.Task], after: float = 0.0) -> float | None:
    """When the current run of failures of a daemon's tasks on one node began (epoch
    seconds), or None when the daemon is not failing there; tasks stopped before ``after``
    are not looked at."""
    if any(t.last_status == "RUNNING" for t in tasks):
        return None
    since = None
    stopped = [t for t in tasks if t.last_status == "STOPPED" and t.stopped_at >= after]
    for t in sorted(stopped, key=lambda t: t.stopped_at, reverse=True):
        if not failed(t):
            break
        since = t.stopped_at
    return since


def drain_reason(service_name: str, node: r.ContainerInstance, tasks: list[r.Task], now: float,
                 grace: float = GRACE_SECONDS) -> str:
    """Why ``node`` must be drained for its critical daemon's failure, or '' when it must
    not. ``tasks``: the daemon service's tasks on that node, stopped ones included."""
    since = failing_since(tasks, after=node.activated_at)
    if since is None or now - since < grace:
        return ""
    return (f"critical daemon {service_name} failed on container instance {node.id} and was not "
            f"RUNNING again within {grace:.0f}s")

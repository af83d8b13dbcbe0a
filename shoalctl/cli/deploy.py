"""`shoal service deploy NAME --taskdef F:R [--wait]`: UpdateService, then (with --wait; also
`service create|update --wait`) a line of progress whenever it changes (tasks of the new and
old revisions, healthy ones) until the rollout settles: COMPLETED exits 0; FAILED (the circuit breaker tripped, maybe
rolling back) or a timeout exits 1."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass

from shoal.paging import batches, every_page
from shoal.v1 import operator_pb2 as op
from shoal.v1 import resources_pb2 as r
from shoalctl.cli.client import Client, add_target_flags, connect
from shoalctl.cli.errors import CliError


@dataclass(frozen=True)
class Progress:
    rollout: str
    desired: int
    new_running: int
    new_healthy: int
    old_running: int
    reason: str = ""

    def line(self) -> str:
        return (f"{self.rollout:<11} new {self.new_running}/{self.desired} running, {self.new_healthy} healthy; "
                f"old {self.old_running} running")


class _HealthChecks:
    """Whether a task definition has an essential container with a health check (cached)."""

    def __init__(self, c: Client) -> None:
        self.c = c
        self.known: dict[str, bool] = {}

    def checked(self, arn: str) -> bool:
        if arn not in self.known:
            td = self.c.DescribeTaskDefinition(op.TaskDefinitionRef(task_definition=arn)).task_definition
            self.known[arn] = any(cd.health_check.command and (not cd.HasField("essential") or cd.essential)
                                  for cd in td.container_definitions)
        return self.known[arn]


def healthy(task: r.Task, checked: bool) -> bool:
    """As the service scheduler counts it: RUNNING, and HEALTHY when there is a health check."""
    if task.last_status != "RUNNING" or task.desired_status != "RUNNING":
        return False
    return task.health_status == "HEALTHY" if checked else task.health_status != "UNHEALTHY"


def progress(c: Client, cluster: str, service: str, deployment_id: str, checks: _HealthChecks) -> Progress:
    svc = _service(c, cluster, service)
    mine = next((d for d in svc.deployments if d.id == deployment_id), None)
    if mine is None:
        return _ended(svc, deployment_id)
    arns = every_page(c.ListTasks, op.ListTasksRequest(cluster=cluster, service_name=svc.service_name,
                                                       desired_status="RUNNING"))
    tasks: list[r.Task] = []
    for batch in batches(arns, 100):
        tasks += c.DescribeTasks(op.DescribeTasksRequest(cluster=cluster, tasks=batch)).tasks
    new = [t for t in tasks if t.deployment_id == deployment_id]
    old = [t for t in tasks if t.deployment_id != deployment_id]
    return Progress(
        rollout=mine.rollout_state or "IN_PROGRESS",
        desired=mine.desired_count,
        new_running=sum(1 for t in new if t.last_status == "RUNNING"),
        new_healthy=sum(1 for t in new if healthy(t, checks.checked(t.task_definition_arn))),
        old_running=sum(1 for t in old if t.last_status == "RUNNING"),
        reason=mine.rollout_state_reason,
    )


def _ended(svc: r.Service, deployment_id: str) -> Progress:
    """A deployment no longer listed (done with, or failed and rolled back): its outcome is
    in the service's events."""
    said = [e.message for e in sorted(svc.events, key=lambda e: e.created_at)]
    mine = [m for m in said if f"(deployment {deployment_id})" in m]
    if any("deployment failed" in m for m in mine):
        after = said[said.index(mine[-1]) + 1:]
        rollback = next((m for m in after if "rolling back" in m), "")
        reason = "ECS deployment circuit breaker: tasks failed to start" + (f"; {rollback}" if rollback else "")
        return Progress("FAILED", svc.desired_count, 0, 0, svc.running_count, reason)
    if any("deployment completed" in m for m in mine):
        return Progress("COMPLETED", svc.desired_count, svc.running_count, svc.running_count, 0)
    return Progress("SUPERSEDED", svc.desired_count, 0, 0, svc.running_count, "another deployment replaced it")


def _service(c: Client, cluster: str, name: str) -> r.Service:
    resp = c.DescribeServices(op.DescribeServicesRequest(cluster=cluster, services=[name]))
    if not resp.services:
        raise CliError(f"service {name} not found in cluster {cluster}")
    return resp.services[0]


def service_deploy(a) -> int:
    c = connect(a)
    req = op.UpdateServiceRequest(cluster=a.cluster, service=a.name, task_definition=a.taskdef,
                                  force_new_deployment=a.force_new_deployment)
    if a.desired is not None:
        req.desired_count = a.desired
    svc = c.UpdateService(req).service
    primary = primary_of(svc)
    print(f"deploying {primary.task_definition.rsplit('/', 1)[-1]} to service {svc.service_name} "
          f"(deployment {primary.id})", flush=True)
    return wait(c, a, svc) if a.wait else 0


def primary_of(svc: r.Service) -> r.Deployment:
    primary = next((d for d in svc.deployments if d.status == "PRIMARY"), None)
    if primary is None:
        raise CliError(f"service {svc.service_name}: the control plane reported no PRIMARY deployment")
    return primary


def wait(c: Client, a, svc: r.Service) -> int:
    """Prints a line whenever the PRIMARY deployment of ``svc`` (as CreateService or
    UpdateService returned it) changes, until it completes (0); raises CliError when it fails,
    is superseded or outlasts ``a.timeout``. ``a``: the --timeout and --interval flags.
    With ``-o json`` the progress goes to stderr, so stdout stays one JSON document."""
    out = sys.stderr if getattr(a, "output", None) == "json" else sys.stdout
    primary = primary_of(svc)
    checks = _HealthChecks(c)
    deadline = time.monotonic() + a.timeout
    last = ""
    while True:
        p = progress(c, svc.cluster or a.cluster, svc.service_name, primary.id, checks)
        line = p.line()
        if line != last:
            print(f"{time.strftime('%H:%M:%S')}  {line}", file=out, flush=True)
            last = line
        if p.rollout == "COMPLETED":
            print(f"deployment {primary.id} completed", file=out, flush=True)
            return 0
        if p.rollout in ("FAILED", "SUPERSEDED"):
            raise CliError(f"deployment {primary.id} {p.rollout.lower()}: {p.reason or 'no reason given'}")
        if time.monotonic() >= deadline:
            raise CliError(f"deployment {primary.id} still {p.rollout} after {a.timeout:.0f}s "
                           f"(see `shoal service describe {svc.service_name}`)")
        time.sleep(a.interval)


def add_wait_flags(p) -> None:
    p.add_argument("--wait", action="store_true", help="show progress until the rollout settles")
    p.add_argument("--timeout", type=float, default=900.0, help="seconds --wait waits (default 900)")
    p.add_argument("--interval", type=float, default=1.0, help="seconds between progress polls")


def add_parser(sv) -> None:
    """`deploy` under the `service` noun."""
    p = sv.add_parser("deploy", help="roll a service to a task definition revision; --wait shows progress")
    p.add_argument("name")
    p.add_argument("--taskdef", required=True, help="FAMILY[:REVISION]")
    p.add_argument("--desired", type=int, help="also change the desired count")
    p.add_argument("--force-new-deployment", action="store_true", help="redeploy even the same revision")
    add_wait_flags(p)
    add_target_flags(p, cluster=True)
    p.set_defaults(func=service_deploy)

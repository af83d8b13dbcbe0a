"""`shoal service deployments NAME` (the service's deployment history, newest first),
`shoal service rollback NAME` (a deployment in progress is stopped and rolled back,
StopServiceDeployment; with none in progress, the service is updated back to the revision the
last successful deployment replaced, a new deployment as `aws ecs update-service
--task-definition` would make), `shoal service continue NAME` (ContinueServiceDeployment on
the hook a deployment waits at), and the `--strategy` flags of `service create|update`."""

from __future__ import annotations

from shoal.v1 import operator_pb2 as op
from shoal.v1 import resources_pb2 as r
from shoalctl.cli.client import add_verb, connect
from shoalctl.cli.errors import CliError
from shoalctl.cli.output import ago, print_json, table


def _service(c, a) -> r.Service:
    resp = c.DescribeServices(op.DescribeServicesRequest(cluster=a.cluster, services=[a.name]))
    if not resp.services:
        raise CliError(f"service {a.name} not found in cluster {a.cluster}")
    return resp.services[0]


def _newest_first(svc: r.Service) -> list[r.ServiceDeployment]:
    return sorted(svc.service_deployments, key=lambda e: e.created_at, reverse=True)


def _taskdefs(svc: r.Service) -> dict[str, str]:
    return {v.service_revision_arn: v.task_definition for v in svc.service_revisions}


def deployments(a) -> None:
    svc = _service(connect(a), a)
    entries = _newest_first(svc)
    if a.output == "json":
        print_json(entries)
        return
    tds = _taskdefs(svc)
    table(["DEPLOYMENT", "STATUS", "TASKDEF", "RUNNING", "CREATED", "FINISHED", "REASON"],
          [[e.service_deployment_arn.rsplit("/", 1)[-1], e.status,
            tds.get(e.target_service_revision.arn, "-").rsplit("/", 1)[-1],
            f"{e.target_service_revision.running_task_count}/{e.target_service_revision.requested_task_count}",
            ago(e.created_at), ago(e.finished_at or e.stopped_at), e.status_reason or "-"] for e in entries])


def rollback(a) -> None:
    c = connect(a)
    svc = _service(c, a)
    entries = _newest_first(svc)
    running = next((e for e in entries if e.status == "IN_PROGRESS"), None)
    if running is not None:
        c.StopServiceDeployment(op.StopServiceDeploymentRequest(
            service_deployment_arn=running.service_deployment_arn, stop_type="ROLLBACK"))
        print(f"service {svc.service_name}: deployment {running.service_deployment_arn.rsplit('/', 1)[-1]} "
              "stopped; rolling back")
        return
    tds = _taskdefs(svc)
    current = next((e for e in entries if e.status == "SUCCESSFUL"), None)
    earlier = next((e for e in entries if current is not None and e.status == "SUCCESSFUL"
                    and e.created_at < current.created_at
                    and tds.get(e.target_service_revision.arn, svc.task_definition) != svc.task_definition), None)
    if earlier is None:
        raise CliError(f"service {svc.service_name} has no earlier successful deployment to roll back to")
    td = tds[earlier.target_service_revision.arn]
    c.UpdateService(op.UpdateServiceRequest(cluster=a.cluster, service=svc.service_name, task_definition=td))
    print(f"service {svc.service_name}: deploying {td.rsplit('/', 1)[-1]} again")


def continue_(a) -> None:
    c = connect(a)
    svc = _service(c, a)
    running = next((e for e in _newest_first(svc) if e.status == "IN_PROGRESS"), None)
    hook = next((h for h in running.lifecycle_hook_details if h.status == "AWAITING_ACTION"), None) \
        if running is not None else None
    if hook is None:
        raise CliError(f"service {svc.service_name}: no deployment waits at a hook")
    action = "ROLLBACK" if a.rollback else "CONTINUE"
    c.ContinueServiceDeployment(op.ContinueServiceDeploymentRequest(
        service_deployment_arn=running.service_deployment_arn, hook_id=hook.hook_id, action=action))
    print(f"service {svc.service_name}: hook {hook.hook_id} at {hook.stage}: {action}")


def add_strategy_flags(p) -> None:
    p.add_argument("--strategy", choices=("ROLLING", "BLUE_GREEN", "CANARY", "LINEAR"),
                   help="how a deployment moves traffic (all but ROLLING need --load-balancer)")
    p.add_argument("--canary-percent", type=float, metavar="P", help="CANARY: green's first share of traffic")
    p.add_argument("--canary-minutes", type=int, metavar="M", help="CANARY: how long the canary share holds")
    p.add_argument("--step-percent", type=float, metavar="P", help="LINEAR: the share each step adds")
    p.add_argument("--step-minutes", type=int, metavar="M", help="LINEAR: how long each step holds")
    p.add_argument("--bake-minutes", type=int, metavar="M", help="how long blue waits once green has all traffic")
    p.add_argument("--pause-at", action="append", default=[], metavar="STAGE",
                   help="a PAUSE hook at this lifecycle stage (POST_SCALE_UP, PRE_PRODUCTION_TRAFFIC_SHIFT, ...); "
                        "resume with `shoal service continue` (repeatable)")
    p.add_argument("--http-hook", action="append", default=[], metavar="STAGE=URL",
                   help="an HTTP hook: at STAGE the control plane POSTs the deployment's state to URL and goes on "
                        "when it answers {\"hookStatus\": \"SUCCEEDED\"}, else rolls back; the URL's host must be "
                        "on the control plane's --hook-allow-host list (repeatable)")


def strategy_config(a, dc: r.DeploymentConfiguration) -> bool:
    """Puts the strategy flags into ``dc``; True when any was given."""
    if a.strategy:
        dc.strategy = a.strategy
    if a.canary_percent is not None:
        dc.canary_configuration.canary_percent = a.canary_percent
    if a.canary_minutes is not None:
        dc.canary_configuration.canary_bake_time_in_minutes = a.canary_minutes
    if a.step_percent is not None:
        dc.linear_configuration.step_percent = a.step_percent
    if a.step_minutes is not None:
        dc.linear_configuration.step_bake_time_in_minutes = a.step_minutes
    if a.bake_minutes is not None:
        dc.bake_time_in_minutes = a.bake_minutes
    if a.pause_at:
        dc.lifecycle_hooks.add(target_type="PAUSE", lifecycle_stages=a.pause_at)
    for spec in a.http_hook:
        stage, sep, url = spec.partition("=")
        if not sep or not stage or not url:
            raise CliError(f"--http-hook: STAGE=URL, not {spec!r}")
        dc.lifecycle_hooks.add(target_type="HTTP", hook_target_arn=url, lifecycle_stages=[stage])
    return any(x not in (None, []) for x in (a.strategy, a.canary_percent, a.canary_minutes, a.step_percent,
                                             a.step_minutes, a.bake_minutes, a.pause_at or None, a.http_hook or None))


def add_verbs(sv) -> None:
    p = add_verb(sv, "deployments", deployments, "a service's deployment history, newest first",
                 cluster=True, output=True)
    p.add_argument("name")
    p = add_verb(sv, "continue", continue_, "resume a deployment waiting at a PAUSE hook", cluster=True)
    p.add_argument("name")
    p.add_argument("--rollback", action="store_true", help="roll the deployment back instead")
    p = add_verb(sv, "rollback", rollback, "stop the deployment in progress and roll back (or, with none in "
                 "progress, deploy the previous successful revision again)", cluster=True)
    p.add_argument("name")

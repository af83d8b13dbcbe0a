"""`shoal scaling target|policy|scheduled|activities ...` and `shoal capacity-provider ...`:
service auto scaling and capacity providers, over the Scaling API."""

from __future__ import annotations

import argparse
import math
from datetime import datetime

from shoal.v1 import scaling_pb2 as sc
from shoal.v1 import scaling_pb2_grpc
from shoal.validation import ValidationError, parse_key_value
from shoalctl.cli import client
from shoalctl.cli.client import Client, add_verb
from shoalctl.cli.errors import CliError
from shoalctl.cli.output import ago, print_json, table

METRICS = {"cpu": "ECSServiceAverageCPUUtilization", "memory": "ECSServiceAverageMemoryUtilization",
           "requests": "ALBRequestCountPerTarget"}
COMPARISONS = {">": "GreaterThanThreshold", ">=": "GreaterThanOrEqualToThreshold", "<": "LessThanThreshold",
               "<=": "LessThanOrEqualToThreshold"}


def connect(a) -> Client:
    return client.connect(a, scaling_pb2_grpc.ScalingStub)


def _epoch(text: str | None, flag: str) -> float:
    if not text:
        return 0.0
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        raise CliError(f"{flag}: {text!r} is not an ISO time like 2030-01-31T08:00:00+00:00") from None


def _bound(text: str, flag: str) -> float | None:
    if text == "":
        return None
    try:
        value = float(text)
    except ValueError:
        raise CliError(f"{flag}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise CliError(f"{flag}: {text!r} is not a finite number")
    return value


def parse_step(text: str) -> sc.StepAdjustment:
    """LOWER:UPPER:ADJUSTMENT, bounds relative to the threshold; an empty bound is open."""
    parts = text.split(":")
    if len(parts) != 3:
        raise CliError(f"--step {text!r}: expected LOWER:UPPER:ADJUSTMENT (e.g. 0:20:1 or 20::2)")
    lo, hi = _bound(parts[0], "--step lower bound"), _bound(parts[1], "--step upper bound")
    try:
        adj = int(parts[2])
    except ValueError:
        raise CliError(f"--step {text!r}: the adjustment {parts[2]!r} is not a whole number") from None
    s = sc.StepAdjustment(scaling_adjustment=adj)
    if lo is not None:
        s.metric_interval_lower_bound = lo
    if hi is not None:
        s.metric_interval_upper_bound = hi
    return s


# ---- targets ----------------------------------------------------------------------------------

def target_register(a) -> None:
    req = sc.RegisterScalableTargetRequest(cluster=a.cluster, service=a.service)
    if a.min is not None:
        req.min_capacity = a.min
    if a.max is not None:
        req.max_capacity = a.max
    if a.suspend is not None:
        req.suspended_state.CopyFrom(sc.SuspendedState(
            dynamic_scaling_in_suspended="in" in a.suspend, dynamic_scaling_out_suspended="out" in a.suspend,
            scheduled_scaling_suspended="scheduled" in a.suspend))
    t = connect(a).RegisterScalableTarget(req).scalable_target
    print_json(t) if a.output == "json" else print(f"{t.resource_id}: min {t.min_capacity} max {t.max_capacity}")


def target_deregister(a) -> None:
    t = connect(a).DeregisterScalableTarget(sc.ScalableTargetRef(cluster=a.cluster, service=a.service)).scalable_target
    print(f"deregistered {t.resource_id} (and its policies and scheduled actions)")


def _suspended(s: sc.SuspendedState) -> str:
    out = [n for n, on in (("in", s.dynamic_scaling_in_suspended), ("out", s.dynamic_scaling_out_suspended),
                           ("scheduled", s.scheduled_scaling_suspended)) if on]
    return ",".join(out) or "-"


def target_list(a) -> None:
    resp = connect(a).DescribeScalableTargets(sc.DescribeScalableTargetsRequest(
        cluster=a.cluster, services=[a.service] if a.service else []))
    if a.output == "json":
        print_json(list(resp.scalable_targets))
        return
    table(["SERVICE", "MIN", "MAX", "SUSPENDED", "AGE"],
          [[t.service, t.min_capacity, t.max_capacity, _suspended(t.suspended_state), ago(t.creation_time)]
           for t in resp.scalable_targets])


# ---- policies ---------------------------------------------------------------------------------

def policy_put_tracking(a) -> None:
    if (a.metric is None) == (a.promql is None):
        raise CliError("give exactly one of --metric (cpu|memory|requests) and --promql")
    tt = sc.TargetTrackingConfiguration(target_value=a.target, scale_out_cooldown=a.scale_out_cooldown,
                                        scale_in_cooldown=a.scale_in_cooldown, disable_scale_in=a.disable_scale_in)
    if a.metric:
        tt.predefined_metric_type = METRICS[a.metric]
    else:
        tt.custom_promql = a.promql
    p = connect(a).PutScalingPolicy(sc.PutScalingPolicyRequest(
        cluster=a.cluster, service=a.service, policy_name=a.name, policy_type="TargetTrackingScaling",
        target_tracking=tt)).policy
    print_json(p) if a.output == "json" else print(f"put target tracking policy {p.policy_name} on {p.resource_id}")


def policy_put_step(a) -> None:
    cfg = sc.StepScalingConfiguration(
        alarm=sc.Alarm(promql=a.promql, comparison=COMPARISONS.get(a.comparison, a.comparison),
                       threshold=a.threshold, evaluation_periods=a.evaluation_periods),
        adjustment_type=a.adjustment_type, min_adjustment_magnitude=a.min_adjustment_magnitude, cooldown=a.cooldown,
    )
    cfg.step_adjustments.extend(parse_step(s) for s in a.step)
    p = connect(a).PutScalingPolicy(sc.PutScalingPolicyRequest(
        cluster=a.cluster, service=a.service, policy_name=a.name, policy_type="StepScaling",
        step_scaling=cfg)).policy
    print_json(p) if a.output == "json" else print(f"put step scaling policy {p.policy_name} on {p.resource_id}")


def policy_delete(a) -> None:
    p = connect(a).DeleteScalingPolicy(sc.DeleteScalingPolicyRequest(cluster=a.cluster, service=a.service,
                                                                      policy_name=a.name)).policy
    print(f"deleted policy {p.policy_name} of {p.resource_id}")


def _policy_summary(p: sc.ScalingPolicy) -> str:
    if p.policy_type == "TargetTrackingScaling":
        t = p.target_tracking
        metric = t.predefined_metric_type or t.custom_promql
        extra = ", scale-in disabled" if t.disable_scale_in else ""
        return f"{metric} at {t.target_value:g} (cooldown out {t.scale_out_cooldown}s in {t.scale_in_cooldown}s{extra})"
    s = p.step_scaling
    steps = " ".join(
        f"[{x.metric_interval_lower_bound if x.HasField('metric_interval_lower_bound') else '-inf'},"
        f"{x.metric_interval_upper_bound if x.HasField('metric_interval_upper_bound') else '+inf'}):"
        f"{x.scaling_adjustment:+d}" for x in s.step_adjustments)
    return (f"{s.alarm.promql} {s.alarm.comparison} {s.alarm.threshold:g} x{s.alarm.evaluation_periods}; "
            f"{s.adjustment_type} {steps}")


def policy_list(a) -> None:
    resp = connect(a).DescribeScalingPolicies(sc.DescribeScalingPoliciesRequest(cluster=a.cluster,
                                                                                 service=a.service or ""))
    if a.output == "json":
        print_json(list(resp.policies))
        return
    table(["SERVICE", "POLICY", "TYPE", "SUMMARY"],
          [[p.service, p.policy_name, p.policy_type, _policy_summary(p)] for p in resp.policies])


# ---- scheduled actions ------------------------------------------------------------------------

def scheduled_put(a) -> None:
    action = sc.ScalableTargetAction()
    if a.min is not None:
        action.min_capacity = a.min
    if a.max is not None:
        action.max_capacity = a.max
    s = connect(a).PutScheduledAction(sc.PutScheduledActionRequest(
        cluster=a.cluster, service=a.service, scheduled_action_name=a.name, schedule=a.schedule,
        timezone=a.timezone, scalable_target_action=action, start_time=_epoch(a.start_time, "--start-time"),
        end_time=_epoch(a.end_time, "--end-time"))).scheduled_action
    print_json(s) if a.output == "json" else print(f"put scheduled action {s.scheduled_action_name} on {s.resource_id}")


def scheduled_delete(a) -> None:
    s = connect(a).DeleteScheduledAction(sc.DeleteScheduledActionRequest(
        cluster=a.cluster, service=a.service, scheduled_action_name=a.name)).scheduled_action
    print(f"deleted scheduled action {s.scheduled_action_name} of {s.resource_id}")


def scheduled_list(a) -> None:
    resp = connect(a).DescribeScheduledActions(sc.DescribeScheduledActionsRequest(cluster=a.cluster,
                                                                                  service=a.service or ""))
    if a.output == "json":
        print_json(list(resp.scheduled_actions))
        return

    def bounds(x: sc.ScalableTargetAction) -> str:
        lo = x.min_capacity if x.HasField("min_capacity") else "-"
        hi = x.max_capacity if x.HasField("max_capacity") else "-"
        return f"min {lo} max {hi}"

    table(["SERVICE", "NAME", "SCHEDULE", "TIMEZONE", "ACTION"],
          [[s.service, s.scheduled_action_name, s.schedule, s.timezone or "UTC", bounds(s.scalable_target_action)]
           for s in resp.scheduled_actions])


# ---- activities -------------------------------------------------------------------------------

def activities(a) -> None:
    resp = connect(a).DescribeScalingActivities(sc.DescribeScalingActivitiesRequest(
        cluster=a.cluster, service=a.service or "", resource_id=a.resource_id or "", max_results=a.max))
    if a.output == "json":
        print_json(list(resp.activities))
        return
    table(["AGE", "RESOURCE", "STATUS", "FROM", "TO", "DESCRIPTION", "CAUSE"],
          [[ago(x.start_time), x.resource_id, x.status_code, x.from_capacity, x.to_capacity, x.description,
            x.cause + (f" [{x.status_message}]" if x.status_message else "")] for x in resp.activities])


# ---- capacity providers -----------------------------------------------------------------------

def cp_create(a) -> None:
    config = {}
    for item in a.config:
        try:
            k, v = parse_key_value(item, "--config")
        except ValidationError as exc:
            raise CliError(str(exc)) from None
        config[k] = v
    c = connect(a).CreateCapacityProvider(sc.CreateCapacityProviderRequest(
        name=a.name, cluster=a.cluster, node_provider=sc.NodeProviderConfig(profile=a.profile, config=config),
        min_size=a.min_size, max_size=a.max_size, target_capacity=a.target_capacity,
        managed_termination_protection=a.managed_termination_protection,
        minimum_scaling_step_size=a.min_step, maximum_scaling_step_size=a.max_step,
        fargate=a.fargate)).capacity_provider
    print_json(c) if a.output == "json" else print(c.capacity_provider_arn)


def cp_list(a) -> None:
    resp = connect(a).DescribeCapacityProviders(sc.DescribeCapacityProvidersRequest(cluster=a.cluster or ""))
    if a.output == "json":
        print_json(list(resp.capacity_providers))
        return
    table(["NAME", "CLUSTER", "PROFILE", "MIN", "MAX", "TARGET%", "PROTECTION", "UPDATE STATUS"],
          [[c.name, c.cluster, c.node_provider.profile, c.min_size, c.max_size, c.target_capacity,
            "ENABLED" if c.managed_termination_protection else "DISABLED",
            f"{c.update_status}: {c.update_status_reason}" if c.update_status_reason else c.update_status or "-"]
           for c in resp.capacity_providers])


def cp_delete(a) -> None:
    c = connect(a).DeleteCapacityProvider(sc.DeleteCapacityProviderRequest(name=a.name)).capacity_provider
    print(f"deleted capacity provider {c.name} (its nodes keep running)")


# ---- wiring -----------------------------------------------------------------------------------

def _verb(group, name: str, func, helptext: str, output: bool = True) -> argparse.ArgumentParser:
    return add_verb(group, name, func, helptext, cluster=True, output=output)


def register(sub) -> None:
    scaling = sub.add_parser("scaling", help="service auto scaling: targets, policies, schedules, activities")
    nouns = scaling.add_subparsers(dest="what", metavar="WHAT")
    nouns.required = True

    target = nouns.add_parser("target", help="scalable targets (a service's min and max)").add_subparsers(
        dest="verb", metavar="VERB")
    target.required = True
    p = _verb(target, "register", target_register, "register or update a service as a scalable target")
    p.add_argument("--service", required=True)
    p.add_argument("--min", type=int, help="minimum desired count")
    p.add_argument("--max", type=int, help="maximum desired count")
    p.add_argument("--suspend", nargs="*", choices=("in", "out", "scheduled"),
                   help="suspend scaling in, out and/or scheduled actions (no value: resume all)")
    p = _verb(target, "deregister", target_deregister, "stop scaling a service", output=False)
    p.add_argument("--service", required=True)
    p = _verb(target, "list", target_list, "list scalable targets")
    p.add_argument("--service")

    policy = nouns.add_parser("policy", help="scaling policies").add_subparsers(dest="verb", metavar="VERB")
    policy.required = True
    p = _verb(policy, "put-target-tracking", policy_put_tracking, "keep a metric at a target value")
    p.add_argument("--service", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--target", type=float, required=True, help="target value (percent for cpu/memory)")
    p.add_argument("--metric", choices=sorted(METRICS),
                   help="predefined metric: service CPU or memory utilisation, or requests per target per minute "
                        "(ALBRequestCountPerTarget; the service needs a load balancer)")
    p.add_argument("--promql", help="custom PromQL giving one number for the service")
    p.add_argument("--scale-out-cooldown", type=int, default=60)
    p.add_argument("--scale-in-cooldown", type=int, default=300)
    p.add_argument("--disable-scale-in", action="store_true")
    p = _verb(policy, "put-step", policy_put_step, "scale by steps when an alarm breaches")
    p.add_argument("--service", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--promql", required=True, help="the alarm's PromQL (one number)")
    p.add_argument("--comparison", required=True, help="> >= < <= or GreaterThanThreshold etc.")
    p.add_argument("--threshold", type=float, required=True)
    p.add_argument("--evaluation-periods", type=int, default=1)
    p.add_argument("--adjustment-type", default="ChangeInCapacity",
                   choices=("ChangeInCapacity", "PercentChangeInCapacity", "ExactCapacity"))
    p.add_argument("--step", action="append", required=True, metavar="LOWER:UPPER:ADJ",
                   help="bounds relative to the threshold, empty for open (repeat for more steps)")
    p.add_argument("--min-adjustment-magnitude", type=int, default=0)
    p.add_argument("--cooldown", type=int, default=60)
    p = _verb(policy, "delete", policy_delete, "delete a policy", output=False)
    p.add_argument("--service", required=True)
    p.add_argument("--name", required=True)
    p = _verb(policy, "list", policy_list, "list policies")
    p.add_argument("--service")

    sched = nouns.add_parser("scheduled", help="scheduled actions").add_subparsers(dest="verb", metavar="VERB")
    sched.required = True
    p = _verb(sched, "put", scheduled_put, "set min/max on a schedule")
    p.add_argument("--service", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--schedule", required=True, help='"cron(0 8 * * 1-5)", "at(2030-01-31T08:00:00)", '
                                                     '"rate(5 minutes)"')
    p.add_argument("--timezone", default="", help="IANA zone, e.g. Europe/Paris (default UTC)")
    p.add_argument("--min", type=int)
    p.add_argument("--max", type=int)
    p.add_argument("--start-time", help="ISO time before which it does not fire")
    p.add_argument("--end-time", help="ISO time after which it does not fire")
    p = _verb(sched, "delete", scheduled_delete, "delete a scheduled action", output=False)
    p.add_argument("--service", required=True)
    p.add_argument("--name", required=True)
    p = _verb(sched, "list", scheduled_list, "list scheduled actions")
    p.add_argument("--service")

    p = _verb(nouns, "activities", activities, "what auto scaling did and why, newest first")
    p.add_argument("--service")
    p.add_argument("--resource-id", help="e.g. capacity-provider/NAME")
    p.add_argument("--max", type=int, default=20)

    cp = sub.add_parser("capacity-provider", help="node groups that grow and shrink with the cluster's needs")
    verbs = cp.add_subparsers(dest="verb", metavar="VERB")
    verbs.required = True
    p = _verb(verbs, "create", cp_create, "create a capacity provider")
    p.add_argument("name")
    p.add_argument("--profile", required=True,
                   help="node provider profile: 'local' (built in) or one in the autoscaler host's "
                        "--providers-config file")
    p.add_argument("--config", action="append", default=[], metavar="KEY=VALUE",
                   help="settings the profile lets the API choose (e.g. cpu_units, memory_mib, zone for local)")
    p.add_argument("--min-size", type=int, default=0)
    p.add_argument("--max-size", type=int, required=True)
    p.add_argument("--target-capacity", type=int, default=100, help="percent of nodes to keep in use (1-100)")
    p.add_argument("--managed-termination-protection", action="store_true",
                   help="drain a node and wait for its tasks to leave before removing it")
    p.add_argument("--min-step", type=int, default=0, help="minimum scaling step size (default 1)")
    p.add_argument("--max-step", type=int, default=0, help="maximum scaling step size (default 10000)")
    p.add_argument("--fargate", action="store_true",
                   help="serve the cluster's FARGATE and FARGATE_SPOT tasks (one provider per cluster)")
    p = _verb(verbs, "list", cp_list, "list capacity providers")
    p.set_defaults(cluster="")
    p = _verb(verbs, "delete", cp_delete, "delete a capacity provider (its nodes keep running)", output=False)
    p.add_argument("name")

"""The Scaling gRPC service: scalable targets, scaling policies, scheduled actions and
scaling activities (Application Auto Scaling's shapes), and capacity providers. The API
validates and stores; the autoscaler reads these records and acts on them."""

from __future__ import annotations

import contextlib
import math
import time
import uuid
from collections.abc import Callable
from typing import TypeVar

from google.protobuf.message import Message

from controlplane import fargate
from controlplane.api.context import ApiContext, already_exists
from controlplane.api.routed import Routed
from controlplane.errors import conflict, invalid, not_found
from controlplane.events import add_event
from controlplane.state import Record
from shoal import keys, scaling_groups
from shoal.scaling_terms import ADJUSTMENT_TYPES, COMPARISONS, NEEDS_TARGET_GROUP, PREDEFINED
from shoal.schedule import parse
from shoal.store import batch
from shoal.store.base import Conflict, Delete
from shoal.v1 import resources_pb2 as r
from shoal.v1 import scaling_pb2 as sc
from shoal.v1 import scaling_pb2_grpc
from shoal.validation import ValidationError, check_name, check_string_map

M = TypeVar("M", bound=Message)

MAX_CAPACITY = 100_000
MAX_COOLDOWN = 86_400
MAX_PROMQL = 4096
MAX_STEPS = 20
MAX_EVALUATION_PERIODS = 100
# Activities are an audit trail, not state: the oldest go once a cluster has this many.
MAX_ACTIVITIES_PER_CLUSTER = 500
MAX_NODES_PER_PROVIDER = 1000
DIMENSION = "ecs:service:DesiredCount"
CAPACITY_PROVIDER_RESOURCE = "capacity-provider/"


def resource_id(cluster: str, service: str) -> str:
    return f"service/{cluster}/{service}"


# ---- validation helpers ---------------------------------------------------------------------

def check_promql(expr: str, field: str) -> str:
    """PromQL cannot be parsed here without Prometheus; refuse what is certainly wrong:
    empty, too long, control characters, unbalanced brackets or quotes."""
    if not expr.strip():
        raise invalid(f"{field}: required (a PromQL expression)")
    if len(expr) > MAX_PROMQL:
        raise invalid(f"{field}: at most {MAX_PROMQL} characters")
    if any(ord(c) < 32 and c not in "\t\n" for c in expr):
        raise invalid(f"{field}: must not hold control characters")
    stack: list[str] = []
    quote = ""
    pairs = {")": "(", "]": "[", "}": "{"}
    escaped = False
    for c in expr:
        if quote:
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == quote:
                quote = ""
        elif c in "\"'`":
            quote = c
        elif c in "([{":
            stack.append(c)
        elif c in pairs and (not stack or stack.pop() != pairs[c]):
            raise invalid(f"{field}: unbalanced {c!r}")
    if quote:
        raise invalid(f"{field}: unterminated string")
    if stack:
        raise invalid(f"{field}: unclosed {stack[-1]!r}")
    return expr


def _finite(value: float, field: str) -> float:
    if not math.isfinite(value):
        raise invalid(f"{field}: must be a finite number")
    return value


def _range(value: int, field: str, lo: int, hi: int) -> int:
    if not lo <= value <= hi:
        raise invalid(f"{field}: must be between {lo} and {hi}, got {value}")
    return value


def _name(value: str, field: str) -> str:
    try:
        return check_name(value, field)
    except ValidationError as exc:
        raise invalid(str(exc)) from exc


# ---- scalable targets -----------------------------------------------------------------------

def _service_name(ctx: ApiContext, cluster: str, service: str, must_exist: bool = True) -> str:
    name = service.rsplit("/", 1)[-1]
    if not name:
        raise invalid("service: required")
    if must_exist:
        rec = ctx.state.service(cluster, name)
        if rec is None or rec.msg.status != "ACTIVE":
            raise not_found(f"service: service {name!r} not found in cluster {cluster!r}", "ServiceNotFoundException")
    return name


def _target(ctx: ApiContext, cluster: str, service: str) -> Record[sc.ScalableTarget]:
    rec = ctx.state.load(keys.scalable_target(cluster, service), sc.ScalableTarget)
    if rec is None:
        raise not_found(f"service: {resource_id(cluster, service)} is not a registered scalable target; "
                        "register it first", "ObjectNotFoundException")
    return rec


def register_target(ctx: ApiContext, req: sc.RegisterScalableTargetRequest) -> sc.ScalableTargetResponse:
    cluster = ctx.require_cluster(req.cluster).msg.cluster_name
    service = _service_name(ctx, cluster, req.service)
    svc = ctx.state.service(cluster, service)
    if svc is not None and svc.msg.scheduling_strategy == "DAEMON":
        raise invalid(f"service: {service!r} is a DAEMON service (one task per node); it has no desired count to scale")
    key = keys.scalable_target(cluster, service)

    def register(target: sc.ScalableTarget | None) -> sc.ScalableTarget:
        if target is None:
            if not req.HasField("min_capacity") or not req.HasField("max_capacity"):
                raise invalid("minCapacity/maxCapacity: both are required to register a new scalable target")
            target = sc.ScalableTarget(cluster=cluster, service=service, resource_id=resource_id(cluster, service),
                                       scalable_dimension=DIMENSION, creation_time=time.time())
        if req.HasField("min_capacity"):
            target.min_capacity = _range(req.min_capacity, "minCapacity", 0, MAX_CAPACITY)
        if req.HasField("max_capacity"):
            target.max_capacity = _range(req.max_capacity, "maxCapacity", 0, MAX_CAPACITY)
        if target.min_capacity > target.max_capacity:
            raise invalid(f"minCapacity: {target.min_capacity} is above maxCapacity {target.max_capacity}")
        if req.HasField("suspended_state"):
            target.suspended_state.CopyFrom(req.suspended_state)
        if req.HasField("role_arn"):
            if len(req.role_arn) > 1600:
                raise invalid("roleARN: at most 1600 characters")
            target.role_arn = req.role_arn
        return target

    rec = ctx.state.update(key, sc.ScalableTarget, register, field="scalableTarget")
    return sc.ScalableTargetResponse(scalable_target=rec.msg)


def deregister_target(ctx: ApiContext, req: sc.ScalableTargetRef) -> sc.ScalableTargetResponse:
    cluster = ctx.require_cluster(req.cluster).msg.cluster_name
    service = _service_name(ctx, cluster, req.service, must_exist=False)
    rec = _target(ctx, cluster, service)
    # A target's policies and scheduled actions go with it, as in Application Auto Scaling.
    ctx.store.txn([], [
        Delete(rec.key),
        Delete(f"{keys.SCALING_POLICIES}{cluster}/{service}/", prefix=True),
        Delete(f"{keys.SCALING_SCHEDULED}{cluster}/{service}/", prefix=True),
    ])
    return sc.ScalableTargetResponse(scalable_target=rec.msg)


def _named(ctx: ApiContext, prefix: str, msg_type: type[M], wanted: set[str], name_of: Callable[[M], str]) -> list[M]:
    """The records of ``msg_type`` under ``prefix`` whose name is in ``wanted`` (all of them
    when it is empty)."""
    return [rec.msg for rec in ctx.state.load_all(prefix, msg_type) if not wanted or name_of(rec.msg) in wanted]


def describe_targets(ctx: ApiContext, req: sc.DescribeScalableTargetsRequest) -> sc.DescribeScalableTargetsResponse:
    if req.cluster:
        cluster = ctx.require_cluster(req.cluster).msg.cluster_name
        prefix = f"{keys.SCALING_TARGETS}{cluster}/"
    else:
        prefix = keys.SCALING_TARGETS
    wanted = {s.rsplit("/", 1)[-1] for s in req.services}
    return sc.DescribeScalableTargetsResponse(
        scalable_targets=_named(ctx, prefix, sc.ScalableTarget, wanted, lambda m: m.service))


# ---- scaling policies -----------------------------------------------------------------------

def _check_target_tracking(tt: sc.TargetTrackingConfiguration) -> None:
    f = "targetTrackingScalingPolicyConfiguration"
    if not math.isfinite(tt.target_value) or not 0 < tt.target_value <= 1e12:
        raise invalid(f"{f}.targetValue: must be a positive number")
    if tt.predefined_metric_type and tt.custom_promql:
        raise invalid(f"{f}: give predefinedMetricType or customPromql, not both")
    if tt.predefined_metric_type:
        if tt.predefined_metric_type not in PREDEFINED:
            raise invalid(f"{f}.predefinedMetricType: must be one of {', '.join(PREDEFINED)}")
    elif tt.custom_promql:
        check_promql(tt.custom_promql, f"{f}.customPromql")
    else:
        raise invalid(f"{f}: predefinedMetricType or customPromql is required")
    _range(tt.scale_out_cooldown, f"{f}.scaleOutCooldown", 0, MAX_COOLDOWN)
    _range(tt.scale_in_cooldown, f"{f}.scaleInCooldown", 0, MAX_COOLDOWN)


def _check_target_group(ctx: ApiContext, cluster: str, service: str, tt: sc.TargetTrackingConfiguration) -> None:
    """A per-target metric is measured on one target group of the service or of its task sets
    (shoal/scaling_groups.py): a policy that could never find one would never have data, so
    it is refused rather than left idle."""
    if tt.predefined_metric_type not in NEEDS_TARGET_GROUP:
        return
    rec = ctx.state.service(cluster, service)
    groups = scaling_groups.candidates(rec.msg) if rec is not None else []
    if not groups:
        raise invalid(f"targetTrackingScalingPolicyConfiguration.predefinedMetricType: "
                      f"{tt.predefined_metric_type} needs a load balancer, and service {service!r} has no "
                      "loadBalancers, nor any of its task sets (create it with --load-balancer)")
    if tt.resource_label and not scaling_groups.measured_group(rec.msg, tt.resource_label):
        raise invalid(f"targetTrackingScalingPolicyConfiguration.resourceLabel: {tt.resource_label[:256]!r} names "
                      f"no target group of service {service!r} or its task sets (app/<lb>/<id>/targetgroup/"
                      f"<name>/<id>, one of: {', '.join(a.split(':', 5)[-1] for a in groups)})")


def _check_step_scaling(cfg: sc.StepScalingConfiguration) -> None:
    f = "stepScalingPolicyConfiguration"
    if not cfg.HasField("alarm"):
        raise invalid(f"{f}.alarm: required")
    check_promql(cfg.alarm.promql, f"{f}.alarm.promql")
    if cfg.alarm.comparison not in COMPARISONS:
        raise invalid(f"{f}.alarm.comparison: must be one of {', '.join(COMPARISONS)}")
    _finite(cfg.alarm.threshold, f"{f}.alarm.threshold")
    _range(cfg.alarm.evaluation_periods, f"{f}.alarm.evaluationPeriods", 1, MAX_EVALUATION_PERIODS)
    if cfg.adjustment_type not in ADJUSTMENT_TYPES:
        raise invalid(f"{f}.adjustmentType: must be one of {', '.join(ADJUSTMENT_TYPES)}")
    if not cfg.step_adjustments:
        raise invalid(f"{f}.stepAdjustments: at least one step is required")
    if len(cfg.step_adjustments) > MAX_STEPS:
        raise invalid(f"{f}.stepAdjustments: at most {MAX_STEPS} steps")
    intervals = []
    for i, s in enumerate(cfg.step_adjustments):
        sf = f"{f}.stepAdjustments[{i}]"
        lo = s.metric_interval_lower_bound if s.HasField("metric_interval_lower_bound") else -math.inf
        hi = s.metric_interval_upper_bound if s.HasField("metric_interval_upper_bound") else math.inf
        if math.isnan(lo) or math.isnan(hi) or lo >= hi:
            raise invalid(f"{sf}: metricIntervalLowerBound must be below metricIntervalUpperBound")
        if cfg.adjustment_type == "ExactCapacity":
            _range(s.scaling_adjustment, f"{sf}.scalingAdjustment", 0, MAX_CAPACITY)
        else:
            _range(s.scaling_adjustment, f"{sf}.scalingAdjustment", -MAX_CAPACITY, MAX_CAPACITY)
        intervals.append((lo, hi, i))
    intervals.sort()
    for (_, hi, i), (lo, _, j) in zip(intervals, intervals[1:], strict=False):
        if lo < hi:
            raise invalid(f"{f}.stepAdjustments[{j}]: its interval overlaps stepAdjustments[{i}]")
    if cfg.min_adjustment_magnitude:
        if cfg.adjustment_type != "PercentChangeInCapacity":
            raise invalid(f"{f}.minAdjustmentMagnitude: only valid with PercentChangeInCapacity")
        _range(cfg.min_adjustment_magnitude, f"{f}.minAdjustmentMagnitude", 0, MAX_CAPACITY)
    _range(cfg.cooldown, f"{f}.cooldown", 0, MAX_COOLDOWN)


def put_policy(ctx: ApiContext, req: sc.PutScalingPolicyRequest) -> sc.ScalingPolicyResponse:
    cluster = ctx.require_cluster(req.cluster).msg.cluster_name
    service = _service_name(ctx, cluster, req.service, must_exist=False)
    _name(req.policy_name, "policyName")
    _target(ctx, cluster, service)
    policy = sc.ScalingPolicy(policy_name=req.policy_name, cluster=cluster, service=service,
                              resource_id=resource_id(cluster, service), policy_type=req.policy_type,
                              creation_time=time.time())
    if req.policy_type == "TargetTrackingScaling":
        if req.HasField("step_scaling"):
            raise invalid("stepScalingPolicyConfiguration: not valid for a TargetTrackingScaling policy")
        _check_target_tracking(req.target_tracking)
        _check_target_group(ctx, cluster, service, req.target_tracking)
        policy.target_tracking.CopyFrom(req.target_tracking)
    elif req.policy_type == "StepScaling":
        if req.HasField("target_tracking"):
            raise invalid("targetTrackingScalingPolicyConfiguration: not valid for a StepScaling policy")
        _check_step_scaling(req.step_scaling)
        policy.step_scaling.CopyFrom(req.step_scaling)
        if policy.step_scaling.alarm.evaluation_periods == 0:
            policy.step_scaling.alarm.evaluation_periods = 1
    else:
        raise invalid("policyType: must be TargetTrackingScaling or StepScaling")
    key = keys.scaling_policy(cluster, service, req.policy_name)
    existing = ctx.store.get(key)
    if existing is not None:
        old = sc.ScalingPolicy()
        old.ParseFromString(existing.value)
        policy.creation_time = old.creation_time
    ctx.store.put(key, policy.SerializeToString())
    return sc.ScalingPolicyResponse(policy=policy)


def delete_policy(ctx: ApiContext, req: sc.DeleteScalingPolicyRequest) -> sc.ScalingPolicyResponse:
    return sc.ScalingPolicyResponse(policy=_delete(ctx, req.cluster, req.service, keys.scaling_policy, sc.ScalingPolicy,
                                                   req.policy_name, "policyName", "policy"))


def _delete(ctx: ApiContext, cluster_ref: str, service_ref: str, key_of: Callable[[str, str, str], str],
            kind: type[M], name: str, field_name: str, noun: str) -> M:
    """Deletes the service's record ``name`` (its ``field_name``) and returns it; a name
    that is not there is refused as Application Auto Scaling refuses it."""
    cluster = ctx.require_cluster(cluster_ref).msg.cluster_name
    service = _service_name(ctx, cluster, service_ref, must_exist=False)
    key = key_of(cluster, service, _name(name, field_name))
    rec = ctx.state.load(key, kind)
    if rec is None:
        raise not_found(f"{field_name}: no {noun} {name!r} on {resource_id(cluster, service)}",
                        "ObjectNotFoundException")
    ctx.store.delete(key)
    return rec.msg


def _service_prefix(base: str, ctx: ApiContext, cluster_ref: str, service: str) -> str:
    if not cluster_ref:
        return base
    cluster = ctx.require_cluster(cluster_ref).msg.cluster_name
    if service:
        return f"{base}{cluster}/{service.rsplit('/', 1)[-1]}/"
    return f"{base}{cluster}/"


def describe_policies(ctx: ApiContext, req: sc.DescribeScalingPoliciesRequest) -> sc.DescribeScalingPoliciesResponse:
    prefix = _service_prefix(keys.SCALING_POLICIES, ctx, req.cluster, req.service)
    return sc.DescribeScalingPoliciesResponse(
        policies=_named(ctx, prefix, sc.ScalingPolicy, set(req.policy_names), lambda m: m.policy_name))


# ---- scheduled actions ----------------------------------------------------------------------

def put_scheduled(ctx: ApiContext, req: sc.PutScheduledActionRequest) -> sc.ScheduledActionResponse:
    cluster = ctx.require_cluster(req.cluster).msg.cluster_name
    service = _service_name(ctx, cluster, req.service, must_exist=False)
    _name(req.scheduled_action_name, "scheduledActionName")
    try:
        parse(req.schedule, req.timezone)
    except ValidationError as exc:
        raise invalid(str(exc)) from exc
    action = req.scalable_target_action
    if not action.HasField("min_capacity") and not action.HasField("max_capacity"):
        raise invalid("scalableTargetAction: give minCapacity, maxCapacity or both")
    if action.HasField("min_capacity"):
        _range(action.min_capacity, "scalableTargetAction.minCapacity", 0, MAX_CAPACITY)
    if action.HasField("max_capacity"):
        _range(action.max_capacity, "scalableTargetAction.maxCapacity", 0, MAX_CAPACITY)
    both = action.HasField("min_capacity") and action.HasField("max_capacity")
    if both and action.min_capacity > action.max_capacity:
        raise invalid("scalableTargetAction.minCapacity: above maxCapacity")
    for value, field in ((req.start_time, "startTime"), (req.end_time, "endTime")):
        if not math.isfinite(value) or value < 0:
            raise invalid(f"{field}: must be epoch seconds")
    if req.start_time and req.end_time and req.end_time <= req.start_time:
        raise invalid("endTime: must be after startTime")
    _target(ctx, cluster, service)
    key = keys.scheduled_action(cluster, service, req.scheduled_action_name)
    existing = ctx.state.load(key, sc.ScheduledAction)
    scheduled = sc.ScheduledAction(
        scheduled_action_name=req.scheduled_action_name, cluster=cluster, service=service,
        resource_id=resource_id(cluster, service), schedule=req.schedule, timezone=req.timezone,
        scalable_target_action=action, start_time=req.start_time, end_time=req.end_time,
        creation_time=existing.msg.creation_time if existing else time.time(),
    )
    ctx.store.put(key, scheduled.SerializeToString())
    return sc.ScheduledActionResponse(scheduled_action=scheduled)


def delete_scheduled(ctx: ApiContext, req: sc.DeleteScheduledActionRequest) -> sc.ScheduledActionResponse:
    return sc.ScheduledActionResponse(scheduled_action=_delete(
        ctx, req.cluster, req.service, keys.scheduled_action, sc.ScheduledAction, req.scheduled_action_name,
        "scheduledActionName", "action"))


def describe_scheduled(ctx: ApiContext,
                       req: sc.DescribeScheduledActionsRequest) -> sc.DescribeScheduledActionsResponse:
    prefix = _service_prefix(keys.SCALING_SCHEDULED, ctx, req.cluster, req.service)
    return sc.DescribeScheduledActionsResponse(scheduled_actions=_named(
        ctx, prefix, sc.ScheduledAction, set(req.scheduled_action_names), lambda m: m.scheduled_action_name))


# ---- scaling activities ---------------------------------------------------------------------

def record_activity(ctx: ApiContext, req: sc.RecordScalingActivityRequest) -> sc.ScalingActivityResponse:
    a = sc.ScalingActivity()
    a.CopyFrom(req.activity)
    cluster = ctx.require_cluster(a.cluster).msg.cluster_name
    a.cluster = cluster
    if not a.resource_id:
        raise invalid("activity.resourceId: required")
    for value, field in ((a.description, "description"), (a.cause, "cause"), (a.status_message, "statusMessage")):
        if len(value) > 4096:
            raise invalid(f"activity.{field}: at most 4096 characters")
    if a.status_code not in ("Successful", "Failed", "InProgress"):
        raise invalid("activity.statusCode: must be Successful, Failed or InProgress")
    if len(a.metrics) > 50:
        raise invalid("activity.metrics: at most 50 values")
    a.activity_id = a.activity_id or uuid.uuid4().hex
    a.start_time = a.start_time or time.time()
    ctx.store.put(keys.scaling_activity(cluster, int(a.start_time * 1e9), a.activity_id), a.SerializeToString())
    _prune_activities(ctx, cluster)
    if a.service:
        _service_event(ctx, cluster, a)
    if a.resource_id.startswith(CAPACITY_PROVIDER_RESOURCE) and a.status_code != "InProgress":
        _capacity_provider_status(ctx, a)
    return sc.ScalingActivityResponse(activity=a)


def _capacity_provider_status(ctx: ApiContext, a: sc.ScalingActivity) -> None:
    """The newest finished activity of a capacity provider is its update status, as ECS
    shows updateStatus/updateStatusReason: a failure says why (an unknown profile...)."""
    name = a.resource_id[len(CAPACITY_PROVIDER_RESOURCE):]
    status = "UPDATE_COMPLETE" if a.status_code == "Successful" else "UPDATE_FAILED"
    reason = "" if status == "UPDATE_COMPLETE" else a.status_message or a.description

    def with_status(cp: sc.CapacityProvider | None) -> sc.CapacityProvider | None:
        if cp is None or (cp.update_status, cp.update_status_reason) == (status, reason):
            return None
        cp.update_status, cp.update_status_reason = status, reason
        return cp

    # The status follows the newest activity; the next one corrects a lost race.
    with contextlib.suppress(Conflict):
        ctx.state.update(keys.capacity_provider(name), sc.CapacityProvider, with_status)


def _prune_activities(ctx: ApiContext, cluster: str) -> None:
    listing = ctx.store.list(f"{keys.SCALING_ACTIVITIES}{cluster}/")
    extra = len(listing.kvs) - MAX_ACTIVITIES_PER_CLUSTER
    if extra > 0:
        doomed = [Delete(kv.key) for kv in listing.kvs[:extra]]
        for indices in batch.chunks(doomed, batch.op_size):
            ctx.store.txn([], [doomed[i] for i in indices])


def _service_event(ctx: ApiContext, cluster: str, a: sc.ScalingActivity) -> None:
    verb = "succeeded" if a.status_code == "Successful" else a.status_code.lower()
    message = f"(service {a.service}) auto scaling {verb}: {a.description}. Cause: {a.cause}"

    def with_event(svc: r.Service | None) -> r.Service | None:
        if svc is not None:
            add_event(svc, message[:1024])
        return svc

    # The activity itself is recorded; losing every race costs only the service's event.
    with contextlib.suppress(Conflict):
        ctx.state.update(keys.service(cluster, a.service), r.Service, with_event)


def describe_activities(ctx: ApiContext,
                        req: sc.DescribeScalingActivitiesRequest) -> sc.DescribeScalingActivitiesResponse:
    cluster = ctx.require_cluster(req.cluster).msg.cluster_name
    limit = _range(req.max_results, "maxResults", 0, 1000) or 50
    service = req.service.rsplit("/", 1)[-1]
    resp = sc.DescribeScalingActivitiesResponse()
    for rec in reversed(ctx.state.load_all(f"{keys.SCALING_ACTIVITIES}{cluster}/", sc.ScalingActivity)):
        if service and rec.msg.service != service:
            continue
        if req.resource_id and rec.msg.resource_id != req.resource_id:
            continue
        resp.activities.append(rec.msg)
        if len(resp.activities) >= limit:
            break
    return resp


# ---- capacity providers ---------------------------------------------------------------------

def create_capacity_provider(ctx: ApiContext,
                             req: sc.CreateCapacityProviderRequest) -> sc.CapacityProviderResponse:
    _name(req.name, "name")
    if req.name.lower().startswith(("aws", "ecs", "fargate")):
        raise invalid("name: must not begin with aws, ecs or fargate")
    cluster = ctx.require_cluster(req.cluster).msg.cluster_name
    # What the profile means is the autoscaler host's own file: checked (and refused in the
    # capacity provider's updateStatusReason) there, not here.
    _name(req.node_provider.profile, "nodeProvider.profile")
    try:
        check_string_map(req.node_provider.config, "nodeProvider.config")
    except ValidationError as exc:
        raise invalid(str(exc)) from exc
    _range(req.min_size, "minSize", 0, MAX_NODES_PER_PROVIDER)
    _range(req.max_size, "maxSize", 0, MAX_NODES_PER_PROVIDER)
    if req.min_size > req.max_size:
        raise invalid(f"minSize: {req.min_size} is above maxSize {req.max_size}")
    target = _range(req.target_capacity, "targetCapacity", 0, 100) or 100
    step_min = _range(req.minimum_scaling_step_size, "minimumScalingStepSize", 0, 10_000) or 1
    step_max = _range(req.maximum_scaling_step_size, "maximumScalingStepSize", 0, 10_000) or 10_000
    if step_min > step_max:
        raise invalid("minimumScalingStepSize: above maximumScalingStepSize")
    if req.fargate and fargate.provider(ctx.state, cluster):
        raise invalid(f"fargate: cluster {cluster!r} already has a Fargate capacity provider "
                      f"({fargate.provider(ctx.state, cluster)!r})")
    cp = sc.CapacityProvider(
        name=req.name, cluster=cluster, fargate=req.fargate,
        capacity_provider_arn=f"arn:aws:ecs:{ctx.arns.region}:{ctx.arns.account}:capacity-provider/{req.name}",
        node_provider=req.node_provider, min_size=req.min_size, max_size=req.max_size, target_capacity=target,
        managed_termination_protection=req.managed_termination_protection, minimum_scaling_step_size=step_min,
        maximum_scaling_step_size=step_max, status="ACTIVE", creation_time=time.time(),
    )
    try:
        ctx.store.create(keys.capacity_provider(req.name), cp.SerializeToString())
    except Conflict as exc:
        raise already_exists(f"name: capacity provider {req.name!r} already exists") from exc
    return sc.CapacityProviderResponse(capacity_provider=cp)


def describe_capacity_providers(ctx: ApiContext,
                                req: sc.DescribeCapacityProvidersRequest) -> sc.DescribeCapacityProvidersResponse:
    cluster = ctx.require_cluster(req.cluster).msg.cluster_name if req.cluster else ""
    wanted = {n.rsplit("/", 1)[-1] for n in req.names}
    resp = sc.DescribeCapacityProvidersResponse()
    for rec in ctx.state.load_all(keys.CAPACITY_PROVIDERS, sc.CapacityProvider):
        if (not wanted or rec.msg.name in wanted) and (not cluster or rec.msg.cluster == cluster):
            resp.capacity_providers.append(rec.msg)
    return resp


def update_capacity_provider(ctx: ApiContext, ref: str, *, target_capacity: int | None = None,
                             minimum_scaling_step_size: int | None = None, maximum_scaling_step_size: int | None = None,
                             managed_termination_protection: bool | None = None) -> sc.CapacityProvider:
    """Changes the managed-scaling settings of capacity provider ``ref`` (name or ARN);
    None keeps a setting. Checked as on create, against the settings it keeps."""
    name = _name(ref.rsplit("/", 1)[-1], "name")

    def change(cp: sc.CapacityProvider | None) -> sc.CapacityProvider:
        if cp is None:
            raise not_found(f"name: capacity provider {name!r} not found")
        if target_capacity is not None:
            cp.target_capacity = _range(target_capacity, "targetCapacity", 1, 100)
        if minimum_scaling_step_size is not None:
            cp.minimum_scaling_step_size = _range(minimum_scaling_step_size, "minimumScalingStepSize", 1, 10_000)
        if maximum_scaling_step_size is not None:
            cp.maximum_scaling_step_size = _range(maximum_scaling_step_size, "maximumScalingStepSize", 1, 10_000)
        if cp.minimum_scaling_step_size > cp.maximum_scaling_step_size:
            raise invalid("minimumScalingStepSize: above maximumScalingStepSize")
        if managed_termination_protection is not None:
            cp.managed_termination_protection = managed_termination_protection
        return cp

    rec = ctx.state.update(keys.capacity_provider(name), sc.CapacityProvider, change, field="name")
    assert rec is not None  # change() never answers "no change"
    return rec.msg


def delete_capacity_provider(ctx: ApiContext, req: sc.DeleteCapacityProviderRequest) -> sc.CapacityProviderResponse:
    name = _name(req.name.rsplit("/", 1)[-1], "name")
    rec = ctx.state.load(keys.capacity_provider(name), sc.CapacityProvider)
    if rec is None:
        raise not_found(f"name: capacity provider {name!r} not found")
    for cluster in ctx.state.clusters():
        if name in cluster.msg.capacity_providers:
            raise conflict(f"capacityProvider: {name!r} is in use by cluster {cluster.msg.cluster_name!r}; remove it "
                           "with PutClusterCapacityProviders first")
        serves = [n for n in cluster.msg.capacity_providers if n in fargate.NAMES]
        if rec.msg.fargate and cluster.msg.cluster_name == rec.msg.cluster and serves:
            raise conflict(f"capacityProvider: {name!r} serves {' and '.join(serves)} of cluster "
                           f"{cluster.msg.cluster_name!r}; remove them with PutClusterCapacityProviders first")
    # Its nodes stay: they are container instances like any other once nothing scales them.
    ctx.store.delete(rec.key)
    return sc.CapacityProviderResponse(capacity_provider=rec.msg)


# The handlers by method name; also for in-process callers (controlplane/apps.py).
ROUTES = {
    "RegisterScalableTarget": register_target,
    "DeregisterScalableTarget": deregister_target,
    "DescribeScalableTargets": describe_targets,
    "PutScalingPolicy": put_policy,
    "DeleteScalingPolicy": delete_policy,
    "DescribeScalingPolicies": describe_policies,
    "PutScheduledAction": put_scheduled,
    "DeleteScheduledAction": delete_scheduled,
    "DescribeScheduledActions": describe_scheduled,
    "DescribeScalingActivities": describe_activities,
    "RecordScalingActivity": record_activity,
    "CreateCapacityProvider": create_capacity_provider,
    "DescribeCapacityProviders": describe_capacity_providers,
    "DeleteCapacityProvider": delete_capacity_provider,
}


class ScalingService(Routed, scaling_pb2_grpc.ScalingServicer, routes=ROUTES):
    pass


SCALING_SERVICE_NAME = sc.DESCRIPTOR.services_by_name["Scaling"].full_name


def add_scaling_service(ctx: ApiContext, server) -> None:
    scaling_pb2_grpc.add_ScalingServicer_to_server(ScalingService(ctx), server)


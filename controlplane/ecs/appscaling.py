"""The Application Auto Scaling subset of the gateway: AWS JSON 1.1 with ``X-Amz-Target:
AnyScaleFrontendService.<Operation>`` and SigV4 scoped to ``application-autoscaling``, on the
same port as ECS, so ``aws application-autoscaling register-scalable-target`` and
``put-scaling-policy --policy-type TargetTrackingScaling`` work against Shoal unchanged.

Only ECS services scale here: ServiceNamespace ``ecs``, ScalableDimension
``ecs:service:DesiredCount``, ResourceId ``service/<cluster>/<service>``. Each operation is
the Scaling service's own handler (controlplane/api/scaling.py), which validates and writes
the records the autoscaler acts on; this module only translates shapes and words, and an
operation is judged by the same permission as its gRPC method.

What has no Shoal counterpart is refused by name, never dropped: CloudWatch's customized
metrics, predictive scaling, tags. A step scaling policy's alarm is a CloudWatch alarm in
AWS (PutMetricAlarm, not served); in Shoal it is a PromQL alarm kept with the policy, so
PutScalingPolicy with StepScaling updates the steps of a policy that ``shoal scaling policy
put-step`` created and refuses a new one."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from controlplane.api import scaling as api
from controlplane.api.context import ApiContext
from controlplane.ecs import beside, fields, sigv4
from controlplane.ecs.errors import EcsError, to_ecs_error
from controlplane.ecs.replay import ReplayCache
from controlplane.errors import ApiError
from shoal.v1 import scaling_pb2 as sc

TARGET_PREFIX = "AnyScaleFrontendService."
SIGNING_NAME = "application-autoscaling"
NAMESPACE = "ecs"
_SCALING = "/shoal.v1.Scaling/"
MAX_RESULTS = 50

Body = dict[str, Any]


def is_appscaling(target: str | None) -> bool:
    return bool(target) and str(target).startswith(TARGET_PREFIX)


def invalid(message: str) -> EcsError:
    return EcsError("ValidationException", message)


# ---- reading the request ------------------------------------------------------------------------

_UNSUPPORTED = "not supported by Shoal's Application Auto Scaling"


def _only(body: Any, allowed: set[str], where: str = "") -> None:
    fields.only(body, allowed, _UNSUPPORTED, invalid, where=where)


def _string(body: Body, name: str, required: bool = True, where: str = "") -> str:
    return fields.string(body, name, invalid, required=required, where=where)


def _namespace(body: Body) -> None:
    value = _string(body, "ServiceNamespace")
    if value != NAMESPACE:
        raise invalid(f"ServiceNamespace: only 'ecs' is served by Shoal, not {value[:64]!r}")


def _dimension(body: Body, required: bool = True) -> None:
    value = body.get("ScalableDimension")
    if value is None and not required:
        return
    if value != api.DIMENSION:
        raise invalid(f"ScalableDimension: only {api.DIMENSION!r} is served by Shoal, not {str(value)[:64]!r}")


def parse_resource(value: object, field: str = "ResourceId") -> tuple[str, str]:
    """``service/<cluster>/<service>`` as (cluster, service)."""
    parts = value.split("/") if isinstance(value, str) else []
    if len(parts) != 3 or parts[0] != "service" or not parts[1] or not parts[2]:
        raise invalid(f"{field}: must be service/<cluster>/<service> for namespace ecs, not {str(value)[:200]!r}")
    return parts[1], parts[2]


def _target_ref(body: Body) -> tuple[str, str]:
    _namespace(body)
    _dimension(body)
    return parse_resource(body.get("ResourceId"))


def _names(body: Body, field: str) -> list[str]:
    value = body.get(field)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise invalid(f"{field}: a list of non-empty strings")
    return value


def _page(body: Body, items: list[Body], key: str) -> Body:
    """MaxResults/NextToken over ``items`` (in a stable order); the token is the offset."""
    limit = fields.integer(body, "MaxResults", invalid, lo=1, hi=MAX_RESULTS)
    if limit is None:
        limit = MAX_RESULTS
    token = body.get("NextToken")
    start = 0
    if token is not None:
        if not isinstance(token, str) or not token.isdigit() or int(token) > len(items):
            raise invalid("NextToken: not a token this gateway gave")
        start = int(token)
    out: Body = {key: items[start:start + limit]}
    if start + limit < len(items):
        out["NextToken"] = str(start + limit)
    return out


# ---- answers in Application Auto Scaling's shapes -------------------------------------------------

def _arn(ctx: ApiContext, service: str, rest: str) -> str:
    return f"arn:aws:{service}:{ctx.arns.region}:{ctx.arns.account}:{rest}"


def _resource(cluster: str, service: str) -> Body:
    return {"ServiceNamespace": NAMESPACE, "ResourceId": api.resource_id(cluster, service),
            "ScalableDimension": api.DIMENSION}


def target_out(ctx: ApiContext, t: sc.ScalableTarget) -> Body:
    s = t.suspended_state
    return {**_resource(t.cluster, t.service), "MinCapacity": t.min_capacity, "MaxCapacity": t.max_capacity,
            "RoleARN": t.role_arn or _arn(ctx, "iam", "role/aws-service-role/ecs.application-autoscaling."
                                                        "amazonaws.com/AWSServiceRoleForApplicationAutoScaling_ECSService"),
            "CreationTime": t.creation_time,
            "SuspendedState": {"DynamicScalingInSuspended": s.dynamic_scaling_in_suspended,
                               "DynamicScalingOutSuspended": s.dynamic_scaling_out_suspended,
                               "ScheduledScalingSuspended": s.scheduled_scaling_suspended},
            "ScalableTargetARN": _arn(ctx, "application-autoscaling",
                                      f"scalable-target/ecs/{t.cluster}/{t.service}")}


def policy_arn(ctx: ApiContext, p: sc.ScalingPolicy) -> str:
    return _arn(ctx, "autoscaling", f"scalingPolicy:shoal:resource/ecs/{p.resource_id}:policyName/{p.policy_name}")


def _alarms(ctx: ApiContext, p: sc.ScalingPolicy) -> list[Body]:
    # Shoal's step alarm is a PromQL expression kept with the policy; named here so a client
    # sees the policy has one. Target tracking needs none.
    if p.policy_type != "StepScaling":
        return []
    name = f"shoal-{p.cluster}-{p.service}-{p.policy_name}"
    return [{"AlarmName": name, "AlarmARN": _arn(ctx, "cloudwatch", f"alarm:{name}")}]


def policy_out(ctx: ApiContext, p: sc.ScalingPolicy) -> Body:
    out: Body = {"PolicyARN": policy_arn(ctx, p), "PolicyName": p.policy_name, **_resource(p.cluster, p.service),
                 "PolicyType": p.policy_type, "Alarms": _alarms(ctx, p), "CreationTime": p.creation_time}
    if p.policy_type == "TargetTrackingScaling":
        tt = p.target_tracking
        cfg: Body = {"TargetValue": tt.target_value, "ScaleOutCooldown": tt.scale_out_cooldown,
                     "ScaleInCooldown": tt.scale_in_cooldown, "DisableScaleIn": tt.disable_scale_in}
        if tt.predefined_metric_type:
            spec: Body = {"PredefinedMetricType": tt.predefined_metric_type}
            if tt.resource_label:
                spec["ResourceLabel"] = tt.resource_label
            cfg["PredefinedMetricSpecification"] = spec
        else:
            # A PromQL metric made with `shoal scaling`: shown in the customized shape's words.
            cfg["CustomizedMetricSpecification"] = {
                "MetricName": "promql", "Namespace": "Shoal/PromQL", "Statistic": "Average",
                "Dimensions": [{"Name": "expression", "Value": tt.custom_promql}]}
        out["TargetTrackingScalingPolicyConfiguration"] = cfg
    else:
        st = p.step_scaling
        steps = []
        for s in st.step_adjustments:
            step: Body = {"ScalingAdjustment": s.scaling_adjustment}
            if s.HasField("metric_interval_lower_bound"):
                step["MetricIntervalLowerBound"] = s.metric_interval_lower_bound
            if s.HasField("metric_interval_upper_bound"):
                step["MetricIntervalUpperBound"] = s.metric_interval_upper_bound
            steps.append(step)
        cfg = {"AdjustmentType": st.adjustment_type, "StepAdjustments": steps, "Cooldown": st.cooldown,
               "MetricAggregationType": "Average"}
        if st.min_adjustment_magnitude:
            cfg["MinAdjustmentMagnitude"] = st.min_adjustment_magnitude
        out["StepScalingPolicyConfiguration"] = cfg
    return out


def scheduled_out(ctx: ApiContext, a: sc.ScheduledAction) -> Body:
    action: Body = {}
    if a.scalable_target_action.HasField("min_capacity"):
        action["MinCapacity"] = a.scalable_target_action.min_capacity
    if a.scalable_target_action.HasField("max_capacity"):
        action["MaxCapacity"] = a.scalable_target_action.max_capacity
    out: Body = {"ScheduledActionName": a.scheduled_action_name, **_resource(a.cluster, a.service),
                 "ScheduledActionARN": _arn(ctx, "autoscaling", f"scheduledAction:shoal:resource/ecs/{a.resource_id}"
                                                                f":scheduledActionName/{a.scheduled_action_name}"),
                 "Schedule": a.schedule, "Timezone": a.timezone or "UTC", "ScalableTargetAction": action,
                 "CreationTime": a.creation_time}
    if a.start_time:
        out["StartTime"] = a.start_time
    if a.end_time:
        out["EndTime"] = a.end_time
    return out


def activity_out(a: sc.ScalingActivity) -> Body:
    out: Body = {"ActivityId": a.activity_id, "ServiceNamespace": NAMESPACE, "ResourceId": a.resource_id,
                 "ScalableDimension": api.DIMENSION, "Description": a.description, "Cause": a.cause,
                 "StartTime": a.start_time, "StatusCode": a.status_code or "Successful"}
    if a.end_time:
        out["EndTime"] = a.end_time
    if a.status_message:
        out["StatusMessage"] = a.status_message
    if a.metrics:
        out["Details"] = ", ".join(f"{k}={v:g}" for k, v in sorted(a.metrics.items()))
    return out


# ---- scalable targets ---------------------------------------------------------------------------

_TARGET = {"ServiceNamespace", "ResourceId", "ScalableDimension"}


def register_scalable_target(ctx: ApiContext, body: Body) -> Body:
    _only(body, _TARGET | {"MinCapacity", "MaxCapacity", "RoleARN", "SuspendedState"})
    cluster, service = _target_ref(body)
    req = sc.RegisterScalableTargetRequest(cluster=cluster, service=service)
    for field, attr in (("MinCapacity", "min_capacity"), ("MaxCapacity", "max_capacity")):
        value = fields.integer(body, field, invalid)
        if value is not None:
            setattr(req, attr, value)
    if "RoleARN" in body:
        req.role_arn = _string(body, "RoleARN")
    suspended = body.get("SuspendedState")
    if suspended is not None:
        if not isinstance(suspended, dict):
            raise invalid("SuspendedState: an object")
        words = {"DynamicScalingInSuspended": "dynamic_scaling_in_suspended",
                 "DynamicScalingOutSuspended": "dynamic_scaling_out_suspended",
                 "ScheduledScalingSuspended": "scheduled_scaling_suspended"}
        _only(suspended, set(words), "SuspendedState")
        for field, attr in words.items():
            setattr(req.suspended_state, attr, fields.boolean(suspended, field, invalid, where="SuspendedState"))
    target = api.register_target(ctx, req).scalable_target
    return {"ScalableTargetARN": target_out(ctx, target)["ScalableTargetARN"]}


def describe_scalable_targets(ctx: ApiContext, body: Body) -> Body:
    _only(body, {"ServiceNamespace", "ResourceIds", "ScalableDimension", "MaxResults", "NextToken"})
    _namespace(body)
    _dimension(body, required=False)
    refs = [parse_resource(r, f"ResourceIds[{i}]") for i, r in enumerate(_names(body, "ResourceIds"))]
    targets: list[sc.ScalableTarget] = []
    if not refs:
        targets = list(api.describe_targets(ctx, sc.DescribeScalableTargetsRequest()).scalable_targets)
    for cluster, service in refs:
        if ctx.state.cluster(cluster) is None:
            continue  # AWS answers an unknown resource with nothing, not an error
        found = api.describe_targets(ctx, sc.DescribeScalableTargetsRequest(cluster=cluster, services=[service]))
        targets.extend(found.scalable_targets)
    return _page(body, [target_out(ctx, t) for t in targets], "ScalableTargets")


def deregister_scalable_target(ctx: ApiContext, body: Body) -> Body:
    _only(body, _TARGET)
    cluster, service = _target_ref(body)
    api.deregister_target(ctx, sc.ScalableTargetRef(cluster=cluster, service=service))
    return {}


# ---- scaling policies -------------------------------------------------------------------------------

_TT = "TargetTrackingScalingPolicyConfiguration"
_STEP = "StepScalingPolicyConfiguration"


def _object(body: Body, field: str) -> Body:
    value = body.get(field)
    if not isinstance(value, dict):
        raise invalid(f"{field}: required, an object")
    return value


def target_tracking(body: Body) -> sc.TargetTrackingConfiguration:
    cfg = _object(body, _TT)
    _only(cfg, {"TargetValue", "PredefinedMetricSpecification", "CustomizedMetricSpecification", "ScaleOutCooldown",
                "ScaleInCooldown", "DisableScaleIn"}, _TT)
    if "CustomizedMetricSpecification" in cfg:
        raise invalid(f"{_TT}.CustomizedMetricSpecification: CloudWatch metrics are not served by Shoal; use a "
                      "PredefinedMetricSpecification (ECSServiceAverageCPUUtilization, "
                      "ECSServiceAverageMemoryUtilization, ALBRequestCountPerTarget) or a PromQL metric with "
                      "`shoal scaling policy put-tracking --promql`")
    target = fields.number(cfg, "TargetValue", invalid, required=True, where=_TT)
    tt = sc.TargetTrackingConfiguration(target_value=target)
    spec = cfg.get("PredefinedMetricSpecification")
    if not isinstance(spec, dict):
        raise invalid(f"{_TT}.PredefinedMetricSpecification: required, an object")
    where = f"{_TT}.PredefinedMetricSpecification"
    _only(spec, {"PredefinedMetricType", "ResourceLabel"}, where)
    tt.predefined_metric_type = _string(spec, "PredefinedMetricType", where=where)
    if "ResourceLabel" in spec:
        tt.resource_label = _string(spec, "ResourceLabel", where=where)
    # Application Auto Scaling's defaults when a cooldown is not given (ECS: 300 s each way).
    for field, attr in (("ScaleOutCooldown", "scale_out_cooldown"), ("ScaleInCooldown", "scale_in_cooldown")):
        value = fields.integer(cfg, field, invalid, where=_TT)
        setattr(tt, attr, 300 if value is None else value)
    tt.disable_scale_in = fields.boolean(cfg, "DisableScaleIn", invalid, where=_TT)
    return tt


def step_scaling(ctx: ApiContext, body: Body, cluster: str, service: str, name: str) -> sc.StepScalingConfiguration:
    cfg = _object(body, _STEP)
    _only(cfg, {"AdjustmentType", "StepAdjustments", "MinAdjustmentMagnitude", "Cooldown", "MetricAggregationType"},
          _STEP)
    if cfg.get("MetricAggregationType", "Average") != "Average":
        raise invalid(f"{_STEP}.MetricAggregationType: only Average (Shoal's alarm is one PromQL value)")
    existing = ctx.state.cluster(cluster) and api.describe_policies(ctx, sc.DescribeScalingPoliciesRequest(
        cluster=cluster, service=service, policy_names=[name])).policies
    if not existing or existing[0].policy_type != "StepScaling":
        raise invalid(f"{_STEP}: a step policy's alarm is a PromQL expression Shoal keeps with the policy "
                      "(CloudWatch's PutMetricAlarm is not served); create it with `shoal scaling policy put-step "
                      f"--name {name} --promql ...`, after which this call updates its steps")
    st = sc.StepScalingConfiguration(alarm=existing[0].step_scaling.alarm,
                                     adjustment_type=_string(cfg, "AdjustmentType", where=_STEP))
    steps = cfg.get("StepAdjustments")
    if not isinstance(steps, list):
        raise invalid(f"{_STEP}.StepAdjustments: required, a list")
    for i, s in enumerate(steps):
        where = f"{_STEP}.StepAdjustments[{i}]"
        _only(s, {"MetricIntervalLowerBound", "MetricIntervalUpperBound", "ScalingAdjustment"}, where)
        fields.required(s, "ScalingAdjustment", invalid, where=where)
        adj = fields.integer(s, "ScalingAdjustment", invalid, where=where)
        step = st.step_adjustments.add(scaling_adjustment=adj)
        lo, hi = (fields.number(s, bound, invalid, where=where)
                  for bound in ("MetricIntervalLowerBound", "MetricIntervalUpperBound"))
        if lo is not None:
            step.metric_interval_lower_bound = lo
        if hi is not None:
            step.metric_interval_upper_bound = hi
    st.min_adjustment_magnitude = fields.integer(cfg, "MinAdjustmentMagnitude", invalid, where=_STEP) or 0
    st.cooldown = fields.integer(cfg, "Cooldown", invalid, where=_STEP) or 0
    return st


def put_scaling_policy(ctx: ApiContext, body: Body) -> Body:
    _only(body, _TARGET | {"PolicyName", "PolicyType", _STEP, _TT, "PredictiveScalingPolicyConfiguration"})
    cluster, service = _target_ref(body)
    name = _string(body, "PolicyName")
    kind = body.get("PolicyType", "StepScaling")  # AWS's default when none is given
    req = sc.PutScalingPolicyRequest(cluster=cluster, service=service, policy_name=name, policy_type=kind)
    if kind == "TargetTrackingScaling":
        if _STEP in body:
            raise invalid(f"{_STEP}: not valid for a TargetTrackingScaling policy")
        req.target_tracking.CopyFrom(target_tracking(body))
    elif kind == "StepScaling":
        if _TT in body:
            raise invalid(f"{_TT}: not valid for a StepScaling policy")
        req.step_scaling.CopyFrom(step_scaling(ctx, body, cluster, service, name))
    else:
        raise invalid(f"PolicyType: TargetTrackingScaling or StepScaling (PredictiveScaling is not served by "
                      f"Shoal), not {str(kind)[:64]!r}")
    policy = api.put_policy(ctx, req).policy
    return {"PolicyARN": policy_arn(ctx, policy), "Alarms": _alarms(ctx, policy)}


def _scoped(ctx: ApiContext, body: Body, names_field: str) -> tuple[list[str], str, str] | None:
    """A Describe's checked names and its ResourceId's (cluster, service), both empty when it
    names none; None when that cluster does not exist (nothing to describe: an empty list)."""
    _namespace(body)
    _dimension(body, required=False)
    names = _names(body, names_field)
    if "ResourceId" not in body:
        return names, "", ""
    cluster, service = parse_resource(body["ResourceId"])
    return (names, cluster, service) if ctx.state.cluster(cluster) is not None else None


def _describe(ctx: ApiContext, body: Body, names_field: str, list_field: str,
              find: Callable[[list[str], str, str], Iterable[Any]], out: Callable[[ApiContext, Any], Body]) -> Body:
    """A Describe of records named in ``names_field`` within an optional ResourceId: ``find``
    (names, cluster, service) reads them, ``out`` shapes each for the page of ``list_field``."""
    _only(body, {names_field, "ServiceNamespace", "ResourceId", "ScalableDimension", "MaxResults", "NextToken"})
    scope = _scoped(ctx, body, names_field)
    if scope is None:
        return {list_field: []}
    return _page(body, [out(ctx, x) for x in find(*scope)], list_field)


def describe_scaling_policies(ctx: ApiContext, body: Body) -> Body:
    return _describe(ctx, body, "PolicyNames", "ScalingPolicies", lambda names, cluster, service: api.describe_policies(
        ctx, sc.DescribeScalingPoliciesRequest(policy_names=names, cluster=cluster, service=service)).policies,
        policy_out)


def delete_scaling_policy(ctx: ApiContext, body: Body) -> Body:
    _only(body, _TARGET | {"PolicyName"})
    cluster, service = _target_ref(body)
    api.delete_policy(ctx, sc.DeleteScalingPolicyRequest(cluster=cluster, service=service,
                                                         policy_name=_string(body, "PolicyName")))
    return {}


# ---- scheduled actions ---------------------------------------------------------------------------

def put_scheduled_action(ctx: ApiContext, body: Body) -> Body:
    _only(body, _TARGET | {"Schedule", "Timezone", "ScheduledActionName", "StartTime", "EndTime",
                           "ScalableTargetAction"})
    cluster, service = _target_ref(body)
    req = sc.PutScheduledActionRequest(cluster=cluster, service=service,
                                       scheduled_action_name=_string(body, "ScheduledActionName"),
                                       schedule=_string(body, "Schedule"), timezone=_string(body, "Timezone", False),
                                       start_time=fields.number(body, "StartTime", invalid) or 0,
                                       end_time=fields.number(body, "EndTime", invalid) or 0)
    action = body.get("ScalableTargetAction")
    if not isinstance(action, dict):
        raise invalid("ScalableTargetAction: required, an object with MinCapacity and/or MaxCapacity")
    _only(action, {"MinCapacity", "MaxCapacity"}, "ScalableTargetAction")
    for field, attr in (("MinCapacity", "min_capacity"), ("MaxCapacity", "max_capacity")):
        value = fields.integer(action, field, invalid, where="ScalableTargetAction")
        if value is not None:
            setattr(req.scalable_target_action, attr, value)
    api.put_scheduled(ctx, req)
    return {}


def describe_scheduled_actions(ctx: ApiContext, body: Body) -> Body:
    return _describe(
        ctx, body, "ScheduledActionNames", "ScheduledActions", lambda names, cluster, service: api.describe_scheduled(
            ctx, sc.DescribeScheduledActionsRequest(scheduled_action_names=names, cluster=cluster,
                                                    service=service)).scheduled_actions,
        scheduled_out)


def delete_scheduled_action(ctx: ApiContext, body: Body) -> Body:
    _only(body, _TARGET | {"ScheduledActionName"})
    cluster, service = _target_ref(body)
    api.delete_scheduled(ctx, sc.DeleteScheduledActionRequest(
        cluster=cluster, service=service, scheduled_action_name=_string(body, "ScheduledActionName")))
    return {}


# ---- scaling activities ----------------------------------------------------------------------------

def describe_scaling_activities(ctx: ApiContext, body: Body) -> Body:
    _only(body, {"ServiceNamespace", "ResourceId", "ScalableDimension", "MaxResults", "NextToken",
                 "IncludeNotScaledActivities"})
    _namespace(body)
    _dimension(body, required=False)
    # Shoal records only the changes it made: there are no not-scaled activities to include.
    fields.boolean(body, "IncludeNotScaledActivities", invalid)
    if "ResourceId" in body:
        cluster, service = parse_resource(body["ResourceId"])
        clusters, wanted = ([cluster] if ctx.state.cluster(cluster) else []), service
    else:
        clusters, wanted = [c.msg.cluster_name for c in ctx.state.clusters()], ""
    found: list[sc.ScalingActivity] = []
    for cluster in clusters:
        resp = api.describe_activities(ctx, sc.DescribeScalingActivitiesRequest(
            cluster=cluster, service=wanted, max_results=api.MAX_ACTIVITIES_PER_CLUSTER))
        # Capacity providers' activities are not ECS service activities.
        found.extend(a for a in resp.activities if a.service)
    found.sort(key=lambda a: -a.start_time)
    return _page(body, [activity_out(a) for a in found], "ScalingActivities")


# Each operation with the Scaling method whose permission it needs (the same name).
OPERATIONS = {
    "RegisterScalableTarget": register_scalable_target,
    "DescribeScalableTargets": describe_scalable_targets,
    "DeregisterScalableTarget": deregister_scalable_target,
    "PutScalingPolicy": put_scaling_policy,
    "DescribeScalingPolicies": describe_scaling_policies,
    "DeleteScalingPolicy": delete_scaling_policy,
    "PutScheduledAction": put_scheduled_action,
    "DescribeScheduledActions": describe_scheduled_actions,
    "DeleteScheduledAction": delete_scheduled_action,
    "DescribeScalingActivities": describe_scaling_activities,
}

# Served again when a signature is seen again (sigv4.verify); the rest are writes to it.
READS = frozenset({"DescribeScalableTargets", "DescribeScalingPolicies", "DescribeScheduledActions",
                   "DescribeScalingActivities"})
_IS_READ = sigv4.reads_by_target(TARGET_PREFIX, READS)


def wire_error(exc: BaseException, name: str) -> EcsError:
    """An error in Application Auto Scaling's words: its own codes are ValidationException,
    ObjectNotFoundException, ConcurrentUpdateException and the like; ECS's missing cluster or
    service is a ValidationException there."""
    if isinstance(exc, ApiError) and exc.ecs_type not in ("ObjectNotFoundException", "AccessDeniedException"):
        return invalid(exc.message)
    err = to_ecs_error(exc, name)
    if err.ecs_type == "InvalidParameterException":
        return invalid(err.message)
    if err.ecs_type == "ServerException":
        return EcsError("InternalServiceException", err.message, err.status)
    return err


def handle(ctx: ApiContext, req: sigv4.Request, replays: ReplayCache | None = None) -> tuple[int, dict, str]:
    """One Application Auto Scaling request: (HTTP status, JSON body, operation or "-")."""
    return beside.handle(ctx, req, replays, signing_name=SIGNING_NAME, is_read=_IS_READ,
                         title="Application Auto Scaling", operations=OPERATIONS,
                         method_of=lambda name: _SCALING + name,
                         run=lambda name, who, body: OPERATIONS[name](ctx, body), wire_error=wire_error)

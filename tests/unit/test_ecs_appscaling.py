"""The gateway's Application Auto Scaling subset in-process on an in-memory store, driven by
boto3's ``application-autoscaling`` client: each operation mapped onto the Scaling API's
records (read back through that API, not through the gateway), every response checked
against botocore's model, and bad input refused with a ValidationException naming the field."""

from __future__ import annotations

import re
from pathlib import Path

import boto3
import botocore.session
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from controlplane.api import accesskeys
from controlplane.api import scaling as api
from controlplane.ecs import appscaling, sigv4
from controlplane.ecs.errors import EcsError
from shoal import keys
from shoal.v1 import accesskeys_pb2 as ak
from shoal.v1 import resources_pb2 as r
from shoal.v1 import scaling_pb2 as sc
from tests.appscaling_model import validate_every_response
from tests.unit.test_ecs_api import gateway  # noqa: F401 (the in-process gateway fixture)

README = Path(__file__).resolve().parents[2] / "README.md"
RID = "service/default/web"
DIM = "ecs:service:DesiredCount"
TARGET = {"ServiceNamespace": "ecs", "ResourceId": RID, "ScalableDimension": DIM}
CPU = {"TargetValue": 50.0,
       "PredefinedMetricSpecification": {"PredefinedMetricType": "ECSServiceAverageCPUUtilization"},
       "ScaleOutCooldown": 30, "ScaleInCooldown": 120}


def client(gw, role: str):
    ctx, server = gw
    key = accesskeys.create(ctx, ak.CreateAccessKeyRequest(description="unit", user=role + "-user", role=role))
    c = boto3.client("application-autoscaling", endpoint_url=server.url, region_name="us-east-1",
                     verify=server.ca_path, aws_access_key_id=key.access_key_id,
                     aws_secret_access_key=key.secret_access_key,
                     config=Config(retries={"max_attempts": 6, "mode": "standard"}))
    c.seen = validate_every_response(c)
    return c


@pytest.fixture
def aas(gateway):  # noqa: F811 (the imported fixture)
    ctx, _ = gateway
    ctx.store.put(keys.service("default", "web"), r.Service(service_name="web", cluster="default", status="ACTIVE",
                                                            desired_count=2).SerializeToString())
    return ctx, client(gateway, "admin")


def refused(call, code: str, *words: str, **kw) -> str:
    with pytest.raises(ClientError) as err:
        call(**kw)
    assert err.value.response["Error"]["Code"] == code, err.value.response
    message = err.value.response["Error"]["Message"]
    for w in words:
        assert w in message, message
    return message


def test_target_register_describe_deregister_are_the_scaling_apis_records(aas) -> None:
    ctx, c = aas
    arn = c.register_scalable_target(**TARGET, MinCapacity=1, MaxCapacity=4,
                                     RoleARN="arn:aws:iam::123:role/ecsAutoscaleRole")["ScalableTargetARN"]
    stored = api.describe_targets(ctx, sc.DescribeScalableTargetsRequest()).scalable_targets
    assert [(t.service, t.min_capacity, t.max_capacity, t.role_arn) for t in stored] == [
        ("web", 1, 4, "arn:aws:iam::123:role/ecsAutoscaleRole")]
    # An update changes only what it gives, as in Application Auto Scaling.
    c.register_scalable_target(**TARGET, MaxCapacity=6, SuspendedState={"DynamicScalingInSuspended": True})
    got = c.describe_scalable_targets(ServiceNamespace="ecs", ResourceIds=[RID])["ScalableTargets"]
    assert [(t["ResourceId"], t["MinCapacity"], t["MaxCapacity"], t["ScalableTargetARN"]) for t in got] == [
        (RID, 1, 6, arn)]
    assert got[0]["SuspendedState"]["DynamicScalingInSuspended"] is True
    assert c.describe_scalable_targets(ServiceNamespace="ecs", ResourceIds=["service/nope/web"])[
        "ScalableTargets"] == []
    c.deregister_scalable_target(**TARGET)
    assert not api.describe_targets(ctx, sc.DescribeScalableTargetsRequest()).scalable_targets
    refused(c.deregister_scalable_target, "ObjectNotFoundException", RID, **TARGET)
    assert set(c.seen) >= {"RegisterScalableTarget", "DescribeScalableTargets", "DeregisterScalableTarget"}


def test_other_namespaces_dimensions_and_resources_are_refused_by_field(aas) -> None:
    _, c = aas
    refused(c.register_scalable_target, "ValidationException", "ServiceNamespace", "dynamodb",
            ServiceNamespace="dynamodb", ResourceId="table/t", ScalableDimension="dynamodb:table:ReadCapacityUnits",
            MinCapacity=1, MaxCapacity=2)
    refused(c.register_scalable_target, "ValidationException", "ScalableDimension",
            ServiceNamespace="ecs", ResourceId=RID, ScalableDimension="dynamodb:table:ReadCapacityUnits",
            MinCapacity=1, MaxCapacity=2)
    for bad in ("cluster/default", "service/default", "service//web", "service/default/web/x"):
        refused(c.register_scalable_target, "ValidationException", "ResourceId",
                ServiceNamespace="ecs", ResourceId=bad, ScalableDimension=DIM, MinCapacity=1, MaxCapacity=2)
    refused(c.register_scalable_target, "ValidationException", "service 'gone'",
            ServiceNamespace="ecs", ResourceId="service/default/gone", ScalableDimension=DIM,
            MinCapacity=1, MaxCapacity=2)
    refused(c.register_scalable_target, "ValidationException", "minCapacity", **TARGET, MinCapacity=5, MaxCapacity=2)
    refused(c.register_scalable_target, "ValidationException", "Tags", **TARGET, MinCapacity=1, MaxCapacity=2,
            Tags={"team": "a"})
    refused(c.describe_scalable_targets, "ValidationException", "ServiceNamespace", ServiceNamespace="ec2")
    refused(c.register_scalable_target, "ValidationException", "roleARN", **TARGET, MinCapacity=1, MaxCapacity=2,
            RoleARN="arn:aws:iam::1:role/" + "r" * 1600)


def test_target_tracking_policy_round_trip_and_refusals(aas) -> None:
    ctx, c = aas
    refused(c.put_scaling_policy, "ObjectNotFoundException", "register it first", **TARGET, PolicyName="cpu",
            PolicyType="TargetTrackingScaling", TargetTrackingScalingPolicyConfiguration=CPU)
    c.register_scalable_target(**TARGET, MinCapacity=1, MaxCapacity=4)
    out = c.put_scaling_policy(**TARGET, PolicyName="cpu", PolicyType="TargetTrackingScaling",
                               TargetTrackingScalingPolicyConfiguration=CPU)
    assert out["PolicyARN"].endswith(f"resource/ecs/{RID}:policyName/cpu") and out["Alarms"] == []
    stored = api.describe_policies(ctx, sc.DescribeScalingPoliciesRequest()).policies
    assert [(p.policy_name, p.policy_type, p.target_tracking.predefined_metric_type, p.target_tracking.target_value,
             p.target_tracking.scale_out_cooldown, p.target_tracking.scale_in_cooldown) for p in stored] == [
        ("cpu", "TargetTrackingScaling", "ECSServiceAverageCPUUtilization", 50.0, 30, 120)]
    got = c.describe_scaling_policies(ServiceNamespace="ecs", ResourceId=RID)["ScalingPolicies"]
    assert len(got) == 1 and got[0]["PolicyARN"] == out["PolicyARN"]
    assert got[0]["TargetTrackingScalingPolicyConfiguration"] == {**CPU, "DisableScaleIn": False}

    def put(cfg: dict, kind: str = "TargetTrackingScaling", **extra):
        return lambda: c.put_scaling_policy(**TARGET, PolicyName="p2", PolicyType=kind, **cfg, **extra)

    custom = {**CPU, "CustomizedMetricSpecification": {"MetricName": "m", "Namespace": "n", "Statistic": "Average"}}
    del custom["PredefinedMetricSpecification"]
    refused(put({"TargetTrackingScalingPolicyConfiguration": custom}), "ValidationException",
            "TargetTrackingScalingPolicyConfiguration.CustomizedMetricSpecification", "not served by Shoal")
    alb = {**CPU, "PredefinedMetricSpecification": {"PredefinedMetricType": "ALBRequestCountPerTarget",
                                                    "ResourceLabel": "app/lb/1/targetgroup/tg/2"}}
    refused(put({"TargetTrackingScalingPolicyConfiguration": alb}), "ValidationException", "needs a load balancer")
    bad_type = {**CPU, "PredefinedMetricSpecification": {"PredefinedMetricType": "RDSReaderAverageCPUUtilization"}}
    refused(put({"TargetTrackingScalingPolicyConfiguration": bad_type}), "ValidationException", "predefinedMetricType")
    refused(put({"TargetTrackingScalingPolicyConfiguration": {**CPU, "TargetValue": -1.0}}), "ValidationException",
            "targetValue")
    refused(put({"StepScalingPolicyConfiguration": {"AdjustmentType": "ChangeInCapacity"}}), "ValidationException",
            "StepScalingPolicyConfiguration", "TargetTracking")
    refused(put({"PredictiveScalingPolicyConfiguration": {"MetricSpecifications": []}}, "PredictiveScaling"),
            "ValidationException", "PredictiveScaling")
    # Nothing half-written: only the first policy is there.
    assert [p.policy_name for p in api.describe_policies(ctx, sc.DescribeScalingPoliciesRequest()).policies] == ["cpu"]
    c.delete_scaling_policy(**TARGET, PolicyName="cpu")
    refused(c.delete_scaling_policy, "ObjectNotFoundException", "cpu", **TARGET, PolicyName="cpu")
    assert not api.describe_policies(ctx, sc.DescribeScalingPoliciesRequest()).policies


def test_request_count_policy_keeps_its_resource_label(aas) -> None:
    ctx, c = aas
    svc = r.Service(service_name="web", cluster="default", status="ACTIVE", desired_count=2)
    svc.load_balancers.add(target_group_arn="arn:aws:elasticloadbalancing:local:0:targetgroup/tg/abc",
                           container_name="web", container_port=80)
    ctx.store.put(keys.service("default", "web"), svc.SerializeToString())
    c.register_scalable_target(**TARGET, MinCapacity=1, MaxCapacity=4)
    spec = {"PredefinedMetricType": "ALBRequestCountPerTarget", "ResourceLabel": "app/lb/1/targetgroup/tg/abc"}
    c.put_scaling_policy(**TARGET, PolicyName="rps", PolicyType="TargetTrackingScaling",
                         TargetTrackingScalingPolicyConfiguration={"TargetValue": 100.0,
                                                                   "PredefinedMetricSpecification": spec})
    (p,) = api.describe_policies(ctx, sc.DescribeScalingPoliciesRequest()).policies
    assert (p.target_tracking.predefined_metric_type, p.target_tracking.resource_label) == (
        "ALBRequestCountPerTarget", "app/lb/1/targetgroup/tg/abc")
    got = c.describe_scaling_policies(ServiceNamespace="ecs")["ScalingPolicies"][0]
    assert got["TargetTrackingScalingPolicyConfiguration"]["PredefinedMetricSpecification"] == spec


def test_step_scaling_updates_the_steps_of_a_shoal_step_policy_and_refuses_a_new_one(aas) -> None:
    ctx, c = aas
    c.register_scalable_target(**TARGET, MinCapacity=1, MaxCapacity=8)
    steps = {"AdjustmentType": "ChangeInCapacity", "Cooldown": 30,
             "StepAdjustments": [{"MetricIntervalLowerBound": 0.0, "MetricIntervalUpperBound": 10.0,
                                  "ScalingAdjustment": 1},
                                 {"MetricIntervalLowerBound": 10.0, "ScalingAdjustment": 3}]}
    refused(c.put_scaling_policy, "ValidationException", "StepScalingPolicyConfiguration", "shoal scaling policy",
            **TARGET, PolicyName="q", PolicyType="StepScaling", StepScalingPolicyConfiguration=steps)
    alarm = sc.Alarm(promql="sum(queue_depth)", comparison="GreaterThanThreshold", threshold=100, evaluation_periods=2)
    api.put_policy(ctx, sc.PutScalingPolicyRequest(
        cluster="default", service="web", policy_name="q", policy_type="StepScaling",
        step_scaling=sc.StepScalingConfiguration(alarm=alarm, adjustment_type="ChangeInCapacity",
                                                 step_adjustments=[sc.StepAdjustment(scaling_adjustment=1)])))
    out = c.put_scaling_policy(**TARGET, PolicyName="q", PolicyType="StepScaling",
                               StepScalingPolicyConfiguration=steps)
    assert [a["AlarmName"] for a in out["Alarms"]] == ["shoal-default-web-q"]
    (p,) = api.describe_policies(ctx, sc.DescribeScalingPoliciesRequest(policy_names=["q"])).policies
    assert p.step_scaling.alarm == alarm and p.step_scaling.cooldown == 30
    assert [(s.metric_interval_lower_bound, s.scaling_adjustment) for s in p.step_scaling.step_adjustments] == [
        (0.0, 1), (10.0, 3)]
    assert not p.step_scaling.step_adjustments[1].HasField("metric_interval_upper_bound")
    got = c.describe_scaling_policies(ServiceNamespace="ecs", PolicyNames=["q"])["ScalingPolicies"][0]
    assert got["StepScalingPolicyConfiguration"]["StepAdjustments"] == steps["StepAdjustments"]
    overlapping = {**steps, "StepAdjustments": [{"MetricIntervalLowerBound": 0.0, "ScalingAdjustment": 1},
                                                {"MetricIntervalLowerBound": 5.0, "ScalingAdjustment": 2}]}
    refused(c.put_scaling_policy, "ValidationException", "overlaps", **TARGET, PolicyName="q",
            PolicyType="StepScaling", StepScalingPolicyConfiguration=overlapping)
    (kept,) = api.describe_policies(ctx, sc.DescribeScalingPoliciesRequest(policy_names=["q"])).policies
    assert kept == p


def test_scheduled_actions_and_activities(aas) -> None:
    ctx, c = aas
    c.register_scalable_target(**TARGET, MinCapacity=1, MaxCapacity=8)
    c.put_scheduled_action(**TARGET, ScheduledActionName="morning", Schedule="cron(0 8 ? * MON-FRI *)",
                           Timezone="Europe/Paris", ScalableTargetAction={"MinCapacity": 3, "MaxCapacity": 8})
    (a,) = api.describe_scheduled(ctx, sc.DescribeScheduledActionsRequest()).scheduled_actions
    assert (a.schedule, a.timezone, a.scalable_target_action.min_capacity) == (
        "cron(0 8 ? * MON-FRI *)", "Europe/Paris", 3)
    got = c.describe_scheduled_actions(ServiceNamespace="ecs", ResourceId=RID)["ScheduledActions"]
    assert [(x["ScheduledActionName"], x["ScalableTargetAction"]) for x in got] == [
        ("morning", {"MinCapacity": 3, "MaxCapacity": 8})]
    refused(c.put_scheduled_action, "ValidationException", "schedule", **TARGET, ScheduledActionName="bad",
            Schedule="every day", ScalableTargetAction={"MinCapacity": 1})
    refused(c.put_scheduled_action, "ValidationException", "ScalableTargetAction", **TARGET,
            ScheduledActionName="bad", Schedule="rate(5 minutes)")
    c.delete_scheduled_action(**TARGET, ScheduledActionName="morning")
    assert not api.describe_scheduled(ctx, sc.DescribeScheduledActionsRequest()).scheduled_actions

    for n in range(3):
        api.record_activity(ctx, sc.RecordScalingActivityRequest(activity=sc.ScalingActivity(
            cluster="default", service="web", resource_id=RID, description=f"step {n}", cause="test",
            from_capacity=n, to_capacity=n + 1, status_code="Successful", start_time=1000.0 + n,
            metrics={"cpu": 90.0})))
    first = c.describe_scaling_activities(ServiceNamespace="ecs", ResourceId=RID, MaxResults=2)
    assert [x["Description"] for x in first["ScalingActivities"]] == ["step 2", "step 1"]
    rest = c.describe_scaling_activities(ServiceNamespace="ecs", ResourceId=RID, MaxResults=2,
                                         NextToken=first["NextToken"])
    assert [x["Description"] for x in rest["ScalingActivities"]] == ["step 0"] and "NextToken" not in rest
    assert first["ScalingActivities"][0]["Details"] == "cpu=90"
    refused(c.describe_scaling_activities, "ValidationException", "NextToken", ServiceNamespace="ecs",
            NextToken="zz")
    assert {"PutScheduledAction", "DescribeScheduledActions", "DeleteScheduledAction",
            "DescribeScalingActivities"} <= set(c.seen)


def test_a_viewer_may_describe_but_not_change(gateway) -> None:  # noqa: F811
    viewer = client(gateway, "viewer")
    assert viewer.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"] == []
    refused(viewer.register_scalable_target, "AccessDeniedException", "RegisterScalableTarget",
            **TARGET, MinCapacity=1, MaxCapacity=2)


def _signed(ctx, service: str, key: ak.AccessKey) -> sigv4.Request:
    req = AWSRequest(method="POST", url="http://127.0.0.1:7480/", data=b'{"ServiceNamespace": "ecs"}',
                     headers={"X-Amz-Target": "AnyScaleFrontendService.DescribeScalableTargets",
                              "Content-Type": "application/x-amz-json-1.1"})
    SigV4Auth(Credentials(key.access_key_id, key.secret_access_key), service, "us-east-1").add_auth(req)
    headers = {name.lower(): [value] for name, value in req.headers.items()}
    headers["host"] = ["127.0.0.1:7480"]
    return sigv4.Request("POST", "/", "", headers, req.body)


def test_only_a_signature_scoped_to_application_autoscaling_is_accepted(gateway) -> None:  # noqa: F811
    ctx, _ = gateway
    key = accesskeys.create(ctx, ak.CreateAccessKeyRequest(description="unit", user="a", role="admin"))
    # A signature made for ECS (or ECR) with the same key cannot be replayed here.
    for other in ("ecs", "ecr"):
        status, body, _ = appscaling.handle(ctx, _signed(ctx, other, key))
        assert (status, body["__type"]) == (400, "InvalidSignatureException"), body
        assert "'application-autoscaling'" in body["message"]
    status, body, name = appscaling.handle(ctx, _signed(ctx, "application-autoscaling", key))
    assert (status, body, name) == (200, {"ScalableTargets": []}, "DescribeScalableTargets")


def test_parse_resource_and_error_words() -> None:
    assert appscaling.parse_resource("service/c1/web") == ("c1", "web")
    with pytest.raises(EcsError) as err:
        appscaling.parse_resource("service/c1", "ResourceIds[0]")
    assert err.value.ecs_type == "ValidationException" and err.value.message.startswith("ResourceIds[0]")
    bug = appscaling.wire_error(KeyError("internals"), "PutScalingPolicy")
    assert (bug.status, bug.ecs_type) == (500, "InternalServiceException") and "internals" not in bug.message


def test_readme_lists_exactly_the_application_auto_scaling_operations_served() -> None:
    text = " ".join(README.read_text().split())
    found = re.search(r"\*\*Application Auto Scaling operations served: (\d+)\*\* — ([^.]+)\.", text)
    assert found, "README has no 'Application Auto Scaling operations served: N' line"
    names = [n.strip() for n in found[2].split(",")]
    model = set(botocore.session.get_session().get_service_model("application-autoscaling").operation_names)
    assert sorted(set(names) - model) == []
    assert sorted(names) == sorted(appscaling.OPERATIONS) and int(found[1]) == len(names)


def test_an_operation_not_served_is_named_as_not_supported(aas) -> None:
    _, c = aas
    refused(c.list_tags_for_resource, "UnknownOperationException", "ListTagsForResource", "not supported by Shoal",
            ResourceARN="arn:aws:application-autoscaling:us-east-1:0:scalable-target/x")

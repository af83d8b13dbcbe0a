"""The Scaling API handlers on the in-memory store: what is stored where, and that bad
input is refused with a message naming the field."""

from __future__ import annotations

import pytest

from controlplane.api import scaling as api
from controlplane.api.context import ApiContext
from controlplane.errors import ApiError
from shoal import keys
from shoal.store.memory import MemoryStore
from shoal.v1 import resources_pb2 as r
from shoal.v1 import scaling_pb2 as sc


@pytest.fixture
def ctx():
    store = MemoryStore()
    c = ApiContext(store)
    c.ensure_default_cluster()
    store.put(keys.service("default", "web"), r.Service(service_name="web", cluster="default", status="ACTIVE",
                                                        desired_count=2).SerializeToString())
    yield c
    store.close()


def register(ctx, lo=1, hi=5):
    return api.register_target(ctx, sc.RegisterScalableTargetRequest(cluster="default", service="web",
                                                                     min_capacity=lo, max_capacity=hi))


def fails(fn, *args, match: str) -> str:
    with pytest.raises(ApiError) as err:
        fn(*args)
    assert match in err.value.message, err.value.message
    return err.value.message


def tracking(**kw) -> sc.PutScalingPolicyRequest:
    tt = dict(target_value=50, predefined_metric_type="ECSServiceAverageCPUUtilization")
    tt.update(kw)
    return sc.PutScalingPolicyRequest(cluster="default", service="web", policy_name="cpu",
                                      policy_type="TargetTrackingScaling",
                                      target_tracking=sc.TargetTrackingConfiguration(**tt))


def test_target_register_update_describe_deregister(ctx):
    t = register(ctx).scalable_target
    assert (t.resource_id, t.scalable_dimension, t.min_capacity, t.max_capacity) == (
        "service/default/web", "ecs:service:DesiredCount", 1, 5)
    t = api.register_target(ctx, sc.RegisterScalableTargetRequest(cluster="default", service="web", max_capacity=9))
    assert (t.scalable_target.min_capacity, t.scalable_target.max_capacity) == (1, 9)
    api.put_policy(ctx, tracking())
    resp = api.describe_targets(ctx, sc.DescribeScalableTargetsRequest())
    assert [x.service for x in resp.scalable_targets] == ["web"]
    api.deregister_target(ctx, sc.ScalableTargetRef(cluster="default", service="web"))
    assert not api.describe_policies(ctx, sc.DescribeScalingPoliciesRequest()).policies  # went with it


def test_target_validation(ctx):
    fails(api.register_target, ctx, sc.RegisterScalableTargetRequest(cluster="default", service="web"),
          match="minCapacity/maxCapacity: both are required")
    fails(register, ctx, 5, 1, match="minCapacity: 5 is above maxCapacity 1")
    fails(register, ctx, -1, 1, match="minCapacity: must be between 0")
    fails(api.register_target, ctx, sc.RegisterScalableTargetRequest(cluster="default", service="nope",
                                                                     min_capacity=1, max_capacity=2),
          match="service: service 'nope' not found")
    fails(api.register_target, ctx, sc.RegisterScalableTargetRequest(cluster="mars", service="web"),
          match="cluster")


def test_policy_needs_a_target_and_valid_config(ctx):
    fails(api.put_policy, ctx, tracking(), match="not a registered scalable target")
    register(ctx)
    fails(api.put_policy, ctx, tracking(target_value=0), match="targetValue: must be a positive")
    fails(api.put_policy, ctx, tracking(predefined_metric_type="CPU"), match="predefinedMetricType: must be one of")
    fails(api.put_policy, ctx, tracking(predefined_metric_type="", custom_promql="sum(rate(x[1m])"),
          match="customPromql: unclosed '('")
    fails(api.put_policy, ctx, tracking(predefined_metric_type="", custom_promql='up{job="x}'),
          match="customPromql: unterminated string")
    fails(api.put_policy, ctx, tracking(predefined_metric_type="", custom_promql="x" * 5000),
          match="customPromql: at most 4096")
    fails(api.put_policy, ctx, tracking(custom_promql="up"), match="not both")
    fails(api.put_policy, ctx, tracking(scale_in_cooldown=-1), match="scaleInCooldown")
    bad_name = tracking()
    bad_name.policy_name = "a b"
    fails(api.put_policy, ctx, bad_name, match="policyName")
    assert api.put_policy(ctx, tracking()).policy.policy_type == "TargetTrackingScaling"


def step_req(**kw) -> sc.PutScalingPolicyRequest:
    cfg = sc.StepScalingConfiguration(alarm=sc.Alarm(promql="up", comparison="GreaterThanThreshold", threshold=1,
                                                     evaluation_periods=2), adjustment_type="ChangeInCapacity")
    cfg.step_adjustments.add(metric_interval_lower_bound=0, metric_interval_upper_bound=10, scaling_adjustment=1)
    cfg.step_adjustments.add(metric_interval_lower_bound=10, scaling_adjustment=2)
    for k, v in kw.items():
        setattr(cfg, k, v)
    return sc.PutScalingPolicyRequest(cluster="default", service="web", policy_name="step", policy_type="StepScaling",
                                      step_scaling=cfg)


def test_step_policy_validation(ctx):
    register(ctx)
    assert api.put_policy(ctx, step_req()).policy.step_scaling.alarm.evaluation_periods == 2
    fails(api.put_policy, ctx, step_req(adjustment_type="More"), match="adjustmentType: must be one of")
    overlap = step_req()
    overlap.step_scaling.step_adjustments[1].metric_interval_lower_bound = 5
    fails(api.put_policy, ctx, overlap, match="stepAdjustments[1]: its interval overlaps stepAdjustments[0]")
    empty = step_req()
    del empty.step_scaling.step_adjustments[:]
    fails(api.put_policy, ctx, empty, match="stepAdjustments: at least one")
    fails(api.put_policy, ctx, step_req(min_adjustment_magnitude=2), match="minAdjustmentMagnitude: only valid")
    bad = step_req()
    bad.step_scaling.alarm.comparison = ">"
    fails(api.put_policy, ctx, bad, match="alarm.comparison")
    bad = step_req()
    bad.step_scaling.alarm.promql = " "
    fails(api.put_policy, ctx, bad, match="alarm.promql: required")


def test_scheduled_actions(ctx):
    register(ctx)
    req = sc.PutScheduledActionRequest(cluster="default", service="web", scheduled_action_name="morning",
                                       schedule="cron(0 8 * * 1-5)", timezone="Europe/Paris",
                                       scalable_target_action=sc.ScalableTargetAction(min_capacity=3))
    assert api.put_scheduled(ctx, req).scheduled_action.resource_id == "service/default/web"
    for schedule, tz, words in (("cron(0 25 * * *)", "", "schedule: cron(0 25 * * *): hour field"),
                                ("rate(5 minutes)", "Nowhere/City", "timezone: 'Nowhere/City'"),
                                ("at(2030-13-01T00:00:00)", "", "schedule: at(")):
        bad = sc.PutScheduledActionRequest()
        bad.CopyFrom(req)
        bad.schedule, bad.timezone = schedule, tz
        fails(api.put_scheduled, ctx, bad, match=words)
    none = sc.PutScheduledActionRequest()
    none.CopyFrom(req)
    none.ClearField("scalable_target_action")
    fails(api.put_scheduled, ctx, none, match="scalableTargetAction: give minCapacity")
    listed = api.describe_scheduled(ctx, sc.DescribeScheduledActionsRequest(cluster="default", service="web"))
    assert [a.scheduled_action_name for a in listed.scheduled_actions] == ["morning"]


def test_a_policy_or_scheduled_action_is_deleted_once_then_refused_naming_the_field(ctx):
    register(ctx)
    api.put_policy(ctx, tracking())
    api.put_scheduled(ctx, sc.PutScheduledActionRequest(
        cluster="default", service="web", scheduled_action_name="morning", schedule="rate(5 minutes)",
        scalable_target_action=sc.ScalableTargetAction(min_capacity=3)))
    policy = sc.DeleteScalingPolicyRequest(cluster="default", service="web", policy_name="cpu")
    assert api.delete_policy(ctx, policy).policy.policy_name == "cpu"
    fails(api.delete_policy, ctx, policy, match="policyName: no policy 'cpu' on service/default/web")
    action = sc.DeleteScheduledActionRequest(cluster="default", service="web", scheduled_action_name="morning")
    assert api.delete_scheduled(ctx, action).scheduled_action.scheduled_action_name == "morning"
    fails(api.delete_scheduled, ctx, action, match="scheduledActionName: no action 'morning' on service/default/web")


def test_activities_are_recorded_bounded_and_become_service_events(ctx, monkeypatch):
    monkeypatch.setattr(api, "MAX_ACTIVITIES_PER_CLUSTER", 3)
    for i in range(5):
        api.record_activity(ctx, sc.RecordScalingActivityRequest(activity=sc.ScalingActivity(
            cluster="default", service="web", resource_id="service/default/web", status_code="Successful",
            description=f"Setting desired count to {i}", cause=f"metric {i}", from_capacity=i, to_capacity=i + 1,
            start_time=1000 + i)))
    acts = api.describe_activities(ctx, sc.DescribeScalingActivitiesRequest(cluster="default", service="web"))
    assert [a.to_capacity for a in acts.activities] == [5, 4, 3]  # newest first, oldest pruned
    svc = ctx.state.service("default", "web").msg
    assert svc.events[0].message == "(service web) auto scaling succeeded: Setting desired count to 4. Cause: metric 4"
    fails(api.record_activity, ctx, sc.RecordScalingActivityRequest(activity=sc.ScalingActivity(
        cluster="default", resource_id="x", status_code="Done")), match="activity.statusCode")


def test_capacity_providers(ctx):
    req = sc.CreateCapacityProviderRequest(
        name="burst", cluster="default",
        node_provider=sc.NodeProviderConfig(profile="local", config={"cpu_units": "512"}),
        max_size=3, managed_termination_protection=True)
    c = api.create_capacity_provider(ctx, req).capacity_provider
    assert (c.target_capacity, c.minimum_scaling_step_size, c.maximum_scaling_step_size) == (100, 1, 10000)
    assert c.capacity_provider_arn.endswith(":capacity-provider/burst")
    fails(api.create_capacity_provider, ctx, req, match="already exists")
    for change, words in ((dict(name="ecs-x"), "name: must not begin"),
                          (dict(min_size=4), "minSize: 4 is above maxSize 3"),
                          (dict(target_capacity=101), "targetCapacity: must be between 0 and 100"),
                          (dict(node_provider=sc.NodeProviderConfig(profile="")), "nodeProvider.profile"),
                          (dict(node_provider=sc.NodeProviderConfig(profile="../bin/sh")), "nodeProvider.profile"),
                          (dict(node_provider=sc.NodeProviderConfig(profile="local", config={"zone": "a" * 5000})),
                           "nodeProvider.config.zone")):
        bad = sc.CreateCapacityProviderRequest()
        bad.CopyFrom(req)
        bad.name = "other"
        for k, v in change.items():
            if isinstance(v, sc.NodeProviderConfig):
                bad.node_provider.CopyFrom(v)
            else:
                setattr(bad, k, v)
        fails(api.create_capacity_provider, ctx, bad, match=words)
    assert [x.name for x in api.describe_capacity_providers(
        ctx, sc.DescribeCapacityProvidersRequest()).capacity_providers] == ["burst"]
    # The autoscaler's verdict on the record (an unknown profile, say) becomes its update status.
    refused = sc.ScalingActivity(cluster="default", resource_id="capacity-provider/burst", status_code="Failed",
                                 status_message="nodeProvider.profile: 'gpu' is not a profile of this autoscaler")
    api.record_activity(ctx, sc.RecordScalingActivityRequest(activity=refused))
    shown = api.describe_capacity_providers(ctx, sc.DescribeCapacityProvidersRequest()).capacity_providers[0]
    assert (shown.update_status, shown.update_status_reason) == ("UPDATE_FAILED", refused.status_message)
    refused.status_code, refused.activity_id = "Successful", ""
    api.record_activity(ctx, sc.RecordScalingActivityRequest(activity=refused))
    shown = api.describe_capacity_providers(ctx, sc.DescribeCapacityProvidersRequest()).capacity_providers[0]
    assert (shown.update_status, shown.update_status_reason) == ("UPDATE_COMPLETE", "")
    api.delete_capacity_provider(ctx, sc.DeleteCapacityProviderRequest(name="burst"))
    fails(api.delete_capacity_provider, ctx, sc.DeleteCapacityProviderRequest(name="burst"), match="not found")


def test_request_count_per_target_needs_a_load_balancer(ctx):
    register(ctx)
    before = api.describe_policies(ctx, sc.DescribeScalingPoliciesRequest()).policies
    msg = fails(api.put_policy, ctx, tracking(predefined_metric_type="ALBRequestCountPerTarget"),
                match="predefinedMetricType: ALBRequestCountPerTarget needs a load balancer")
    assert "loadBalancers" in msg
    assert api.describe_policies(ctx, sc.DescribeScalingPoliciesRequest()).policies == before  # nothing stored
    svc = r.Service(service_name="web", cluster="default", status="ACTIVE", desired_count=2, load_balancers=[
        r.ServiceLoadBalancer(target_group_arn="arn:aws:elasticloadbalancing:r:1:targetgroup/web/tg1",
                              container_name="web", container_port=80)])
    ctx.store.put(keys.service("default", "web"), svc.SerializeToString())
    got = api.put_policy(ctx, tracking(predefined_metric_type="ALBRequestCountPerTarget", target_value=600)).policy
    assert got.target_tracking.predefined_metric_type == "ALBRequestCountPerTarget"

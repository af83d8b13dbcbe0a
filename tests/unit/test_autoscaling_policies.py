"""Target tracking and step scaling math (autoscaler.policies): pure, no I/O."""

from __future__ import annotations

import math

import pytest

from autoscaler import policies as p
from shoal.scaling_terms import CPU, MEMORY, REQUESTS
from shoal.v1 import resources_pb2 as r
from shoal.v1 import scaling_pb2 as sc


def tt(target=50.0, out_cd=0, in_cd=0, disable_in=False) -> sc.TargetTrackingConfiguration:
    return sc.TargetTrackingConfiguration(target_value=target, predefined_metric_type=CPU, scale_out_cooldown=out_cd,
                                          scale_in_cooldown=in_cd, disable_scale_in=disable_in)


def test_target_tracking_scales_out_to_ceil_of_current_times_ratio_at_once():
    mem = p.Memory()
    prop = p.target_tracking("cpu", tt(50), 120.0, running=2, desired=2, now=100, mem=mem)
    assert (prop.direction, prop.desired) == ("out", 5)  # ceil(2 * 120 / 50) = ceil(4.8)
    # Exactly on a boundary: no spurious extra task from float noise.
    prop = p.target_tracking("cpu", tt(50), 100.00000000001, running=2, desired=2, now=100, mem=mem)
    assert prop.desired == 4


def test_scale_out_waits_for_its_cooldown():
    mem = p.Memory(last_scale_out=90)
    prop = p.target_tracking("cpu", tt(50, out_cd=60), 200.0, running=2, desired=2, now=100, mem=mem)
    assert prop.direction == "idle" and "cooldown" in prop.cause
    prop = p.target_tracking("cpu", tt(50, out_cd=60), 200.0, running=2, desired=2, now=151, mem=mem)
    assert prop.direction == "out"


def test_scale_in_needs_consecutive_low_evaluations_margin_and_cooldowns():
    mem = p.Memory()
    tuning = p.Tuning(scale_in_margin=0.1, scale_in_evaluations=3)
    # 46 is below 50 but inside the 10% margin: never scales in.
    for _ in range(5):
        assert p.target_tracking("cpu", tt(50), 46.0, 4, 4, 100, mem, tuning).direction == "idle"
    dirs = [p.target_tracking("cpu", tt(50), 10.0, 4, 4, 100, mem, tuning).direction for _ in range(3)]
    assert dirs == ["idle", "idle", "in"]
    prop = p.target_tracking("cpu", tt(50), 10.0, 4, 4, 100, mem, tuning)
    assert prop.desired == 1  # ceil(4 * 10 / 50)
    # Cooldown after a scale-in, and after a scale-out too (no flapping).
    mem2 = p.Memory(last_scale_in=95, low_streak={"cpu": 5})
    assert p.target_tracking("cpu", tt(50, in_cd=30), 10.0, 4, 4, 100, mem2, tuning).direction == "idle"
    mem3 = p.Memory(last_scale_out=95, low_streak={"cpu": 5})
    assert p.target_tracking("cpu", tt(50, out_cd=30), 10.0, 4, 4, 100, mem3, tuning).direction == "idle"


def test_scale_in_waits_for_a_steady_service_and_respects_disable_scale_in():
    tuning = p.Tuning(scale_in_evaluations=1)
    assert p.target_tracking("cpu", tt(50), 5.0, 3, 4, 100, p.Memory(), tuning).direction == "idle"
    prop = p.target_tracking("cpu", tt(50, disable_in=True), 5.0, 4, 4, 100, p.Memory(), tuning)
    assert prop.direction == "idle" and "disabled" in prop.cause


@pytest.mark.parametrize("metric", [None, math.nan, math.inf])
def test_missing_or_stale_metrics_never_scale_in_and_reset_the_streak(metric):
    mem = p.Memory(low_streak={"cpu": 10})
    prop = p.target_tracking("cpu", tt(50), metric, 4, 4, 100, mem)
    assert prop.direction == "nodata" and mem.low_streak["cpu"] == 0
    d = p.combine(4, 1, 10, [prop, p.Proposal("other", "in", 1, "low", 1.0)])
    assert d.direction == "none" and d.desired == 4


def test_combine_takes_the_largest_scale_out_and_clamps():
    props = [p.Proposal("a", "out", 6, "a"), p.Proposal("b", "out", 30, "b"), p.Proposal("c", "idle", 3, "c")]
    d = p.combine(3, 1, 10, props)
    assert (d.desired, d.direction, d.policy) == (10, "out", "b") and "capped at max 10" in d.cause


def test_combine_scales_in_only_when_every_tracking_policy_agrees():
    ins = p.Proposal("a", "in", 2, "a", 1.0, tracking=True)
    assert p.combine(5, 1, 10, [ins, p.Proposal("b", "idle", 5, "b", 1.0, tracking=True)]).direction == "none"
    d = p.combine(5, 1, 10, [ins, p.Proposal("b", "in", 3, "b", 1.0, tracking=True)])
    assert (d.desired, d.direction) == (3, "in")  # the gentlest
    # An idle step policy does not hold back a tracking scale-in.
    assert p.combine(5, 1, 10, [ins, p.Proposal("s", "idle", 5, "ok", 1.0)]).desired == 2
    # ... and the floor is min capacity.
    assert p.combine(5, 4, 10, [p.Proposal("a", "in", 0, "a", 1.0, tracking=True)]).desired == 4


def test_combine_enforces_bounds_and_suspension():
    assert p.combine(0, 2, 5, []).desired == 2
    assert p.combine(9, 2, 5, []).desired == 5
    out = [p.Proposal("a", "out", 8, "a")]
    assert p.combine(3, 1, 10, out, sc.SuspendedState(dynamic_scaling_out_suspended=True)).desired == 3
    ins = [p.Proposal("a", "in", 1, "a", 1.0, tracking=True)]
    assert p.combine(3, 1, 10, ins, sc.SuspendedState(dynamic_scaling_in_suspended=True)).desired == 3


def step_cfg(adjustment_type="ChangeInCapacity", periods=2, cooldown=0, mag=0) -> sc.StepScalingConfiguration:
    cfg = sc.StepScalingConfiguration(
        alarm=sc.Alarm(promql="x", comparison="GreaterThanThreshold", threshold=80, evaluation_periods=periods),
        adjustment_type=adjustment_type, cooldown=cooldown, min_adjustment_magnitude=mag)
    cfg.step_adjustments.add(metric_interval_lower_bound=0, metric_interval_upper_bound=10, scaling_adjustment=1)
    cfg.step_adjustments.add(metric_interval_lower_bound=10, scaling_adjustment=3)
    return cfg


def test_step_scaling_fires_after_evaluation_periods_with_the_matching_step():
    mem = p.Memory()
    assert p.step_scaling("s", step_cfg(), 85.0, 2, 0, mem).direction == "idle"  # 1/2
    prop = p.step_scaling("s", step_cfg(), 85.0, 2, 0, mem)
    assert (prop.direction, prop.desired) == ("out", 3)  # diff 5 -> [0, 10) -> +1
    prop = p.step_scaling("s", step_cfg(), 90.0, 2, 0, mem)
    assert prop.desired == 5  # diff 10 -> [10, inf) -> +3 (lower bound inclusive above threshold)


def test_step_scaling_ok_or_missing_resets_the_breach_count_and_cooldown_holds():
    mem = p.Memory()
    p.step_scaling("s", step_cfg(), 85.0, 2, 0, mem)
    assert p.step_scaling("s", step_cfg(), 50.0, 2, 0, mem).direction == "idle"
    assert p.step_scaling("s", step_cfg(), 85.0, 2, 0, mem).direction == "idle"  # starts over at 1/2
    p.step_scaling("s", step_cfg(), None, 2, 0, mem)
    assert mem.breach_streak["s"] == 0
    mem = p.Memory(last_step={"s": 95})
    p.step_scaling("s", step_cfg(cooldown=30), 85.0, 2, 100, mem)
    prop = p.step_scaling("s", step_cfg(cooldown=30), 85.0, 2, 100, mem)
    assert prop.direction == "idle" and "cooldown" in prop.cause


def test_step_bounds_below_threshold_are_exclusive_low_inclusive_high():
    cfg = sc.StepScalingConfiguration(alarm=sc.Alarm(promql="x", comparison="LessThanThreshold", threshold=20,
                                                     evaluation_periods=1), adjustment_type="ChangeInCapacity")
    cfg.step_adjustments.add(metric_interval_upper_bound=-10, scaling_adjustment=-2)
    cfg.step_adjustments.add(metric_interval_lower_bound=-10, metric_interval_upper_bound=0, scaling_adjustment=-1)
    assert p.step_adjustment(cfg, 10.0).scaling_adjustment == -2  # diff -10 -> (-inf, -10]
    assert p.step_adjustment(cfg, 15.0).scaling_adjustment == -1
    assert p.step_scaling("s", cfg, 5.0, 5, 0, p.Memory()).desired == 3


@pytest.mark.parametrize(("kind", "adj", "desired", "mag", "want"), [
    ("ChangeInCapacity", 2, 3, 0, 5),
    ("ChangeInCapacity", -5, 3, 0, -2),  # clamped later by combine
    ("ExactCapacity", 7, 3, 0, 7),
    ("PercentChangeInCapacity", 50, 5, 0, 7),    # +2.5 -> 2 (toward zero)
    ("PercentChangeInCapacity", 10, 5, 0, 6),    # +0.5 -> 1
    ("PercentChangeInCapacity", -10, 5, 0, 4),   # -0.5 -> -1
    ("PercentChangeInCapacity", -50, 5, 0, 3),   # -2.5 -> -2
    ("PercentChangeInCapacity", 10, 20, 5, 25),  # +2 raised to the minimum magnitude 5
])
def test_adjustment_types(kind, adj, desired, mag, want):
    assert p.apply_adjustment(kind, adj, desired, mag) == want


def test_predefined_expressions_use_used_over_reserved():
    cpu = p.metric_expression(tt(), "default", 'we"b', "30s")
    assert cpu == ('sum(rate(shoal_task_cpu_seconds_total{cluster="default",service="we\\"b"}[30s])) * 1024 / '
                   'sum(shoal_task_cpu_reserved_units{cluster="default",service="we\\"b"}) * 100')
    mem = p.metric_expression(sc.TargetTrackingConfiguration(predefined_metric_type=MEMORY), "c", "s")
    assert "shoal_task_memory_bytes" in mem and "shoal_task_memory_reserved_bytes" in mem
    assert p.metric_expression(sc.TargetTrackingConfiguration(custom_promql="up"), "c", "s") == "up"


def test_remember_starts_cooldowns():
    mem = p.Memory(low_streak={"cpu": 3})
    p.remember(mem, p.Decision(5, "out", "x", "cpu"), 42.0)
    assert mem.last_scale_out == 42.0 and mem.last_step["cpu"] == 42.0 and mem.low_streak["cpu"] == 0


def test_request_count_per_target_reads_the_target_groups_backend():
    rq = sc.TargetTrackingConfiguration(predefined_metric_type=REQUESTS, target_value=100)
    svc = r.Service(load_balancers=[r.ServiceLoadBalancer(
        target_group_arn="arn:aws:elasticloadbalancing:r:1:targetgroup/web/tg7f3a", container_name="web",
        container_port=80)])
    assert p.target_group_id(svc) == "tg7f3a"
    expr = p.metric_expression(rq, "c", "web", "60s", p.target_group_id(svc))
    assert expr == ('sum(rate(haproxy_backend_http_requests_total{proxy="tg7f3a"}[60s])) * 60'
                    ' / max(haproxy_backend_active_servers{proxy="tg7f3a"})')
    # A service whose load balancer was detached after the policy was put has no metric to read.
    assert p.target_group_id(r.Service()) == ""
    assert p.metric_expression(rq, "c", "web", "60s", "") == ""

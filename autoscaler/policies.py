"""Scaling decisions, with no I/O: given a target's policies, the metric values read this
cycle and what the autoscaler remembers from earlier cycles, what should desiredCount be?

Rules (Application Auto Scaling's, made conservative where it leaves room):

- Target tracking: desired = ceil(running * metric / target). Scale-out acts on the first
  evaluation above target; scale-in only after ``scale_in_evaluations`` consecutive
  evaluations below target by more than ``scale_in_margin``, outside both cooldowns, while
  the service is steady (running == desired), and never with ``disable_scale_in``.
- Step scaling: the alarm must breach ``evaluation_periods`` consecutive evaluations; the
  step whose bounds hold ``metric - threshold`` gives the adjustment.
- Several policies: any scale-out wins (the largest); scale-in happens only if no policy
  wants out and none lacks data, and then by the least.
- Missing or stale metrics never scale in: they reset every scale-in streak.
- The result is always clamped to [min, max].
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from shoal.arns import last_segment
from shoal.scaling_groups import measured_group
from shoal.scaling_terms import COMPARISONS, NEEDS_TARGET_GROUP, PREDEFINED
from shoal.v1 import resources_pb2 as r
from shoal.v1 import scaling_pb2 as sc

_EPS = 1e-9


def metric_expression(tt: sc.TargetTrackingConfiguration, cluster: str, service: str, window: str = "1m",
                      target_group_id: str = "") -> str:
    """The PromQL a target tracking policy reads; "" when the metric is measured on a target
    group and the service has none (its load balancer was detached after the policy was put)."""
    if tt.custom_promql:
        return tt.custom_promql
    if tt.predefined_metric_type in NEEDS_TARGET_GROUP and not target_group_id:
        return ""
    sel = f'cluster="{_escape(cluster)}",service="{_escape(service)}"'
    return PREDEFINED[tt.predefined_metric_type].format(sel=sel, window=window, backend=_escape(target_group_id))


def target_group_id(svc: r.Service, resource_label: str = "") -> str:
    """The id of the target group a per-target metric is measured on (shoal/scaling_groups.py:
    the group ``resource_label`` names, else the PRIMARY task set's, else the service's first;
    the control plane resolves ``loadBalancerName`` to its default target group's ARN), named
    by its id as the proxies' backends are."""
    arn = measured_group(svc, resource_label)
    return last_segment(arn) if arn else ""


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


@dataclass(frozen=True)
class Tuning:
    scale_in_margin: float = 0.1
    scale_in_evaluations: int = 3


DEFAULT_TUNING = Tuning()


@dataclass
class Memory:
    """What one scalable target's evaluation carries from cycle to cycle."""

    last_scale_out: float = float("-inf")
    last_scale_in: float = float("-inf")
    low_streak: dict[str, int] = field(default_factory=dict)
    breach_streak: dict[str, int] = field(default_factory=dict)
    last_step: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Proposal:
    """One policy's opinion. ``direction``: out | in | idle (nothing to do) | nodata."""

    policy: str
    direction: str
    desired: int
    cause: str
    metric: float | None = None
    # Target tracking policies must all agree before a scale-in; step policies need not.
    tracking: bool = False


@dataclass(frozen=True)
class Decision:
    desired: int
    direction: str  # out | in | none
    cause: str
    policy: str = ""
    metrics: dict[str, float] = field(default_factory=dict)


def target_tracking(name: str, tt: sc.TargetTrackingConfiguration, metric: float | None, running: int,
                    desired: int, now: float, mem: Memory, tuning: Tuning = DEFAULT_TUNING) -> Proposal:
    def say(direction: str, cause: str, want: int = desired) -> Proposal:
        return Proposal(name, direction, want, cause, metric, tracking=True)

    target = tt.target_value
    if metric is None or not math.isfinite(metric):
        mem.low_streak[name] = 0
        metric = None
        return say("nodata", f"metric missing or stale; holding at {desired}")
    if running <= 0:
        mem.low_streak[name] = 0
        return say("nodata", f"no running tasks to measure; holding at {desired}")
    want = max(0, math.ceil(running * metric / target - _EPS))
    shown = f"metric {metric:.1f} vs target {target:g} over {running} running"
    if metric > target and want > desired:
        mem.low_streak[name] = 0
        left = mem.last_scale_out + tt.scale_out_cooldown - now
        if left > 0:
            return say("idle", f"{shown}: would scale out to {want}, scale-out cooldown has {left:.0f}s left")
        return say("out", f"{shown}: scale out to {want}", want)
    if metric < target * (1 - tuning.scale_in_margin) and want < desired:
        streak = mem.low_streak.get(name, 0) + 1
        mem.low_streak[name] = streak
        if tt.disable_scale_in:
            return say("idle", f"{shown}: below target, scale-in disabled")
        if running != desired:
            return say("idle", f"{shown}: below target, waiting for {desired} running")
        if streak < tuning.scale_in_evaluations:
            return say("idle", f"{shown}: below target {streak}/{tuning.scale_in_evaluations} evaluations")
        left = max(mem.last_scale_in + tt.scale_in_cooldown, mem.last_scale_out + tt.scale_out_cooldown) - now
        if left > 0:
            return say("idle", f"{shown}: would scale in to {want}, cooldown has {left:.0f}s left")
        return say("in", f"{shown}: scale in to {want}", want)
    mem.low_streak[name] = 0
    return say("idle", f"{shown}: within target")


def step_adjustment(cfg: sc.StepScalingConfiguration, metric: float) -> sc.StepAdjustment | None:
    """The step whose interval holds metric - threshold. Above the threshold the lower
    bound is inclusive and the upper exclusive; below it the other way round."""
    diff = metric - cfg.alarm.threshold
    for s in cfg.step_adjustments:
        lo = s.metric_interval_lower_bound if s.HasField("metric_interval_lower_bound") else -math.inf
        hi = s.metric_interval_upper_bound if s.HasField("metric_interval_upper_bound") else math.inf
        if (diff >= 0 and lo <= diff < hi) or (diff < 0 and lo < diff <= hi):
            return s
    return None


def apply_adjustment(adjustment_type: str, adjustment: int, desired: int, min_magnitude: int = 0) -> int:
    if adjustment_type == "ExactCapacity":
        return adjustment
    if adjustment_type == "ChangeInCapacity":
        return desired + adjustment
    change = desired * adjustment / 100
    # Application Auto Scaling's rounding: (0, 1) -> 1, (-1, 0) -> -1, else toward zero.
    if 0 < change < 1:
        step = 1
    elif -1 < change < 0:
        step = -1
    else:
        step = int(change)
    if min_magnitude and step and abs(step) < min_magnitude:
        step = min_magnitude if step > 0 else -min_magnitude
    return desired + step


def step_scaling(name: str, cfg: sc.StepScalingConfiguration, metric: float | None, desired: int, now: float,
                 mem: Memory) -> Proposal:
    alarm = cfg.alarm
    if metric is None or not math.isfinite(metric):
        mem.breach_streak[name] = 0
        return Proposal(name, "nodata", desired, "alarm metric missing or stale (INSUFFICIENT_DATA)")
    shown = f"alarm {metric:.2f} {alarm.comparison} {alarm.threshold:g}"
    if not COMPARISONS[alarm.comparison](metric, alarm.threshold):
        mem.breach_streak[name] = 0
        return Proposal(name, "idle", desired, f"{shown}: OK", metric)
    streak = mem.breach_streak.get(name, 0) + 1
    mem.breach_streak[name] = streak
    periods = max(1, alarm.evaluation_periods)
    if streak < periods:
        return Proposal(name, "idle", desired, f"{shown}: breaching {streak}/{periods} evaluations", metric)
    left = mem.last_step.get(name, float("-inf")) + cfg.cooldown - now
    if left > 0:
        return Proposal(name, "idle", desired, f"{shown}: in ALARM, cooldown has {left:.0f}s left", metric)
    s = step_adjustment(cfg, metric)
    if s is None:
        return Proposal(name, "idle", desired, f"{shown}: in ALARM but no step covers it", metric)
    want = apply_adjustment(cfg.adjustment_type, s.scaling_adjustment, desired, cfg.min_adjustment_magnitude)
    direction = "out" if want > desired else "in" if want < desired else "idle"
    return Proposal(name, direction, want, f"{shown} for {streak} evaluations: "
                                           f"{cfg.adjustment_type} {s.scaling_adjustment:+d} -> {want}", metric)


def combine(desired: int, lo: int, hi: int, proposals: list[Proposal],
            suspended: sc.SuspendedState | None = None) -> Decision:
    """One desired count from every policy's proposal, clamped to [lo, hi]."""
    suspended = suspended or sc.SuspendedState()
    metrics = {p.policy: p.metric for p in proposals if p.metric is not None}
    outs = [p for p in proposals if p.direction == "out"]
    ins = [p for p in proposals if p.direction == "in"]
    blocked_in = any(p.direction in ("nodata", "out") or (p.tracking and p.direction != "in") for p in proposals)
    if outs and not suspended.dynamic_scaling_out_suspended:
        best = max(outs, key=lambda p: p.desired)
        want = min(hi, max(lo, best.desired))
        if want > desired:
            capped = f" (capped at max {hi})" if best.desired > hi else ""
            return Decision(want, "out", best.cause + capped, best.policy, metrics)
    if ins and not blocked_in and not suspended.dynamic_scaling_in_suspended:
        gentlest = max(ins, key=lambda p: p.desired)
        want = min(hi, max(lo, gentlest.desired))
        if want < desired:
            floored = f" (held at min {lo})" if gentlest.desired < lo else ""
            return Decision(want, "in", gentlest.cause + floored, gentlest.policy, metrics)
    if desired < lo:
        return Decision(lo, "out", f"desired count {desired} is below the minimum capacity {lo}", "", metrics)
    if desired > hi:
        return Decision(hi, "in", f"desired count {desired} is above the maximum capacity {hi}", "", metrics)
    said = "; ".join(f"{p.policy}: {p.cause}" for p in proposals) or "no policies"
    return Decision(desired, "none", said, "", metrics)


def remember(mem: Memory, decision: Decision, now: float) -> None:
    """Call after a decision was applied: starts cooldowns and restarts streaks."""
    if decision.direction == "out":
        mem.last_scale_out = now
    elif decision.direction == "in":
        mem.last_scale_in = now
    if decision.policy:
        mem.last_step[decision.policy] = now
    for name in mem.low_streak:
        mem.low_streak[name] = 0

"""Service auto scaling: for every scalable target, run its due scheduled actions, read its
policies' metrics from Prometheus, decide (autoscaler.policies) and apply the decision
through the Operator API's UpdateService, recording a scaling activity (which the control
plane also turns into a service event)."""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable

from autoscaler import policies
from autoscaler.api import ControlPlane
from autoscaler.metrics import ACTIONS, METRIC_MISSING
from autoscaler.prom import PromClient
from shoal import logs
from shoal.errors import ApiError
from shoal.schedule import parse
from shoal.v1 import operator_pb2 as op
from shoal.v1 import resources_pb2 as r
from shoal.v1 import scaling_pb2 as sc
from shoal.validation import ValidationError

log = logging.getLogger(__name__)

Key = tuple[str, str]


class ServiceScaler:
    def __init__(self, cp: ControlPlane, prom: PromClient, *, interval: float = 5.0, rate_window: str = "1m",
                 tuning: policies.Tuning = policies.DEFAULT_TUNING, clock: Callable[[], float] = time.time,
                 may_act: Callable[[], bool] = lambda: True) -> None:
        self.cp = cp
        self.prom = prom
        self.interval = interval
        self.rate_window = rate_window
        self.tuning = tuning
        self.clock = clock
        # Checked right before each change: a deposed leader must not act.
        self.may_act = may_act
        self.memory: dict[Key, policies.Memory] = defaultdict(policies.Memory)
        self._checked: dict[tuple[str, str, str], float] = {}

    def seed(self) -> str:
        """On becoming leader: restore cooldowns from the recorded activities, so a new
        leader does not scale again right after the old one did."""
        self.memory.clear()
        seeded = 0
        targets = self.cp.scaling.DescribeScalableTargets(sc.DescribeScalableTargetsRequest()).scalable_targets
        for cluster in sorted({t.cluster for t in targets}):
            acts = self.cp.scaling.DescribeScalingActivities(
                sc.DescribeScalingActivitiesRequest(cluster=cluster, max_results=200)).activities
            for a in reversed(acts):  # oldest first, so the newest wins
                if not a.service or a.status_code != "Successful":
                    continue
                mem = self.memory[(a.cluster, a.service)]
                if a.to_capacity > a.from_capacity:
                    mem.last_scale_out = a.end_time or a.start_time
                elif a.to_capacity < a.from_capacity:
                    mem.last_scale_in = a.end_time or a.start_time
                if a.policy_name:
                    mem.last_step[a.policy_name] = a.end_time or a.start_time
                seeded += 1
        return f"restored cooldowns from {seeded} past activities"

    def run_once(self) -> str:
        now = self.clock()
        targets = list(self.cp.scaling.DescribeScalableTargets(sc.DescribeScalableTargetsRequest()).scalable_targets)
        if not targets:
            return "no scalable targets"
        by_target: dict[Key, list[sc.ScalingPolicy]] = defaultdict(list)
        for p in self.cp.scaling.DescribeScalingPolicies(sc.DescribeScalingPoliciesRequest()).policies:
            by_target[(p.cluster, p.service)].append(p)
        scheduled: dict[Key, list[sc.ScheduledAction]] = defaultdict(list)
        for a in self.cp.scaling.DescribeScheduledActions(sc.DescribeScheduledActionsRequest()).scheduled_actions:
            scheduled[(a.cluster, a.service)].append(a)
        services: dict[Key, r.Service] = {}
        by_cluster: dict[str, list[str]] = defaultdict(list)
        for t in targets:
            by_cluster[t.cluster].append(t.service)
        for cluster, names in by_cluster.items():
            try:
                found = self.cp.services(cluster, names)
            except ApiError as exc:
                # One cluster gone (deleted, or a target left behind) must not stop the others.
                log.warning("cannot read services", extra=logs.kv(cluster=cluster, error=exc))
                continue
            for name, svc in found.items():
                services[(cluster, name)] = svc
        said = []
        for t in sorted(targets, key=lambda t: (t.cluster, t.service)):
            key = (t.cluster, t.service)
            note = self._run_scheduled(t, scheduled.get(key, []), now)
            svc = services.get(key)
            if svc is None or svc.status != "ACTIVE":
                said.append(f"{t.service}: service is not ACTIVE; skipped")
                continue
            said.append(f"{t.service}: " + self._scale(t, svc, by_target.get(key, []), now, note))
        return "; ".join(said)

    # ---- scheduled actions ----------------------------------------------------------------

    def _run_scheduled(self, target: sc.ScalableTarget, actions: list[sc.ScheduledAction], now: float) -> str:
        """Applies each due action's min/max to ``target`` (in place and in the store);
        returns what happened, for the cause of any resulting change of desired count."""
        notes = []
        for a in sorted(actions, key=lambda a: a.scheduled_action_name):
            ck = (a.cluster, a.service, a.scheduled_action_name)
            # First sight: count from when the action was put (an `at` a moment ahead must
            # not be missed) but never fire what was due long before this leader looked.
            last = self._checked.get(ck, max(a.creation_time, now - 2 * self.interval))
            try:
                sched = parse(a.schedule, a.timezone)
            except ValidationError as exc:
                notes.append(f"scheduled action {a.scheduled_action_name} is invalid ({exc})")
                self._checked[ck] = now
                continue
            fire = sched.due(last, now, anchor=a.start_time or a.creation_time)
            if fire is None or target.suspended_state.scheduled_scaling_suspended:
                self._checked[ck] = now
                continue
            if (a.start_time and fire < a.start_time) or (a.end_time and fire > a.end_time):
                self._checked[ck] = now
                continue
            if not self.may_act():
                return "; ".join(notes)
            notes.append(self._apply_scheduled(target, a, fire))
            self._checked[ck] = now
        return "; ".join(n for n in notes if n)

    def _apply_scheduled(self, target: sc.ScalableTarget, a: sc.ScheduledAction, fire: float) -> str:
        act = a.scalable_target_action
        lo = act.min_capacity if act.HasField("min_capacity") else target.min_capacity
        hi = act.max_capacity if act.HasField("max_capacity") else target.max_capacity
        if lo > hi:  # only one side given and it crosses the other: move both, as AAS does
            lo, hi = (lo, lo) if act.HasField("min_capacity") else (hi, hi)
        what = f"scheduled action {a.scheduled_action_name} ({a.schedule}) set min {lo} max {hi}"
        activity = sc.ScalingActivity(
            cluster=target.cluster, service=target.service, resource_id=target.resource_id,
            description=f"Setting min capacity to {lo} and max capacity to {hi}",
            cause=f"scheduled action {a.scheduled_action_name} fired at "
                  f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(fire))}",
            scheduled_action_name=a.scheduled_action_name, start_time=self.clock(),
        )
        try:
            self.cp.scaling.RegisterScalableTarget(sc.RegisterScalableTargetRequest(
                cluster=target.cluster, service=target.service, min_capacity=lo, max_capacity=hi))
            target.min_capacity, target.max_capacity = lo, hi
            activity.status_code = "Successful"
        except ApiError as exc:
            activity.status_code, activity.status_message = "Failed", str(exc)
            what += f" FAILED ({exc})"
        activity.end_time = self.clock()
        self._record(activity)
        ACTIONS.labels("scheduled", "set", activity.status_code).inc()
        log.info(what, extra=logs.kv(cluster=target.cluster, service=target.service))
        return what

    # ---- dynamic scaling ------------------------------------------------------------------

    def _scale(self, t: sc.ScalableTarget, svc: r.Service, pols: list[sc.ScalingPolicy], now: float,
               scheduled_note: str) -> str:
        mem = self.memory[(t.cluster, t.service)]
        desired, running = svc.desired_count, svc.running_count
        proposals = []
        for p in sorted(pols, key=lambda p: p.policy_name):
            if p.policy_type == "TargetTrackingScaling":
                expr = policies.metric_expression(p.target_tracking, t.cluster, t.service, self.rate_window,
                                                  policies.target_group_id(svc, p.target_tracking.resource_label))
                metric = self.prom.value(expr) if expr else None
                proposal = policies.target_tracking(p.policy_name, p.target_tracking, metric, running, desired,
                                                    now, mem, self.tuning)
                if not expr:
                    proposal = policies.Proposal(proposal.policy, "nodata", desired,
                                                 f"{p.target_tracking.predefined_metric_type} needs a load balancer "
                                                 f"target group and service {t.service} has none (or none its "
                                                 f"resourceLabel names); holding at "
                                                 f"{desired}", None, True)
                    METRIC_MISSING.inc()
                    proposals.append(proposal)
                    continue
            else:
                metric = self.prom.value(p.step_scaling.alarm.promql)
                proposal = policies.step_scaling(p.policy_name, p.step_scaling, metric, desired, now, mem)
            if metric is None:
                METRIC_MISSING.inc()
                proposal = policies.Proposal(proposal.policy, proposal.direction, proposal.desired,
                                             f"{proposal.cause} ({self.prom.last_error})", None, proposal.tracking)
            proposals.append(proposal)
        decision = policies.combine(desired, t.min_capacity, t.max_capacity, proposals, t.suspended_state)
        if decision.direction == "none" or decision.desired == desired:
            return f"desired {desired}, running {running}: {decision.cause}"
        if not self.may_act():
            return "not acting: leadership lost"
        cause = decision.cause
        if scheduled_note and not decision.policy:
            cause = f"{scheduled_note}; {cause}"
        return self._apply(t, svc, decision, cause)

    def _apply(self, t: sc.ScalableTarget, svc: r.Service, d: policies.Decision, cause: str) -> str:
        started = self.clock()
        before = svc.desired_count
        activity = sc.ScalingActivity(
            cluster=t.cluster, service=t.service, resource_id=t.resource_id,
            description=f"Setting desired count to {d.desired}", cause=cause, from_capacity=before,
            to_capacity=d.desired, policy_name=d.policy, start_time=started,
        )
        for name, value in d.metrics.items():
            activity.metrics[name] = value
        try:
            self.cp.operator.UpdateService(op.UpdateServiceRequest(cluster=t.cluster, service=t.service,
                                                                   desired_count=d.desired))
            activity.status_code = "Successful"
            policies.remember(self.memory[(t.cluster, t.service)], d, self.clock())
            sentence = f"scaled {d.direction} {before} -> {d.desired}: {cause}"
        except ApiError as exc:
            activity.status_code, activity.status_message = "Failed", str(exc)
            sentence = f"FAILED to scale {d.direction} {before} -> {d.desired}: {exc}"
        activity.end_time = self.clock()
        self._record(activity)
        ACTIONS.labels("service", d.direction, activity.status_code).inc()
        log.info(sentence, extra=logs.kv(cluster=t.cluster, service=t.service, policy=d.policy or "-"))
        return sentence

    def _record(self, activity: sc.ScalingActivity) -> None:
        try:
            self.cp.record(activity)
        except ApiError as exc:
            log.warning("could not record a scaling activity", extra=logs.kv(service=activity.service, error=exc))

"""The service scaler's cycle against a fake control plane and a scripted Prometheus:
decisions go through UpdateService and are recorded as activities; missing metrics hold;
scheduled actions change min/max and the desired count follows."""

from __future__ import annotations

from autoscaler.policies import Tuning
from autoscaler.service_scaler import ServiceScaler
from shoal.v1 import operator_pb2 as op
from shoal.v1 import resources_pb2 as r
from shoal.v1 import scaling_pb2 as sc


class FakeProm:
    def __init__(self) -> None:
        self.values: dict[str, float | None] = {}
        self.default: float | None = None
        self.last_error = ""

    def value(self, expr: str) -> float | None:
        v = self.values.get(expr, self.default)
        self.last_error = "" if v is not None else "Prometheus unreachable"
        return v


class FakeCP:
    def __init__(self) -> None:
        self.target = sc.ScalableTarget(cluster="default", service="web", resource_id="service/default/web",
                                        min_capacity=1, max_capacity=6)
        self.policies: list[sc.ScalingPolicy] = []
        self.scheduled: list[sc.ScheduledAction] = []
        self.service = r.Service(service_name="web", cluster="default", status="ACTIVE", desired_count=2,
                                 running_count=2)
        self.activities: list[sc.ScalingActivity] = []
        outer = self

        class Scaling:
            def DescribeScalableTargets(self, req):  # noqa: N802 (gRPC naming)
                return sc.DescribeScalableTargetsResponse(scalable_targets=[outer.target])

            def DescribeScalingPolicies(self, req):  # noqa: N802
                return sc.DescribeScalingPoliciesResponse(policies=outer.policies)

            def DescribeScheduledActions(self, req):  # noqa: N802
                return sc.DescribeScheduledActionsResponse(scheduled_actions=outer.scheduled)

            def RegisterScalableTarget(self, req):  # noqa: N802
                outer.target.min_capacity, outer.target.max_capacity = req.min_capacity, req.max_capacity
                return sc.ScalableTargetResponse(scalable_target=outer.target)

            def DescribeScalingActivities(self, req):  # noqa: N802
                return sc.DescribeScalingActivitiesResponse(activities=list(reversed(outer.activities)))

        class Operator:
            def UpdateService(self, req):  # noqa: N802
                outer.service.desired_count = req.desired_count
                return op.ServiceResponse(service=outer.service)

        self.scaling, self.operator = Scaling(), Operator()

    def services(self, cluster, names):
        return {"web": self.service}

    def record(self, a):
        self.activities.append(a)
        return a


class Clock:
    def __init__(self) -> None:
        self.now = 1_900_000_000.0

    def __call__(self) -> float:
        return self.now


def cpu_policy(target: float = 50) -> sc.ScalingPolicy:
    return sc.ScalingPolicy(policy_name="cpu", cluster="default", service="web", policy_type="TargetTrackingScaling",
                            target_tracking=sc.TargetTrackingConfiguration(
                                target_value=target, predefined_metric_type="ECSServiceAverageCPUUtilization",
                                scale_in_cooldown=0, scale_out_cooldown=0))


def test_scale_out_then_hold_on_missing_metrics_then_scale_in():
    cp, prom, clock = FakeCP(), FakeProm(), Clock()
    cp.policies = [cpu_policy()]
    s = ServiceScaler(cp, prom, clock=clock, tuning=Tuning(scale_in_evaluations=2))
    prom.default = 200.0
    said = s.run_once()
    assert "scaled out 2 -> 6" in said and "capped at max 6" in said
    a = cp.activities[-1]
    assert (a.from_capacity, a.to_capacity, a.status_code, a.policy_name) == (2, 6, "Successful", "cpu")
    assert a.metrics["cpu"] == 200.0

    cp.service.running_count = 6
    prom.default = None  # Prometheus gone
    for _ in range(5):
        assert "metric missing or stale" in s.run_once()
    assert cp.service.desired_count == 6

    prom.default = 5.0
    assert "below target 1/2" in s.run_once()
    said = s.run_once()
    assert "scaled in 6 -> 1" in said and cp.service.desired_count == 1


def test_scheduled_action_sets_bounds_and_desired_follows():
    cp, prom, clock = FakeCP(), FakeProm(), Clock()
    cp.scheduled = [sc.ScheduledAction(scheduled_action_name="soon", cluster="default", service="web",
                                       schedule="at(2030-03-17T17:47:00)", creation_time=clock.now - 60,
                                       scalable_target_action=sc.ScalableTargetAction(min_capacity=4))]
    s = ServiceScaler(cp, prom, clock=clock, interval=5)
    assert cp.service.desired_count == 2
    s.run_once()  # not due yet (at is 1_900_000_020 UTC)
    assert cp.target.min_capacity == 1
    clock.now += 25
    said = s.run_once()
    assert "scheduled action soon" in said and (cp.target.min_capacity, cp.target.max_capacity) == (4, 6)
    assert cp.service.desired_count == 4
    assert cp.activities[-1].cause.startswith("scheduled action soon")
    clock.now += 60
    s.run_once()
    assert len([a for a in cp.activities if a.scheduled_action_name]) == 1  # once


def test_seed_restores_cooldowns_from_activities():
    cp, prom, clock = FakeCP(), FakeProm(), Clock()
    cp.activities = [sc.ScalingActivity(cluster="default", service="web", status_code="Successful",
                                        from_capacity=2, to_capacity=4, end_time=clock.now - 10)]
    policy = cpu_policy()
    policy.target_tracking.scale_out_cooldown = 60
    cp.policies = [policy]
    s = ServiceScaler(cp, prom, clock=clock)
    s.seed()
    prom.default = 300.0
    assert "scale-out cooldown has 50s left" in s.run_once()


def test_request_count_per_target_scales_on_the_target_groups_requests():
    cp, prom, clock = FakeCP(), FakeProm(), Clock()
    cp.policies = [sc.ScalingPolicy(policy_name="rps", cluster="default", service="web",
                                    policy_type="TargetTrackingScaling",
                                    target_tracking=sc.TargetTrackingConfiguration(
                                        target_value=600, predefined_metric_type="ALBRequestCountPerTarget"))]
    cp.service.load_balancers.add(target_group_arn="arn:aws:elasticloadbalancing:r:1:targetgroup/web/tg9",
                                  container_name="web", container_port=80)
    s = ServiceScaler(cp, prom, clock=clock, rate_window="60s")
    # Only the expression on tg9's backend has a value: any other query would hold.
    prom.values['sum(rate(haproxy_backend_http_requests_total{proxy="tg9"}[60s])) * 60'
                ' / max(haproxy_backend_active_servers{proxy="tg9"})'] = 1500.0
    said = s.run_once()
    assert "scaled out 2 -> 5" in said, said  # ceil(2 * 1500 / 600)
    # The load balancer detached: no data, never a scale-in.
    del cp.service.load_balancers[:]
    said = s.run_once()
    assert "needs a load balancer target group" in said and cp.service.desired_count == 5

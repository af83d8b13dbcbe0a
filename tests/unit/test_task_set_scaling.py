"""Target tracking on ALBRequestCountPerTarget for a service with task sets
(shoal/scaling_groups.py): the policy's resourceLabel names one target group of the service
or of a live task set; without a label the PRIMARY task set's group is measured. Pure rule
first, then PutScalingPolicy through Application Auto Scaling's wire API with boto3 (responses
checked against botocore's model), then the autoscaler reading the chosen group's backend."""

from __future__ import annotations

from autoscaler.service_scaler import ServiceScaler
from shoal import keys
from shoal.scaling_groups import candidates, measured_group
from shoal.v1 import resources_pb2 as r
from shoal.v1 import scaling_pb2 as sc
from tests.unit.test_ecs_api import gateway  # noqa: F401 (fixture)
from tests.unit.test_ecs_appscaling import TARGET, aas, refused  # noqa: F401 (fixture)
from tests.unit.test_service_scaler import Clock, FakeCP, FakeProm

ARN = "arn:aws:elasticloadbalancing:us-east-1:0:targetgroup/{}/{}"
BLUE, GREEN, OLD = ARN.format("blue", "b1"), ARN.format("green", "g2"), ARN.format("old", "o3")


def external(primary: str = "blue") -> r.Service:
    svc = r.Service(service_name="web", cluster="default", status="ACTIVE", desired_count=2, running_count=2,
                    deployment_controller=r.DeploymentController(type="EXTERNAL"))
    for name, arn, status in (("blue", BLUE, "ACTIVE"), ("green", GREEN, "ACTIVE"), ("old", OLD, "DRAINING")):
        ts = svc.task_sets.add(id=name, status="PRIMARY" if name == primary else status)
        ts.load_balancers.add(target_group_arn=arn, container_name="web", container_port=80)
    return svc


def test_the_primary_task_sets_group_is_measured_and_a_label_picks_another() -> None:
    assert candidates(external("green")) == [GREEN, BLUE]  # a DRAINING task set's group is no candidate
    assert measured_group(external("blue")) == BLUE
    assert measured_group(external("green")) == GREEN
    assert measured_group(external("blue"), "app/lb/1a/targetgroup/green/g2") == GREEN
    # A label naming a group no live task set uses, or that is no target group label, finds none.
    for label in ("app/lb/1a/targetgroup/old/o3", "app/lb/1a/targetgroup/green/zz", "app/lb/1a", "targetgroup/"):
        assert measured_group(external(), label) == "", label
    # Without task sets: the service's own first group, as before.
    plain = r.Service(load_balancers=[r.ServiceLoadBalancer(target_group_arn=OLD)])
    assert measured_group(plain) == OLD and measured_group(r.Service()) == ""


def _policy(c, label: str = "") -> dict:
    spec = {"PredefinedMetricType": "ALBRequestCountPerTarget"}
    if label:
        spec["ResourceLabel"] = label
    return c.put_scaling_policy(**TARGET, PolicyName="rps", PolicyType="TargetTrackingScaling",
                                TargetTrackingScalingPolicyConfiguration={"TargetValue": 100.0,
                                                                          "PredefinedMetricSpecification": spec})


def test_a_request_count_policy_on_a_service_whose_groups_are_its_task_sets(aas) -> None:  # noqa: F811
    ctx, c = aas
    c.register_scalable_target(**TARGET, MinCapacity=1, MaxCapacity=4)
    # Task sets without load balancers: nothing to measure, refused as for a plain service.
    bare = external()
    for ts in bare.task_sets:
        del ts.load_balancers[:]
    ctx.store.put(keys.service("default", "web"), bare.SerializeToString())
    refused(lambda: _policy(c), "ValidationException", "needs a load balancer", "task sets")
    ctx.store.put(keys.service("default", "web"), external().SerializeToString())
    assert _policy(c)["PolicyARN"]
    assert _policy(c, "app/lb/1a/targetgroup/green/g2")["PolicyARN"]
    refused(lambda: _policy(c, "app/lb/1a/targetgroup/old/o3"), "ValidationException", "resourceLabel",
            "targetgroup/blue/b1")
    got = c.describe_scaling_policies(ServiceNamespace="ecs")["ScalingPolicies"]
    assert [p["TargetTrackingScalingPolicyConfiguration"]["PredefinedMetricSpecification"].get("ResourceLabel")
            for p in got] == ["app/lb/1a/targetgroup/green/g2"]


def _expr(group_id: str) -> str:
    return (f'sum(rate(haproxy_backend_http_requests_total{{proxy="{group_id}"}}[60s])) * 60'
            f' / max(haproxy_backend_active_servers{{proxy="{group_id}"}})')


def test_the_autoscaler_follows_the_primary_task_set() -> None:
    cp, prom, clock = FakeCP(), FakeProm(), Clock()
    cp.service = external("blue")
    cp.policies = [sc.ScalingPolicy(policy_name="rps", cluster="default", service="web",
                                    policy_type="TargetTrackingScaling",
                                    target_tracking=sc.TargetTrackingConfiguration(
                                        target_value=600, predefined_metric_type="ALBRequestCountPerTarget"))]
    # Only green's backend has traffic; blue, the primary, has none yet: no data, hold.
    prom.values[_expr("g2")] = 1500.0
    said = ServiceScaler(cp, prom, clock=clock, rate_window="60s").run_once()
    assert "scaled out" not in said and cp.service.desired_count == 2, said
    # UpdateServicePrimaryTaskSet made green primary: its group is measured now.
    cp.service = external("green")
    said = ServiceScaler(cp, prom, clock=clock, rate_window="60s").run_once()
    assert "scaled out 2 -> 5" in said, said  # ceil(2 * 1500 / 600)

"""deploymentConfiguration.strategy (BLUE_GREEN, CANARY, LINEAR), bake times and PAUSE hooks
through the ECS gateway and boto3: accepted and returned in botocore's shapes, bad values
refused naming the member, ContinueServiceDeployment's errors (the stages themselves:
tests/unit/test_traffic_shift.py)."""

from __future__ import annotations

import pytest

from controlplane.api import loadbalancers
from shoal.v1 import traffic_pb2 as t
from tests.unit.test_ecs_api import WEB, ecs, gateway  # noqa: F401 (fixtures)


@pytest.fixture
def tg(gateway, ecs) -> str:  # noqa: F811
    ctx, _ = gateway
    loadbalancers.create(ctx, t.CreateLoadBalancerRequest(name="web"))
    lb = loadbalancers.create_listener(ctx, t.CreateListenerRequest(load_balancer="web", port=8000)).load_balancer
    ecs.register_task_definition(**WEB)
    return lb.default_target_group_arn


def create(ecs, tg: str, **dc):  # noqa: F811
    return ecs.create_service(serviceName="web", taskDefinition="web", desiredCount=2, deploymentConfiguration=dc,
                              loadBalancers=[{"targetGroupArn": tg, "containerName": "web", "containerPort": 8080}])


HOOK = {"targetType": "PAUSE", "lifecycleStages": ["POST_SCALE_UP"],
        "timeoutConfiguration": {"timeoutInMinutes": 30, "action": "ROLLBACK"}}


def test_a_canary_with_a_pause_hook_is_accepted_and_returned(ecs, tg) -> None:  # noqa: F811
    svc = create(ecs, tg, strategy="CANARY", bakeTimeInMinutes=5,
                 canaryConfiguration={"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 2},
                 lifecycleHooks=[HOOK])["service"]
    dc = svc["deploymentConfiguration"]
    assert (dc["strategy"], dc["bakeTimeInMinutes"], dc["canaryConfiguration"]["canaryPercent"]) == ("CANARY", 5, 10.0)
    assert dc["lifecycleHooks"] == [HOOK]
    # UpdateService to another strategy: its configuration replaces the canary's.
    dc = ecs.update_service(service="web", deploymentConfiguration={
        "strategy": "LINEAR", "linearConfiguration": {"stepPercent": 20.0}})["service"]["deploymentConfiguration"]
    assert (dc["strategy"], dc["linearConfiguration"]["stepPercent"]) == ("LINEAR", 20.0)
    assert "canaryConfiguration" not in dc and dc["lifecycleHooks"] == [HOOK] and dc["bakeTimeInMinutes"] == 5
    with pytest.raises(ecs.exceptions.InvalidParameterException) as caught:
        ecs.update_service(service="web", deploymentConfiguration={"canaryConfiguration": {"canaryPercent": 5.0}})
    assert caught.value.response["Error"]["Message"].startswith("deploymentConfiguration.canaryConfiguration:")
    dc = ecs.update_service(service="web", deploymentConfiguration={"strategy": "ROLLING"})["service"]
    assert "lifecycleHooks" not in dc["deploymentConfiguration"] or not dc["deploymentConfiguration"]["lifecycleHooks"]
    listed = ecs.list_service_deployments(service="web")["serviceDeployments"]
    described = ecs.describe_service_deployments(serviceDeploymentArns=[listed[0]["serviceDeploymentArn"]])
    assert described["serviceDeployments"][0]["deploymentConfiguration"]["strategy"] == "CANARY"


@pytest.mark.parametrize("dc, member", [
    ({"strategy": "CANARY", "canaryConfiguration": {"canaryPercent": 0.0}},
     "deploymentConfiguration.canaryConfiguration.canaryPercent"),
    ({"strategy": "CANARY", "canaryConfiguration": {"canaryPercent": 101.0}},
     "deploymentConfiguration.canaryConfiguration.canaryPercent"),
    ({"strategy": "LINEAR"}, "deploymentConfiguration.linearConfiguration.stepPercent"),
    ({"strategy": "BLUE_GREEN", "lifecycleHooks": [{"targetType": "AWS_LAMBDA", "lifecycleStages": ["POST_SCALE_UP"],
                                                    "hookTargetArn": "arn:aws:lambda:x"}]},
     "deploymentConfiguration.lifecycleHooks[0].targetType"),
    ({"strategy": "BLUE_GREEN", "alarms": {"alarmNames": ["a"], "enable": True, "rollback": True}},
     "deploymentConfiguration.alarms"),
])
def test_bad_strategies_are_refused_naming_the_member(ecs, tg, dc, member) -> None:  # noqa: F811
    with pytest.raises(ecs.exceptions.InvalidParameterException) as caught:
        create(ecs, tg, **dc)
    assert caught.value.response["Error"]["Message"].startswith(member)
    assert ecs.list_services()["serviceArns"] == []  # nothing half-made


def test_blue_green_needs_a_load_balancer(ecs, tg) -> None:  # noqa: F811
    with pytest.raises(ecs.exceptions.InvalidParameterException) as caught:
        ecs.create_service(serviceName="bare", taskDefinition="web", desiredCount=1,
                           deploymentConfiguration={"strategy": "BLUE_GREEN"})
    assert "no loadBalancers" in caught.value.response["Error"]["Message"]


def test_continue_service_deployment_errors(ecs, tg) -> None:  # noqa: F811
    create(ecs, tg, strategy="BLUE_GREEN", lifecycleHooks=[HOOK])
    arn = ecs.list_service_deployments(service="web")["serviceDeployments"][0]["serviceDeploymentArn"]
    with pytest.raises(ecs.exceptions.InvalidParameterException) as caught:
        ecs.continue_service_deployment(serviceDeploymentArn=arn, hookId="nope")
    assert caught.value.response["Error"]["Message"].startswith("hookId: no hook 'nope'")
    with pytest.raises(ecs.exceptions.ServiceDeploymentNotFoundException):
        ecs.continue_service_deployment(serviceDeploymentArn=arn + "1", hookId="x")
    with pytest.raises(ecs.exceptions.InvalidParameterException):
        ecs.continue_service_deployment(serviceDeploymentArn=arn, hookId="x", action="SKIP")

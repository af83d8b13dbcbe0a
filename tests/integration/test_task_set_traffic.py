"""A blue/green switch through task sets, as ECS users script it, on `shoal up` (a real
control plane, an agent with its node proxy, HAProxy, busybox httpd tasks) through boto3's
ecs and elbv2 clients: an EXTERNAL service's blue and green task sets each behind its own
target group, the listener forwarding to blue; ModifyListener moves it to green, the
primary task set switches, blue is scaled to 0 and deleted. Requests through the listener
run all along: each reaches only the task set its listener forwards to, and none fails.
Two task sets may also share one target group: both answer through its listener."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from shoal.netutil import free_port
from shoalctl.local.agents import agent_loopback
from tests.ecs_model import validate_every_response
from tests.integration.test_traffic_walk import CONVERGE, Load, Up, answers_from_all, shoal_up, taskdef
from tests.waiting import wait_for

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def up(tmp_path_factory, busybox_image) -> Iterator[Up]:
    with shoal_up(tmp_path_factory.mktemp("tslb") / "state", 1) as started:
        yield started


def test_blue_green_through_task_sets_and_a_listener_switch(up: Up) -> None:
    elbv2, ecs = up.aws("elbv2", "ecs")
    seen = validate_every_response(ecs)
    port = free_port()
    lb = elbv2.create_load_balancer(Name="bg", Type="application")["LoadBalancers"][0]
    groups = {}
    for color in ("blue", "green"):
        groups[color] = elbv2.create_target_group(
            Name=color, Protocol="HTTP", Port=8080, VpcId="vpc-0", TargetType="ip", HealthCheckPath="/",
            HealthCheckIntervalSeconds=5, HealthCheckTimeoutSeconds=2, HealthyThresholdCount=2,
            UnhealthyThresholdCount=2)["TargetGroups"][0]["TargetGroupArn"]
        elbv2.modify_target_group_attributes(TargetGroupArn=groups[color], Attributes=[
            {"Key": "deregistration_delay.timeout_seconds", "Value": "5"}])
    listener = elbv2.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=port, DefaultActions=[
        {"Type": "forward", "TargetGroupArn": groups["blue"]}])["Listeners"][0]
    ecs.register_task_definition(**taskdef("bg"))
    # bg:2, the green revision. Its body differs from bg:1's: two identical requests signed in
    # the same second sign alike, and the gateway refuses the second as a replay.
    green = taskdef("bg")
    green["containerDefinitions"][0]["environment"] = [{"name": "COLOR", "value": "green"}]
    ecs.register_task_definition(**green)
    ecs.create_service(serviceName="bg", desiredCount=2, deploymentController={"type": "EXTERNAL"})
    sets = {}
    for color, revision in (("blue", "bg:1"), ("green", "bg:2")):
        attached = [{"targetGroupArn": groups[color], "containerName": "web", "containerPort": 8080}]
        sets[color] = ecs.create_task_set(cluster="default", service="bg", taskDefinition=revision,
                                          externalId=color, loadBalancers=attached)["taskSet"]
        assert sets[color]["loadBalancers"] == attached
    described = {ts["externalId"]: ts["loadBalancers"][0]["targetGroupArn"]
                 for ts in ecs.describe_task_sets(cluster="default", service="bg")["taskSets"]}
    assert described == groups

    def healthy(color: str) -> set[str]:
        found = elbv2.describe_target_health(TargetGroupArn=groups[color])["TargetHealthDescriptions"]
        return {d["Target"]["Id"] for d in found if d["TargetHealth"]["State"] == "healthy"}

    for color in ("blue", "green"):
        wait_for(lambda c=color: len(healthy(c)) == 2, 120, f"the {color} task set's 2 tasks healthy in its group")
    names: dict[str, set[str]] = {}
    arns_of: dict[str, list[str]] = {}
    for color in ("blue", "green"):
        arns = arns_of[color] = ecs.list_tasks(serviceName="bg", startedBy=sets[color]["id"],
                                               desiredStatus="RUNNING")["taskArns"]
        tasks = ecs.describe_tasks(tasks=arns)["tasks"]
        assert {x["taskArn"].rsplit("/", 1)[-1] for x in tasks} == healthy(color)
        names[color] = {x["containers"][0]["runtimeId"][:12] for x in tasks}
    address = agent_loopback(1)
    wait_for(lambda: answers_from_all([address], port, names["blue"])[address] == names["blue"], 30,
             "both blue tasks answering through the listener")

    load = Load([address], port)
    try:
        mark = load.mark()
        wait_for(lambda: load.mark() >= mark + 30, 30, "30 requests on blue")
        assert load.since(mark) == names["blue"], "the listener forwards to blue only"
        elbv2.modify_listener(ListenerArn=listener["ListenerArn"], DefaultActions=[
            {"Type": "forward", "TargetGroupArn": groups["green"]}])
        switched = time.monotonic()
        wait_for(lambda: load.answers[-1][1] in names["green"], 30, "requests answered by green")
        ecs.update_service_primary_task_set(cluster="default", service="bg", primaryTaskSet=sets["green"]["id"])
        ecs.update_task_set(cluster="default", service="bg", taskSet=sets["blue"]["id"],
                            scale={"value": 0.0, "unit": "PERCENT"})
        ecs.delete_task_set(cluster="default", service="bg", taskSet=sets["blue"]["id"])
        wait_for(lambda: [ts["id"] for ts in ecs.describe_task_sets(cluster="default", service="bg")["taskSets"]]
                 == [sets["green"]["id"]], 90, "the blue task set gone once its tasks drained and stopped")
        mark = load.mark()
        wait_for(lambda: load.mark() >= mark + 30, 30, "30 requests after blue is gone")
    finally:
        load.finish()
    assert not load.failures, load.failures[:5]
    late = [round(at - switched, 2) for at, a in load.answers if a in names["blue"] and at > switched + CONVERGE]
    assert not late, f"requests reached blue this long after ModifyListener: {late[:5]}"
    assert load.since(mark) == names["green"]
    assert healthy("blue") == set() and len(healthy("green")) == 2
    # Blue's tasks kept serving in-flight requests for the group's deregistration delay (5 s).
    for task in ecs.describe_tasks(tasks=arns_of["blue"])["tasks"]:
        assert task["lastStatus"] == "STOPPED"
        assert (task["stoppedAt"] - task["stoppingAt"]).total_seconds() >= 4.5, task
    assert {"CreateTaskSet", "DescribeTaskSets", "UpdateTaskSet", "DeleteTaskSet",
            "UpdateServicePrimaryTaskSet"} <= set(seen)


def test_two_task_sets_behind_one_target_group_both_answer(up: Up) -> None:
    elbv2, ecs = up.aws("elbv2", "ecs")
    port = free_port()
    lb = elbv2.create_load_balancer(Name="shared", Type="application")["LoadBalancers"][0]
    tg = elbv2.create_target_group(Name="shared", Protocol="HTTP", Port=8080, VpcId="vpc-0", TargetType="ip",
                                   HealthCheckPath="/", HealthCheckIntervalSeconds=5, HealthCheckTimeoutSeconds=2,
                                   HealthyThresholdCount=2)["TargetGroups"][0]["TargetGroupArn"]
    elbv2.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=port,
                          DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])
    ecs.register_task_definition(**taskdef("shared"))
    ecs.create_service(serviceName="shared", desiredCount=2, deploymentController={"type": "EXTERNAL"})
    attached = [{"targetGroupArn": tg, "containerName": "web", "containerPort": 8080}]
    # Each its own externalId: identical writes in one second would be refused as a replay.
    ids = [ecs.create_task_set(cluster="default", service="shared", taskDefinition="shared", externalId=f"set-{i}",
                               scale={"value": 50.0, "unit": "PERCENT"}, loadBalancers=attached)["taskSet"]["id"]
           for i in range(2)]

    def healthy() -> int:
        found = elbv2.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]
        return sum(1 for d in found if d["TargetHealth"]["State"] == "healthy")
    wait_for(lambda: healthy() == 2, 120, "one task of each task set healthy in the shared group")
    names = set()
    for ts in ids:
        (arn,) = ecs.list_tasks(serviceName="shared", startedBy=ts, desiredStatus="RUNNING")["taskArns"]
        names.add(ecs.describe_tasks(tasks=[arn])["tasks"][0]["containers"][0]["runtimeId"][:12])
    address = agent_loopback(1)
    wait_for(lambda: answers_from_all([address], port, names)[address] == names, 30,
             "both task sets' tasks answering through the one listener")

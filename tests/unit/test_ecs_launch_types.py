"""Launch types through the ECS gateway (boto3, in process, responses checked against
botocore's model): EC2 and EXTERNAL kept as sent and filtered on; FARGATE on a cluster
without a Fargate capacity provider, unknown values and a launch type the task definition
does not allow refused naming the field."""

from __future__ import annotations

import pytest

from controlplane import launch_types
from controlplane.errors import ApiError
from tests.aws_clients import refused
from tests.unit.test_ecs_api import WEB, ecs, gateway  # noqa: F401 (fixtures)

ONLY_EC2 = {**WEB, "family": "only-ec2", "requiresCompatibilities": ["EC2"]}


def test_external_and_ec2_tasks_are_kept_and_filtered(ecs) -> None:  # noqa: F811
    ecs.register_task_definition(**WEB)
    ext = ecs.run_task(taskDefinition="web", launchType="EXTERNAL", count=2)["tasks"]
    ec2 = ecs.run_task(taskDefinition="web", launchType="EC2")["tasks"]
    default = ecs.run_task(taskDefinition="web")["tasks"]
    assert [t["launchType"] for t in ext + ec2 + default] == ["EXTERNAL", "EXTERNAL", "EC2", "EC2"]
    arns = [t["taskArn"] for t in ext + ec2 + default]
    described = ecs.describe_tasks(tasks=arns)["tasks"]
    assert {t["taskArn"]: t["launchType"] for t in described} == {t["taskArn"]: t["launchType"]
                                                                   for t in ext + ec2 + default}
    assert sorted(ecs.list_tasks(launchType="EXTERNAL")["taskArns"]) == sorted(t["taskArn"] for t in ext)
    assert sorted(ecs.list_tasks(launchType="EC2")["taskArns"]) == sorted(t["taskArn"] for t in ec2 + default)
    assert ecs.list_tasks(launchType="FARGATE")["taskArns"] == []
    assert len(ecs.list_tasks()["taskArns"]) == 4


def test_external_services_are_kept_and_filtered(ecs) -> None:  # noqa: F811
    ecs.register_task_definition(**WEB)
    ext = ecs.create_service(serviceName="ext", taskDefinition="web", desiredCount=0, launchType="EXTERNAL")
    ec2 = ecs.create_service(serviceName="ec2", taskDefinition="web", desiredCount=0)
    assert (ext["service"]["launchType"], ec2["service"]["launchType"]) == ("EXTERNAL", "EC2")
    described = ecs.describe_services(services=["ext", "ec2"])["services"]
    assert [s["launchType"] for s in described] == ["EXTERNAL", "EC2"]
    assert ecs.list_services(launchType="EXTERNAL")["serviceArns"] == [ext["service"]["serviceArn"]]
    assert ecs.list_services(launchType="EC2")["serviceArns"] == [ec2["service"]["serviceArn"]]
    assert ecs.list_services(launchType="FARGATE")["serviceArns"] == []


def test_bad_launch_types_are_refused_naming_the_field(ecs) -> None:  # noqa: F811
    ecs.register_task_definition(**WEB)
    ecs.register_task_definition(**ONLY_EC2)
    msg = refused(ecs.run_task, taskDefinition="web", launchType="FARGATE")
    assert msg.startswith("launchType: FARGATE needs a capacity provider") and "--fargate" in msg
    msg = refused(ecs.create_service, serviceName="f", taskDefinition="web", desiredCount=1, launchType="FARGATE")
    assert msg.startswith("launchType: FARGATE")
    # botocore does not check enums, so an unknown value reaches the gateway as sent.
    assert refused(ecs.run_task, taskDefinition="web", launchType="LAMBDA").startswith("launchType: 'LAMBDA'")
    assert refused(ecs.list_tasks, launchType="LAMBDA").startswith("launchType: 'LAMBDA'")
    msg = refused(ecs.run_task, taskDefinition="only-ec2", launchType="EXTERNAL")
    assert "launchType: EXTERNAL" in msg and "requiresCompatibilities" in msg
    msg = refused(ecs.create_service, serviceName="x", taskDefinition="only-ec2", desiredCount=0,
                  launchType="EXTERNAL")
    assert "requiresCompatibilities" in msg
    # Nothing half-applied: no task, no service came of the refusals.
    assert ecs.list_tasks()["taskArns"] == []
    assert ecs.list_services()["serviceArns"] == []
    assert ecs.run_task(taskDefinition="only-ec2", launchType="EC2")["tasks"][0]["launchType"] == "EC2"


@pytest.mark.parametrize("value", ["ec2", "LAMBDA", "x" * 300])
def test_unknown_launch_types_are_refused(value: str) -> None:
    with pytest.raises(ApiError) as caught:
        launch_types.check(value)
    assert caught.value.message.startswith("launchType: ") and "not a launch type" in caught.value.message
    with pytest.raises(ApiError):
        launch_types.check_filter(value)
    assert len(caught.value.message) < 200


def test_check_keeps_what_it_serves() -> None:
    assert launch_types.check("") == "EC2"
    assert launch_types.check("EXTERNAL", ["EC2", "EXTERNAL"]) == "EXTERNAL"
    assert launch_types.check("EC2", []) == "EC2"
    assert launch_types.check_filter("FARGATE") == "FARGATE"

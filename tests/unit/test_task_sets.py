"""Task sets (the EXTERNAL deployment controller): a task set's share of the desired count,
the leader's controller running each task set's tasks on the in-memory plane, and the ECS
gateway's five operations through boto3 with every response checked against botocore's
model, bad input refused with ECS's error codes naming the field."""

from __future__ import annotations

import pytest

from controlplane.api import accesskeys, services
from controlplane.api import task_sets as api
from controlplane.controllers.services import ServiceController
from controlplane.errors import ApiError
from controlplane.task_sets import DRAINING, STABILIZING, STEADY, check_scale, computed_desired
from shoal.v1 import accesskeys_pb2 as ak
from shoal.v1 import operator_pb2 as op
from shoal.v1 import resources_pb2 as r
from tests.fixtures.plane import place_and_run
from tests.unit.test_ecs_api import WEB, ecs, ecs_client, gateway  # noqa: F401 (fixtures)


@pytest.mark.parametrize("desired, percent, want", [
    (4, 100, 4), (4, 50, 2), (3, 50, 2), (10, 30, 3), (3, 33.4, 2), (5, 0, 0), (0, 100, 0), (1, 0.1, 1)])
def test_a_task_sets_share_is_its_scale_of_the_desired_count_rounded_up(desired, percent, want) -> None:
    assert computed_desired(desired, r.TaskSet(scale=r.Scale(value=percent))) == want


def test_a_draining_task_set_wants_no_task() -> None:
    assert computed_desired(4, r.TaskSet(scale=r.Scale(value=100), status=DRAINING)) == 0


@pytest.mark.parametrize("value, unit, field", [
    (101, "PERCENT", "scale.value"), (-1, None, "scale.value"), ("50", "PERCENT", "scale.value"),
    (True, "PERCENT", "scale.value"), (None, "PERCENT", "scale.value"), (50, "TASKS", "scale.unit")])
def test_a_scale_outside_0_to_100_percent_is_refused_naming_the_member(value, unit, field) -> None:
    with pytest.raises(ApiError) as caught:
        check_scale(value, unit)
    assert caught.value.message.startswith(field + ":")
    assert caught.value.ecs_type == "InvalidParameterException"


# ---- the leader ---------------------------------------------------------------------------


def test_the_controller_runs_each_task_sets_share_and_drains_a_deleted_one(plane) -> None:
    for name in ("n1", "n2", "n3"):
        plane.node(name, cpu=4096, memory=4096)
    api.create_service(plane.api, op.CreateServiceRequest(service_name="web", desired_count=4))
    blue = api.create(plane.api, "default", "web", task_definition="web", scale=r.Scale(value=100, unit="PERCENT"),
                      launch_type="", strategy=[], external_id="blue", tags=[])
    green = api.create(plane.api, "default", "web", task_definition="web", scale=r.Scale(value=50, unit="PERCENT"),
                       launch_type="", strategy=[], external_id="green", tags=[])
    assert (blue.status, green.status) == ("PRIMARY", "ACTIVE")
    ctl = ServiceController(plane.writer, plane.api.arns)
    said = ctl.reconcile(plane.view())
    assert f"task set {blue.id}: started 4 tasks" in said and f"task set {green.id}: started 2 tasks" in said
    # Counted as the next cycle finds them (a cycle counts the tasks it found, not those it made).
    assert ctl.reconcile(plane.view()) == ""
    svc = plane.service()
    assert [(ts.pending_count, ts.stability_status) for ts in svc.task_sets] == [(4, STABILIZING), (2, STABILIZING)]

    place_and_run(plane)
    assert ctl.reconcile(plane.view()) == ""
    svc = plane.service()
    counts = [(ts.computed_desired_count, ts.running_count, ts.pending_count, ts.stability_status)
              for ts in svc.task_sets]
    assert counts == [(4, 4, 0, STEADY), (2, 2, 0, STEADY)]
    assert (svc.running_count, svc.pending_count) == (6, 0)
    by_set = {t.task_set_id for t in plane.tasks().values()}
    assert by_set == {blue.id, green.id}

    api.make_primary(plane.api, "default", "web", green.id)
    assert [ts.status for ts in plane.service().task_sets] == ["ACTIVE", "PRIMARY"]
    api.update_scale(plane.api, "default", "web", green.id, r.Scale(value=25, unit="PERCENT"))
    assert f"task set {green.id}: stopped 1 tasks to scale in to 1" in ctl.reconcile(plane.view())

    api.delete(plane.api, "default", "web", blue.id, force=True)
    said = ctl.reconcile(plane.view())
    assert f"task set {blue.id}: stopped 4 tasks" in said
    stopping = [t for t in plane.tasks().values() if t.task_set_id == blue.id]
    assert len(stopping) == 4 and all(t.desired_status == "STOPPED" for t in stopping)
    for t in stopping:
        plane.report(t.id, "STOPPED")
    assert f"task set {blue.id}: deleted (no tasks left)" in ctl.reconcile(plane.view())
    assert [ts.id for ts in plane.service().task_sets] == [green.id]

    # The service's desired count moves every task set's share: 25% of 8 is 2.
    services.update(plane.api, op.UpdateServiceRequest(service="web", desired_count=8))
    assert f"task set {green.id}: started 1 tasks" in ctl.reconcile(plane.view())


# ---- the gateway --------------------------------------------------------------------------


def _external(ecs, desired: int = 4) -> dict:  # noqa: F811
    ecs.register_task_definition(**WEB)
    return ecs.create_service(serviceName="ext", desiredCount=desired,
                              deploymentController={"type": "EXTERNAL"})["service"]


def test_task_sets_through_boto3_match_the_model(ecs) -> None:  # noqa: F811
    svc = _external(ecs)
    assert svc["deploymentController"] == {"type": "EXTERNAL"} and "taskDefinition" not in svc
    first = ecs.create_task_set(cluster="default", service="ext", taskDefinition="web", externalId="blue",
                                scale={"value": 100.0, "unit": "PERCENT"}, clientToken="tok-1",
                                tags=[{"key": "team", "value": "a"}])["taskSet"]
    assert (first["status"], first["computedDesiredCount"], first["scale"]) == (
        "PRIMARY", 4, {"value": 100.0, "unit": "PERCENT"})
    assert first["taskSetArn"].endswith(":task-set/default/ext/" + first["id"]) and first["id"].startswith("ecs-svc/")
    again = ecs.create_task_set(cluster="default", service="ext", taskDefinition="web", clientToken="tok-1")
    assert again["taskSet"]["id"] == first["id"], "a retried create with the same clientToken makes no second set"
    second = ecs.create_task_set(cluster="default", service="ext", taskDefinition="web",
                                 scale={"value": 50.0, "unit": "PERCENT"})["taskSet"]
    assert (second["status"], second["computedDesiredCount"]) == ("ACTIVE", 2)

    described = ecs.describe_task_sets(cluster="default", service="ext", taskSets=[second["taskSetArn"], "nope"],
                                       include=["TAGS"])
    assert [ts["id"] for ts in described["taskSets"]] == [second["id"]]
    assert described["failures"] == [{"arn": "nope", "reason": "MISSING"}]
    assert len(ecs.describe_task_sets(cluster="default", service="ext")["taskSets"]) == 2
    assert ecs.describe_services(services=["ext"])["services"][0]["taskSets"][1]["id"] == second["id"]

    primary = ecs.update_service_primary_task_set(cluster="default", service="ext", primaryTaskSet=second["id"])
    assert primary["taskSet"]["status"] == "PRIMARY"
    assert [ts["status"] for ts in ecs.describe_task_sets(cluster="default", service="ext")["taskSets"]] == [
        "ACTIVE", "PRIMARY"]
    updated = ecs.update_task_set(cluster="default", service="ext", taskSet=first["id"],
                                  scale={"value": 0.0, "unit": "PERCENT"})["taskSet"]
    assert (updated["computedDesiredCount"], updated["scale"]["value"]) == (0, 0.0)
    # Scaled to zero, it goes without force; the other (50%) needs it.
    assert ecs.delete_task_set(cluster="default", service="ext", taskSet=first["id"])["taskSet"]["status"] == DRAINING
    with pytest.raises(ecs.exceptions.InvalidParameterException) as caught:
        ecs.delete_task_set(cluster="default", service="ext", taskSet=second["id"])
    assert caught.value.response["Error"]["Message"].startswith("taskSet:")
    assert ecs.delete_task_set(cluster="default", service="ext", taskSet=second["id"],
                               force=True)["taskSet"]["status"] == DRAINING


def _refused(call, code: str, field: str) -> None:
    with pytest.raises(Exception) as caught:
        call()
    err = caught.value.response["Error"]  # type: ignore[attr-defined]
    assert (err["Code"], err["Message"].split(":")[0]) == (code, field), err


def test_bad_task_set_requests_are_refused_naming_the_field(ecs) -> None:  # noqa: F811
    _external(ecs)
    ecs.create_service(serviceName="plain", taskDefinition="web", desiredCount=0)
    cts = ecs.create_task_set
    _refused(lambda: cts(cluster="default", service="plain", taskDefinition="web"),
             "InvalidParameterException", "service")
    _refused(lambda: cts(cluster="default", service="gone", taskDefinition="web"),
             "ServiceNotFoundException", "service")
    _refused(lambda: cts(cluster="nowhere", service="ext", taskDefinition="web"),
             "ClusterNotFoundException", "cluster")
    _refused(lambda: cts(cluster="default", service="ext", taskDefinition="web", scale={"value": 150.0}),
             "InvalidParameterException", "scale.value")
    _refused(lambda: cts(cluster="default", service="ext", taskDefinition="web", launchType="FARGATE"),
             "InvalidParameterException", "launchType")
    _refused(lambda: cts(cluster="default", service="ext", taskDefinition="web", loadBalancers=[
        {"targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/x/1", "containerName": "web",
         "containerPort": 8080}]), "InvalidParameterException", "loadBalancers[0].targetGroupArn")
    _refused(lambda: cts(cluster="default", service="ext", taskDefinition="web",
                         networkConfiguration={"awsvpcConfiguration": {"subnets": ["s"]}}),
             "InvalidParameterException", "networkConfiguration")
    with pytest.raises(ecs.exceptions.ClientException):
        cts(cluster="default", service="ext", taskDefinition="nosuch")
    _refused(lambda: ecs.update_task_set(cluster="default", service="ext", taskSet="ecs-svc/1",
                                         scale={"value": 10.0}), "TaskSetNotFoundException", "taskSet")
    _refused(lambda: ecs.create_service(serviceName="x", taskDefinition="web", desiredCount=1,
                                        deploymentController={"type": "EXTERNAL"}),
             "InvalidParameterException", "taskDefinition")
    _refused(lambda: ecs.create_service(serviceName="x", desiredCount=1, deploymentController={"type": "EXTERNAL"},
                                        loadBalancers=[{"targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:1:"
                                                        "targetgroup/x/1", "containerName": "web",
                                                        "containerPort": 8080}]),
             "InvalidParameterException", "loadBalancers")
    _refused(lambda: ecs.create_service(serviceName="x", taskDefinition="web", desiredCount=1,
                                        deploymentController={"type": "CODE_DEPLOY"}),
             "InvalidParameterException", "deploymentController.type")
    _refused(lambda: ecs.update_service(service="ext", taskDefinition="web"), "InvalidParameterException",
             "taskDefinition")
    _refused(lambda: ecs.update_service(service="ext", forceNewDeployment=True), "InvalidParameterException",
             "forceNewDeployment")
    _refused(lambda: ecs.update_service(service="ext", capacityProviderStrategy=[]), "InvalidParameterException",
             "capacityProviderStrategy")
    _refused(lambda: ecs.update_service(service="ext", loadBalancers=[]), "InvalidParameterException",
             "loadBalancers")
    assert ecs.update_service(service="ext", desiredCount=2)["service"]["deployments"] == []
    # Nothing half-applied: the refused creates left no task set behind.
    assert ecs.describe_task_sets(cluster="default", service="ext")["taskSets"] == []


def test_a_viewer_key_describes_task_sets_but_cannot_change_them(gateway, ecs) -> None:  # noqa: F811
    ctx, gw = gateway
    _external(ecs)
    made = ecs.create_task_set(cluster="default", service="ext", taskDefinition="web")["taskSet"]
    key = accesskeys.create(ctx, ak.CreateAccessKeyRequest(user="vic", role="viewer"))
    viewer = ecs_client(gw, key.access_key_id, key.secret_access_key)
    assert [ts["id"] for ts in viewer.describe_task_sets(cluster="default", service="ext")["taskSets"]] == [made["id"]]
    writes = [lambda: viewer.create_task_set(cluster="default", service="ext", taskDefinition="web"),
              lambda: viewer.update_task_set(cluster="default", service="ext", taskSet=made["id"],
                                             scale={"value": 0.0, "unit": "PERCENT"}),
              lambda: viewer.update_service_primary_task_set(cluster="default", service="ext",
                                                             primaryTaskSet=made["id"]),
              lambda: viewer.delete_task_set(cluster="default", service="ext", taskSet=made["id"], force=True)]
    for write in writes:
        with pytest.raises(viewer.exceptions.AccessDeniedException):
            write()
    after = ecs.describe_task_sets(cluster="default", service="ext")["taskSets"]
    assert [(ts["id"], ts["status"], ts["scale"]["value"]) for ts in after] == [(made["id"], "PRIMARY", 100.0)]

"""A service's deployment history and a rollback over the ECS wire, with the control plane's
controllers running (tests/integration/test_ecs_gateway.py's plane: real etcd, agents that
report over the real stream): boto3 with the services-stable waiter, and the aws CLI."""

from __future__ import annotations

import json

import pytest

from tests.ecs_model import validate_every_response
from tests.integration.test_ecs_gateway import FAST_WAITER, WEB, Plane, aws, plane  # noqa: F401 (fixture)
from tests.waiting import wait_for

pytestmark = pytest.mark.integration


def test_a_deployment_stopped_over_the_wire_rolls_back(plane: Plane) -> None:  # noqa: F811
    for i, zone in enumerate("ab"):
        plane.add_agent(f"host-{i}", zone)
    key = plane.access_key()
    ecs = plane.client(key.access_key_id, key.secret_access_key)
    validate_every_response(ecs)
    wait_for(lambda: len(ecs.list_container_instances()["containerInstanceArns"]) == 2, 30, "2 instances")
    v1 = ecs.register_task_definition(**WEB)["taskDefinition"]["taskDefinitionArn"]
    ecs.create_service(serviceName="web", taskDefinition="web", desiredCount=2)
    ecs.get_waiter("services_stable").wait(services=["web"], WaiterConfig=FAST_WAITER)
    first = ecs.list_service_deployments(service="web")["serviceDeployments"]
    wait_for(lambda: ecs.list_service_deployments(service="web")["serviceDeployments"][0]["status"] == "SUCCESSFUL",
             30, "the first deployment SUCCESSFUL")

    # A new revision whose image never starts: stopped while in progress, the service returns to v1.
    ecs.register_task_definition(**{**WEB, "containerDefinitions": [
        {**WEB["containerDefinitions"][0], "image": "shoal/never:1"}]})
    ecs.update_service(service="web", taskDefinition="web:2")
    current = ecs.list_service_deployments(service="web", status=["IN_PROGRESS"])["serviceDeployments"]
    assert len(current) == 1
    ecs.stop_service_deployment(serviceDeploymentArn=current[0]["serviceDeploymentArn"], stopType="ROLLBACK")
    ecs.get_waiter("services_stable").wait(services=["web"], WaiterConfig=FAST_WAITER)
    svc = ecs.describe_services(services=["web"])["services"][0]
    assert svc["taskDefinition"] == v1 and svc["runningCount"] == 2

    def rolled_back() -> dict | None:
        got = ecs.describe_service_deployments(serviceDeploymentArns=[current[0]["serviceDeploymentArn"]])
        d = got["serviceDeployments"][0]
        return d if d["status"] == "ROLLBACK_SUCCESSFUL" else None
    d = wait_for(rolled_back, 30, "the stopped deployment ROLLBACK_SUCCESSFUL")
    assert d["rollback"]["serviceRevisionArn"] == first[0]["targetServiceRevisionArn"]
    revision = ecs.describe_service_revisions(serviceRevisionArns=[d["rollback"]["serviceRevisionArn"]])
    assert revision["serviceRevisions"][0]["taskDefinition"] == v1
    # The aws CLI reads the same history.
    listed = aws(plane, key, "list-service-deployments", "--cluster", "default", "--service", "web")
    assert listed.returncode == 0, listed.stderr
    assert [x["status"] for x in json.loads(listed.stdout)["serviceDeployments"]] == \
        ["ROLLBACK_SUCCESSFUL", "SUCCESSFUL"]

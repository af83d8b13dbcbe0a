"""Task sets (the EXTERNAL deployment controller) on a real control plane process and etcd,
through the ECS gateway with boto3 and the real aws CLI; scripted agents run what they are
given. Two task sets at 100% and 50% of a desired count of 4 run 4 and 2 tasks; the primary
switches; deleting a task set stops its tasks and it goes."""

from __future__ import annotations

import json

import pytest

from tests.ecs_model import validate_every_response
from tests.integration.test_ecs_gateway import WEB, Plane, aws, plane  # noqa: F401 (fixture)
from tests.waiting import wait_for

pytestmark = pytest.mark.integration


def test_two_task_sets_run_their_shares_switch_primary_and_delete(plane: Plane) -> None:  # noqa: F811
    for i, zone in enumerate("ab"):
        plane.add_agent(f"host-{i}", zone)
    key = plane.access_key()
    ecs = plane.client(key.access_key_id, key.secret_access_key)
    seen = validate_every_response(ecs)
    wait_for(lambda: len(ecs.list_container_instances()["containerInstanceArns"]) == 2, 60, "2 container instances")
    ecs.register_task_definition(**WEB)
    ecs.register_task_definition(**WEB)  # web:2, the "green" revision
    ecs.create_service(serviceName="ext", desiredCount=4, deploymentController={"type": "EXTERNAL"})

    blue = ecs.create_task_set(cluster="default", service="ext", taskDefinition="web:1", externalId="blue",
                               scale={"value": 100.0, "unit": "PERCENT"})["taskSet"]
    made = aws(plane, key, "create-task-set", "--cluster", "default", "--service", "ext", "--task-definition",
               "web:2", "--external-id", "green", "--scale", "value=50,unit=PERCENT")
    assert made.returncode == 0, made.stderr
    green = json.loads(made.stdout)["taskSet"]
    assert (blue["status"], green["status"], green["computedDesiredCount"]) == ("PRIMARY", "ACTIVE", 2)

    def sets() -> dict[str, dict]:
        return {ts["id"]: ts for ts in ecs.describe_task_sets(cluster="default", service="ext")["taskSets"]}

    def steady(want: dict[str, int]) -> bool:
        now = sets()
        return set(now) == set(want) and all(
            (now[i]["runningCount"], now[i]["pendingCount"], now[i]["stabilityStatus"]) == (n, 0, "STEADY_STATE")
            for i, n in want.items())

    wait_for(lambda: steady({blue["id"]: 4, green["id"]: 2}), 120, "task sets at 4 and 2 tasks, steady")
    running = ecs.describe_tasks(tasks=ecs.list_tasks(serviceName="ext", desiredStatus="RUNNING")["taskArns"])
    by_definition = sorted(t["taskDefinitionArn"].rsplit(":", 1)[1] for t in running["tasks"])
    assert by_definition == ["1", "1", "1", "1", "2", "2"]
    assert sorted(t["startedBy"] for t in running["tasks"]) == sorted([blue["id"]] * 4 + [green["id"]] * 2)
    svc = ecs.describe_services(services=["ext"])["services"][0]
    assert (svc["runningCount"], svc["deploymentController"]) == (6, {"type": "EXTERNAL"})

    switched = aws(plane, key, "update-service-primary-task-set", "--cluster", "default", "--service", "ext",
                   "--primary-task-set", green["taskSetArn"])
    assert switched.returncode == 0, switched.stderr
    assert {i: ts["status"] for i, ts in sets().items()} == {blue["id"]: "ACTIVE", green["id"]: "PRIMARY"}

    ecs.update_task_set(cluster="default", service="ext", taskSet=green["id"], scale={"value": 100.0,
                                                                                      "unit": "PERCENT"})
    wait_for(lambda: steady({blue["id"]: 4, green["id"]: 4}), 120, "green scaled up to 4")

    refused = aws(plane, key, "delete-task-set", "--cluster", "default", "--service", "ext", "--task-set", blue["id"])
    assert refused.returncode != 0 and "InvalidParameterException" in refused.stderr and "taskSet:" in refused.stderr
    deleted = aws(plane, key, "delete-task-set", "--cluster", "default", "--service", "ext", "--task-set", blue["id"],
                  "--force")
    assert deleted.returncode == 0, deleted.stderr
    assert json.loads(deleted.stdout)["taskSet"]["status"] == "DRAINING"
    wait_for(lambda: steady({green["id"]: 4}), 120, "the deleted task set gone, green alone at 4")
    left = ecs.describe_tasks(tasks=ecs.list_tasks(serviceName="ext", desiredStatus="RUNNING")["taskArns"])["tasks"]
    assert sorted(t["startedBy"] for t in left) == [green["id"]] * 4
    assert {"CreateTaskSet", "DescribeTaskSets", "UpdateTaskSet", "DescribeTasks"} <= set(seen)

"""DeleteTaskDefinitions through the ECS gateway (boto3, responses checked against botocore's
model): INACTIVE revisions become DELETE_IN_PROGRESS tombstones whose revision numbers are
never reused; ACTIVE ones, ones a service or live task still runs, and unknown ones come back
as failures, and nothing else changes."""

from __future__ import annotations

import pytest

from tests.unit.test_ecs_api import WEB, ecs, gateway  # noqa: F401 (fixtures)


def test_only_inactive_unused_revisions_are_deleted(ecs) -> None:  # noqa: F811
    for _ in range(4):
        ecs.register_task_definition(**WEB)
    for rev in (1, 2, 3):
        ecs.deregister_task_definition(taskDefinition=f"web:{rev}")
    out = ecs.delete_task_definitions(taskDefinitions=["web:1", "web:2", "web:4", "web:9"])
    assert [(td["revision"], td["status"]) for td in out["taskDefinitions"]] == [
        (1, "DELETE_IN_PROGRESS"), (2, "DELETE_IN_PROGRESS")]
    assert out["taskDefinitions"][0].get("containerDefinitions", []) == []
    reasons = {f["arn"].rsplit("/", 1)[-1]: f["reason"] for f in out["failures"]}
    assert reasons == {"web:4": "ACTIVE", "web:9": "MISSING"}
    described = ecs.describe_task_definition(taskDefinition="web:1")["taskDefinition"]
    assert described["status"] == "DELETE_IN_PROGRESS"
    listed = ecs.list_task_definitions(status="DELETE_IN_PROGRESS")["taskDefinitionArns"]
    assert [a.rsplit("/", 1)[-1] for a in listed] == ["web:1", "web:2"]
    assert [a.rsplit("/", 1)[-1] for a in ecs.list_task_definitions(status="INACTIVE")["taskDefinitionArns"]] == \
        ["web:3"]
    # Revision numbers are never handed out again, even when the newest was deleted.
    ecs.deregister_task_definition(taskDefinition="web:4")
    with pytest.raises(ecs.exceptions.InvalidParameterException, match="is INACTIVE"):
        ecs.run_task(taskDefinition="web:4")
    assert ecs.register_task_definition(**WEB)["taskDefinition"]["revision"] == 5
    with pytest.raises(ecs.exceptions.InvalidParameterException, match="is DELETE_IN_PROGRESS"):
        ecs.run_task(taskDefinition="web:1")


def test_a_revision_a_service_runs_is_not_deleted(ecs) -> None:  # noqa: F811
    ecs.register_task_definition(**WEB)
    ecs.create_service(serviceName="s", taskDefinition="web:1", desiredCount=0)
    ecs.deregister_task_definition(taskDefinition="web:1")
    out = ecs.delete_task_definitions(taskDefinitions=["web:1"])
    assert out["taskDefinitions"] == []
    (failure,) = out["failures"]
    assert (failure["reason"], failure["detail"]) == ("IN_USE", "still used by service s")
    assert ecs.describe_task_definition(taskDefinition="web:1")["taskDefinition"]["status"] == "INACTIVE"


def test_bad_references_are_refused(ecs) -> None:  # noqa: F811
    ecs.register_task_definition(**WEB)
    for refs, words in ((["web"], "taskDefinitions: 'web': give family:revision"),
                        ([f"web:{i}" for i in range(11)], "taskDefinitions: give 1 to 10")):
        with pytest.raises(ecs.exceptions.InvalidParameterException) as caught:
            ecs.delete_task_definitions(taskDefinitions=refs)
        assert caught.value.response["Error"]["Message"].startswith(words)

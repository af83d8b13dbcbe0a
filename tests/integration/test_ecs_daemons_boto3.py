"""ECS's daemon operations (2026) through boto3 against a real cluster (etcd, a control
plane with its ECS gateway, three agents as real processes with the hollow runtime), every
answer checked against botocore's model: a daemon task definition registered, a daemon
created on the nodes of a capacity provider runs one task on each, an UpdateDaemon rolls a
new revision onto every node but one whose task is protected from scale-in until its
protection is turned off, a member Shoal cannot act on is refused by name, and
DeleteDaemon stops every task."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from shoal.v1 import operator_pb2 as op
from shoal.v1 import resources_pb2 as r
from tests.aws_clients import cluster_client
from tests.ecs_model import validate_every_response
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

AGENT = {"family": "node-agent", "containerDefinitions": [
    {"name": "agent", "image": "shoal/busybox:latest", "cpu": 16, "memory": 16, "command": ["sleep", "3600"]}]}


def running_tasks(cluster, service: str) -> dict[str, r.Task]:
    """node id -> the service's RUNNING task wanted RUNNING there."""
    api = cluster.operator
    arns = api.ListTasks(op.ListTasksRequest(cluster="default", service_name=service)).arns
    if not arns:
        return {}
    tasks = api.DescribeTasks(op.DescribeTasksRequest(cluster="default", tasks=list(arns))).tasks
    return {t.node_id: t for t in tasks if t.last_status == "RUNNING" and t.desired_status == "RUNNING"}


def running(cluster, service: str) -> dict[str, str]:
    """node id -> task definition ARN of the service's RUNNING tasks wanted RUNNING."""
    return {n: t.task_definition_arn for n, t in running_tasks(cluster, service).items()}


def test_a_daemon_created_updated_and_deleted_through_boto3(make_cluster) -> None:
    cluster = make_cluster(agents=3, zones=["a", "b", "c"], runtime="hollow", ecs_port=0, autoscaler=False,
                           proxy=False, extra_agent_args=["--attribute", "shoal.capacity-provider=edge"])
    ecs = cluster_client(cluster, "ecs", "daemon test")
    seen = validate_every_response(ecs)
    nodes = set(cluster.node_ids())
    assert len(nodes) == 3

    td1 = ecs.register_daemon_task_definition(**AGENT)["daemonTaskDefinitionArn"]
    created = ecs.create_daemon(daemonName="node-agent", daemonTaskDefinitionArn=td1, capacityProviderArns=["edge"],
                                deploymentConfiguration={"drainPercent": 50.0})
    arn = created["daemonArn"]
    assert arn.endswith(":daemon/default/node-agent") and created["status"] == "ACTIVE"
    wait_for(lambda: running(cluster, "node-agent") == dict.fromkeys(nodes, td1), 120,
             "one daemon task RUNNING on each of the 3 nodes")
    (rev,) = wait_for(lambda: (lambda d: d["currentRevisions"] if d["currentRevisions"][0]["totalRunningCount"] == 3
                               else None)(ecs.describe_daemon(daemonArn=arn)["daemon"]), 60,
                      "DescribeDaemon counting 3 running")
    assert rev["totalWithoutDaemonCount"] == 0
    assert [d["daemonArn"] for d in ecs.list_daemons()["daemonSummariesList"]] == [arn]

    # A member Shoal cannot act on: refused by name, nothing changed.
    with pytest.raises(ClientError) as err:
        ecs.update_daemon(daemonArn=arn, daemonTaskDefinitionArn=td1, capacityProviderArns=["edge"],
                          propagateTags="DAEMON")
    assert err.value.response["Error"]["Code"] == "InvalidParameterException"
    assert "propagateTags" in err.value.response["Error"]["Message"]

    td2 = ecs.register_daemon_task_definition(**{**AGENT, "containerDefinitions": [
        {**AGENT["containerDefinitions"][0], "command": ["sleep", "3601"]}]})["daemonTaskDefinitionArn"]
    # One node's daemon task is protected from scale-in: the update rolls the other two and
    # leaves that node on the old revision until the protection is turned off.
    held_node, held = sorted(running_tasks(cluster, "node-agent").items())[0]
    protected = ecs.update_task_protection(cluster="default", tasks=[held.task_arn], protectionEnabled=True)
    assert [t["protectionEnabled"] for t in protected["protectedTasks"]] == [True]
    updated = ecs.update_daemon(daemonArn=arn, daemonTaskDefinitionArn=td2, capacityProviderArns=["edge"])
    assert updated["deploymentArn"] != created["deploymentArn"]
    others = nodes - {held_node}
    wait_for(lambda: running(cluster, "node-agent") == {**dict.fromkeys(others, td2), held_node: td1}, 180,
             "the new revision RUNNING on the 2 unprotected nodes, the protected task kept")
    # The scheduler says it is waiting for it, and has not touched it meanwhile.
    wait_for(lambda: any("waiting for 1 protected daemon tasks" in e["message"] for e in ecs.describe_services(
        cluster="default", services=["node-agent"])["services"][0]["events"]), 60, "the service's waiting event")
    assert running_tasks(cluster, "node-agent")[held_node].id == held.id
    ecs.update_task_protection(cluster="default", tasks=[held.task_arn], protectionEnabled=False)
    wait_for(lambda: running(cluster, "node-agent") == dict.fromkeys(nodes, td2), 180,
             "the new revision RUNNING on each of the 3 nodes")
    deployments = ecs.list_daemon_deployments(daemonArn=arn)["daemonDeployments"]
    assert [d["daemonDeploymentArn"] for d in deployments][:2] == [updated["deploymentArn"], created["deploymentArn"]]
    wait_for(lambda: ecs.describe_daemon_deployments(daemonDeploymentArns=[updated["deploymentArn"]])[
        "daemonDeployments"][0]["status"] == "SUCCESSFUL", 120, "the update's deployment SUCCESSFUL")
    revisions = ecs.describe_daemon_revisions(daemonRevisionArns=[
        ecs.describe_daemon(daemonArn=arn)["daemon"]["currentRevisions"][0]["arn"]])["daemonRevisions"]
    assert revisions[0]["daemonTaskDefinitionArn"] == td2

    assert ecs.delete_daemon(daemonArn=arn)["status"] == "DELETE_IN_PROGRESS"
    wait_for(lambda: running(cluster, "node-agent") == {}, 120, "every daemon task stopped")

    def deleted() -> bool | None:
        # Refused while the deleted daemon's service still holds the revision (its tasks stopping).
        try:
            return ecs.delete_daemon_task_definition(daemonTaskDefinition=td2)["daemonTaskDefinitionArn"] == td2
        except ClientError as exc:
            assert exc.response["Error"]["Code"] == "ClientException", exc
            return None

    assert wait_for(deleted, 120, "the daemon task definition deleted once the daemon is gone")
    listed = ecs.list_daemon_task_definitions(status="ALL")["daemonTaskDefinitions"]
    assert {(d["arn"], d["status"]) for d in listed} == {(td1, "ACTIVE"), (td2, "DELETE_IN_PROGRESS")}
    assert {"CreateDaemon", "UpdateDaemon", "DeleteDaemon", "DescribeDaemon", "ListDaemons",
            "ListDaemonDeployments", "DescribeDaemonDeployments", "DescribeDaemonRevisions",
            "RegisterDaemonTaskDefinition", "DeleteDaemonTaskDefinition", "ListDaemonTaskDefinitions"} <= set(seen)

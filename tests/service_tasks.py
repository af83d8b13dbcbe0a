"""What the tolerance and protection tests share: a service of two tasks on two nodes with a
disconnect tolerance, its live tasks through the API, the task containers Docker runs on one
node, and a cut-off node's task held UNKNOWN, not replaced."""

from __future__ import annotations

import json
import time

from agent.runtime import LABEL_NODE, LABEL_TASK
from shoal.v1 import operator_pb2 as op
from shoal.v1 import resources_pb2 as r
from tests.waiting import wait_for


def tolerant_service(api, taskdef: dict, tolerance: int, replace: bool = False) -> None:
    """Registers ``taskdef`` and runs service "web" of two of its tasks, one per node, with a
    disconnect tolerance of ``tolerance`` seconds (and replaceOnDisconnect when ``replace``)."""
    api.RegisterTaskDefinition(op.RegisterTaskDefinitionRequest(json=json.dumps(taskdef)))
    api.CreateService(op.CreateServiceRequest(
        cluster="default", service_name="web", task_definition=taskdef["family"], desired_count=2,
        disconnect_tolerance_seconds=tolerance, replace_on_disconnect=replace,
        placement_strategy=[r.PlacementStrategy(type="spread", field="instanceId")]))
    wait_for(lambda: len({t.node_id for t in live_tasks(api).values() if t.last_status == "RUNNING"}) == 2, 120,
             "2 tasks RUNNING on 2 nodes")


def live_tasks(api, service: str = "web") -> dict[str, r.Task]:
    """task id -> task, for the service's tasks whose desired status is RUNNING."""
    arns = api.ListTasks(op.ListTasksRequest(cluster="default", service_name=service, desired_status="RUNNING")).arns
    if not arns:
        return {}
    return {t.id: t for t in api.DescribeTasks(op.DescribeTasksRequest(cluster="default", tasks=list(arns))).tasks}


def running_containers(docker_client, node_id: str) -> dict[str, str]:
    """task id -> container id of the node's running shoal containers."""
    found = docker_client.containers.list(filters={"label": f"{LABEL_NODE}={node_id}", "status": "running"})
    return {c.labels[LABEL_TASK]: c.id for c in found}


def held_unknown(api, task_id: str, lease_ttl: float, why: str) -> None:
    """The task of a node cut off (``why``) turns UNKNOWN, then for two lease TTLs none of the
    service's two live tasks is replaced."""
    wait_for(lambda: live_tasks(api)[task_id].last_status == "UNKNOWN", 10 * lease_ttl, f"{why}: its task UNKNOWN")
    before = set(live_tasks(api))
    end = time.monotonic() + 2 * lease_ttl
    while time.monotonic() < end:  # the window is what is tested: nothing replaced in it
        assert set(live_tasks(api)) == before and len(before) == 2, "no replacement within the tolerance"
        time.sleep(0.5)

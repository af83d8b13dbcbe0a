"""Reads the tolerance and protection tests share: a service's live tasks through the API, the
task containers Docker runs on one node, and a cut-off node's task held UNKNOWN, not replaced."""

from __future__ import annotations

import time

from agent.runtime import LABEL_NODE, LABEL_TASK
from shoal.v1 import operator_pb2 as op
from shoal.v1 import resources_pb2 as r
from tests.waiting import wait_for


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

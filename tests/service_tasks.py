"""Reads the tolerance and protection tests share: a service's live tasks through the API, and
the task containers Docker runs on one node."""

from __future__ import annotations

from agent.runtime import LABEL_NODE, LABEL_TASK
from shoal.v1 import operator_pb2 as op
from shoal.v1 import resources_pb2 as r


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

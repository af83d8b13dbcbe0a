"""Taking a local cluster down removes its nodes' task-scoped volumes with their containers
(a task's data never outlives the cluster that ran it), and nothing else: a shared volume an
operator declared and another cluster's volumes stay. On a real cluster (etcd, control
plane, a Docker agent), stopped as `shoal down` stops it."""

from __future__ import annotations

import contextlib
import json

import docker
import docker.errors
import pytest

from shoal.v1 import operator_pb2 as op
from tests.integration.test_host_doors import app, running

pytestmark = pytest.mark.integration


def test_down_removes_the_nodes_task_volumes_and_nothing_else(make_cluster, busybox_image,
                                                               docker_client: docker.DockerClient) -> None:
    cluster = make_cluster(agents=1, zones=["a"], extra_controlplane_args=["--allow-shared-volumes", "keepme"])
    api = cluster.operator
    node_id = next(iter(cluster.node_ids()))
    shared = docker_client.volumes.create("keepme", labels={"shoal.volume-scope": "shared"})
    # Another cluster's task volume on the same dockerd (its own node id and cluster label).
    other = docker_client.volumes.create(f"shoal-{'1' * 32}-data", labels={
        "shoal.volume-scope": "task", "shoal.task": "1" * 32, "shoal.node": f"other-{node_id}",
        "shoal.cluster": "default"})
    made: list[str] = []
    try:
        td = api.RegisterTaskDefinition(op.RegisterTaskDefinitionRequest(json=json.dumps({
            "family": "keeper",
            "volumes": [{"name": "data", "dockerVolumeConfiguration": {"scope": "task", "driver": "local"}},
                        {"name": "scratch"},
                        {"name": "keepme", "dockerVolumeConfiguration": {"scope": "shared"}}],
            "containerDefinitions": [app("echo hi > /data/x; sleep 3600", mountPoints=[
                {"sourceVolume": "data", "containerPath": "/data"},
                {"sourceVolume": "scratch", "containerPath": "/scratch"},
                {"sourceVolume": "keepme", "containerPath": "/shared"}])]}))).task_definition
        task_id = api.RunTask(op.RunTaskRequest(cluster="default", task_definition=f"{td.family}:{td.revision}")
                              ).tasks[0].id
        running(api, task_id)
        made = [f"shoal-{task_id}-data", f"shoal-{task_id}-scratch"]
        task_volumes = {v.name for v in docker_client.volumes.list(filters={"label": f"shoal.node={node_id}"})}
        assert task_volumes == set(made), "the task's two task-scoped volumes exist while it runs"

        cluster.stop()

        left = [v.name for v in docker_client.volumes.list(filters={"label": f"shoal.node={node_id}"})]
        assert left == [], f"task volumes of node {node_id} left behind: {left}"
        assert docker_client.volumes.get("keepme"), "an operator's shared volume is never removed"
        assert docker_client.volumes.get(other.name), "another cluster's volumes are not ours to remove"
    finally:
        for name in [*made, shared.name, other.name]:
            with contextlib.suppress(docker.errors.APIError):
                docker_client.volumes.get(name).remove(force=True)

"""What a local cluster's nodes leave behind, removed by node id on the way down (by `shoal
down`, by the autoscaler's local nodes and by test teardown): their containers, then the
task-scoped volumes those containers used (agent/volumes.py labels them with their node).
Shared volumes an operator declared carry no node label and stay."""

from __future__ import annotations

import contextlib

import docker
import docker.errors

from agent import volumes
from agent.runtime import ContainerRuntimeError
from shoalctl.local.statefiles import CLUSTER


def remove_node_containers(node_ids: set[str], cluster: str = CLUSTER) -> str:
    """Force-removes the containers labelled ``shoal.node`` with one of ``node_ids`` (and
    ``shoal.cluster`` = ``cluster`` when the label is set), then those nodes' task-scoped
    volumes. Returns what it did; never raises for an unreachable dockerd (there is then
    nothing it could remove)."""
    if not node_ids:
        return "no nodes registered: no containers to remove"
    try:
        client = docker.from_env(timeout=60)
    except docker.errors.DockerException as exc:
        return f"did not remove containers: dockerd is not reachable ({exc})"
    removed = removed_volumes = 0
    try:
        for node_id in sorted(node_ids):
            for c in client.containers.list(all=True, filters={"label": f"shoal.node={node_id}"}):
                if c.labels.get("shoal.cluster", cluster) != cluster:
                    continue
                with contextlib.suppress(docker.errors.NotFound):
                    c.remove(force=True)
                    removed += 1
            # After the containers: a volume still mounted cannot be removed.
            removed_volumes += volumes.docker_remove(client.api, {**volumes.node_labels(node_id),
                                                                  volumes.LABEL_CLUSTER: cluster})
    except (docker.errors.DockerException, ContainerRuntimeError) as exc:
        return f"removed {removed} containers and {removed_volumes} task volumes, then dockerd failed: {exc}"
    finally:
        client.close()
    return f"removed {removed} containers and {removed_volumes} task volumes of {len(node_ids)} nodes"

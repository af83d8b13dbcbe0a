"""A task's volumes on its node, as ECS defines them:

- ``host.sourcePath``: a bind mount of the node's path (only when the cluster allows it);
- ``dockerVolumeConfiguration`` with scope ``task``: a Docker volume made for this task
  (named after the task) and removed with it; scope ``shared``: a volume named as written,
  kept after the task, created when missing only with ``autoprovision``;
- ``efsVolumeConfiguration``: the file system an operator registered (`shoal fs create`),
  which the control plane copied into the definition: an NFS export becomes a task-scoped
  volume of Docker's ``local`` driver with options Shoal writes (shoal/filesystems.py), a bind
  file system a bind mount of its directory joined with ``rootDirectory``;
- neither (or ``host`` without a path): ECS's empty volume the task's containers share,
  here a task-scoped Docker volume.

Volumes carry the task's labels so the agent finds and removes the task-scoped ones with
the task's containers."""

from __future__ import annotations

import contextlib

import docker.errors

from agent.engine_errors import ENGINE_ERRORS
from agent.runtime import (
    LABEL_CLUSTER,
    LABEL_NODE,
    LABEL_TASK,
    ContainerRuntimeError,
    Mount,
    StartError,
    VolumeSpec,
)
from shoal import filesystems
from shoal.v1 import resources_pb2 as r

LABEL_SCOPE = "shoal.volume-scope"


def task_volume_name(task_id: str, name: str) -> str:
    return f"shoal-{task_id}-{name}"


def sources(assignment: r.TaskAssignment, node_id: str) -> tuple[dict[str, str], list[VolumeSpec]]:
    """(volume name -> what a mount binds: host path or Docker volume name; the Docker
    volumes to make sure of before the containers are created)."""
    task = assignment.task
    by_name: dict[str, str] = {}
    needed: list[VolumeSpec] = []
    for vol in assignment.task_definition.volumes:
        if vol.HasField("host") and vol.host.source_path:
            by_name[vol.name] = vol.host.source_path
            continue
        if vol.HasField("efs_volume_configuration"):
            efs = vol.efs_volume_configuration
            # policy.check has held the record and rootDirectory (and, where the agent sees the
            # node's filesystem, where symlinks lead) before anything is mounted.
            field = f"volumes {vol.name}: efsVolumeConfiguration.rootDirectory"
            root = filesystems.root_directory(efs.root_directory, field)
            fs = efs.file_system
            if fs.bind_dir:
                by_name[vol.name] = filesystems.bind_source(fs, root, field)
                continue
            name = task_volume_name(task.id, vol.name)
            by_name[vol.name] = name
            needed.append(VolumeSpec(
                name=name, driver="local", driver_opts=filesystems.nfs_driver_opts(fs, root),
                labels={LABEL_SCOPE: "task", LABEL_TASK: task.id, LABEL_NODE: node_id, LABEL_CLUSTER: task.cluster},
                create=True,
            ))
            continue
        conf = vol.docker_volume_configuration
        shared = vol.HasField("docker_volume_configuration") and conf.scope == "shared"
        labels = dict(conf.labels)
        if shared:
            labels[LABEL_SCOPE] = "shared"
            name = vol.name
        else:
            labels.update({LABEL_SCOPE: "task", LABEL_TASK: task.id, LABEL_NODE: node_id,
                           LABEL_CLUSTER: task.cluster})
            name = task_volume_name(task.id, vol.name)
        by_name[vol.name] = name
        needed.append(VolumeSpec(
            name=name,
            driver=conf.driver or "local",
            driver_opts=dict(conf.driver_opts),
            labels=labels,
            create=not shared or conf.autoprovision,
        ))
    return by_name, needed


def mounts(cdef: r.ContainerDefinition, by_name: dict[str, str]) -> tuple[Mount, ...]:
    # Validation guarantees every sourceVolume names a task volume; skip rather than crash
    # on an assignment from an older definition format.
    return tuple(Mount(by_name[mp.source_volume], mp.container_path, mp.read_only)
                 for mp in cdef.mount_points if mp.source_volume in by_name)


def task_labels(task_id: str, node_id: str) -> dict[str, str]:
    """The labels that pick out one task's own volumes (never shared ones)."""
    return {LABEL_SCOPE: "task", LABEL_TASK: task_id, LABEL_NODE: node_id}


def node_labels(node_id: str) -> dict[str, str]:
    """The labels of every task-scoped volume this node made."""
    return {LABEL_SCOPE: "task", LABEL_NODE: node_id}


# ---- Docker ---------------------------------------------------------------------------------

def docker_ensure(api: docker.APIClient, volume: VolumeSpec) -> None:
    try:
        api.inspect_volume(volume.name)
        return
    except docker.errors.NotFound:
        if not volume.create:
            raise StartError(f"volume {volume.name}: does not exist on this node and autoprovision is off "
                             f"(create it first, or set dockerVolumeConfiguration.autoprovision)") from None
    except ENGINE_ERRORS as exc:
        raise StartError(f"volume {volume.name}: {exc}") from exc
    try:
        api.create_volume(volume.name, driver=volume.driver, driver_opts=volume.driver_opts or None,
                          labels=volume.labels or None)
    except ENGINE_ERRORS as exc:
        raise StartError(f"volume {volume.name}: cannot create with driver {volume.driver}: {exc}") from exc


def _docker_list(api: docker.APIClient, labels: dict[str, str]) -> list[dict]:
    filters = {"label": [f"{k}={v}" for k, v in labels.items()]}
    try:
        return (api.volumes(filters=filters) or {}).get("Volumes") or []
    except ENGINE_ERRORS as exc:
        raise ContainerRuntimeError(f"list volumes: {exc}") from exc


def docker_task_ids(api: docker.APIClient, labels: dict[str, str]) -> set[str]:
    return {(v.get("Labels") or {}).get(LABEL_TASK, "") for v in _docker_list(api, labels)} - {""}


def docker_remove(api: docker.APIClient, labels: dict[str, str]) -> int:
    removed = 0
    for v in _docker_list(api, labels):
        # A volume still mounted by a container (not removed yet) stays for the next try.
        with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
            api.remove_volume(v["Name"])
            removed += 1
    return removed

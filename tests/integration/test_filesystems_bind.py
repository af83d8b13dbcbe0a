"""Shared file systems on a real cluster (etcd, control plane, a Docker agent) with the bind
backend (this machine has no NFS client): two tasks of different definitions share a file
through one registered file system; a rootDirectory that leaves it is refused, at
registration when it climbs with '..', at the node when a symlink leads out; the file system
cannot be deleted while a definition naming it is ACTIVE."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from shoal.v1 import operator_pb2 as op
from tests.integration.test_host_doors import app, containers_of, register, run, running, stopped
from tests.waiting import wait_for

pytestmark = pytest.mark.integration


def definition(family: str, command: str, root: str) -> dict:
    return {"family": family,
            "volumes": [{"name": "shared", "efsVolumeConfiguration": {"fileSystemId": "lab", "rootDirectory": root}}],
            "containerDefinitions": [app(command, mountPoints=[{"sourceVolume": "shared", "containerPath": "/mnt"}])]}


def test_two_tasks_share_a_file_through_one_registered_file_system(make_cluster, busybox_image, docker_client,
                                                                   tmp_path: Path) -> None:
    lab = tmp_path / "lab"
    (lab / "team").mkdir(parents=True)
    (tmp_path / "secret").mkdir()
    (tmp_path / "secret" / "key").write_text("not for tasks\n")
    (lab / "out").symlink_to(tmp_path / "secret")
    # No --allow-* flag: the operator's registration is what lets tasks mount the directory.
    cluster = make_cluster(agents=1, zones=["a"])
    api = cluster.operator
    api.CreateFileSystem(op.CreateFileSystemRequest(name="lab", bind_dir=str(lab)))

    writer = run(api, register(api, definition("writer", "echo from-writer > /mnt/note; sleep 3600", "/team")))
    running(api, writer)
    wait_for(lambda: (lab / "team" / "note").exists(), 90, "the writer's file in the registered directory")
    reader = run(api, register(api, definition(
        "reader", "until [ -f /mnt/note ]; do sleep 0.2; done; cp /mnt/note /mnt/copy; sleep 3600", "/team")))
    running(api, reader)
    copy = wait_for(lambda: (lab / "team" / "copy").exists() and (lab / "team" / "copy").read_text(), 90,
                    "the reader's copy of the writer's file")
    assert copy == "from-writer\n"

    # Climbing out with '..' is refused by name at registration.
    with pytest.raises(grpc.RpcError) as info:
        register(api, definition("climber", "cat /mnt/key", "/team/../../secret"))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "volumes[0].efsVolumeConfiguration.rootDirectory: must be an absolute path without '..'" in (
        info.value.details())

    # A symlink inside the directory that leads out: the node judges where it leads.
    escaper = run(api, register(api, definition("escaper", "cat /mnt/key; sleep 3600", "/out")))
    task = stopped(api, escaper)
    assert task.stopped_reason.startswith("CannotStartContainerError: refused by this node's policy: "
                                          "volumes[0].efsVolumeConfiguration.rootDirectory: '/out' leads to"), (
        task.stopped_reason)
    assert "outside file system 'lab'" in task.stopped_reason
    assert containers_of(docker_client, escaper) == []

    # Named by ACTIVE definitions: not deleted.
    with pytest.raises(grpc.RpcError) as info:
        api.DeleteFileSystem(op.DeleteFileSystemRequest(name="lab"))
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "named by task definition" in info.value.details()
    assert [fs.name for fs in api.ListFileSystems(op.ListFileSystemsRequest()).file_systems] == ["lab"]

"""Shared file systems in-process: the operator API registers NFS exports and node directories
(refusing what is not one, and deleting one only when no definition in use names it);
registration resolves efsVolumeConfiguration.fileSystemId and refuses what Shoal cannot do,
naming the member; the agent asks Docker (the in-memory runtime here) for exactly the mount
Shoal writes, and refuses a record that reached etcd another way when it leaves its file
system."""

from __future__ import annotations

import json
import os

import pytest
from botocore.exceptions import ClientError

from agent.agent import Agent, AgentConfig
from agent.hollow import HollowRuntime
from agent.runtime import ContainerSpec, VolumeSpec
from controlplane.api import filesystems, taskdefs
from controlplane.api.context import ApiContext
from controlplane.ecs.shapes import to_ecs
from controlplane.errors import ApiError
from shoal import keys
from shoal.store.memory import MemoryStore
from shoal.taskdef.policy import HostPolicy
from shoal.v1 import agent_pb2
from shoal.v1 import operator_pb2 as op
from shoal.v1 import resources_pb2 as r
from shoal.validation import ValidationError
from tests.fakegateway import assignment
from tests.unit.test_ecs_api import ecs, gateway  # noqa: F401  (the gateway and boto3 client fixtures)


@pytest.fixture
def ctx() -> ApiContext:
    c = ApiContext(MemoryStore())
    c.ensure_default_cluster()
    return c


def nfs(ctx: ApiContext, name: str = "shared", options: tuple[str, ...] = ("nfsvers=4.1", "hard")) -> r.FileSystem:
    return filesystems.create(ctx, op.CreateFileSystemRequest(name=name, nfs="10.0.0.5:/srv/share",
                                                              nfs_options=list(options)))


def doc(efs: dict, family: str = "app") -> str:
    return json.dumps({"family": family, "volumes": [{"name": "data", "efsVolumeConfiguration": efs}],
                       "containerDefinitions": [{"name": "main", "image": "busybox", "memory": 64,
                                                 "mountPoints": [{"sourceVolume": "data", "containerPath": "/data"}]}]})


def register(ctx: ApiContext, efs: dict, family: str = "app") -> r.TaskDefinition:
    return taskdefs.register(ctx, op.RegisterTaskDefinitionRequest(json=doc(efs, family))).task_definition


def refusal(ctx: ApiContext, efs: dict) -> str:
    with pytest.raises(ValidationError) as caught:
        register(ctx, efs)
    return str(caught.value)


# ---- the operator API -----------------------------------------------------------------------

def test_file_systems_are_created_listed_and_deleted(ctx: ApiContext, tmp_path) -> None:
    fs = nfs(ctx)
    assert (fs.nfs_host, fs.nfs_export, list(fs.nfs_options)) == ("10.0.0.5", "/srv/share", ["nfsvers=4.1", "hard"])
    lab = filesystems.create(ctx, op.CreateFileSystemRequest(name="lab", bind_dir=str(tmp_path) + "/"))
    assert lab.bind_dir == str(tmp_path)
    assert [x.name for x in filesystems.list_(ctx, op.ListFileSystemsRequest()).file_systems] == ["lab", "shared"]
    with pytest.raises(ApiError, match="already exists"):
        nfs(ctx)
    filesystems.delete(ctx, op.DeleteFileSystemRequest(name="lab"))
    assert ctx.store.get(keys.filesystem("lab")) is None


@pytest.mark.parametrize(("req", "field", "words"), [
    (op.CreateFileSystemRequest(name="x", nfs="10.0.0.5:/a", bind_dir="/srv"), "nfs", "one of them"),
    (op.CreateFileSystemRequest(name="x"), "nfs", "one of them"),
    (op.CreateFileSystemRequest(name="../x", nfs="h:/a"), "name", "letters, digits"),
    (op.CreateFileSystemRequest(name="x", nfs="10.0.0.5"), "nfs", "HOST:/export"),
    (op.CreateFileSystemRequest(name="x", nfs="h:/a/../etc"), "nfs", "without '..'"),
    (op.CreateFileSystemRequest(name="x", nfs="h:/a", nfs_options=["ro,addr=1.2.3.4"]), "options", "one mount option"),
    (op.CreateFileSystemRequest(name="x", nfs="h:/a", nfs_options=["addr=1.2.3.4"]), "options", "address itself"),
    (op.CreateFileSystemRequest(name="x", bind_dir="/var/run/docker.sock"), "bind", "never mountable"),
    (op.CreateFileSystemRequest(name="x", bind_dir="/"), "bind", "never mountable"),
    (op.CreateFileSystemRequest(name="x", bind_dir="/srv", nfs_options=["ro"]), "options", "NFS file systems only"),
])
def test_what_is_not_a_file_system_is_refused_naming_the_field(ctx: ApiContext, req, field: str, words: str) -> None:
    with pytest.raises((ValidationError, ApiError)) as caught:
        filesystems.create(ctx, req)
    text = str(caught.value) if isinstance(caught.value, ValidationError) else caught.value.message
    assert text.startswith(f"{field}: ") and words in text
    assert filesystems.list_(ctx, op.ListFileSystemsRequest()).file_systems == []


def test_a_file_system_an_active_definition_names_is_not_deleted(ctx: ApiContext) -> None:
    nfs(ctx)
    td = register(ctx, {"fileSystemId": "shared"})
    with pytest.raises(ApiError) as caught:
        filesystems.delete(ctx, op.DeleteFileSystemRequest(name="shared"))
    assert "named by task definition app:1" in caught.value.message
    assert ctx.store.get(keys.filesystem("shared")) is not None
    taskdefs.deregister(ctx, op.TaskDefinitionRef(task_definition=td.task_definition_arn))
    # Deregistered but still run by a task: still in use.
    task = r.Task(id="t1", cluster="default", task_definition_arn=td.task_definition_arn, last_status="RUNNING")
    ctx.store.put(keys.task("default", "t1"), task.SerializeToString())
    with pytest.raises(ApiError, match="app:1"):
        filesystems.delete(ctx, op.DeleteFileSystemRequest(name="shared"))
    task.last_status = "STOPPED"
    ctx.store.put(keys.task("default", "t1"), task.SerializeToString())
    filesystems.delete(ctx, op.DeleteFileSystemRequest(name="shared"))


def test_a_delete_racing_a_registration_never_leaves_a_definition_naming_a_deleted_file_system(
        ctx: ApiContext, monkeypatch) -> None:
    nfs(ctx)
    real_resolve, deleted = taskdefs.resolve_file_systems, []

    def resolve_then_lose_the_race(c: ApiContext, td: r.TaskDefinition):
        read = real_resolve(c, td)
        if not deleted:  # the delete commits between this registration's read and its write
            deleted.append(filesystems.delete(c, op.DeleteFileSystemRequest(name="shared")))
        return read

    monkeypatch.setattr(taskdefs, "resolve_file_systems", resolve_then_lose_the_race)
    assert "volumes[0].efsVolumeConfiguration.fileSystemId: no file system 'shared'" in refusal(
        ctx, {"fileSystemId": "shared"})
    assert deleted and ctx.state.taskdef_revisions("app") == []


def test_a_registration_racing_a_delete_keeps_the_file_system(ctx: ApiContext, monkeypatch) -> None:
    nfs(ctx)
    real_users, registered = filesystems.users, []

    def check_then_lose_the_race(c: ApiContext, name: str) -> list[str]:
        found = real_users(c, name)
        if not registered:  # a registration commits between the delete's check and its write
            registered.append(register(c, {"fileSystemId": "shared"}))
        return found

    monkeypatch.setattr(filesystems, "users", check_then_lose_the_race)
    with pytest.raises(ApiError, match="named by task definition app:1"):
        filesystems.delete(ctx, op.DeleteFileSystemRequest(name="shared"))
    assert ctx.store.get(keys.filesystem("shared")) is not None


# ---- registration ---------------------------------------------------------------------------

def test_registration_copies_the_registered_file_system_and_hides_it_from_ecs_output(ctx: ApiContext) -> None:
    nfs(ctx)
    td = register(ctx, {"fileSystemId": "shared", "rootDirectory": "/app//logs/", "transitEncryption": "DISABLED"})
    conf = td.volumes[0].efs_volume_configuration
    assert (conf.root_directory, conf.file_system.nfs_host, conf.file_system.nfs_export) == (
        "/app/logs", "10.0.0.5", "/srv/share")
    assert not td.warnings
    stored = ctx.state.taskdef("app", 1).msg
    assert stored.volumes[0].efs_volume_configuration.file_system.name == "shared"
    assert to_ecs(td)["volumes"][0]["efsVolumeConfiguration"] == {
        "fileSystemId": "shared", "rootDirectory": "/app/logs", "transitEncryption": "DISABLED"}


@pytest.mark.parametrize(("efs", "expected"), [
    ({"fileSystemId": "nope"}, "volumes[0].efsVolumeConfiguration.fileSystemId: no file system 'nope'"),
    ({}, "volumes[0].efsVolumeConfiguration.fileSystemId"),
    ({"fileSystemId": "shared", "rootDirectory": "/a/../../etc"},
     "volumes[0].efsVolumeConfiguration.rootDirectory: must be an absolute path without '..'"),
    ({"fileSystemId": "shared", "rootDirectory": "etc"},
     "volumes[0].efsVolumeConfiguration.rootDirectory: must be an absolute path"),
    ({"fileSystemId": "shared", "transitEncryption": "ENABLED"},
     "volumes[0].efsVolumeConfiguration.transitEncryption: Shoal does not encrypt NFS traffic"),
    ({"fileSystemId": "shared", "transitEncryptionPort": 2049},
     "volumes[0].efsVolumeConfiguration.transitEncryptionPort: Shoal does not encrypt"),
    ({"fileSystemId": "shared", "authorizationConfig": {"accessPointId": "fsap-1", "iam": "ENABLED"}},
     "volumes[0].efsVolumeConfiguration.authorizationConfig: EFS access points"),
])
def test_what_shoal_cannot_mount_is_refused_naming_the_member(ctx: ApiContext, efs: dict, expected: str) -> None:
    nfs(ctx)
    assert expected in refusal(ctx, efs)
    assert ctx.state.taskdef_revisions("app") == []


def test_a_volume_gives_one_kind_of_source(ctx: ApiContext) -> None:
    nfs(ctx)
    text = json.dumps({"family": "app", "containerDefinitions": [{"name": "main", "image": "busybox", "memory": 8}],
                       "volumes": [{"name": "data", "host": {"sourcePath": "/srv"},
                                    "efsVolumeConfiguration": {"fileSystemId": "shared"}}]})
    with pytest.raises(ValidationError, match=r"volumes\[0\]: give one of .* not host and efsVolumeConfiguration"):
        taskdefs.register(ctx, op.RegisterTaskDefinitionRequest(json=text))


# ---- the agent ------------------------------------------------------------------------------

class RecordingRuntime(HollowRuntime):
    """The in-memory runtime, recording the volumes and container specs the agent asks for."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.volumes: list[VolumeSpec] = []
        self.specs: list[ContainerSpec] = []

    def ensure_volume(self, volume: VolumeSpec) -> None:
        self.volumes.append(volume)

    def create(self, spec: ContainerSpec) -> str:
        self.specs.append(spec)
        return super().create(spec)


def efs_assignment(task_id: str, fs: r.FileSystem, root: str = "/app") -> r.TaskAssignment:
    a = assignment(task_id, [r.ContainerDefinition(
        name="main", image="img", mount_points=[r.MountPoint(source_volume="data", container_path="/data")])])
    a.task_definition.volumes.add(name="data", efs_volume_configuration=r.EfsVolumeConfiguration(
        file_system_id=fs.name, root_directory=root, file_system=fs))
    return a


def run(*tasks: r.TaskAssignment, resolve=None) -> tuple[RecordingRuntime, dict[str, agent_pb2.TaskStateChange]]:
    """The agent of a node with the closed policy: a file system needs no --allow-* flag."""
    rt = RecordingRuntime()
    agent = Agent(AgentConfig(node_id="n1", policy=HostPolicy(), resolve_path=resolve), rt)
    reports: list[agent_pb2.TaskStateChange] = []
    agent.listeners.append(reports.append)
    agent.apply_assignments(agent_pb2.Assignments(revision=1, tasks=list(tasks)))
    agent.run_cycle()
    return rt, {x.task_id: x for x in reports}


NFS = r.FileSystem(name="shared", nfs_host="10.0.0.5", nfs_export="/srv/share", nfs_options=["nfsvers=4.1", "hard"])


def test_the_agent_asks_docker_for_the_nfs_mount_shoal_writes() -> None:
    rt, final = run(efs_assignment("t1", NFS, "/app"))
    assert final["t1"].last_status == "RUNNING"
    assert rt.volumes == [VolumeSpec(
        name="shoal-t1-data", driver="local",
        driver_opts={"type": "nfs", "o": "addr=10.0.0.5,nfsvers=4.1,hard", "device": ":/srv/share/app"},
        labels={"shoal.volume-scope": "task", "shoal.task": "t1", "shoal.node": "n1", "shoal.cluster": "default"},
        create=True)]
    assert [(m.source, m.target) for m in rt.specs[0].mounts] == [("shoal-t1-data", "/data")]


def test_the_bind_backend_binds_inside_the_registered_directory(tmp_path) -> None:
    fs = r.FileSystem(name="lab", bind_dir=str(tmp_path))
    rt, final = run(efs_assignment("t1", fs, "/app"), resolve=os.path.realpath)
    assert final["t1"].last_status == "RUNNING" and rt.volumes == []
    assert [(m.source, m.target) for m in rt.specs[0].mounts] == [(f"{tmp_path}/app", "/data")]


@pytest.mark.parametrize(("fs", "root", "words"), [
    (r.FileSystem(name="shared", nfs_host="10.0.0.5", nfs_export="/srv", nfs_options=["addr=6.6.6.6"]), "/",
     "volumes[0].efsVolumeConfiguration.fileSystemId: 'addr=6.6.6.6': Shoal writes the server address itself"),
    (r.FileSystem(name="shared", nfs_host="10.0.0.5", nfs_export="/srv", nfs_options=["ro,device=/etc"]), "/",
     "is not one mount option"),
    (NFS, "/../../etc", "volumes[0].efsVolumeConfiguration.rootDirectory: must be an absolute path without '..'"),
    (r.FileSystem(name="lab", bind_dir="/var/lib/docker"), "/", "is never mountable"),
    (r.FileSystem(name="lab", bind_dir="/srv", nfs_host="h", nfs_export="/x"), "/", "NFS export or a bind"),
    (r.FileSystem(name="other", bind_dir="/srv"), "/", "does not name the file system resolved for it"),
    (None, "/", "volumes[0].efsVolumeConfiguration.fileSystemId: 'shared' was never resolved"),
])
def test_a_record_written_around_the_control_plane_is_refused_at_the_node(fs: r.FileSystem | None, root: str,
                                                                          words: str) -> None:
    a = efs_assignment("t1", fs or NFS, root)
    conf = a.task_definition.volumes[0].efs_volume_configuration
    conf.file_system_id = "shared" if fs is None or fs.name == "other" else fs.name
    if fs is None:
        conf.ClearField("file_system")
    rt, final = run(a)
    assert rt.creates == [] and rt.volumes == []
    assert final["t1"].last_status == "STOPPED" and words in final["t1"].stopped_reason


def test_a_symlink_out_of_the_bind_directory_is_refused(tmp_path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "escape").symlink_to(tmp_path / "elsewhere")
    rt, final = run(efs_assignment("t1", r.FileSystem(name="lab", bind_dir=str(shared)), "/escape"),
                    resolve=os.path.realpath)
    assert rt.creates == []
    assert "rootDirectory: '/escape' leads to" in final["t1"].stopped_reason
    assert "outside file system 'lab'" in final["t1"].stopped_reason


# ---- boto3 through the ECS gateway ----------------------------------------------------------

def test_boto3_registers_and_describes_an_efs_volume_as_ecs_shapes_it(gateway, ecs) -> None:  # noqa: F811
    ctx, _ = gateway
    nfs(ctx)
    volume = {"name": "data", "efsVolumeConfiguration": {"fileSystemId": "shared", "rootDirectory": "/app",
                                                         "transitEncryption": "DISABLED"}}
    containers = [{"name": "main", "image": "busybox", "memory": 64,
                   "mountPoints": [{"sourceVolume": "data", "containerPath": "/data"}]}]
    td = ecs.register_task_definition(family="app", volumes=[volume], containerDefinitions=containers)
    assert td["taskDefinition"]["volumes"] == [volume]
    described = ecs.describe_task_definition(taskDefinition="app:1")["taskDefinition"]
    assert described["volumes"] == [volume]
    with pytest.raises(ClientError) as caught:
        ecs.register_task_definition(family="app", containerDefinitions=containers, volumes=[
            {"name": "data", "efsVolumeConfiguration": {"fileSystemId": "missing"}}])
    assert caught.value.response["Error"]["Code"] in ("ClientException", "InvalidParameterException")
    assert "volumes[0].efsVolumeConfiguration.fileSystemId: no file system 'missing'" in (
        caught.value.response["Error"]["Message"])

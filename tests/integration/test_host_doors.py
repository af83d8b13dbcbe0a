"""The doors a task definition has to its node, tried as an attacker would on a real cluster
(etcd, control plane, a Docker agent): through the API, and by writing the definition
straight into etcd so that only the agent's own policy stands in the way. Every attempt is
refused by name; the one door opened by the operator (a bind under an allowed prefix) works,
so the refusals are not the cluster failing to run anything."""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path

import docker
import docker.errors
import grpc
import pytest
from google.protobuf import json_format

from controlplane.taskspec import new_task
from shoal import keys
from shoal.arns import ArnFormat
from shoal.v1 import operator_pb2 as op
from shoal.v1 import resources_pb2 as r
from shoalctl.local.cluster import LocalCluster
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

IMAGE = "shoal/busybox:latest"


def app(command: str, **extra) -> dict:
    return {"name": "app", "image": IMAGE, "memory": 16, "cpu": 16, "command": ["sh", "-c", command],
            "stopTimeout": 1, **extra}


def register(api, doc: dict) -> str:
    td = api.RegisterTaskDefinition(op.RegisterTaskDefinitionRequest(json=json.dumps(doc))).task_definition
    return f"{td.family}:{td.revision}"


def refused_at_registration(api, doc: dict) -> str:
    with pytest.raises(grpc.RpcError) as info:
        register(api, doc)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    return info.value.details()


def run_from_etcd(cluster: LocalCluster, doc: dict) -> str:
    """What a local user with etcd access does: the definition and a task of it written as
    records, no API call (the API would refuse both). The leader places the task like any
    other; only the node's own policy stands in the way. Returns the task's id."""
    td = json_format.ParseDict(doc, r.TaskDefinition())
    td.revision, td.status, td.registered_at = 1, "ACTIVE", time.time()
    td.task_definition_arn = f"arn:aws:ecs:local:000000000000:task-definition/{td.family}:1"
    task = new_task("default", td, arns=ArnFormat(), group=f"family:{td.family}")
    store = cluster.etcd_set.store(timeout=10)
    try:
        store.create(keys.taskdef(td.family, 1), td.SerializeToString())
        store.create(keys.task("default", task.id), task.SerializeToString())
    finally:
        store.close()
    return task.id


def run(api, taskdef: str) -> str:
    return api.RunTask(op.RunTaskRequest(cluster="default", task_definition=taskdef)).tasks[0].id


def stopped(api, task_id: str) -> r.Task:
    def done() -> r.Task | None:
        t = api.DescribeTasks(op.DescribeTasksRequest(cluster="default", tasks=[task_id])).tasks[0]
        return t if t.last_status == "STOPPED" else None
    return wait_for(done, 90, f"task {task_id} STOPPED")


def running(api, task_id: str) -> r.Task:
    def up() -> r.Task | None:
        t = api.DescribeTasks(op.DescribeTasksRequest(cluster="default", tasks=[task_id])).tasks[0]
        assert t.last_status != "STOPPED", t.stopped_reason
        return t if t.last_status == "RUNNING" else None
    return wait_for(up, 90, f"task {task_id} RUNNING")


def containers_of(client: docker.DockerClient, task_id: str) -> list:
    return client.containers.list(all=True, filters={"label": f"shoal.task={task_id}"})


def test_host_root_through_volume_driver_options_is_refused(make_cluster, busybox_image, docker_client,
                                                             tmp_path: Path) -> None:
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    (allowed / "in.txt").write_text("from the host\n")
    cluster = make_cluster(agents=1, zones=["a"], extra_controlplane_args=["--allow-host-volumes", str(allowed)])
    api = cluster.operator

    def bind(device: str, family: str) -> dict:
        return {"family": family,
                "volumes": [{"name": "root", "dockerVolumeConfiguration": {
                    "scope": "task", "driver": "local",
                    "driverOpts": {"type": "none", "o": "bind", "device": device}}}],
                "containerDefinitions": [app("cat /host/etc/shadow /host/in.txt; sleep 3600",
                                             mountPoints=[{"sourceVolume": "root", "containerPath": "/host"}])]}

    for device in ("/", "/etc/..", f"{allowed}/../../../.."):
        details = refused_at_registration(api, bind(device, "rootgrab"))
        assert "volumes[0].dockerVolumeConfiguration.driverOpts.device" in details, details

    # Past the control plane: the node's agent refuses it before creating anything.
    task_id = run_from_etcd(cluster, bind("/", "rootgrab"))
    task = stopped(api, task_id)
    assert task.stopped_reason.startswith("CannotStartContainerError: refused by this node's policy: "
                                          "volumes[0].dockerVolumeConfiguration.driverOpts.device: '/' is never"), (
        task.stopped_reason)
    assert containers_of(docker_client, task_id) == []
    assert docker_client.volumes.list(filters={"name": f"shoal-{task_id}-root"}) == []

    # The door the operator opened works: a bind under the allowed prefix reads the host file.
    task_id = run(api, register(api, bind(str(allowed), "allowedbind")))
    running(api, task_id)
    c = containers_of(docker_client, task_id)[0]
    wait_for(lambda: "from the host" in c.logs().decode(), 30, "the allowed host file read")


def test_another_tasks_private_volume_is_refused(make_cluster, busybox_image, docker_client) -> None:
    cluster = make_cluster(agents=1, zones=["a"])
    api = cluster.operator
    victim = run(api, register(api, {
        "family": "victim", "volumes": [{"name": "data"}],
        "containerDefinitions": [app("echo private > /data/secret; sleep 3600",
                                     mountPoints=[{"sourceVolume": "data", "containerPath": "/data"}])]}))
    running(api, victim)
    victim_volume = f"shoal-{victim}-data"
    assert docker_client.volumes.get(victim_volume)

    thief = {"family": "thief",
             "volumes": [{"name": victim_volume,
                          "dockerVolumeConfiguration": {"scope": "shared", "autoprovision": False}}],
             "containerDefinitions": [app("cat /loot/secret; echo tampered > /loot/secret; sleep 3600",
                                          mountPoints=[{"sourceVolume": victim_volume, "containerPath": "/loot"}])]}
    assert "volumes[0].name" in refused_at_registration(api, thief)
    task_id = run_from_etcd(cluster, thief)
    task = stopped(api, task_id)
    assert "volumes[0].name: names starting with 'shoal-' are Shoal's own task volumes" in task.stopped_reason
    assert containers_of(docker_client, task_id) == []
    users = docker_client.containers.list(all=True, filters={"volume": victim_volume})
    assert [u.labels["shoal.task"] for u in users] == [victim]

    # A shared volume no operator declared is refused too, whatever its name.
    thief["volumes"][0]["name"] = thief["containerDefinitions"][0]["mountPoints"][0]["sourceVolume"] = "loot"
    assert "--allow-shared-volumes loot" in refused_at_registration(api, thief)


def test_host_network_and_net_admin_written_into_etcd_stop_at_the_node(make_cluster, busybox_image,
                                                                      docker_client) -> None:
    cluster = make_cluster(agents=1, zones=["a"])
    api = cluster.operator
    doc = {"family": "netadmin", "networkMode": "host",
           "containerDefinitions": [app("ip link add shoal-evil type dummy; sleep 3600",
                                        linuxParameters={"capabilities": {"add": ["NET_ADMIN"]}})]}
    assert "networkMode: host networking needs --allow-host-network" in refused_at_registration(api, doc)
    task_id = run_from_etcd(cluster, doc)
    task = stopped(api, task_id)
    assert task.stopped_reason == ("CannotStartContainerError: refused by this node's policy: "
                                   "networkMode: host networking needs --allow-host-network")
    assert task.stop_code == "TaskFailedToStart"
    assert containers_of(docker_client, task_id) == []


def test_task_volume_whose_task_is_gone_is_removed_by_the_agent(make_cluster, busybox_image, docker_client) -> None:
    cluster = make_cluster(agents=1, zones=["a"])
    node_id = next(iter(cluster.node_ids()))
    # What a task's containers removed without the agent (a cleanup by hand, a failed create) leave.
    orphan = docker_client.volumes.create(f"shoal-{'0' * 32}-data", labels={
        "shoal.volume-scope": "task", "shoal.task": "0" * 32, "shoal.node": node_id, "shoal.cluster": "default"})
    kept = docker_client.volumes.create(f"keep-{node_id[:8]}", labels={"shoal.volume-scope": "shared",
                                                                       "shoal.node": node_id})
    try:
        # Any assignment set makes the agent judge its volumes; the sweep runs once per resync.
        running(cluster.operator, run(cluster.operator, register(cluster.operator, {
            "family": "idle", "containerDefinitions": [app("sleep 3600")]})))
        wait_for(lambda: not docker_client.volumes.list(filters={"name": orphan.name}), 60,
                 "the orphaned task volume removed")
        assert docker_client.volumes.get(kept.name), "a shared volume is never swept"
    finally:
        for v in (orphan, kept):
            with contextlib.suppress(docker.errors.APIError):
                v.remove(force=True)

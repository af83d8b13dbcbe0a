"""Deregistering a container instance whose agent is still running (ECS's
DeregisterContainerInstance --force): the node's stream is ended, its agent stops its
containers and exits with the terminal code 5, its service tasks run elsewhere, and the
node's certificate can neither register nor connect again."""

from __future__ import annotations

import json

import grpc
import pytest

from agent.runtime import LABEL_NODE
from shoal.v1 import operator_pb2 as op
from shoal.v1 import resources_pb2 as r
from shoalctl.chaos.converge import picture
from tests.fixtures.cluster import MakeCluster
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

TASKDEF = {"family": "dereg", "containerDefinitions": [{
    "name": "web", "image": "shoal/busybox:latest", "memory": 16, "cpu": 16, "essential": True,
    "command": ["sleep", "100000"], "stopTimeout": 1,
}]}


def test_deregistered_node_is_shut_out(make_cluster: MakeCluster, busybox_image: str, docker_client) -> None:
    cluster = make_cluster(agents=2)
    api = cluster.operator
    api.RegisterTaskDefinition(op.RegisterTaskDefinitionRequest(json=json.dumps(TASKDEF)))
    api.CreateService(op.CreateServiceRequest(
        cluster="default", service_name="web", task_definition="dereg", desired_count=2,
        placement_strategy=[r.PlacementStrategy(type="spread", field="instanceId")]))
    wait_for(lambda: len({t.node_id for t in picture(api).tasks if t.last_status == "RUNNING"}) == 2, 120,
             "2 tasks RUNNING on 2 nodes")
    victim = cluster.agents[1]
    node_id = victim.node_id
    assert node_id
    [victim_task] = [t.id for t in picture(api).tasks if t.node_id == node_id]

    with pytest.raises(grpc.RpcError) as refused:
        api.DeregisterContainerInstance(op.DeregisterContainerInstanceRequest(
            cluster="default", container_instance=node_id))
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "drain it first or use force" in refused.value.details()

    api.DeregisterContainerInstance(op.DeregisterContainerInstanceRequest(
        cluster="default", container_instance=node_id, force=True))

    assert victim.proc is not None
    assert victim.proc.wait(timeout=90) == 5, "a deregistered node's agent exits with the terminal code 5"
    assert not docker_client.containers.list(all=True, filters={"label": f"{LABEL_NODE}={node_id}",
                                                                   "status": "running"}), \
        "the deregistered node's agent stopped its containers"
    pic = wait_for(lambda: (p := picture(api)).converged()
                   and node_id not in {t.node_id for t in p.tasks if t.last_status == "RUNNING"} and p,
                   120, "the service back at 2 RUNNING tasks, none on the deregistered node")
    assert node_id not in {n.id for n in pic.nodes}
    [old] = api.DescribeTasks(op.DescribeTasksRequest(cluster="default", tasks=[victim_task])).tasks
    assert old.last_status == "STOPPED" and "was deregistered" in old.stopped_reason, old

    # Its certificate is still signed by the cluster CA, but the node may not come back.
    cluster.start_agent(1)
    assert victim.proc.wait(timeout=60) == 5, "a restarted agent of a deregistered node is refused"
    log = victim.log_path.read_text()
    assert "this node was deregistered" in log
    assert node_id not in {n.id for n in picture(api).nodes}

"""A service's disconnect tolerance with real agents and containers: an agent frozen with
SIGSTOP (its node out of reach) within the tolerance leaves its task UNKNOWN, not replaced,
its container running, and the task RUNNING again with the same container when the agent
resumes; frozen for longer than the tolerance, the task is replaced on the other node and the
resumed agent removes the old container, so nothing runs twice."""

from __future__ import annotations

import signal

import pytest

from shoal.v1 import operator_pb2 as op
from shoalctl.local import procs
from tests.fixtures.cluster import LEASE_TTL, MakeCluster
from tests.service_tasks import held_unknown, live_tasks, running_containers, tolerant_service
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

TASKDEF = {"family": "tolerant", "containerDefinitions": [{
    "name": "worker", "image": "shoal/busybox:latest", "memory": 16, "cpu": 16, "essential": True,
    "command": ["sleep", "100000"], "stopTimeout": 1,
}]}


def test_a_frozen_agent_within_and_beyond_the_tolerance(make_cluster: MakeCluster, busybox_image: str,
                                                        docker_client) -> None:
    cluster = make_cluster(agents=2)
    api = cluster.operator
    tolerant_service(api, TASKDEF, 120)
    victim = cluster.agents[1]
    node_id = victim.node_id
    [(task_id, task)] = [(i, t) for i, t in live_tasks(api).items() if t.node_id == node_id]
    container = running_containers(docker_client, node_id)[task_id]
    pid = cluster.pid_of(victim.name)

    # Within the tolerance: UNKNOWN, not replaced, the container untouched.
    procs.send(pid, signal.SIGSTOP)
    try:
        held_unknown(api, task_id, LEASE_TTL, "the frozen node")
        assert running_containers(docker_client, node_id) == {task_id: container}
    finally:
        procs.send(pid, signal.SIGCONT)
    # The agent's report makes it RUNNING; the leader then clears its disconnect marks.
    wait_for(lambda: (t := live_tasks(api)[task_id]).last_status == "RUNNING" and not t.disconnected_at, 60,
             "the task RUNNING again after the thaw")
    back = live_tasks(api)
    assert len(back) == 2 and back[task_id].node_id == node_id
    assert running_containers(docker_client, node_id) == {task_id: container}, "the same container, never restarted"

    # Beyond the tolerance: replaced on the other node; the thawed agent removes its copy.
    api.UpdateService(op.UpdateServiceRequest(cluster="default", service="web", disconnect_tolerance_seconds=2))
    procs.send(pid, signal.SIGSTOP)
    try:
        wait_for(lambda: task_id not in live_tasks(api) and len(live_tasks(api)) == 2, 20 * LEASE_TTL,
                 "the frozen node's task replaced after the tolerance")
        gone = api.DescribeTasks(op.DescribeTasksRequest(cluster="default", tasks=[task_id])).tasks[0]
        assert "disconnect tolerance (2s)" in gone.stopped_reason
    finally:
        procs.send(pid, signal.SIGCONT)
    wait_for(lambda: not running_containers(docker_client, node_id), 60,
             "the thawed agent removed the replaced task's container")
    live = live_tasks(api)
    wait_for(lambda: all(t.last_status == "RUNNING" for t in live_tasks(api).values()), 60, "both tasks RUNNING")
    others = {n: running_containers(docker_client, n) for n in {t.node_id for t in live.values()}}
    assert sorted(i for found in others.values() for i in found) == sorted(live), "each task runs exactly once"

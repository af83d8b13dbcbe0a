"""Keep the better copy on reconnect (a service's replaceOnDisconnect) with real agents and
containers: an agent frozen with SIGSTOP (its node out of reach) within the tolerance has its
task replaced at once on the other node; when the agent resumes, the original — still running —
is kept and the replacement is stopped with a reason saying why, its container removed, so
nothing runs twice and the service never has fewer than it desires."""

from __future__ import annotations

import signal

import pytest

from shoal.v1 import operator_pb2 as op
from shoalctl.local import procs
from tests.fixtures.cluster import LEASE_TTL, MakeCluster
from tests.service_tasks import live_tasks, running_containers, tolerant_service
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

TASKDEF = {"family": "keeper", "containerDefinitions": [{
    "name": "worker", "image": "shoal/busybox:latest", "memory": 16, "cpu": 16, "essential": True,
    "command": ["sleep", "100000"], "stopTimeout": 1,
}]}


def test_a_frozen_agents_task_is_replaced_at_once_and_the_better_copy_kept_on_thaw(
        make_cluster: MakeCluster, busybox_image: str, docker_client) -> None:
    cluster = make_cluster(agents=2)
    api = cluster.operator
    tolerant_service(api, TASKDEF, 300, replace=True)
    victim, keeper = cluster.agents[2], cluster.agents[1]
    [(task_id, _)] = [(i, t) for i, t in live_tasks(api).items() if t.node_id == victim.node_id]
    container = running_containers(docker_client, victim.node_id)[task_id]
    pid = cluster.pid_of(victim.name)

    procs.send(pid, signal.SIGSTOP)
    try:
        wait_for(lambda: live_tasks(api)[task_id].last_status == "UNKNOWN", 10 * LEASE_TTL,
                 "the frozen node's task UNKNOWN")
        # Replaced at once (well within the 300 s tolerance), on the reachable node.
        wait_for(lambda: sum(1 for t in live_tasks(api).values() if t.node_id == keeper.node_id
                             and t.last_status == "RUNNING") == 2, 120,
                 "a replacement RUNNING on the reachable node while the original is UNKNOWN")
        live = live_tasks(api)
        assert len(live) == 3 and live[task_id].last_status == "UNKNOWN"
        [replacement] = [i for i, t in live.items() if i != task_id and t.created_at > live[task_id].disconnected_at]
        assert running_containers(docker_client, victim.node_id) == {task_id: container}, "the original runs on"
    finally:
        procs.send(pid, signal.SIGCONT)

    # The node returns within the tolerance: the original (running) is kept, the replacement stopped.
    wait_for(lambda: replacement not in live_tasks(api) and len(live_tasks(api)) == 2, 60, "the replacement stopped")
    gone = api.DescribeTasks(op.DescribeTasksRequest(cluster="default", tasks=[replacement])).tasks[0]
    assert gone.stop_code == "ServiceSchedulerInitiated"
    assert f"the task {task_id} it replaced came back with its node within the service's disconnect tolerance" \
        in gone.stopped_reason
    wait_for(lambda: (t := live_tasks(api)[task_id]).last_status == "RUNNING" and not t.disconnected_at, 60,
             "the original RUNNING again, its marks cleared")
    wait_for(lambda: replacement not in running_containers(docker_client, keeper.node_id), 60,
             "the replacement's container removed by its agent")
    assert running_containers(docker_client, victim.node_id) == {task_id: container}, "the same container kept"
    live = live_tasks(api)
    running = {n: running_containers(docker_client, n) for n in (victim.node_id, keeper.node_id)}
    assert sorted(i for found in running.values() for i in found) == sorted(live), "each task runs exactly once"
    assert api.DescribeServices(op.DescribeServicesRequest(cluster="default", services=["web"])).services[0] \
        .running_count == 2

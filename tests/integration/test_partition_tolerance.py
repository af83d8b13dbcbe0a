"""Disconnect tolerance across a real network partition: a lab (each agent in its own
network namespace) whose host's link is cut while its agent keeps running. Within the
service's tolerance the host's task reads UNKNOWN, is not replaced, and its container keeps
running; when the link comes back the same task is RUNNING again with the same container,
and no task of the service runs twice. With replaceOnDisconnect the task is replaced on the
reachable host at once and, on the heal, the original is kept and the replacement stopped."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from shoal.v1 import operator_pb2 as op
from shoalctl.lab.lab import Lab
from tests.service_tasks import held_unknown, live_tasks, running_containers, tolerant_service
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

LEASE_TTL = 3.0
TASKDEF = {"family": "cut", "containerDefinitions": [{
    "name": "worker", "image": "shoal/busybox:latest", "memory": 16, "cpu": 16, "essential": True,
    "command": ["sleep", "100000"], "stopTimeout": 1,
}]}


@pytest.fixture
def lab(tmp_path: Path, busybox_image: str) -> Iterator[Lab]:
    the_lab = Lab(tmp_path / "lab", hosts=2, zones=["a", "b"], lease_ttl=LEASE_TTL, gc_delay=1.0,
                  prometheus=False, autoscaler=False)
    try:
        the_lab.start(timeout=240)
        yield the_lab
    finally:
        the_lab.stop()


def test_a_partitioned_host_keeps_its_task_within_the_tolerance(lab: Lab, docker_client) -> None:
    api = lab.cluster.failover_operator()
    try:
        tolerant_service(api, TASKDEF, 120)
        names = lab.cluster.node_names()
        [(task_id, task)] = [(i, t) for i, t in live_tasks(api).items() if names.get(t.node_id) == "agent-2"]
        container = running_containers(docker_client, task.node_id)[task_id]

        lab.partition("agent-2")
        try:
            held_unknown(api, task_id, LEASE_TTL, "the cut-off host")
            # The agent, cut off but running, keeps its task's container.
            assert running_containers(docker_client, task.node_id) == {task_id: container}
        finally:
            lab.heal("agent-2")
        # The agent's report makes it RUNNING; the leader then clears its disconnect marks.
        wait_for(lambda: (t := live_tasks(api)[task_id]).last_status == "RUNNING" and not t.disconnected_at, 60,
                 "the task RUNNING after the heal")
        live = live_tasks(api)
        assert len(live) == 2
        assert running_containers(docker_client, task.node_id) == {task_id: container}
        running = [t for node in {t.node_id for t in live.values()} for t in running_containers(docker_client, node)]
        assert sorted(running) == sorted(live), "each task runs exactly once"
    finally:
        api.close()


def test_a_partitioned_hosts_task_is_replaced_and_the_better_copy_kept_on_heal(lab: Lab, docker_client) -> None:
    """replaceOnDisconnect across a real cut: the replacement starts on the reachable host at
    once; when the link comes back within the tolerance, the original (which ran on through the
    cut) is kept and the replacement stopped, so nothing runs twice."""
    api = lab.cluster.failover_operator()
    try:
        tolerant_service(api, TASKDEF, 300, replace=True)
        names = lab.cluster.node_names()
        [(task_id, task)] = [(i, t) for i, t in live_tasks(api).items() if names.get(t.node_id) == "agent-2"]
        [keeper] = [n for n, name in names.items() if name == "agent-1"]
        container = running_containers(docker_client, task.node_id)[task_id]

        lab.partition("agent-2")
        try:
            wait_for(lambda: sum(1 for t in live_tasks(api).values() if t.node_id == keeper
                                 and t.last_status == "RUNNING") == 2, 30 * LEASE_TTL,
                     "a replacement RUNNING on the reachable host while the cut-off one is away")
            live = live_tasks(api)
            assert len(live) == 3 and live[task_id].last_status == "UNKNOWN"
            [replacement] = [i for i in live if i != task_id and live[i].node_id == keeper
                             and live[i].created_at > live[task_id].disconnected_at]
            assert running_containers(docker_client, task.node_id) == {task_id: container}, "the original runs on"
        finally:
            lab.heal("agent-2")
        wait_for(lambda: replacement not in live_tasks(api) and len(live_tasks(api)) == 2, 90,
                 "the replacement stopped after the heal")
        gone = api.DescribeTasks(op.DescribeTasksRequest(cluster="default", tasks=[replacement])).tasks[0]
        assert f"the task {task_id} it replaced came back with its node" in gone.stopped_reason
        wait_for(lambda: (t := live_tasks(api)[task_id]).last_status == "RUNNING" and not t.disconnected_at, 60,
                 "the original RUNNING again, its marks cleared")
        wait_for(lambda: replacement not in running_containers(docker_client, keeper), 60,
                 "the replacement's container removed by its agent")
        assert running_containers(docker_client, task.node_id) == {task_id: container}, "the same container kept"
        live = live_tasks(api)
        running = [t for node in {t.node_id for t in live.values()} for t in running_containers(docker_client, node)]
        assert sorted(running) == sorted(live), "each task runs exactly once"
    finally:
        api.close()

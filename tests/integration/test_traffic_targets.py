"""Targets with real etcd, a real control plane, a real agent and a real container serving
HTTP (busybox httpd): the agent's checks take a target from initial to healthy, and the
routing table the cluster's agents receive lists it in rotation only then; a health path
answering 404 makes it unhealthy (Target.ResponseCodeMismatch) and takes it out; StopTask
of a target shows DEACTIVATING, the container keeps running until deregister_until and is
stopped after it. The table is recorded by a second, scripted agent of the cluster (too
small for any task), which gets exactly what every agent stream of the cluster gets."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors
import pytest

from shoal.v1 import operator_pb2 as op
from shoal.v1 import resources_pb2 as r
from shoal.v1 import traffic_pb2 as t
from shoal.v1 import traffic_pb2_grpc
from shoalctl.local.cluster import LocalCluster
from tests.fake_agent import FakeAgent
from tests.fixtures.pki import join_node
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

DELAY = 10
WEB = {"family": "web", "containerDefinitions": [{
    "name": "web", "image": "shoal/busybox:latest", "memory": 16, "cpu": 16, "stopTimeout": 2,
    "command": ["sh", "-c", "mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p 8080 -h /www"],
    "portMappings": [{"containerPort": 8080}]}]}


def describe(cluster, task_id: str) -> r.Task:
    return cluster.operator.DescribeTasks(op.DescribeTasksRequest(cluster="default", tasks=[task_id])).tasks[0]


def target(table: t.RoutingTable, backend: str, name: str) -> list[bool]:
    """Whether the server ``name`` of ``backend`` is in rotation: [] absent, [True], [False]."""
    return [s.active for b in table.backends if b.name == backend for s in b.servers if s.name == name]


def described_when(cluster, task_id: str, ok) -> r.Task | None:
    task = describe(cluster, task_id)
    return task if ok(task) else None


def state(task: r.Task) -> str:
    return task.target_health[0].state if task.target_health else ""


@dataclass
class Web:
    """A cluster of one docker agent with a load balancer on :8000 in front of the target
    group ``tg`` of service web (one busybox httpd task), and the recording agent."""

    cluster: LocalCluster
    recorder: FakeAgent
    tg: t.TargetGroup

    def last(self, name: str) -> list[bool]:
        return target(self.recorder.routing[-1], self.tg.id, name)


@pytest.fixture
def web(make_cluster, busybox_image, tmp_path: Path) -> Iterator[Web]:
    with start_web(make_cluster(agents=1), tmp_path) as started:
        yield started


@contextmanager
def start_web(cluster: LocalCluster, tmp_path: Path) -> Iterator[Web]:
    traffic = traffic_pb2_grpc.TrafficStub(cluster.channel)
    recorder = FakeAgent(cluster.endpoint, "recorder", cpu_units=1, memory_mib=1,
                         creds=join_node(cluster.endpoint, cluster.admin_tls(), tmp_path / "recorder", "recorder"))
    try:
        recorder.connect()
        cluster.operator.RegisterTaskDefinition(op.RegisterTaskDefinitionRequest(json=json.dumps(WEB)))
        tg = traffic.CreateTargetGroup(t.CreateTargetGroupRequest(
            cluster="default", name="web", protocol="HTTP", port=8080, deregistration_delay_seconds=DELAY,
            health_check=t.HealthCheckConfig(path="/", interval_seconds=5, timeout_seconds=2, healthy_threshold=2,
                                             unhealthy_threshold=2))).target_group
        traffic.CreateLoadBalancer(t.CreateLoadBalancerRequest(cluster="default", name="web"))
        traffic.CreateListener(t.CreateListenerRequest(cluster="default", load_balancer="web", port=8000,
                                                       protocol="HTTP", default_target_group="web"))
        # The cluster has a load balancer now: even the recorder's stream gets a table.
        (lb,) = traffic.DescribeLoadBalancers(t.DescribeLoadBalancersRequest(cluster="default")).load_balancers
        wait_for(lambda: recorder.routing and [f.name for f in recorder.routing[-1].frontends] == [f"lb-{lb.id}-8000"],
                 30, "the load balancer's frontend in the recorded table")
        cluster.operator.CreateService(op.CreateServiceRequest(
            cluster="default", service_name="web", task_definition="web", desired_count=1,
            # Long enough that the unhealthy target is watched, not replaced (tested in unit tests).
            health_check_grace_period_seconds=600,
            load_balancers=[r.ServiceLoadBalancer(target_group_arn=tg.target_group_arn, container_name="web",
                                                  container_port=8080)]))
        yield Web(cluster, recorder, tg)
    finally:
        recorder.close()


def test_targets_are_checked_routed_and_drained(web: Web, docker_client: docker.DockerClient) -> None:
    cluster, recorder, tg = web.cluster, web.recorder, web.tg
    # 1. initial -> healthy, and in rotation only then.
    task_id = wait_for(lambda: _task_id(cluster), 60, "the service's task")
    name = f"{task_id}-8080"
    wait_for(lambda: state(describe(cluster, task_id)) == "initial", 60, "target health initial")
    initial = recorder.routing[-1]
    assert state(describe(cluster, task_id)) == "initial"
    assert target(initial, tg.id, name) in ([], [False])
    healthy = wait_for(lambda: described_when(cluster, task_id, lambda x: state(x) == "healthy"),
                       30, "target health healthy")
    assert healthy.target_health[0].reason == ""
    wait_for(lambda: target(recorder.routing[-1], tg.id, name) == [True], 10,
             "the target in rotation")
    (server,) = [s for b in recorder.routing[-1].backends for s in b.servers if s.name == name]
    assert server.port == healthy.containers[0].network_bindings[0].host_port

    # 2. The health path answers 404: unhealthy, out of rotation.
    (container,) = docker_client.containers.list(filters={"label": f"shoal.task={task_id}"})
    container.exec_run(["rm", "/www/index.html"])
    sick = wait_for(lambda: described_when(cluster, task_id, lambda x: state(x) == "unhealthy"),
                    30, "target health unhealthy")
    assert sick.target_health[0].reason == "Target.ResponseCodeMismatch"
    assert "404" in sick.target_health[0].description
    wait_for(lambda: target(recorder.routing[-1], tg.id, name) == [False], 10,
             "the target out of rotation")
    container.exec_run(["sh", "-c", "echo ok > /www/index.html"])
    wait_for(lambda: state(describe(cluster, task_id)) == "healthy", 30, "healthy again")

    # 3. StopTask of a target: DEACTIVATING, running until deregister_until, then stopped.
    asked = time.time()
    cluster.operator.StopTask(op.StopTaskRequest(cluster="default", task=task_id))
    draining = wait_for(
        lambda: described_when(cluster, task_id, lambda x: x.last_status == "DEACTIVATING"),
        20, "the task DEACTIVATING")
    until = draining.deregister_until
    assert asked + DELAY - 1 <= until <= time.time() + DELAY, (asked, until)
    wait_for(lambda: target(recorder.routing[-1], tg.id, name) == [False], 10,
             "the draining target out of rotation")
    while time.time() < until - 1:
        container.reload()
        assert container.status == "running", "stopped before its deregistration delay was over"
        time.sleep(0.5)
    stopped = wait_for(lambda: described_when(cluster, task_id, lambda x: x.last_status == "STOPPED"),
                       30, "the task STOPPED")
    assert stopped.stopped_at >= until
    try:
        container.reload()
        assert container.status in ("exited", "removing")
    except docker.errors.NotFound:
        pass  # already collected (the cluster's --gc-delay is 1 s)
    wait_for(lambda: target(recorder.routing[-1], tg.id, name) == [], 10, "the stopped target gone from the table")


def test_a_lost_nodes_target_leaves_the_table_at_once(web: Web) -> None:
    task_id = wait_for(lambda: _task_id(web.cluster), 60, "the service's task")
    name = f"{task_id}-8080"
    wait_for(lambda: web.last(name) == [True], 60, "the target in rotation")
    web.cluster.kill_agent(1)
    # Judged lost after the lease TTL: gone from the table, not drained.
    wait_for(lambda: web.last(name) == [], 30, "the lost node's target gone from the table")
    lost = describe(web.cluster, task_id)
    assert lost.last_status == "STOPPED" and lost.deregister_until == 0


def _task_id(cluster) -> str | None:
    arns = cluster.operator.ListTasks(op.ListTasksRequest(cluster="default", service_name="web")).arns
    return arns[0].rsplit("/", 1)[-1] if arns else None


def test_an_agent_restart_keeps_its_targets_in_rotation(make_cluster, busybox_image, tmp_path: Path) -> None:
    # A TTL long enough that the restart is not a lost node.
    cluster = make_cluster(agents=1, lease_ttl=15)
    with start_web(cluster, tmp_path) as web:
        task_id = wait_for(lambda: _task_id(cluster), 60, "the service's task")
        name = f"{task_id}-8080"
        wait_for(lambda: web.last(name) == [True], 60, "the target in rotation")
        log = cluster.agent(1).log_path
        found_healthy = log.read_text().count("target healthy")
        assert found_healthy == 1
        seen = len(web.recorder.routing)
        cluster.kill_agent(1)
        cluster.start_agent(1)
        # It adopts the container and checks it afresh, finding it healthy: no table in the
        # meantime takes the target out of rotation, and the task is not announced initial.
        wait_for(lambda: log.read_text().count("target healthy") == 2, 60, "the restarted agent's check")
        assert all(target(table, web.tg.id, name) == [True] for table in web.recorder.routing[seen:])
        task = describe(cluster, task_id)
        assert (task.last_status, state(task)) == ("RUNNING", "healthy")

"""Issue 2's end-to-end checks: a real etcd, control plane, three real agents and real
containers on the real dockerd, as `shoal up` runs them."""

from __future__ import annotations

import json
import urllib.request

import docker
import pytest

from shoal.v1 import operator_pb2 as op
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

PAGE = "hello from shoal"
WEB = {
    "family": "e2e-web",
    "containerDefinitions": [{
        "name": "web",
        "image": "shoal/busybox:latest",
        "memory": 32,
        "cpu": 64,
        "essential": True,
        "portMappings": [{"containerPort": 8080}],
        "command": ["sh", "-c", f"mkdir -p /www && echo '{PAGE}' > /www/index.html && exec httpd -f -p 8080 -h /www"],
        "stopTimeout": 2,
    }],
}


def running_tasks(api, service: str = "web") -> list:
    arns = api.ListTasks(op.ListTasksRequest(cluster="default", service_name=service, desired_status="RUNNING")).arns
    if not arns:
        return []
    tasks = api.DescribeTasks(op.DescribeTasksRequest(cluster="default", tasks=arns)).tasks
    return [t for t in tasks if t.last_status == "RUNNING"]


def fetch(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as resp:
        return resp.read().decode()


def host_ports(task) -> list[int]:
    return [b.host_port for c in task.containers for b in c.network_bindings]


def containers_of(client: docker.DockerClient, task_id: str) -> list:
    return client.containers.list(all=True, filters={"label": f"shoal.task={task_id}"})


@pytest.fixture
def web_cluster(make_cluster, busybox_image):
    cluster = make_cluster(agents=3, zones=["a", "b", "c"])
    api = cluster.operator
    api.RegisterTaskDefinition(op.RegisterTaskDefinitionRequest(json=json.dumps(WEB)))
    api.CreateService(op.CreateServiceRequest(cluster="default", service_name="web", task_definition="e2e-web",
                                              desired_count=3))
    wait_for(lambda: len(running_tasks(api)) == 3, 120, "3 web tasks RUNNING")
    return cluster


def test_service_of_three_answers_and_replaces_a_killed_container(web_cluster, docker_client) -> None:
    api = web_cluster.operator
    tasks = running_tasks(api)
    assert len({t.node_id for t in tasks}) == 3, "spread over the three nodes/zones"
    for t in tasks:
        (port,) = host_ports(t)
        assert wait_for(lambda p=port: PAGE in fetch(p), 30, f"page on port {port}")

    victim = tasks[0]
    (container,) = [c for c in containers_of(docker_client, victim.id) if c.status == "running"]
    container.kill()

    def replaced():
        now = running_tasks(api)
        return now if len(now) == 3 and victim.id not in {t.id for t in now} else None

    now = wait_for(replaced, 120, "a replacement for the killed container")
    stopped = api.DescribeTasks(op.DescribeTasksRequest(cluster="default", tasks=[victim.id])).tasks[0]
    assert stopped.last_status == "STOPPED"
    assert stopped.stop_code == "EssentialContainerExited"
    assert stopped.containers[0].exit_code == 137
    for t in now:
        (port,) = host_ports(t)
        assert wait_for(lambda p=port: PAGE in fetch(p), 30, f"page on port {port}")


def test_killed_agent_tasks_move_and_no_duplicates_on_return(web_cluster, docker_client) -> None:
    api = web_cluster.operator
    tasks = running_tasks(api)
    lost_node = tasks[0].node_id
    lost_tasks = {t.id for t in tasks if t.node_id == lost_node}
    index = web_cluster.agent_index(lost_node)
    web_cluster.kill_agent(index)

    def moved():
        now = running_tasks(api)
        return len(now) == 3 and not ({t.id for t in now} & lost_tasks) and all(t.node_id != lost_node for t in now)

    wait_for(moved, 120, "the killed agent's tasks RUNNING on other nodes")
    web_cluster.start_agent(index)

    def no_duplicates():
        running = docker_client.containers.list(filters={"label": "shoal.cluster=default"})
        mine = [c for c in running if c.labels.get("shoal.node") in web_cluster.node_ids()]
        task_ids = {c.labels["shoal.task"] for c in mine}
        return len(mine) == 3 and task_ids == {t.id for t in running_tasks(api)}

    wait_for(no_duplicates, 120, "exactly the 3 service containers running after the agent returns")


def test_stopped_task_leaves_no_container(web_cluster, docker_client) -> None:
    api = web_cluster.operator
    task = api.RunTask(op.RunTaskRequest(cluster="default", task_definition="e2e-web")).tasks[0]
    wait_for(lambda: api.DescribeTasks(op.DescribeTasksRequest(cluster="default", tasks=[task.id]))
             .tasks[0].last_status == "RUNNING", 120, "the standalone task RUNNING")
    assert [c for c in containers_of(docker_client, task.id) if c.status == "running"]
    api.StopTask(op.StopTaskRequest(cluster="default", task=task.id, reason="test"))
    wait_for(lambda: not containers_of(docker_client, task.id), 120, "the task's container removed")
    stopped = api.DescribeTasks(op.DescribeTasksRequest(cluster="default", tasks=[task.id])).tasks[0]
    assert stopped.last_status == "STOPPED"
    assert stopped.stop_code == "UserInitiated" and stopped.stopped_reason == "test"


def test_drain_moves_service_tasks_off_a_node_and_activate_undoes_it(web_cluster, docker_client) -> None:
    api = web_cluster.operator
    drained = running_tasks(api)[0].node_id
    standalone = api.RunTask(op.RunTaskRequest(cluster="default", task_definition="e2e-web", placement_constraints=[
        {"type": "memberOf", "expression": f"ec2InstanceId == {drained}"}])).tasks[0]
    wait_for(lambda: api.DescribeTasks(op.DescribeTasksRequest(cluster="default", tasks=[standalone.id]))
             .tasks[0].last_status == "RUNNING", 120, "a standalone task on the node to drain")
    api.UpdateContainerInstancesState(op.UpdateContainerInstancesStateRequest(
        cluster="default", container_instances=[drained], status="DRAINING"))

    def moved():
        now = running_tasks(api)
        return len(now) == 3 and all(t.node_id != drained for t in now)

    wait_for(moved, 120, "the service's tasks RUNNING off the draining node")
    wait_for(lambda: {c.labels["shoal.task"] for c in docker_client.containers.list(
        filters={"label": f"shoal.node={drained}"})} == {standalone.id}, 60,
        "only the standalone task's container left running on the drained node")

    # While DRAINING nothing new lands there; once ACTIVE again it takes tasks.
    api.UpdateService(op.UpdateServiceRequest(cluster="default", service="web", desired_count=4))
    wait_for(lambda: len(running_tasks(api)) == 4, 120, "4 web tasks RUNNING")
    assert all(t.node_id != drained for t in running_tasks(api))
    api.UpdateContainerInstancesState(op.UpdateContainerInstancesStateRequest(
        cluster="default", container_instances=[drained], status="ACTIVE"))
    api.UpdateService(op.UpdateServiceRequest(cluster="default", service="web", desired_count=6))
    wait_for(lambda: len(running_tasks(api)) == 6 and any(t.node_id == drained for t in running_tasks(api)),
             120, "the re-activated node taking service tasks again")

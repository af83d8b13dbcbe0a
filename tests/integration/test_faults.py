"""Issue 6's fault scenarios, on a lab: a real etcd cluster of 3, two control-plane
replicas, four agents each in its own network namespace (agent-4 on a dockerd of its own),
real containers. Each scenario makes its fault with `shoal chaos`'s functions, prints how
long the cluster took to converge, then checks the invariants:

- no service is below (or above) its desired count once converged;
- no task runs twice and no service runs more containers than maximumPercent allows;
- no orphaned containers: every running shoal container belongs to a live RUNNING task
  of the node whose label it carries.

One lab serves the whole module (starting one costs more than most scenarios); a reset
between scenarios heals links, restarts whatever a scenario left stopped and waits for
the cluster to converge and clean up.
"""

from __future__ import annotations

import json
import signal
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from shoal.endpoints import FailoverStub
from shoal.v1 import operator_pb2 as op
from shoal.v1 import resources_pb2 as r
from shoalctl.chaos import actions
from shoalctl.chaos.converge import Picture, picture
from shoalctl.chaos.targets import LiveTarget
from shoalctl.lab.lab import Lab
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

LEASE_TTL = 3.0
PAUSE = 30.0
PARTITION = 3 * LEASE_TTL
CONVERGE = 90.0
PINNED_HOST = 4  # the host with its own dockerd; a service is pinned to it
MAX_PERCENT = 200

WEB = {
    "family": "faults-web",
    "containerDefinitions": [{
        "name": "web",
        "image": "shoal/busybox:latest",
        "memory": 16,
        "cpu": 32,
        "essential": True,
        "portMappings": [{"containerPort": 8080}],
        "command": ["sh", "-c", "mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p 8080 -h /www"],
        "stopTimeout": 1,
    }],
}
PINNED = {
    "family": "faults-pinned",
    "containerDefinitions": [{
        "name": "worker",
        "image": "shoal/busybox:latest",
        "memory": 16,
        "cpu": 32,
        "essential": True,
        "command": ["sleep", "100000"],
        "stopTimeout": 1,
    }],
}


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory, busybox_image: str) -> Iterator[Lab]:
    the_lab = Lab(tmp_path_factory.mktemp("faults") / "lab", hosts=4, private_dockerd=[PINNED_HOST],
                  zones=["a", "b", "c", "d"], replicas=2, etcd_members=3, lease_ttl=LEASE_TTL, gc_delay=1.0,
                  prometheus=False, autoscaler=False)
    try:
        the_lab.start(timeout=240)
        api = the_lab.cluster.failover_operator()
        for td in (WEB, PINNED):
            api.RegisterTaskDefinition(op.RegisterTaskDefinitionRequest(json=json.dumps(td)))
        api.CreateService(op.CreateServiceRequest(
            cluster="default", service_name="web", task_definition="faults-web", desired_count=4,
            placement_strategy=[r.PlacementStrategy(type="spread", field="instanceId")],
            deployment_configuration=r.DeploymentConfiguration(minimum_healthy_percent=50,
                                                               maximum_percent=MAX_PERCENT)))
        api.CreateService(op.CreateServiceRequest(
            cluster="default", service_name="pinned", task_definition="faults-pinned", desired_count=1,
            placement_constraints=[r.PlacementConstraint(
                type="memberOf", expression="attribute:ecs.availability-zone == d")]))
        wait_for(lambda: picture(api).converged(), 120, "both services running")
        api.close()
        yield the_lab
    finally:
        the_lab.stop()


@pytest.fixture
def api(lab: Lab) -> Iterator[FailoverStub]:
    client = lab.cluster.failover_operator()
    yield client
    client.close()


@pytest.fixture
def target(lab: Lab) -> LiveTarget:
    return LiveTarget(lab.cluster, lab)


@pytest.fixture(autouse=True)
def reset(lab: Lab, api: FailoverStub, docker_client: docker.DockerClient) -> Iterator[None]:
    """Before each scenario: everything running, every link up, converged and clean."""
    restore(lab)
    wait_for(lambda: picture(api).converged(connected_nodes(lab)), CONVERGE, "the cluster converged before the fault")
    wait_for(lambda: not problems(lab, api, docker_client), CONVERGE, "no orphans before the fault")
    yield
    restore(lab)


def restore(lab: Lab) -> None:
    c = lab.cluster
    for i, m in enumerate(c.etcd_members, start=1):
        if not m.running:
            c.start_etcd_member(i)
    for i in range(1, c.replica_count + 1):
        if c.replicas[i].poll() is not None:
            c.start_replica(i)
    for n, agent in c.agents.items():
        if lab.network.partitioned(n):
            lab.heal(n)
        if agent.running:
            agent.proc.send_signal(signal.SIGCONT)
        else:
            c.start_agent(n)
    for d in lab.dockerds.values():
        if not d.running:
            d.start()


def connected_nodes(lab: Lab) -> set[str]:
    return lab.cluster.node_ids()


# ---- invariants ------------------------------------------------------------------------

def running_containers(lab: Lab, docker_client: docker.DockerClient) -> list:
    """Every running container of this lab's nodes, on the shared and the private dockerds."""
    nodes = lab.cluster.node_ids()
    out = [c for c in docker_client.containers.list(filters={"label": "shoal.cluster=default"})
           if c.labels.get("shoal.node") in nodes]
    for d in lab.dockerds.values():
        client = docker.DockerClient(base_url=d.socket_url, timeout=30)
        try:
            out += [c for c in client.containers.list(filters={"label": "shoal.cluster=default"})
                    if c.labels.get("shoal.node") in nodes]
        finally:
            client.close()
    return out


def problems(lab: Lab, api: FailoverStub, docker_client: docker.DockerClient) -> list[str]:
    """What breaks the invariants now ([] = none)."""
    pic = picture(api)
    out = pic.lagging(connected_nodes(lab))
    live = {t.id: t for t in pic.tasks if t.last_status == "RUNNING"}
    containers = running_containers(lab, docker_client)
    per_task = Counter(c.labels.get("shoal.task", "") for c in containers)
    out += [f"task {t} runs {n} containers" for t, n in per_task.items() if n > 1]
    for c in containers:
        task = live.get(c.labels.get("shoal.task", ""))
        if task is None:
            out.append(f"orphan container {c.short_id} (task {c.labels.get('shoal.task')}, "
                       f"node {c.labels.get('shoal.node', '')[:12]})")
        elif task.node_id != c.labels.get("shoal.node"):
            out.append(f"container {c.short_id} of task {task.id} runs on the wrong node")
    per_service = Counter(c.labels.get("shoal.service", "") for c in containers)
    for s in pic.services:
        allowed = s.desired_count * max(100, s.deployment_configuration.maximum_percent or 200) // 100
        if per_service[s.service_name] > allowed:
            out.append(f"service {s.service_name} runs {per_service[s.service_name]} containers, "
                       f"more than maximumPercent allows ({allowed})")
    return out


def settle(lab: Lab, api: FailoverStub, docker_client: docker.DockerClient, report: actions.Report, name: str) -> None:
    """The scenario converged (the report says when); now the invariants must hold, within
    a deadline for the agents to remove what they no longer run."""
    for line in report.lines():
        print(f"[{name}] {line}")
    assert report.converged, f"{name}: did not converge: {report.lines()}"
    started = time.monotonic()
    wait_for(lambda: not problems(lab, api, docker_client), CONVERGE,
             f"{name}: invariants (no orphans, no duplicates, desired counts)")
    print(f"[{name}] converged after {report.converged_after:.1f}s; clean {time.monotonic() - started:.1f}s later")


def web_victim(pic: Picture, lab: Lab) -> str:
    """An agent (never the pinned host) running at least one web task."""
    names = lab.cluster.node_names()
    for t in pic.tasks:
        name = names.get(t.node_id, "")
        if t.service_name == "web" and t.last_status == "RUNNING" and name != f"agent-{PINNED_HOST}":
            return name
    raise AssertionError("no web task outside the pinned host")


def node_id_of(lab: Lab, name: str) -> str:
    return {n: i for i, n in lab.cluster.node_names().items()}[name]


def running_ids(api: FailoverStub) -> set[str]:
    return {t.id for t in picture(api).tasks if t.last_status == "RUNNING"}


def hold_steady(api: FailoverStub, expected: set[str], seconds: float, what: str) -> None:
    """Watches the running tasks for ``seconds``: none may be replaced in that window (the
    window is what is being tested, e.g. a new leader's grace period)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        now = running_ids(api)
        assert now == expected, f"{what}: tasks replaced: gone {sorted(expected - now)}, new {sorted(now - expected)}"
        time.sleep(0.5)  # the sampling period of the watch, not a wait for something


# ---- scenarios -------------------------------------------------------------------------

def test_dockerd_restart_on_a_node(lab: Lab, api: FailoverStub, target: LiveTarget, docker_client) -> None:
    pinned_node = node_id_of(lab, f"agent-{PINNED_HOST}")
    before = {t.id for t in picture(api).tasks if t.node_id == pinned_node}
    assert before, "the pinned service runs on the host with its own dockerd"
    report = actions.stop_docker(target, api, f"agent-{PINNED_HOST}", timeout=CONVERGE)
    settle(lab, api, docker_client, report, "dockerd restart")
    after = {t.id for t in picture(api).tasks if t.node_id == pinned_node}
    assert after and not (after & before), "tasks that died with dockerd were replaced"
    stopped = api.DescribeTasks(op.DescribeTasksRequest(cluster="default", tasks=sorted(before))).tasks
    assert all(t.last_status == "STOPPED" for t in stopped)


def test_agent_kill_9(lab: Lab, api: FailoverStub, target: LiveTarget, docker_client) -> None:
    victim = web_victim(picture(api), lab)
    report = actions.kill_agent(target, api, victim, restart=True, timeout=CONVERGE)
    settle(lab, api, docker_client, report, "agent kill -9")
    assert report.measurements[0][1].noticed_after is not None


def test_agent_sigstop_then_sigcont(lab: Lab, api: FailoverStub, target: LiveTarget, docker_client) -> None:
    victim = web_victim(picture(api), lab)
    node_id = node_id_of(lab, victim)
    frozen_tasks = {t.id for t in picture(api).tasks if t.node_id == node_id}
    report = actions.pause_agent(target, api, victim, PAUSE, timeout=CONVERGE)
    settle(lab, api, docker_client, report, "agent SIGSTOP")
    assert report.measurements[0][1].noticed_after is not None, "a 30 s freeze is noticed"
    assert not (frozen_tasks & running_ids(api)), "the frozen agent's tasks were replaced"


def test_host_partition_then_heal(lab: Lab, api: FailoverStub, target: LiveTarget, docker_client) -> None:
    victim = web_victim(picture(api), lab)
    node_id = node_id_of(lab, victim)
    cut_off = {t.id for t in picture(api).tasks if t.node_id == node_id}
    report = actions.partition(target, api, victim, PARTITION, timeout=CONVERGE)
    settle(lab, api, docker_client, report, "host partition")
    assert report.measurements[0][1].noticed_after is not None
    assert not (cut_off & running_ids(api)), "the cut-off host's tasks were replaced"


def test_leader_kill(lab: Lab, api: FailoverStub, target: LiveTarget, docker_client) -> None:
    before = running_ids(api)
    report = actions.kill_leader(target, api, restart=False, timeout=CONVERGE)
    settle(lab, api, docker_client, report, "leader kill")
    m = report.measurements[0][1]
    assert m.noticed_after is not None and m.noticed_after <= LEASE_TTL + 1, \
        f"another replica leads within a TTL (+ 1 s for a busy box), took {m.noticed_after}"
    assert running_ids(api) == before, "services unaffected: no task was replaced"
    # The new leader acts: a scale-up is placed and run.
    api.UpdateService(op.UpdateServiceRequest(cluster="default", service="web", desired_count=5))
    wait_for(lambda: picture(api).converged(), CONVERGE, "the new leader placed the fifth web task")
    api.UpdateService(op.UpdateServiceRequest(cluster="default", service="web", desired_count=4))


def test_one_etcd_member_killed(lab: Lab, api: FailoverStub, docker_client) -> None:
    before = running_ids(api)
    started = time.monotonic()
    lab.cluster.kill_etcd_member(1)
    print("[etcd member kill] killed etcd member m1 with SIGKILL")
    hold_steady(api, before, 2 * LEASE_TTL + 1, "one etcd member down")
    # Writes go through: the two members left keep quorum.
    api.UpdateService(op.UpdateServiceRequest(cluster="default", service="web", desired_count=5))
    wait_for(lambda: picture(api).converged(), CONVERGE, "a scale-up placed with one etcd member down")
    api.UpdateService(op.UpdateServiceRequest(cluster="default", service="web", desired_count=4))
    wait_for(lambda: picture(api).converged(), CONVERGE, "the scale-down with one etcd member down")
    wait_for(lambda: not problems(lab, api, docker_client), CONVERGE, "invariants with one etcd member down")
    print(f"[etcd member kill] no task lost; scaled up and down and converged in {time.monotonic() - started:.1f}s")
    lab.cluster.start_etcd_member(1)


def test_control_plane_restart_keeps_state(lab: Lab, api: FailoverStub, docker_client) -> None:
    before = running_ids(api)
    services = {s.service_name: s.desired_count for s in picture(api).services}
    started = time.monotonic()
    lab.cluster.restart_control_plane()
    print(f"[control plane restart] all {lab.cluster.replica_count} replicas restarted in "
          f"{time.monotonic() - started:.1f}s")
    wait_for(lambda: picture(api).converged(connected_nodes(lab)), CONVERGE, "converged after the restart")
    print(f"[control plane restart] converged after {time.monotonic() - started:.1f}s")
    # Through the new leader's grace period: a node it judged lost would show here.
    hold_steady(api, before, 2 * LEASE_TTL + 1, "after the control plane restart")
    wait_for(lambda: not problems(lab, api, docker_client), CONVERGE, "invariants after the restart")
    assert {s.service_name: s.desired_count for s in picture(api).services} == services


def test_cli_lab_files_point_at_the_lab(lab: Lab) -> None:
    data = json.loads((Path(lab.state_dir) / "lab.json").read_text())
    assert data["network"]["lab_id"] == lab.lab_id
    assert {h["address"] for h in data["network"]["hosts"]} == {h.address for h in lab.network.hosts.values()}

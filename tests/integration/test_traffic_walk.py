"""The user's walk of the traffic issue, as a user runs it: `shoal up` (three agents, each
with its node proxy on its own loopback address), a service of 3 behind `shoal lb create`,
requests on every node's listener answered by all three tasks; a stopped task leaves
rotation with no request failing; a killed agent's tasks leave every other node's proxy once
its node is judged lost. Then the same through the wire APIs (boto3 elbv2 + ecs)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from shoal.netutil import free_port, free_ports
from shoal.security.channels import ClientTLS, client_channel
from shoal.v1 import operator_pb2 as op
from shoal.v1 import operator_pb2_grpc, traffic_pb2_grpc
from shoal.v1 import traffic_pb2 as t
from shoalctl.local import statefiles, teardown
from shoalctl.local.agents import agent_loopback
from tests.aws_clients import access_key, client
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
AGENTS = 3
# Seconds a control-plane judgement (a lost node's targets out of DescribeTargetHealth) may
# take to reach every node's proxy: the table's rebuild, its push and the runtime API.
CONVERGE = 1.0


def taskdef(family: str) -> dict:
    """busybox httpd answering with the container's hostname (its short container id)."""
    return {"family": family, "networkMode": "bridge", "containerDefinitions": [{
        "name": "web", "image": "shoal/busybox:latest", "essential": True, "cpu": 32, "memory": 16,
        "stopTimeout": 2, "portMappings": [{"containerPort": 8080, "hostPort": 0, "protocol": "tcp"}],
        "command": ["sh", "-c", "mkdir -p /www && echo $HOSTNAME > /www/index.html && exec httpd -f -p 8080 -h /www"],
    }]}


@dataclass
class Up:
    state: Path
    config: dict

    def shoal(self, *args: str, timeout: float = 120) -> str:
        env = dict(os.environ, PYTHONPATH=str(REPO), SHOAL_STATE_DIR=str(self.state))
        env.pop("SHOAL_ENDPOINT", None)
        done = subprocess.run([sys.executable, "-m", "shoalctl", *args], capture_output=True, text=True,
                              timeout=timeout, env=env, cwd=REPO)
        assert done.returncode == 0, f"shoal {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def channel(self):
        return client_channel(self.config["endpoint"], ClientTLS.from_env(self.config, env={}))

    def aws(self, *services: str) -> list:
        """Clients of ``services`` through the gateway, signed with one new access key."""
        with self.channel() as channel:
            key = access_key(channel)
        return [client(service, self.config, key) for service in services]

    def agent_pids(self) -> dict[str, int]:
        return {rec.name: rec.pid for rec in statefiles.recorded(self.state) if rec.role == "agent"}


@contextmanager
def shoal_up(state: Path, agents: int) -> Iterator[Up]:
    """`shoal up --detach` with ``agents`` agents (each with its node proxy), torn down after."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    env.pop("SHOAL_ENDPOINT", None)
    api, metrics, ecs = free_ports(3)
    argv = [sys.executable, "-m", "shoalctl", "up", "--detach", "--state-dir", str(state),
            "--port", str(api), "--metrics-port", str(metrics), "--ecs-port", str(ecs),
            "--console-port", "-1", "--no-prometheus", "--no-registry", "--no-sample",
            "--agents", str(agents), "--lease-ttl", "4"]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=300, env=env, cwd=REPO)
        assert done.returncode == 0, f"shoal up failed:\n{done.stdout}\n{done.stderr}"
        yield Up(state, json.loads(statefiles.config_path(state).read_text()))
    finally:
        if statefiles.pids_path(state).exists():
            teardown.stop_recorded(state)


@pytest.fixture(scope="module")
def up(tmp_path_factory, busybox_image) -> Iterator[Up]:
    with shoal_up(tmp_path_factory.mktemp("walk") / "state", AGENTS) as started:
        yield started


def get(address: str, port: int) -> str:
    with urllib.request.urlopen(f"http://{address}:{port}/", timeout=5) as resp:
        return resp.read().decode().strip()


def node_addresses() -> list[str]:
    return [agent_loopback(n) for n in range(1, AGENTS + 1)]


def running(stub: operator_pb2_grpc.OperatorStub, service: str) -> list:
    arns = list(stub.ListTasks(op.ListTasksRequest(cluster="default", service_name=service), timeout=10).arns)
    if not arns:
        return []
    tasks = stub.DescribeTasks(op.DescribeTasksRequest(cluster="default", tasks=arns), timeout=10).tasks
    return [x for x in tasks if x.last_status == "RUNNING" and x.desired_status == "RUNNING"]


def hostname(task) -> str:
    """What the task's httpd answers: its container's hostname, the container id's first 12."""
    return task.containers[0].runtime_id[:12]


def answers_from_all(addresses: list[str], port: int, wanted: set[str], tries: int = 60) -> dict[str, set[str]]:
    """Per listener address, the task hostnames that answered over up to ``tries`` requests."""
    seen: dict[str, set[str]] = {}
    for address in addresses:
        seen[address] = set()
        for _ in range(tries):
            seen[address].add(get(address, port))
            if seen[address] >= wanted:
                break
    return seen


def healthy_count(up: Up, tg: str) -> int:
    out = up.shoal("tg", "health", tg)
    return sum(1 for line in out.splitlines()[1:] if " healthy " in f" {line} ")


class Load:
    """Requests in a loop on the listeners of ``addresses`` until stopped: what answered, what failed."""

    def __init__(self, addresses: list[str], port: int) -> None:
        self.addresses, self.port = addresses, port
        self.answers: list[tuple[float, str]] = []
        self.failures: list[str] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        n = 0
        while not self.stop.is_set():
            address = self.addresses[n % len(self.addresses)]
            n += 1
            try:
                self.answers.append((time.monotonic(), get(address, self.port)))
            except OSError as exc:
                self.failures.append(f"{address}: {exc}")

    def mark(self) -> int:
        return len(self.answers)

    def since(self, mark: int) -> set[str]:
        return {a for _, a in self.answers[mark:]}

    def finish(self) -> None:
        self.stop.set()
        self.thread.join(10)


def in_container(docker_client, task, script: str) -> str:
    """Runs ``script`` with sh inside the task's container; its output (busybox wget was seen
    to crash in this image, so HTTP requests go through nc)."""
    container = docker_client.containers.get(task.containers[0].runtime_id)
    code, out = container.exec_run(["sh", "-c", script])
    return out.decode(errors="replace") if code == 0 else ""


def http_via_nc(host: str, port: int) -> str:
    return f"printf 'GET / HTTP/1.0\\r\\nHost: {host}:{port}\\r\\n\\r\\n' | nc -w 5 {host} {port}"


def test_service_connect_name_answers_from_inside_another_task(up: Up, tmp_path: Path, docker_client) -> None:
    served = taskdef("sd")
    served["containerDefinitions"][0]["portMappings"][0]["name"] = "http"
    client = {"family": "client", "networkMode": "bridge", "containerDefinitions": [{
        "name": "client", "image": "shoal/busybox:latest", "essential": True, "cpu": 16, "memory": 8,
        "stopTimeout": 1, "command": ["sh", "-c", "exec sleep 3600"]}]}
    for doc in (served, client):
        (tmp_path / f"{doc['family']}.json").write_text(json.dumps(doc))
        up.shoal("taskdef", "register", str(tmp_path / f"{doc['family']}.json"))
    up.shoal("namespace", "create", "local")
    (tmp_path / "svc.json").write_text(json.dumps({
        "serviceName": "sd", "taskDefinition": "sd", "desiredCount": 2,
        "serviceConnectConfiguration": {"enabled": True, "namespace": "local", "services": [{
            "portName": "http", "discoveryName": "web", "clientAliases": [{"port": 8080, "dnsName": "web"}]}]}}))
    up.shoal("service", "create", "--cli-input-json", str(tmp_path / "svc.json"))
    up.shoal("task", "run", "--taskdef", "client")
    with up.channel() as channel:
        stub = operator_pb2_grpc.OperatorStub(channel)
        served_tasks = wait_for(lambda: x if len(x := running(stub, "sd")) == 2 else None, 90, "2 sd tasks RUNNING")
        names = {hostname(x) for x in served_tasks}
        clients = wait_for(lambda: [x for x in _standalone(stub) if x.last_status == "RUNNING"], 60,
                           "the client task RUNNING")
        box = clients[0]
        # Both the namespace's name and the bare alias, from inside the client's container.
        for host in ("web.local", "web"):
            answered: set[str] = set()

            def both(h: str = host, answered: set[str] = answered) -> bool:
                out = in_container(docker_client, box, http_via_nc(h, 8080))
                body = out.rsplit("\r\n\r\n", 1)[-1].strip() if "200 OK" in out else ""
                answered.add(body)
                return answered >= names
            wait_for(both, 60, f"http://{host}:8080 answered by both sd tasks from inside the client task")
            assert answered - {""} == names, answered


def _standalone(stub: operator_pb2_grpc.OperatorStub) -> list:
    arns = list(stub.ListTasks(op.ListTasksRequest(cluster="default", family="client"), timeout=10).arns)
    return list(stub.DescribeTasks(op.DescribeTasksRequest(cluster="default", tasks=arns), timeout=10).tasks) \
        if arns else []


def test_the_same_walk_through_elbv2_and_ecs_wire_apis(up: Up) -> None:
    elbv2, ecs = up.aws("elbv2", "ecs")
    port = free_port()
    lb = elbv2.create_load_balancer(Name="wire", Type="application")["LoadBalancers"][0]
    tg_arn = elbv2.create_target_group(
        Name="wire-tg", Protocol="HTTP", Port=8080, VpcId="vpc-0", TargetType="ip", HealthCheckPath="/",
        HealthCheckIntervalSeconds=5, HealthCheckTimeoutSeconds=2, HealthyThresholdCount=2,
        UnhealthyThresholdCount=2)["TargetGroups"][0]["TargetGroupArn"]
    elbv2.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=port,
                          DefaultActions=[{"Type": "forward", "TargetGroupArn": tg_arn}])
    ecs.register_task_definition(**taskdef("wire"))
    attached = [{"targetGroupArn": tg_arn, "containerName": "web", "containerPort": 8080}]
    ecs.create_service(serviceName="wire", taskDefinition="wire", desiredCount=3, loadBalancers=attached)
    assert ecs.describe_services(services=["wire"])["services"][0]["loadBalancers"] == attached

    def healthy() -> int:
        found = elbv2.describe_target_health(TargetGroupArn=tg_arn)["TargetHealthDescriptions"]
        return sum(1 for d in found if d["TargetHealth"]["State"] == "healthy")
    wait_for(lambda: healthy() == 3, 90, "3 healthy targets in DescribeTargetHealth")
    arns = ecs.list_tasks(serviceName="wire", desiredStatus="RUNNING")["taskArns"]
    names = {x["containers"][0]["runtimeId"][:12] for x in ecs.describe_tasks(tasks=arns)["tasks"]}
    assert len(names) == 3

    def everywhere() -> dict[str, set[str]] | None:
        seen = answers_from_all(node_addresses(), port, names)
        return seen if all(v == names for v in seen.values()) else None
    wait_for(everywhere, 30, "all three wire tasks answering on every node's listener")


def test_lb_walk_stop_a_task_and_kill_an_agent(up: Up, tmp_path: Path) -> None:
    port = free_port()
    td = tmp_path / "web.json"
    td.write_text(json.dumps(taskdef("web")))
    up.shoal("taskdef", "register", str(td))
    up.shoal("lb", "create", "web", "--listener", f"{port}:http")
    up.shoal("service", "create", "web", "--taskdef", "web", "--desired", "3", "--load-balancer", "web")
    wait_for(lambda: healthy_count(up, "web") == 3, 90, "`shoal tg health web` showing 3 healthy")

    with up.channel() as channel:
        stub = operator_pb2_grpc.OperatorStub(channel)
        traffic = traffic_pb2_grpc.TrafficStub(channel)
        tasks = running(stub, "web")
        assert len(tasks) == 3
        names = {hostname(x) for x in tasks}
        addresses = node_addresses()
        # Every node's listener answers, and from every node all three tasks answer.

        def everywhere() -> dict[str, set[str]] | None:
            seen = answers_from_all(addresses, port, names)
            return seen if all(v == names for v in seen.values()) else None
        seen = wait_for(everywhere, 30, "all three tasks answering on every node's listener")
        assert set(seen) == set(addresses)

        # A stopped task leaves rotation: no request fails while it drains, none reaches it after.
        victim = tasks[0]
        load = Load(addresses, port)
        try:
            up.shoal("task", "stop", victim.task_arn)
            stopped_at = time.monotonic()
            wait_for(lambda: stub.DescribeTasks(op.DescribeTasksRequest(cluster="default", tasks=[victim.task_arn]),
                                                timeout=10).tasks[0].last_status == "STOPPED",
                     60, "the stopped task STOPPED after its deregistration delay")
            after = load.mark()
            wait_for(lambda: load.mark() >= after + 60, 30, "60 requests after the task stopped")
        finally:
            load.finish()
        assert not load.failures, load.failures[:5]
        assert hostname(victim) not in load.since(after), "a request reached the stopped task"
        # It left rotation when stopped, not when its container stopped (the drain).
        late = [round(at - stopped_at, 2) for at, a in load.answers
                if a == hostname(victim) and at > stopped_at + CONVERGE]
        assert not late, f"requests reached the draining task this long after `shoal task stop`: {late[:5]}"

        # kill -9 one agent: once its node is judged lost, the other nodes' listeners never
        # send a request to its tasks and none fails.
        wait_for(lambda: healthy_count(up, "web") == 3, 90, "the replacement task healthy")
        tasks = running(stub, "web")
        victim_name, victim_pid, victim_node = _agent_with_tasks(up, stub, tasks)
        dead = {hostname(x) for x in tasks if x.node_id == victim_node}
        assert dead
        os.kill(victim_pid, signal.SIGKILL)
        alive = [a for n, a in enumerate(node_addresses(), start=1) if f"agent-{n}" != victim_name]
        load = Load(alive, port)
        try:
            wait_for(lambda: not any(d.node_id == victim_node for d in traffic.DescribeTargetHealth(
                t.TargetGroupRef(cluster="default", target_group="web"), timeout=10).targets),
                60, "the lost node's targets gone from the target group")
            judged = time.monotonic()
            after = load.mark()
            wait_for(lambda: load.mark() >= after + 90, 30, "90 requests on the remaining nodes")
        finally:
            load.finish()
        # No request fails at all, before or after the judgement (its tasks still run).
        assert not load.failures, load.failures[:5]
        # The judgement reaches the proxies by a push: within CONVERGE seconds, none after.
        late = [round(at - judged, 2) for at, a in load.answers[after:] if a in dead and at > judged + CONVERGE]
        assert not late, f"requests reached the lost node's tasks this long after it was judged lost: {late[:5]}"


def _agent_with_tasks(up: Up, stub, tasks) -> tuple[str, int, str]:
    """(agent name, pid, node id) of an agent running at least one task of ``tasks``."""
    for name, pid in sorted(up.agent_pids().items()):
        node = json.loads((up.state / "agents" / name / "node.json").read_text())["node_id"]
        if any(x.node_id == node for x in tasks):
            return name, pid, node
    raise AssertionError("no agent runs a task of the service")

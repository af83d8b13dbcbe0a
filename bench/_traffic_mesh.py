"""The traffic figures measured end to end on a real local cluster (bench/traffic.py runs
them after the proxy-only ones): 3 docker agents, each with its node proxy, a load balancer
whose listener is on every node, a service of 3 busybox httpd tasks behind it, and a steady
request loop (one new connection per request) through agent-1's listener.

(a) failed requests during a rolling deployment of the 3 tasks (force-new-deployment,
    minimumHealthyPercent 100, maximumPercent 200), beside the failures of the same loop in
    the steady state before it;
(b) time from a new task's first passing target health check to its first answer through
    the listener: "healthy" when its agent logged the check ("target healthy", the agent's
    log timestamp), and, as context, when DescribeTasks (polled every 50 ms) first shows it;
    "first answer" when the loop first gets that task's hostname (one host, one clock);
(c) requests failed after an agent holding a task (not agent-1) is killed -9: between the
    kill and the node being judged lost (agentConnected=false), and after that.
"""

from __future__ import annotations

import datetime
import http.client
import json
import re
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import docker

from bench import _timing
from shoal.netutil import free_port
from shoal.v1 import operator_pb2 as op
from shoal.v1 import resources_pb2 as r
from shoal.v1 import traffic_pb2 as t
from shoal.v1 import traffic_pb2_grpc
from shoalctl.chaos.converge import picture
from shoalctl.images import DEFAULT_TAG, ensure_busybox_image
from shoalctl.local.agents import agent_loopback
from shoalctl.local.cluster import LocalCluster

TASKDEF = {"family": "bench-mesh", "containerDefinitions": [{
    "name": "web", "image": DEFAULT_TAG, "memory": 16, "cpu": 16, "essential": True, "stopTimeout": 2,
    # Each task answers with its hostname, so the loop knows which task served each request.
    "command": ["sh", "-c", "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www"],
    "portMappings": [{"containerPort": 8080}]}]}
DEREGISTRATION_DELAY = 2


def wait(cond, timeout: float, what: str, interval: float = 0.05):
    # a replica or agent may be mid-change
    return _timing.wait(cond, timeout, what, interval, tolerate=True)


@dataclass
class Loop:
    """One request at a time through a listener; each answer or failure with its time."""

    host: str
    port: int
    answers: list[tuple[float, str]] = field(default_factory=list)
    failures: list[tuple[float, str]] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        while not self.stopping.is_set():
            conn = http.client.HTTPConnection(self.host, self.port, timeout=5)
            try:
                conn.request("GET", "/")
                resp = conn.getresponse()
                body = resp.read().decode().strip()
                if resp.status == 200:
                    self.answers.append((time.time(), body))
                else:
                    self.failures.append((time.time(), f"HTTP {resp.status}"))
            except OSError as exc:
                self.failures.append((time.time(), f"{type(exc).__name__}: {exc}"))
            finally:
                conn.close()

    def between(self, start: float, end: float) -> tuple[int, int]:
        """(failed, total) requests finished in [start, end)."""
        failed = sum(1 for ts, _ in self.failures if start <= ts < end)
        return failed, failed + sum(1 for ts, _ in self.answers if start <= ts < end)

    def first_answer(self, hostname: str) -> float | None:
        return next((ts for ts, body in self.answers if body == hostname), None)


def _tasks(cluster: LocalCluster) -> list[r.Task]:
    arns = cluster.operator.ListTasks(op.ListTasksRequest(cluster="default", service_name="web")).arns
    if not arns:
        return []
    return list(cluster.operator.DescribeTasks(op.DescribeTasksRequest(cluster="default", tasks=arns)).tasks)


def _healthy(task: r.Task) -> bool:
    return task.last_status == "RUNNING" and any(h.state == "healthy" for h in task.target_health)


def _hostnames(client: docker.DockerClient) -> dict[str, str]:
    """task id -> its container's hostname, for the tasks of this cluster's service."""
    out = {}
    for c in client.containers.list(filters={"label": "shoal.task"}):
        out[c.labels["shoal.task"]] = c.attrs["Config"]["Hostname"]
    return out


def _agent_healthy_at(cluster: LocalCluster) -> dict[str, float]:
    """task id -> when its agent logged the target's first passing health check (wall clock,
    the agents' own log timestamps)."""
    out: dict[str, float] = {}
    for log in sorted(cluster.logs_dir.glob("agent-*.log")):
        for line in log.read_text(errors="replace").splitlines():
            m = re.match(r"(\S+Z) INFO\s+agent\.targets: target healthy task=(\w+)", line)
            if m and m.group(2) not in out:
                out[m.group(2)] = datetime.datetime.fromisoformat(m.group(1).replace("Z", "+00:00")).timestamp()
    return out


def _watch_healthy(cluster: LocalCluster, seen: dict[str, float], stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            for task in _tasks(cluster):
                if _healthy(task) and task.id not in seen:
                    seen[task.id] = time.time()
        except Exception:  # noqa: BLE001 - keep polling through a replica hiccup
            pass
        time.sleep(0.05)


def create_web(cluster: LocalCluster, deployment: r.DeploymentConfiguration) -> int:
    """Load balancer ``web`` with an HTTP listener on a port free on every node's address and
    service ``web`` of 3 tasks behind it, deployed by ``deployment``; returns the port."""
    traffic = traffic_pb2_grpc.TrafficStub(cluster.channel)
    cluster.operator.RegisterTaskDefinition(op.RegisterTaskDefinitionRequest(json=json.dumps(TASKDEF)))
    # A port free on every node's address (agents share this host).
    port = free_port(agent_loopback(1))
    traffic.CreateTargetGroup(t.CreateTargetGroupRequest(
        cluster="default", name="web", protocol="HTTP", port=8080,
        deregistration_delay_seconds=DEREGISTRATION_DELAY,
        health_check=t.HealthCheckConfig(path="/", interval_seconds=5, timeout_seconds=2, healthy_threshold=2,
                                         unhealthy_threshold=2)))
    traffic.CreateLoadBalancer(t.CreateLoadBalancerRequest(cluster="default", name="web"))
    traffic.CreateListener(t.CreateListenerRequest(cluster="default", load_balancer="web", port=port,
                                                   protocol="HTTP", default_target_group="web"))
    cluster.operator.CreateService(op.CreateServiceRequest(
        cluster="default", service_name="web", task_definition="bench-mesh", desired_count=3,
        deployment_configuration=deployment,
        load_balancers=[r.ServiceLoadBalancer(load_balancer_name="web", container_name="web", container_port=8080)]))
    return port


def run(ttl: float, steady_seconds: float, after_lost_seconds: float) -> list[str]:
    """Starts the cluster, measures (a), (b), (c), stops it; returns the printed lines."""
    client = docker.from_env()
    ensure_busybox_image(client, DEFAULT_TAG)
    state = Path(tempfile.mkdtemp(prefix="shoal-bench-mesh-"))
    cluster = LocalCluster(state, agents=3, api_port=0, metrics_port=0, prometheus=False, autoscaler=False,
                           lease_ttl=ttl, gc_delay=1, proxy=True)
    lines: list[str] = []
    stops = threading.Event()
    loop: Loop | None = None
    threads: list[threading.Thread] = []
    try:
        cluster.start(timeout=180)
        port = create_web(cluster, r.DeploymentConfiguration(minimum_healthy_percent=100, maximum_percent=200))
        wait(lambda: len([x for x in _tasks(cluster) if _healthy(x)]) == 3, 120, "3 healthy tasks")
        loop = Loop(agent_loopback(1), port)
        seen: dict[str, float] = {}
        threads = [threading.Thread(target=loop.run, daemon=True),
                   threading.Thread(target=_watch_healthy, args=(cluster, seen, stops), daemon=True)]
        for th in threads:
            th.start()
        old = {x.id for x in _tasks(cluster)}
        names = _hostnames(client)
        wait(lambda: {b for _, b in loop.answers} >= {names[i] for i in old}, 30, "answers from all 3 tasks")

        # (a) steady state, then the rolling deployment under the same loop.
        t0 = time.time()
        time.sleep(steady_seconds)
        t1 = time.time()
        cluster.operator.UpdateService(op.UpdateServiceRequest(cluster="default", service="web",
                                                               force_new_deployment=True))

        shown: list[str] = []

        def deployed() -> bool:
            now = _tasks(cluster)
            new = [x for x in now if x.id not in old]
            shown[:] = [f"{'old' if x.id in old else 'new'} {x.id[:8]} {x.last_status}/{x.desired_status} "
                        f"{','.join(h.state for h in x.target_health)}" for x in now]
            return (len(new) == 3 and all(_healthy(x) for x in new)
                    and all(x.last_status == "STOPPED" for x in now if x.id in old))

        try:
            wait(deployed, 180, "the deployment to replace all 3 tasks", interval=0.2)
        except SystemExit as exc:
            raise SystemExit(f"{exc}; tasks: {'; '.join(shown)}") from None
        t2 = time.time()
        steady, steady_total = loop.between(t0, t1)
        failed, total = loop.between(t1, t2)
        lines.append(f"rolling deployment of 3 tasks (1 request at a time through agent-1's listener): "
                     f"{failed} failed of {total} requests in {t2 - t1:.1f} s   "
                     f"steady state before it: {steady} failed of {steady_total} in {t1 - t0:.1f} s")
        if failed:
            lines.append("  failures: " + "; ".join(sorted({why for ts, why in loop.failures if t1 <= ts < t2})))

        # (b) healthy -> first answer, for the 3 new tasks.
        names = _hostnames(client)
        new = [x.id for x in _tasks(cluster) if x.id not in old]
        gaps, polled = [], []
        logged = _agent_healthy_at(cluster)
        for task_id in new:
            first = wait(lambda tid=task_id: loop.first_answer(names.get(tid, "?")), 10, f"an answer from {task_id}")
            gaps.append(first - logged[task_id])
            polled.append(first - seen[task_id])
        lines.append(f"target healthy -> first request through the proxy (3 new tasks): "
                     f"median {statistics.median(gaps):.2f} s, max {max(gaps):.2f} s from the agent's passing "
                     f"check   from the task record showing healthy (polled every 50 ms): median "
                     f"{statistics.median(polled):.2f} s, max {max(polled):.2f} s")

        # (c) kill -9 an agent holding a task, not the one whose listener the loop uses.
        api = cluster.failover_operator()
        holders = {x.node_id for x in _tasks(cluster) if x.id in new}
        victim = next(n for n in sorted(holders) if cluster.agent_index(n) != 1)
        k0 = time.time()
        cluster.kill_agent(cluster.agent_index(victim))
        wait(lambda: not next(n for n in picture(api).nodes if n.id == victim).agent_connected,
             4 * ttl + 30, "the killed agent's node judged lost")
        k1 = time.time()
        time.sleep(after_lost_seconds)
        k2 = time.time()
        before, before_total = loop.between(k0, k1)
        after, after_total = loop.between(k1, k2)
        lines.append(f"agent killed -9 (agent-{cluster.agent_index(victim)}, lease TTL {ttl:g} s): "
                     f"{before} failed of {before_total} before the node was judged lost ({k1 - k0:.1f} s), "
                     f"{after} failed of {after_total} in the {k2 - k1:.1f} s after")
        if before or after:
            lines.append("  failures: " + "; ".join(sorted({why for ts, why in loop.failures if k0 <= ts < k2})))
    finally:
        stops.set()
        if loop is not None:
            loop.stopping.set()
        for th in threads:
            th.join(10)
        cluster.stop()
        client.close()
    return lines

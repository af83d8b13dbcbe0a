"""Auto scaling end to end: a real Prometheus scraping real agents running real containers,
the autoscaler as its own process, and nodes added and removed by the `local` capacity
provider.

The CPU load is switched from the test: each burner task asks an HTTP server of the test's
(on the docker bridge gateway) whether to burn, so tasks started later follow the same
switch. A burning task keeps roughly an eighth of a core busy against 128 reserved CPU
units (about 100% utilisation): enough to be far above a 50% target even on a busy box,
small enough for a shared 2-core machine.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import docker
import pytest

from autoscaler.providers import ProviderContext
from autoscaler.providers import local as local_provider
from shoal.netutil import free_port, free_ports
from shoal.v1 import operator_pb2 as op
from shoal.v1 import resources_pb2 as r
from shoal.v1 import scaling_pb2 as sc
from shoal.v1 import scaling_pb2_grpc, traffic_pb2_grpc
from shoal.v1 import traffic_pb2 as t
from shoalctl.local.agents import agent_loopback
from shoalctl.local.cluster import LocalCluster
from shoalctl.local.containers import remove_node_containers
from tests.bridge import bridge_gateway
from tests.load_switch import LoadSwitch, burner_command
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
INTERVAL = 2.0  # the autoscaler's evaluation interval
SCRAPE = 1.0


# ---- the load switch ---------------------------------------------------------------------------

@pytest.fixture
def load_switch(docker_client: docker.DockerClient) -> Iterator[LoadSwitch]:
    # docker_client only for its refusal, which says how to start an unreachable dockerd.
    switch = LoadSwitch(bridge_gateway())
    yield switch
    switch.close()


# ---- the autoscaler as a process ------------------------------------------------------------

class AutoscalerProcess:
    def __init__(self, cluster: LocalCluster, base: Path, name: str, extra: list[str]) -> None:
        self.state_dir = base / "autoscaler-state"
        self.log_path = base / f"{name}.log"
        # The fallback Prometheus port is one nothing listens on: never our own metrics port.
        metrics_port, no_prometheus = free_ports(2)
        metrics_listen = f"127.0.0.1:{metrics_port}"
        self.metrics_url = f"http://{metrics_listen}/metrics"
        argv = [sys.executable, "-m", "autoscaler", "--endpoint", cluster.endpoint,
                "--prometheus", cluster.prometheus_url or f"http://127.0.0.1:{no_prometheus}",
                *cluster.etcd_flags(), "--interval", str(INTERVAL), "--rate-window", "15s",
                "--scale-in-evaluations", "3", "--cluster-scale-in-delay", "10", "--state-dir", str(self.state_dir),
                "--lease-ttl", "6", "--name", name, "--metrics-listen", metrics_listen, *extra]
        with open(self.log_path, "ab") as out:
            # The admin identity and the join token its local nodes use (security is on).
            self.proc = subprocess.Popen(argv, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                         env={**os.environ, **cluster.security_env()})

    def counter(self, name: str) -> float:
        """A counter of the autoscaler's own /metrics (0 until it serves)."""
        try:
            with urllib.request.urlopen(self.metrics_url, timeout=5) as resp:
                text = resp.read().decode()
        except OSError:
            return 0.0
        return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(name + " "))

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def tail(self, chars: int = 3000) -> str:
        return self.log()[-chars:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


@pytest.fixture
def autoscaling(make_cluster, tmp_path) -> Iterator[Callable[..., tuple[LocalCluster, list[AutoscalerProcess]]]]:
    """``autoscaling(agents=0, runtime="docker", autoscalers=1)``: a local cluster with
    Prometheus (1 s scrapes) and autoscaler processes. Teardown stops the autoscalers, then
    every node the local capacity provider started and their containers, then the cluster."""
    started: list[AutoscalerProcess] = []

    def make(agents: int = 0, runtime: str = "docker", autoscalers: int = 1, extra: list[str] | None = None):
        # The cluster's own autoscaler is off: the test runs its own, with test timings.
        cluster = make_cluster(agents=agents, prometheus=True, autoscaler=False, runtime=runtime,
                               scrape_interval=SCRAPE, extra_controlplane_args=["--resync-interval", "0.5"])
        assert cluster.prometheus_url, "Prometheus must be installed for these tests"
        procs = [AutoscalerProcess(cluster, tmp_path, f"autoscaler-{i + 1}", extra or []) for i in range(autoscalers)]
        started.extend(procs)
        return cluster, procs

    try:
        yield make
    finally:
        for p in started:
            p.stop()
        for p in started[:1]:
            ids = local_provider.node_ids(p.state_dir)
            local_provider.stop_all(p.state_dir)
            remove_node_containers(ids)


# ---- helpers ----------------------------------------------------------------------------------------

def wait(condition: Callable[[], object], timeout: float, what: str, *autos: AutoscalerProcess) -> object:
    """wait_for, with the autoscalers' log tails (read at the deadline) in the failure."""
    try:
        return wait_for(condition, timeout, what)
    except AssertionError as exc:
        tails = "\n".join(f"--- {a.log_path.name}:\n{a.tail()}" for a in autos)
        raise AssertionError(f"{exc}\n{tails}") from None


def scaling(cluster: LocalCluster) -> scaling_pb2_grpc.ScalingStub:
    return scaling_pb2_grpc.ScalingStub(cluster.channel)


def service(cluster: LocalCluster, name: str):
    return cluster.operator.DescribeServices(op.DescribeServicesRequest(cluster="default", services=[name])).services[0]


def nodes(cluster: LocalCluster) -> list:
    arns = list(cluster.operator.ListContainerInstances(op.ListContainerInstancesRequest(cluster="default")).arns)
    if not arns:
        return []
    return list(cluster.operator.DescribeContainerInstances(
        op.DescribeContainerInstancesRequest(cluster="default", container_instances=arns)).container_instances)


def connected(cluster: LocalCluster) -> int:
    return sum(1 for n in nodes(cluster) if n.agent_connected)


def tasks(cluster: LocalCluster, name: str, status: str = "") -> list:
    arns = list(cluster.operator.ListTasks(op.ListTasksRequest(cluster="default", service_name=name,
                                                               desired_status=status)).arns)
    if not arns:
        return []
    return list(cluster.operator.DescribeTasks(op.DescribeTasksRequest(cluster="default", tasks=arns)).tasks)


def running(cluster: LocalCluster, name: str) -> int:
    return sum(1 for t in tasks(cluster, name, "RUNNING") if t.last_status == "RUNNING")


def register_taskdef(cluster: LocalCluster, family: str, command: list[str], cpu: int = 128) -> None:
    doc = {"family": family, "containerDefinitions": [{
        "name": "main", "image": "shoal/busybox:latest", "cpu": cpu, "memory": 32, "command": command,
        "stopTimeout": 2}]}
    cluster.operator.RegisterTaskDefinition(op.RegisterTaskDefinitionRequest(json=json.dumps(doc)))


def activities(cluster: LocalCluster, **kw) -> list[sc.ScalingActivity]:
    return list(scaling(cluster).DescribeScalingActivities(
        sc.DescribeScalingActivitiesRequest(cluster="default", max_results=200, **kw)).activities)


# ---- tests ------------------------------------------------------------------------------------------

def test_cpu_load_scales_service_and_cluster_out_then_back_in(autoscaling, load_switch, busybox_image):
    cluster, (auto,) = autoscaling(agents=0)
    api = scaling(cluster)
    # The provider makes every node of this cluster: 256 CPU units each, so two burners per node.
    api.CreateCapacityProvider(sc.CreateCapacityProviderRequest(
        name="burst", cluster="default", min_size=1, max_size=2, target_capacity=100,
        managed_termination_protection=True,
        node_provider=sc.NodeProviderConfig(profile="local", config={
            "cpu_units": "256", "memory_mib": "512", "gc_delay": "1", "stop_timeout": "10",
            "resync_interval": "2", "zone": "zone-a"})))
    wait(lambda: connected(cluster) == 1, 120, "the provider's first node (min_size 1)", auto)

    register_taskdef(cluster, "burner", burner_command(load_switch.host, load_switch.port))
    cluster.operator.CreateService(op.CreateServiceRequest(cluster="default", service_name="burner",
                                                           task_definition="burner", desired_count=1))
    wait_for(lambda: running(cluster, "burner") == 1, 120, "the first burner RUNNING")
    api.RegisterScalableTarget(sc.RegisterScalableTargetRequest(cluster="default", service="burner",
                                                                min_capacity=1, max_capacity=3))
    api.PutScalingPolicy(sc.PutScalingPolicyRequest(
        cluster="default", service="burner", policy_name="cpu50", policy_type="TargetTrackingScaling",
        target_tracking=sc.TargetTrackingConfiguration(target_value=50,
                                                       predefined_metric_type="ECSServiceAverageCPUUtilization",
                                                       scale_out_cooldown=10, scale_in_cooldown=10)))

    load_switch.burn = True
    wait(lambda: service(cluster, "burner").desired_count == 3, 240, "scale-out to max 3 under load", auto)
    out = [a for a in activities(cluster, service="burner") if a.to_capacity > a.from_capacity]
    assert out and out[-1].metrics["cpu50"] > 50 and out[-1].status_code == "Successful", out
    assert "vs target 50" in out[-1].cause

    # The third task does not fit on one 256-unit node: the provider adds a node for it.
    wait(lambda: connected(cluster) == 2, 180, "a second node from the capacity provider", auto)
    wait_for(lambda: running(cluster, "burner") == 3, 180, "3 burners RUNNING on 2 nodes")
    cp_acts = activities(cluster, resource_id="capacity-provider/burst")
    assert any("Scaling out" in a.description and a.metrics["CapacityProviderReservation"] > 100 for a in cp_acts)

    # Load stops and, at once, Prometheus goes away: missing metrics must never scale in.
    load_switch.burn = False
    cluster.prometheus.stop()
    # Counted from the autoscaler's own metrics: its log says a repeated decision once.
    missing_before = auto.counter("shoal_autoscaler_metric_missing_total")
    wait_for(lambda: auto.counter("shoal_autoscaler_metric_missing_total") >= missing_before + 10, 120,
             "10 evaluations without metrics")
    assert "metric missing or stale" in auto.log()
    assert service(cluster, "burner").desired_count == 3
    cluster.prometheus.start(timeout=60)

    wait(lambda: service(cluster, "burner").desired_count == 1, 300, "scale-in to 1 once the load is gone", auto)
    wait_for(lambda: running(cluster, "burner") == 1 and len(tasks(cluster, "burner", "RUNNING")) == 1, 120,
             "one burner left")
    wait(lambda: len(nodes(cluster)) == 1, 240, "the idle node drained, terminated and deregistered", auto)
    assert len(local_provider.LocalNodeProvider({}, _ctx(auto, "burst")).non_terminated_nodes()) == 1

    # No task was lost: every stopped burner was stopped by the service scheduler (scale-in
    # or moved off a draining node), none failed.
    stopped = tasks(cluster, "burner", "STOPPED")
    assert stopped and all(t.stop_code == "ServiceSchedulerInitiated" for t in stopped), [
        (t.stop_code, t.stopped_reason) for t in stopped]
    assert running(cluster, "burner") == 1
    events = [e.message for e in service(cluster, "burner").events]
    assert any("auto scaling succeeded: Setting desired count to 3" in m for m in events), events
    assert any("Terminated node" in a.description for a in activities(cluster, resource_id="capacity-provider/burst"))


def _ctx(auto: AutoscalerProcess, name: str) -> ProviderContext:
    return ProviderContext(capacity_provider=name, cluster="default", endpoint="", state_dir=auto.state_dir / name)


def test_step_scaling_on_a_prometheus_alarm(autoscaling):
    cluster, (auto,) = autoscaling(agents=1, runtime="hollow")
    register_taskdef(cluster, "steps", ["sleep", "3600"])
    cluster.operator.CreateService(op.CreateServiceRequest(cluster="default", service_name="steps",
                                                           task_definition="steps", desired_count=1))
    api = scaling(cluster)
    api.RegisterScalableTarget(sc.RegisterScalableTargetRequest(cluster="default", service="steps",
                                                                min_capacity=1, max_capacity=4))
    cfg = sc.StepScalingConfiguration(
        alarm=sc.Alarm(promql='sum(shoal_service_running_tasks{service="steps"})',
                       comparison="GreaterThanOrEqualToThreshold", threshold=1, evaluation_periods=2),
        adjustment_type="ChangeInCapacity", cooldown=5)
    cfg.step_adjustments.add(metric_interval_lower_bound=0, metric_interval_upper_bound=2, scaling_adjustment=2)
    cfg.step_adjustments.add(metric_interval_lower_bound=2, scaling_adjustment=1)
    api.PutScalingPolicy(sc.PutScalingPolicyRequest(cluster="default", service="steps", policy_name="grow",
                                                    policy_type="StepScaling", step_scaling=cfg))
    # running 1 (>= 1, diff 0): +2 -> 3; then running 3 (diff 2): +1 -> 4 = max.
    wait(lambda: service(cluster, "steps").desired_count == 4, 180, "two step scale-outs to max 4", auto)
    acts = [a for a in activities(cluster, service="steps") if a.policy_name == "grow"]
    assert [(a.from_capacity, a.to_capacity) for a in reversed(acts)][:2] == [(1, 3), (3, 4)], acts
    assert "for 2 evaluations" in acts[-1].cause and acts[-1].metrics["grow"] >= 1


def test_scheduled_action_with_leader_election(autoscaling):
    cluster, autos = autoscaling(agents=1, runtime="hollow", autoscalers=2)
    register_taskdef(cluster, "sched", ["sleep", "3600"])
    cluster.operator.CreateService(op.CreateServiceRequest(cluster="default", service_name="sched",
                                                           task_definition="sched", desired_count=1))
    api = scaling(cluster)
    api.RegisterScalableTarget(sc.RegisterScalableTargetRequest(cluster="default", service="sched",
                                                                min_capacity=1, max_capacity=5))
    tz = "Asia/Tokyo"
    at = (datetime.now(ZoneInfo(tz)) + timedelta(seconds=10)).strftime("%Y-%m-%dT%H:%M:%S")
    api.PutScheduledAction(sc.PutScheduledActionRequest(
        cluster="default", service="sched", scheduled_action_name="rush", schedule=f"at({at})", timezone=tz,
        scalable_target_action=sc.ScalableTargetAction(min_capacity=3)))
    wait(lambda: service(cluster, "sched").desired_count == 3, 120, "the scheduled min 3 to raise the desired count",
         *autos)
    target = api.DescribeScalableTargets(sc.DescribeScalableTargetsRequest(services=["sched"])).scalable_targets[0]
    assert (target.min_capacity, target.max_capacity) == (3, 5)
    acts = activities(cluster, service="sched")
    fired = [a for a in acts if a.scheduled_action_name == "rush"]
    assert len(fired) == 1, fired  # once, by one leader
    raised = [a for a in acts if a.to_capacity == 3]
    assert raised and raised[0].cause.startswith("scheduled action rush"), raised
    leaders = [a for a in autos if "became leader" in a.log()]
    assert len(leaders) == 1, [a.tail() for a in autos]
    follower = next(a for a in autos if a not in leaders)
    assert "following" in follower.log()


def test_request_count_per_target_scales_out_on_traffic_through_the_proxies(autoscaling, busybox_image):
    cluster, (auto,) = autoscaling(agents=1)
    traffic = traffic_pb2_grpc.TrafficStub(cluster.channel)
    cluster.operator.RegisterTaskDefinition(op.RegisterTaskDefinitionRequest(json=json.dumps({
        "family": "site", "containerDefinitions": [{
            "name": "web", "image": "shoal/busybox:latest", "cpu": 16, "memory": 16, "stopTimeout": 2,
            "command": ["sh", "-c", "mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p 8080 -h /www"],
            "portMappings": [{"containerPort": 8080}]}]})))
    port = free_port(agent_loopback(1))
    traffic.CreateTargetGroup(t.CreateTargetGroupRequest(
        cluster="default", name="site", protocol="HTTP", port=8080, deregistration_delay_seconds=1,
        health_check=t.HealthCheckConfig(path="/", interval_seconds=5, timeout_seconds=2, healthy_threshold=2,
                                         unhealthy_threshold=2)))
    traffic.CreateLoadBalancer(t.CreateLoadBalancerRequest(cluster="default", name="site"))
    traffic.CreateListener(t.CreateListenerRequest(cluster="default", load_balancer="site", port=port,
                                                   protocol="HTTP", default_target_group="site"))
    cluster.operator.CreateService(op.CreateServiceRequest(
        cluster="default", service_name="site", task_definition="site", desired_count=1,
        load_balancers=[r.ServiceLoadBalancer(load_balancer_name="site", container_name="web", container_port=8080)]))
    api = scaling(cluster)
    api.RegisterScalableTarget(sc.RegisterScalableTargetRequest(cluster="default", service="site",
                                                                min_capacity=1, max_capacity=2))
    api.PutScalingPolicy(sc.PutScalingPolicyRequest(
        cluster="default", service="site", policy_name="rpm", policy_type="TargetTrackingScaling",
        target_tracking=sc.TargetTrackingConfiguration(
            target_value=60, predefined_metric_type="ALBRequestCountPerTarget", scale_out_cooldown=10,
            scale_in_cooldown=600)))
    url = f"http://{agent_loopback(1)}:{port}/"
    wait_for(lambda: _get(url) == "ok", 120, "the task answering through the node's listener")
    # ~10 requests per second: ~600 per minute on one target, ten times the target value.
    stop = threading.Event()
    sender = threading.Thread(target=lambda: [(_get(url), stop.wait(0.1)) for _ in iter(stop.is_set, True)],
                              daemon=True)
    sender.start()
    try:
        wait(lambda: service(cluster, "site").desired_count == 2, 180, "scale-out on requests per target", auto)
    finally:
        stop.set()
        sender.join(10)
    out = [a for a in activities(cluster, service="site") if a.to_capacity > a.from_capacity]
    assert out and out[-1].metrics["rpm"] > 60 and out[-1].status_code == "Successful", out


def _get(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.read().decode().strip()
    except OSError:
        return ""

"""Issue 7's deployments with real agents and real containers: a rolling deployment stays
within minimumHealthyPercent and maximumPercent the whole time (sampled from etcd in one
read per sample, so each sample is one consistent moment), and a revision whose container
exits at once trips the circuit breaker and the service rolls back. Both are driven by
`shoal service deploy --wait`, as a user would."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from shoal import keys
from shoal.store.etcd import EtcdStore
from shoal.v1 import operator_pb2 as op
from shoal.v1 import resources_pb2 as r
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
DESIRED = 4
HEALTH = {"command": ["CMD-SHELL", "wget -q -O /dev/null http://127.0.0.1:8080/ || exit 1"],
          "interval": 5, "timeout": 2, "retries": 3}


def web(version: str, command: str | None = None) -> dict:
    serve = f"mkdir -p /www && echo {version} > /www/index.html && exec httpd -f -p 8080 -h /www"
    return {
        "family": "roll",
        "containerDefinitions": [{
            "name": "web", "image": "shoal/busybox:latest", "memory": 16, "cpu": 16, "stopTimeout": 2,
            "command": ["sh", "-c", command or serve], "healthCheck": HEALTH,
            "environment": [{"name": "VERSION", "value": version}],
        }],
    }


def shoal(cluster, *args: str, timeout: float = 400) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SHOAL_STATE_DIR": str(cluster.state_dir),
           "SHOAL_ENDPOINT": cluster.endpoint}
    return subprocess.run([sys.executable, "-m", "shoalctl", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=env)


def service_tasks(store: EtcdStore, service: str) -> list[r.Task]:
    # One range read: every task as of the same etcd revision.
    tasks = [r.Task.FromString(kv.value) for kv in store.list(keys.TASKS + "default/").kvs]
    return [t for t in tasks if t.service_name == service]


def healthy(t: r.Task) -> bool:
    """As ServiceController.healthy counts it (every revision here has a health check)."""
    return t.desired_status == "RUNNING" and t.last_status == "RUNNING" and t.health_status == "HEALTHY"


def live(t: r.Task) -> bool:
    return t.desired_status == "RUNNING" and t.last_status != "STOPPED"


@dataclass
class Sampler:
    """Samples the service's healthy and live task counts every ``interval`` seconds."""

    store: EtcdStore
    service: str
    interval: float = 0.15
    healthy: list[int] = field(default_factory=list)
    live: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                tasks = service_tasks(self.store, self.service)
                self.healthy.append(sum(1 for t in tasks if healthy(t)))
                self.live.append(sum(1 for t in tasks if live(t)))
            except Exception as exc:  # a busy etcd: one sample lost, not the test
                self.errors.append(repr(exc))
            self._stop.wait(self.interval)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(10)


@pytest.fixture
def cluster(make_cluster, busybox_image):
    return make_cluster(agents=2, zones=["a", "b"])


@pytest.fixture
def store(cluster) -> Iterator[EtcdStore]:
    s = cluster.etcd_store()
    yield s
    s.close()


def create_steady(cluster, store, name: str, config: r.DeploymentConfiguration) -> r.Service:
    api = cluster.operator
    api.RegisterTaskDefinition(op.RegisterTaskDefinitionRequest(json=json.dumps(web("v1"))))
    api.CreateService(op.CreateServiceRequest(cluster="default", service_name=name, task_definition="roll:1",
                                              desired_count=DESIRED, deployment_configuration=config))

    def steady():
        svc = api.DescribeServices(op.DescribeServicesRequest(cluster="default", services=[name])).services[0]
        done = (len(svc.deployments) == 1 and svc.deployments[0].rollout_state == "COMPLETED"
                and sum(1 for t in service_tasks(store, name) if healthy(t)) == DESIRED)
        return svc if done else None

    return wait_for(steady, 180, f"{DESIRED} healthy tasks of revision 1 and a completed deployment")


def test_rolling_deployment_stays_within_min_healthy_and_max_percent(cluster, store) -> None:
    config = r.DeploymentConfiguration(minimum_healthy_percent=50, maximum_percent=150)
    create_steady(cluster, store, "roll", config)
    cluster.operator.RegisterTaskDefinition(op.RegisterTaskDefinitionRequest(json=json.dumps(web("v2"))))

    with Sampler(store, "roll") as sampler:
        deployed = shoal(cluster, "service", "deploy", "roll", "--taskdef", "roll:2", "--wait")
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    assert f"new {DESIRED}/{DESIRED} running, {DESIRED} healthy" in deployed.stdout, deployed.stdout
    assert "completed" in deployed.stdout

    assert len(sampler.healthy) > 20, f"too few samples ({len(sampler.healthy)}; errors {sampler.errors[:3]})"
    assert min(sampler.healthy) >= math.ceil(DESIRED * 50 / 100), sampler.healthy
    assert max(sampler.live) <= DESIRED * 150 // 100, sampler.live
    assert max(sampler.live) > DESIRED, "the rollout used its maximumPercent headroom"

    final = [t for t in service_tasks(store, "roll") if live(t)]
    assert len(final) == DESIRED and all(t.task_definition_arn.endswith("roll:2") for t in final)


def test_crashing_revision_trips_the_circuit_breaker_and_rolls_back(cluster, store) -> None:
    config = r.DeploymentConfiguration(
        minimum_healthy_percent=100, maximum_percent=200,
        deployment_circuit_breaker=r.DeploymentCircuitBreaker(enable=True, rollback=True))
    before = create_steady(cluster, store, "roll", config)
    good = before.task_definition
    cluster.operator.RegisterTaskDefinition(op.RegisterTaskDefinitionRequest(
        json=json.dumps(web("v2", command="echo crashing; exit 1"))))

    with Sampler(store, "roll") as sampler:
        deployed = shoal(cluster, "service", "deploy", "roll", "--taskdef", "roll:2", "--wait")
    assert deployed.returncode == 1, deployed.stdout + deployed.stderr
    assert "failed" in deployed.stderr and "circuit breaker" in deployed.stderr, deployed.stderr
    # minimumHealthyPercent 100: the old tasks kept serving throughout.
    assert min(sampler.healthy) >= DESIRED, sampler.healthy

    api = cluster.operator

    def rolled_back():
        svc = api.DescribeServices(op.DescribeServicesRequest(cluster="default", services=["roll"])).services[0]
        tasks = [t for t in service_tasks(store, "roll") if live(t)]
        ok = (svc.task_definition == good and len(tasks) == DESIRED
              and all(t.task_definition_arn == good and healthy(t) for t in tasks))
        return svc if ok else None

    svc = wait_for(rolled_back, 180, "the service back on revision 1 with all tasks healthy")
    messages = [e.message for e in svc.events]
    assert any("deployment failed" in m for m in messages), messages
    assert any("rolling back to deployment" in m for m in messages), messages
    events = shoal(cluster, "events", "--service", "roll").stdout
    assert events.index("deployment failed") < events.index("rolling back"), events
    # The rollback settles like any deployment: one COMPLETED primary, a steady state.
    settled = wait_for(lambda: s if len((s := api.DescribeServices(op.DescribeServicesRequest(
        cluster="default", services=["roll"])).services[0]).deployments) == 1 else None, 120,
        "the failed deployment gone once its tasks stopped")
    assert settled.deployments[0].rollout_state == "COMPLETED"
    assert settled.deployments[0].task_definition == good

"""The load-balancer API through the `shoal` CLI against a real control plane, etcd and
agents running real containers: a load balancer with a listener, a service attached with
--load-balancer, describe showing loadBalancers, DescribeTargetHealth listing the service's
tasks at their nodes' addresses and host ports; and bad input printed by field, with a
non-zero exit and no traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shoal.netutil import free_port
from shoal.v1 import operator_pb2 as op
from tests.cli import ok, shoal
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

WEB = {
    "family": "web",
    "containerDefinitions": [{
        "name": "web", "image": "shoal/busybox:latest", "memory": 16, "cpu": 16, "stopTimeout": 2,
        "command": ["httpd", "-f", "-p", "8080"], "portMappings": [{"containerPort": 8080, "name": "http"}],
    }],
}


def refused(cluster, *args: str, field: str) -> str:
    out = shoal(cluster, *args)
    assert out.returncode != 0, out.stdout
    assert "Traceback" not in out.stderr, out.stderr
    assert out.stderr.startswith("shoal: ") and field in out.stderr, out.stderr
    return out.stderr


@pytest.fixture
def cluster(make_cluster, busybox_image):
    return make_cluster(agents=2, zones=["a", "b"])


def test_a_service_behind_a_load_balancer_and_its_targets(cluster, tmp_path: Path) -> None:
    port = free_port()
    (tmp_path / "web.json").write_text(json.dumps(WEB))
    ok(cluster, "taskdef", "register", str(tmp_path / "web.json"))
    lb = json.loads(ok(cluster, "lb", "create", "web", "--listener", f"{port}:http", "-o", "json"))
    assert lb["listeners"][0]["port"] == port and lb["type"] == "application"
    ok(cluster, "service", "create", "web", "--taskdef", "web", "--desired", "2", "--load-balancer", "web")

    svc = json.loads(ok(cluster, "service", "describe", "web", "-o", "json"))
    assert svc["loadBalancers"] == [{"targetGroupArn": lb["defaultTargetGroupArn"], "loadBalancerName": "web",
                                     "containerName": "web", "containerPort": 8080}]
    assert "load balancers: web -> web:8080" in ok(cluster, "service", "describe", "web")

    api = cluster.operator

    def running() -> list:
        arns = api.ListTasks(op.ListTasksRequest(cluster="default", service_name="web")).arns
        tasks = api.DescribeTasks(op.DescribeTasksRequest(cluster="default", tasks=list(arns))).tasks if arns else []
        live = [t for t in tasks if t.last_status == "RUNNING"]
        return live if len(live) == 2 else []

    def matched() -> tuple[list, list] | None:
        tasks = running()
        if not tasks:
            return None
        nodes = api.DescribeContainerInstances(op.DescribeContainerInstancesRequest(
            cluster="default", container_instances=list({t.node_id for t in tasks}))).container_instances
        address = {n.id: n.address for n in nodes}
        want = sorted((t.id, address[t.node_id], t.containers[0].network_bindings[0].host_port) for t in tasks)
        targets = json.loads(ok(cluster, "tg", "health", "web", "-o", "json"))
        serving = [x for x in targets if x["health"]["state"] != "draining"]
        return (tasks, targets) if sorted((x["taskId"], x["address"], x["port"]) for x in serving) == want else None

    # On a loaded box a task may be replaced before this looks (its target then drains for a
    # while), so wait until the serving targets are exactly the running tasks.
    tasks, targets = wait_for(matched, 120, "the targets of service web's two RUNNING tasks")
    assert all(x["port"] > 0 and x["address"] for x in targets)
    # Nothing has checked them in this test: new targets are "initial" until their agents
    # report, and only a target whose task no longer runs drains.
    running_ids = {t.id for t in tasks}
    assert {x["health"]["state"] for x in targets if x["taskId"] in running_ids} <= {"initial", "healthy", "unhealthy"}
    table = ok(cluster, "tg", "health", "web")
    assert all(t.id[:12] in table for t in tasks)

    # Bad input, each named by its field; nothing half-made.
    refused(cluster, "lb", "create", "web2", "--listener", f"{port}:http", field=f"port: {port} is already")
    assert "web2" not in ok(cluster, "lb", "list")
    refused(cluster, "service", "create", "bad", "--taskdef", "web", "--load-balancer", "web:web:9999",
            field="loadBalancers[0].containerPort")
    refused(cluster, "service", "create", "bad", "--taskdef", "web", "--load-balancer",
            "arn:aws:elasticloadbalancing:local:000000000000:targetgroup/nope/0123456789abcdef",
            field="TargetGroupNotFound")
    refused(cluster, "lb", "rule", "add", "web", str(port), "--path", "api/*", "--target-group", "web",
            "--priority", "1", field="pathPatterns[0]")
    refused(cluster, "lb", "rule", "add", "web", str(port), "--host", "a_b", "--target-group", "web",
            "--priority", "1", field="hostPatterns[0]")
    refused(cluster, "lb", "rule", "add", "web", str(port), "--host", "a.example", "--target-group", "web",
            "--priority", "0", field="priority")
    refused(cluster, "lb", "create", "tcp", "--listener", f"{free_port()}:tcp", "--type", "application",
            field="--listener")
    refused(cluster, "tg", "create", "api", "--port", "80", "--interval", "1", field="healthCheck.intervalSeconds")
    refused(cluster, "tg", "create", "api", "--port", "80", "--deregistration-delay", "4000",
            field="deregistrationDelaySeconds")
    refused(cluster, "tg", "create", "bad_name", "--port", "80", field="name")
    refused(cluster, "tg", "delete", "web", field="in use by load balancer 'web', service 'web'")
    refused(cluster, "namespace", "create", "Lab", field="name")
    ok(cluster, "namespace", "create", "lab")
    refused(cluster, "namespace", "create", "lab", field="name: a namespace named 'lab' already exists")
    (tmp_path / "sc.json").write_text(json.dumps({"serviceConnectConfiguration": {
        "enabled": True, "namespace": "lab", "services": [{"portName": "http", "tls": {}}]}}))
    refused(cluster, "service", "update", "web", "--cli-input-json", str(tmp_path / "sc.json"),
            field="serviceConnectConfiguration.services[0].tls: not supported")

    # A rule, then the namespace through --namespace on update.
    ok(cluster, "tg", "create", "api", "--port", "8080", "--health-path", "/health", "--interval", "10")
    ok(cluster, "lb", "rule", "add", "web", str(port), "--path", "/api/*", "--target-group", "api",
       "--priority", "10")
    assert "/api/*" in ok(cluster, "lb", "describe", "web")
    ok(cluster, "service", "update", "web", "--namespace", "lab")
    svc = json.loads(ok(cluster, "service", "describe", "web", "-o", "json"))
    assert svc["serviceRegistries"][0]["namespace"] == "lab"
    assert svc["loadBalancers"][0]["containerPort"] == 8080  # kept

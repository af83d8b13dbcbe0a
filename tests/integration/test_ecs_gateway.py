"""The ECS-compatible API of a real control plane process (--ecs-listen) on a real etcd,
driven by boto3 and the aws CLI with an access key Shoal issued; scripted agents report
their tasks RUNNING. Every successful response is checked against botocore's model."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

from shoal.netutil import free_port, wait_for_port
from shoal.security.channels import client_channel
from shoal.v1 import accesskeys_pb2 as ak
from shoal.v1 import accesskeys_pb2_grpc
from shoalctl.local.etcd import EtcdProcess
from tests.ecs_model import check_error, validate_every_response
from tests.fake_agent import FakeAgent
from tests.fixtures.pki import admin_tls, join_node
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
FAST_WAITER = {"Delay": 1, "MaxAttempts": 60}
WEB = {
    "family": "web",
    "containerDefinitions": [{"name": "web", "image": "shoal/busybox:latest", "memory": 64, "cpu": 128,
                              "portMappings": [{"containerPort": 8080}],
                              "command": ["httpd", "-f", "-p", "8080"]}],
}


class Plane:
    """etcd + one control plane replica with the ECS gateway on; agents that run whatever
    they are given, kept at it by a background thread."""

    def __init__(self, base: Path) -> None:
        self.etcd = EtcdProcess(base / "etcd", name="ecs-test", die_with_parent=True)
        self.etcd.start(timeout=60)
        self.grpc_port, self.ecs_port = free_port(), free_port()
        self.endpoint = f"127.0.0.1:{self.grpc_port}"
        self.ecs_url = f"http://127.0.0.1:{self.ecs_port}"
        self.log = open(base / "controlplane.log", "w")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "controlplane", "--etcd", self.etcd.client_url, "--listen", self.endpoint,
             "--metrics-listen", f"127.0.0.1:{free_port()}", "--ecs-listen", f"127.0.0.1:{self.ecs_port}",
             "--lease-ttl", "2", "--resync-interval", "0.5", "--name", "ecs-test", "--region", "us-east-1",
             "--pki-dir", str(base / "pki")],
            cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT,
        )
        self.agents: list[FakeAgent] = []
        self._stop = threading.Event()
        self._pilot = threading.Thread(target=self._run_agents, daemon=True)
        if not (wait_for_port("127.0.0.1", self.grpc_port, 30) and wait_for_port("127.0.0.1", self.ecs_port, 30)):
            self.stop()
            raise RuntimeError("control plane did not start; see " + self.log.name)
        self.base = base
        self.admin = admin_tls(base / "pki")
        self.channel = client_channel(self.endpoint, self.admin)
        self._pilot.start()

    def _run_agents(self) -> None:
        while not self._stop.wait(0.2):
            for a in list(self.agents):
                # An assignment that vanishes mid-report is simply caught up with next round.
                with contextlib.suppress(Exception):
                    a.run_everything()

    def add_agent(self, name: str, zone: str) -> FakeAgent:
        creds = join_node(self.endpoint, self.admin, self.base / "nodes" / name, name)
        a = FakeAgent(self.endpoint, name, zone=zone, creds=creds).connect()
        self.agents.append(a)
        return a

    def access_key(self) -> ak.AccessKey:
        return accesskeys_pb2_grpc.AccessKeysStub(self.channel).CreateAccessKey(
            ak.CreateAccessKeyRequest(description="test"), timeout=10)

    def client(self, key: str, secret: str):
        return boto3.client("ecs", endpoint_url=self.ecs_url, region_name="us-east-1", aws_access_key_id=key,
                            aws_secret_access_key=secret, config=Config(retries={"max_attempts": 2}))

    def stop(self) -> None:
        self._stop.set()
        for a in self.agents:
            a.close()
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        self.etcd.stop()


@pytest.fixture
def plane(tmp_path: Path) -> Iterator[Plane]:
    p = Plane(tmp_path)
    try:
        yield p
    finally:
        p.stop()


def aws(plane: Plane, key: ak.AccessKey, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "AWS_ACCESS_KEY_ID": key.access_key_id, "AWS_SECRET_ACCESS_KEY": key.secret_access_key,
           "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}
    env.pop("AWS_PROFILE", None)
    return subprocess.run(["aws", "ecs", *args, "--endpoint-url", plane.ecs_url, "--region", "us-east-1"],
                          env=env, capture_output=True, text=True, timeout=120)


def test_boto3_and_aws_cli_drive_a_service(plane: Plane) -> None:
    for i, zone in enumerate("abc"):
        plane.add_agent(f"host-{i}", zone)
    key = plane.access_key()
    ecs = plane.client(key.access_key_id, key.secret_access_key)
    seen = validate_every_response(ecs)

    instances = wait_for(lambda: len(ecs.list_container_instances()["containerInstanceArns"]) == 3 and
                         ecs.list_container_instances()["containerInstanceArns"], 30, "3 container instances")
    described = ecs.describe_container_instances(containerInstances=instances)["containerInstances"]
    assert all(n["status"] == "ACTIVE" and n["agentConnected"] for n in described)
    assert {r["name"] for r in described[0]["registeredResources"]} == {"CPU", "MEMORY", "PORTS"}

    td = ecs.register_task_definition(**WEB)["taskDefinition"]
    assert (td["family"], td["revision"], td["status"]) == ("web", 1, "ACTIVE")
    svc = ecs.create_service(cluster="default", serviceName="web", taskDefinition="web", desiredCount=2)["service"]
    assert svc["serviceArn"].startswith("arn:aws:ecs:us-east-1:") and svc["desiredCount"] == 2
    ecs.get_waiter("services_stable").wait(cluster="default", services=["web"], WaiterConfig=FAST_WAITER)

    ecs.update_service(cluster="default", service=svc["serviceArn"], desiredCount=3)
    ecs.get_waiter("services_stable").wait(cluster="default", services=[svc["serviceArn"]], WaiterConfig=FAST_WAITER)
    stable = ecs.describe_services(services=["web"])["services"][0]
    assert (stable["runningCount"], stable["desiredCount"], len(stable["deployments"])) == (3, 3, 1)

    task_arns = ecs.list_tasks(serviceName="web", desiredStatus="RUNNING")["taskArns"]
    assert len(task_arns) == 3
    ecs.get_waiter("tasks_running").wait(tasks=task_arns, WaiterConfig=FAST_WAITER)
    tasks = ecs.describe_tasks(tasks=task_arns)["tasks"]
    assert {t["lastStatus"] for t in tasks} == {"RUNNING"} and {t["group"] for t in tasks} == {"service:web"}
    assert all(t["containers"][0]["networkBindings"][0]["hostPort"] > 0 for t in tasks)

    # Drain one instance: its task moves to the other two, and the service is stable again.
    drained = tasks[0]["containerInstanceArn"]
    resp = ecs.update_container_instances_state(containerInstances=[drained], status="DRAINING")
    assert resp["containerInstances"][0]["status"] == "DRAINING" and resp["failures"] == []
    wait_for(lambda: not ecs.list_tasks(containerInstance=drained, desiredStatus="RUNNING")["taskArns"], 60,
             "the drained instance to run no tasks")
    ecs.get_waiter("services_stable").wait(services=["web"], WaiterConfig=FAST_WAITER)

    # StartTask pins a task to the instance named.
    target = next(arn for arn in instances if arn != drained)
    started = ecs.start_task(taskDefinition="web", containerInstances=[target], startedBy="ops")["tasks"]
    ecs.get_waiter("tasks_running").wait(tasks=[started[0]["taskArn"]], WaiterConfig=FAST_WAITER)
    assert ecs.describe_tasks(tasks=[started[0]["taskArn"]])["tasks"][0]["containerInstanceArn"] == target
    ecs.stop_task(task=started[0]["taskArn"])

    # The real aws CLI, configured only by environment variables.
    listed = aws(plane, key, "list-clusters")
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout)["clusterArns"] == ["arn:aws:ecs:us-east-1:000000000000:cluster/default"]
    waited = aws(plane, key, "wait", "services-stable", "--cluster", "default", "--services", "web")
    assert waited.returncode == 0, waited.stderr

    with pytest.raises(ecs.exceptions.InvalidParameterException):
        ecs.delete_service(service="web")  # still scaled up
    assert ecs.delete_service(service="web", force=True)["service"]["status"] == "DRAINING"
    # As in ECS, a deleted service stays visible as INACTIVE once its tasks are gone.
    waited = aws(plane, key, "wait", "services-inactive", "--cluster", "default", "--services", "web")
    assert waited.returncode == 0, waited.stderr
    assert ecs.describe_services(services=["web"])["services"][0]["status"] == "INACTIVE"
    assert {"DescribeServices", "DescribeTasks", "UpdateContainerInstancesState", "StartTask"} <= set(seen)


def test_bad_and_unsigned_requests_are_refused(plane: Plane) -> None:
    key = plane.access_key()
    ecs = plane.client(key.access_key_id, key.secret_access_key)
    validate_every_response(ecs)
    with pytest.raises(ecs.exceptions.ClusterNotFoundException):
        ecs.describe_services(cluster="nope", services=["web"])
    with pytest.raises(ecs.exceptions.ServiceNotFoundException):
        ecs.update_service(service="nope", desiredCount=1)
    with pytest.raises(ecs.exceptions.ClientException):
        ecs.run_task(taskDefinition="nope")
    with pytest.raises(ecs.exceptions.InvalidParameterException):
        ecs.register_task_definition(family="web", containerDefinitions=[{"name": "web", "image": "x y"}])

    unsigned = requests.post(plane.ecs_url, data="{}", timeout=10, headers={
        "X-Amz-Target": "AmazonEC2ContainerServiceV20141113.ListClusters",
        "Content-Type": "application/x-amz-json-1.1"})
    assert unsigned.status_code == 403
    check_error(unsigned.json())
    assert unsigned.json()["__type"] == "MissingAuthenticationTokenException"

    with pytest.raises(ClientError) as caught:
        plane.client(key.access_key_id, "not-the-secret").list_clusters()
    assert caught.value.response["Error"]["Code"] == "InvalidSignatureException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400

    wrong = aws(plane, ak.AccessKey(access_key_id="AKSHAAAAAAAAAAAAAAAA", secret_access_key="x"), "list-clusters")
    assert wrong.returncode != 0 and "UnrecognizedClientException" in wrong.stderr

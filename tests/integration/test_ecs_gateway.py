"""The ECS-compatible API of a real control plane process (--ecs-listen) on a real etcd,
over HTTPS with a certificate from the cluster CA, driven by boto3 and the aws CLI with an
access key Shoal issued; scripted agents report their tasks RUNNING. Every successful
response is checked against botocore's model. Then the doors: replayed writes, tampered
requests, a viewer's key, oversized bodies and slow clients."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from controlplane.ecs import sigv4
from shoal.netutil import free_port
from shoal.v1 import accesskeys_pb2 as ak
from shoal.v1 import accesskeys_pb2_grpc, scaling_pb2_grpc
from shoal.v1 import scaling_pb2 as sc
from tests.ecs_model import check_error, validate_every_response
from tests.fixtures.replica import ReplicaProcess
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

FAST_WAITER = {"Delay": 1, "MaxAttempts": 60}
WEB = {
    "family": "web",
    "containerDefinitions": [{"name": "web", "image": "shoal/busybox:latest", "memory": 64, "cpu": 128,
                              "portMappings": [{"containerPort": 8080}],
                              "command": ["httpd", "-f", "-p", "8080"]}],
}


class Plane(ReplicaProcess):
    """etcd + one control plane replica with the ECS gateway on; agents that run whatever
    they are given, kept at it by a background thread."""

    def __init__(self, base: Path, *extra: str) -> None:
        self.ecs_port = free_port()
        self.ecs_url = f"https://127.0.0.1:{self.ecs_port}"
        self._stop = threading.Event()
        self._pilot = threading.Thread(target=self._run_agents, daemon=True)
        super().__init__(base, "ecs-test", "--ecs-listen", f"127.0.0.1:{self.ecs_port}", "--region", "us-east-1",
                         *extra, wait_ports=(self.ecs_port,))
        self.ca = str(base / "pki" / "ca.crt")
        self._pilot.start()

    def _run_agents(self) -> None:
        while not self._stop.wait(0.2):
            for a in list(self.agents):
                # An assignment that vanishes mid-report is simply caught up with next round.
                with contextlib.suppress(Exception):
                    a.run_everything()

    def access_key(self, **owner: str) -> ak.AccessKey:
        """A key of the caller (the admin) unless ``user``/``role`` name another."""
        return accesskeys_pb2_grpc.AccessKeysStub(self.channel).CreateAccessKey(
            ak.CreateAccessKeyRequest(description="test", **owner), timeout=10)

    def client(self, key: str, secret: str):
        # Standard retries, as users run the SDK: an identical write within one second is
        # refused as a replay and retried, signed anew.
        return boto3.client("ecs", endpoint_url=self.ecs_url, region_name="us-east-1", aws_access_key_id=key,
                            aws_secret_access_key=secret, verify=self.ca,
                            config=Config(retries={"max_attempts": 6, "mode": "standard"}))

    def stop(self) -> None:
        self._stop.set()
        if self._pilot.is_alive():
            self._pilot.join()
        super().stop()


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
    return subprocess.run(["aws", "ecs", *args, "--endpoint-url", plane.ecs_url, "--region", "us-east-1",
                           "--ca-bundle", plane.ca], env=env, capture_output=True, text=True, timeout=120)


def test_boto3_and_aws_cli_drive_a_service(plane: Plane) -> None:
    for i, zone in enumerate("abc"):
        plane.add_agent(f"host-{i}", zone=zone)
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

    unsigned = requests.post(plane.ecs_url, data="{}", timeout=10, verify=plane.ca, headers={
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


# ---- the doors ---------------------------------------------------------------------------------

TARGET = "AmazonEC2ContainerServiceV20141113."


def botocore_signed(plane: Plane, key: ak.AccessKey, operation: str, body: dict) -> AWSRequest:
    """A request signed as the SDK signs it, to be sent (and sent again, or altered) by hand."""
    req = AWSRequest(method="POST", url=plane.ecs_url + "/", data=json.dumps(body).encode(),
                     headers={"X-Amz-Target": TARGET + operation, "Content-Type": "application/x-amz-json-1.1"})
    SigV4Auth(Credentials(key.access_key_id, key.secret_access_key), "ecs", "us-east-1").add_auth(req)
    return req


def send(plane: Plane, req: AWSRequest, body: bytes | None = None, **headers: str) -> requests.Response:
    return requests.post(plane.ecs_url, data=req.body if body is None else body, verify=plane.ca, timeout=10,
                         headers={**dict(req.headers), **headers})


def test_replayed_and_tampered_requests_are_refused(plane: Plane) -> None:
    key = plane.access_key()
    ecs = plane.client(key.access_key_id, key.secret_access_key)
    ecs.create_cluster(clusterName="keep")

    # A read sent again is served again (pollers send identical reads within one second);
    # a write sent again is refused.
    listing = botocore_signed(plane, key, "ListClusters", {})
    for _ in range(2):
        resp = send(plane, listing)
        assert resp.status_code == 200 and len(resp.json()["clusterArns"]) == 2
    creating = botocore_signed(plane, key, "CreateCluster", {"clusterName": "once"})
    assert send(plane, creating).status_code == 200
    again = send(plane, creating, **{"User-Agent": "replayer"})
    assert (again.status_code, again.json()["__type"]) == (400, "ThrottlingException")
    assert "Request replayed" in again.json()["message"]

    # The attack seen: a request signed over `host` alone, its operation rewritten.
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    scope = f"{stamp[:8]}/us-east-1/ecs/aws4_request"
    body = b'{"cluster":"keep"}'
    host = f"127.0.0.1:{plane.ecs_port}"
    canonical = sigv4.canonical_request(sigv4.Request("POST", "/", "", {"host": [host]}, body), ["host"],
                                        hashlib.sha256(body).hexdigest())
    forged = (f"AWS4-HMAC-SHA256 Credential={key.access_key_id}/{scope}, SignedHeaders=host, "
              f"Signature={sigv4.signature(key.secret_access_key, stamp, scope, canonical)}")
    for operation in ("ListServices", "DeleteCluster"):
        resp = requests.post(plane.ecs_url, data=body, verify=plane.ca, timeout=10, headers={
            "Authorization": forged, "X-Amz-Date": stamp, "X-Amz-Target": TARGET + operation,
            "Content-Type": "application/x-amz-json-1.1"})
        assert (resp.status_code, resp.json()["__type"]) == (400, "IncompleteSignatureException")
        assert "SignedHeaders must include x-amz-target, x-amz-date" in resp.json()["message"]

    # Signed properly, then the operation or the body changed on the way.
    describe = botocore_signed(plane, key, "DescribeClusters", {"clusters": ["keep"]})
    turned = send(plane, describe, **{"X-Amz-Target": TARGET + "DeleteCluster"})
    assert (turned.status_code, turned.json()["__type"]) == (400, "InvalidSignatureException")
    deleting = botocore_signed(plane, key, "DeleteCluster", {"cluster": "nope"})
    swapped = send(plane, deleting, body=b'{"cluster":"keep"}')
    assert (swapped.status_code, swapped.json()["__type"]) == (400, "InvalidSignatureException")
    stale = botocore_signed(plane, key, "DeleteCluster", {"cluster": "keep"})
    stale.headers.replace_header("X-Amz-Date", time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() - 400)))
    old = send(plane, stale)
    assert (old.status_code, old.json()["__type"]) == (400, "InvalidSignatureException")
    # ("Date in Credential scope" instead when the 400 s cross midnight UTC.)
    assert "Signature expired" in old.json()["message"] or "Date in Credential scope" in old.json()["message"]
    assert ecs.describe_clusters(clusters=["keep"])["clusters"][0]["status"] == "ACTIVE"


def test_a_viewers_key_may_read_but_not_write(plane: Plane) -> None:
    key = plane.access_key(user="vic", role="viewer")
    assert (key.user, key.role) == ("vic", "viewer")
    viewer = plane.client(key.access_key_id, key.secret_access_key)
    assert viewer.list_clusters()["clusterArns"]
    assert viewer.list_services()["serviceArns"] == []
    for write in (lambda: viewer.create_cluster(clusterName="v"), lambda: viewer.delete_cluster(cluster="default"),
                  lambda: viewer.register_task_definition(**WEB), lambda: viewer.run_task(taskDefinition="web")):
        with pytest.raises(viewer.exceptions.AccessDeniedException):
            write()
    listed = aws(plane, key, "list-clusters")
    assert listed.returncode == 0, listed.stderr
    refused = aws(plane, key, "create-cluster", "--cluster-name", "v")
    assert refused.returncode != 0 and "AccessDeniedException" in refused.stderr
    # The admin's own key (the caller's, by default) writes.
    admin = plane.access_key()
    assert (admin.user, admin.role) == ("admin", "admin")
    assert plane.client(admin.access_key_id, admin.secret_access_key).create_cluster(clusterName="v")


@pytest.fixture
def tight(tmp_path: Path) -> Iterator[Plane]:
    """A gateway with 2 workers and a 2 s timeout, to be crowded by slow clients."""
    p = Plane(tmp_path, "--ecs-workers", "2", "--ecs-timeout", "2")
    try:
        yield p
    finally:
        p.stop()


def slow_client(plane: Plane, payload: bytes) -> ssl.SSLSocket:
    context = ssl.create_default_context(cafile=plane.ca)
    sock = context.wrap_socket(socket.create_connection(("127.0.0.1", plane.ecs_port), timeout=30),
                               server_hostname="127.0.0.1")
    sock.sendall(payload)
    return sock


def answer_until_closed(sock: ssl.SSLSocket, wait: float) -> bytes | None:
    """What the server sent before closing the connection, or None if it kept it open
    for ``wait`` seconds."""
    sock.settimeout(wait)
    received = b""
    try:
        while chunk := sock.recv(4096):
            received += chunk
    except TimeoutError:
        return None
    except (ssl.SSLError, ConnectionError):
        pass
    return received


def test_slow_clients_hold_no_worker_and_are_closed_after_the_timeout(tight: Plane) -> None:
    key = tight.access_key()
    ecs = tight.client(key.access_key_id, key.secret_access_key)
    ecs.list_clusters()  # warmed: the first call builds botocore's model
    head = b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-amz-json-1.1\r\n"
    # Twice as many as there are workers: half stop in the request head, half in the body.
    slow = [slow_client(tight, head) for _ in range(4)]
    slow += [slow_client(tight, head + b"Content-Length: 1000\r\n\r\n{") for _ in range(4)]
    opened = time.monotonic()
    started = time.monotonic()
    assert ecs.list_clusters()["clusterArns"]
    prompt = time.monotonic() - started
    assert prompt < 1.5, f"a normal request took {prompt:.2f}s beside 8 slow clients"
    answers = [answer_until_closed(sock, 10) for sock in slow]
    assert None not in answers, "a slow client was still connected 10 s later"
    assert answers[:4] == [b""] * 4  # no request yet: closed without a word
    assert all(b" 408 " in a and b"RequestTimeoutException" in a for a in answers[4:]), [a[-120:] for a in answers]
    closed_after = time.monotonic() - opened
    assert closed_after < 2 + 3, f"slow clients were closed only after {closed_after:.1f}s (timeout 2s)"
    print(f"a normal call took {prompt:.3f}s beside 8 slow clients; they were closed after {closed_after:.1f}s")
    for sock in slow:
        sock.close()


def test_oversized_body_is_413_in_ecs_shape(plane: Plane) -> None:
    key = plane.access_key()
    req = botocore_signed(plane, key, "RegisterTaskDefinition", {"family": "x" * (2 * 1024 * 1024)})
    resp = send(plane, req)
    assert resp.status_code == 413
    check_error(resp.json())
    assert resp.json()["__type"] == "SerializationException" and "at most 1048576 bytes" in resp.json()["message"]


def test_plain_http_only_with_the_explicit_flag(plane: Plane, tmp_path: Path) -> None:
    # Without the flag the gateway speaks only TLS: a plain HTTP call gets no ECS answer.
    plain_url = plane.ecs_url.replace("https://", "http://")
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.post(plain_url, data="{}", timeout=10, headers={
            "X-Amz-Target": TARGET + "ListClusters", "Content-Type": "application/x-amz-json-1.1"})
    (tmp_path / "plaintext").mkdir()
    plane = Plane(tmp_path / "plaintext", "--ecs-plaintext")
    try:
        plane.ecs_url = plane.ecs_url.replace("https://", "http://")
        key = plane.access_key()
        assert plane.client(key.access_key_id, key.secret_access_key).list_clusters()["clusterArns"]
    finally:
        plane.stop()


def test_an_external_service_runs_and_reports_its_launch_type(plane: Plane) -> None:
    """ECS Anywhere's scripts send launchType EXTERNAL: the service runs on the cluster's
    instances and says EXTERNAL back; FARGATE is refused on the wire with the reason."""
    plane.add_agent("host-0", zone="a")
    key = plane.access_key()
    ecs = plane.client(key.access_key_id, key.secret_access_key)
    seen = validate_every_response(ecs)
    wait_for(lambda: ecs.list_container_instances()["containerInstanceArns"], 30, "a container instance")
    ecs.register_task_definition(**WEB, requiresCompatibilities=["EC2", "EXTERNAL"])
    svc = ecs.create_service(serviceName="anywhere", taskDefinition="web", desiredCount=1,
                             launchType="EXTERNAL")["service"]
    assert svc["launchType"] == "EXTERNAL"
    ecs.get_waiter("services_stable").wait(services=["anywhere"], WaiterConfig=FAST_WAITER)
    running = ecs.list_tasks(serviceName="anywhere", desiredStatus="RUNNING")["taskArns"]
    task = ecs.describe_tasks(tasks=running)["tasks"][0]
    assert (task["lastStatus"], task["launchType"]) == ("RUNNING", "EXTERNAL")
    assert ecs.list_tasks(launchType="EXTERNAL", desiredStatus="RUNNING")["taskArns"] == running
    assert ecs.list_tasks(launchType="EC2", desiredStatus="RUNNING")["taskArns"] == []
    assert ecs.list_services(launchType="EXTERNAL")["serviceArns"] == [svc["serviceArn"]]

    # The real aws CLI: EXTERNAL runs, FARGATE is refused with ECS's error and the reason.
    ran = aws(plane, key, "run-task", "--task-definition", "web", "--launch-type", "EXTERNAL")
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout)["tasks"][0]["launchType"] == "EXTERNAL"
    fargate = aws(plane, key, "run-task", "--task-definition", "web", "--launch-type", "FARGATE")
    assert fargate.returncode != 0
    assert "InvalidParameterException" in fargate.stderr and "launchType: FARGATE" in fargate.stderr
    assert {"CreateService", "DescribeTasks", "ListServices"} <= set(seen)


def test_capacity_providers_on_the_wire(plane: Plane) -> None:
    """The real control plane process and etcd: a capacity provider made with ECS's shape is
    the Shoal record the autoscaler reads, shown by the gRPC API as by ECS."""
    key = plane.access_key()
    ecs = plane.client(key.access_key_id, key.secret_access_key)
    seen = validate_every_response(ecs)
    made = ecs.create_capacity_provider(name="burst", autoScalingGroupProvider={
        "autoScalingGroupArn": "arn:aws:autoscaling:us-east-1:000000000000:autoScalingGroup:x:"
                               "autoScalingGroupName/local",
        "managedScaling": {"status": "ENABLED", "targetCapacity": 75, "maximumScalingStepSize": 2},
        "managedTerminationProtection": "ENABLED"})["capacityProvider"]
    scaling = scaling_pb2_grpc.ScalingStub(plane.channel)
    [cp] = scaling.DescribeCapacityProviders(sc.DescribeCapacityProvidersRequest(names=["burst"]),
                                             timeout=10).capacity_providers
    assert (cp.node_provider.profile, cp.target_capacity, cp.maximum_scaling_step_size,
            cp.managed_termination_protection) == ("local", 75, 2, True)
    ecs.update_capacity_provider(name=made["capacityProviderArn"],
                                 autoScalingGroupProvider={"managedScaling": {"targetCapacity": 50}})
    [shown] = ecs.describe_capacity_providers(capacityProviders=["burst"])["capacityProviders"]
    assert shown["autoScalingGroupProvider"]["managedScaling"]["targetCapacity"] == 50
    with pytest.raises(ecs.exceptions.InvalidParameterException) as caught:
        ecs.create_capacity_provider(name="off", autoScalingGroupProvider={
            "autoScalingGroupArn": "local", "managedScaling": {"status": "DISABLED"}})
    assert "managedScaling.status" in caught.value.response["Error"]["Message"]
    strategy = [{"capacityProvider": "burst", "weight": 1, "base": 1}]
    ecs.put_cluster_capacity_providers(cluster="default", capacityProviders=["burst"],
                                       defaultCapacityProviderStrategy=strategy)
    assert ecs.describe_clusters()["clusters"][0]["defaultCapacityProviderStrategy"] == strategy
    with pytest.raises(ecs.exceptions.ClientException):
        ecs.delete_capacity_provider(capacityProvider="burst")  # in use by the cluster
    ecs.put_cluster_capacity_providers(cluster="default", capacityProviders=[], defaultCapacityProviderStrategy=[])
    assert ecs.delete_capacity_provider(capacityProvider="burst")["capacityProvider"]["status"] == "INACTIVE"
    assert ecs.describe_capacity_providers()["capacityProviders"] == []
    # README's aws CLI line, verbatim.
    made = aws(plane, key, "create-capacity-provider", "--name", "burst", "--auto-scaling-group-provider",
               "autoScalingGroupArn=local,managedScaling={targetCapacity=80}")
    assert made.returncode == 0, made.stderr
    # Shoal's Fargate mark, which ECS's shape has no member for, is the tag shoal:fargate:
    # made with README's aws CLI line, verbatim, the rest with boto3.
    mark = {"key": "shoal:fargate", "value": "true"}
    marked = aws(plane, key, "create-capacity-provider", "--name", "serverless", "--auto-scaling-group-provider",
                 "autoScalingGroupArn=local", "--tags", "key=shoal:fargate,value=true")
    assert marked.returncode == 0, marked.stderr
    assert json.loads(marked.stdout)["capacityProvider"]["tags"] == [mark]
    [cp] = scaling.DescribeCapacityProviders(sc.DescribeCapacityProvidersRequest(names=["serverless"]),
                                             timeout=10).capacity_providers
    assert cp.fargate
    shown = {c["name"]: c["tags"] for c in ecs.describe_capacity_providers(include=["TAGS"])["capacityProviders"]}
    assert shown == {"burst": [], "serverless": [mark]}
    with pytest.raises(ecs.exceptions.InvalidParameterException) as caught:
        ecs.create_capacity_provider(name="second", autoScalingGroupProvider={"autoScalingGroupArn": "local"},
                                     tags=[mark])
    assert caught.value.response["Error"]["Message"].startswith(
        "tags[0]: cluster 'default' already has a Fargate capacity provider ('serverless')")
    with pytest.raises(ecs.exceptions.InvalidParameterException) as caught:
        ecs.create_capacity_provider(name="second", autoScalingGroupProvider={"autoScalingGroupArn": "local"},
                                     tags=[{"key": "shoal:fargate", "value": "on"}])
    assert caught.value.response["Error"]["Message"].startswith("tags[0].value: shoal:fargate must be true or false")
    ecs.put_cluster_capacity_providers(cluster="default", capacityProviders=["FARGATE"],
                                       defaultCapacityProviderStrategy=[])
    assert ecs.describe_clusters()["clusters"][0]["capacityProviders"] == ["FARGATE"]
    shown = json.loads(made.stdout)["capacityProvider"]["autoScalingGroupProvider"]
    assert (shown["autoScalingGroupArn"], shown["managedScaling"]["targetCapacity"]) == ("local", 80)
    assert {"CreateCapacityProvider", "UpdateCapacityProvider", "DescribeCapacityProviders",
            "PutClusterCapacityProviders"} <= set(seen)

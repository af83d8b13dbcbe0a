"""The quick start, as a user runs it: `shoal up --detach` brings up etcd, a control plane,
three agents, Prometheus and the sample service; `shoal down` leaves nothing behind."""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import sys
import urllib.request
from pathlib import Path

import boto3
import pytest

from shoal.netutil import free_ports
from shoal.security.channels import ClientTLS, client_channel
from shoal.v1 import accesskeys_pb2 as ak
from shoal.v1 import accesskeys_pb2_grpc, operator_pb2_grpc
from shoal.v1 import operator_pb2 as op
from shoalctl.local import statefiles, teardown
from shoalctl.local.registry import CERTS_D
from tests.etcd_door import REFUSED, range_read
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def shoal(*args: str, timeout: float = 420) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    env.pop("SHOAL_ENDPOINT", None)
    return subprocess.run([sys.executable, "-m", "shoalctl", *args], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=REPO)


def fetch(port: int, host: str = "127.0.0.1") -> str:
    return fetch_url(f"http://{host}:{port}/")


def fetch_url(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return resp.read().decode()


def web_tasks(stub: operator_pb2_grpc.OperatorStub) -> list:
    arns = stub.ListTasks(op.ListTasksRequest(cluster="default", service_name="web", desired_status="RUNNING"),
                          timeout=10).arns
    if not arns:
        return []
    tasks = stub.DescribeTasks(op.DescribeTasksRequest(cluster="default", tasks=list(arns)), timeout=10).tasks
    return [t for t in tasks if t.last_status == "RUNNING"]


def node_ids(state: Path) -> set[str]:
    ids = set()
    for path in state.glob("agents/agent-*/node.json"):
        ids.add(json.loads(path.read_text())["node_id"])
    return ids


def node_containers(docker_client, ids: set[str]) -> list:
    return [c for nid in ids for c in docker_client.containers.list(all=True, filters={"label": f"shoal.node={nid}"})]


def test_up_runs_the_sample_service_and_down_leaves_nothing(tmp_path: Path, docker_client) -> None:
    state = tmp_path / "state"
    api, metrics, prom, ecs, console = free_ports(5)
    try:
        up = shoal("up", "--detach", "--state-dir", str(state), "--port", str(api), "--metrics-port", str(metrics),
                   "--prometheus-port", str(prom), "--ecs-port", str(ecs), "--console-port", str(console),
                   "--lease-ttl", "4", "--zones", "a,b,c",
                   "--registry-port", "0")
        assert up.returncode == 0, f"shoal up failed:\n{up.stdout}\n{up.stderr}"
        assert "service 'web' answers at" in up.stdout, up.stdout + up.stderr
        # The first thing to try: the sample load balancer's URL, printed before the tasks'.
        lb_line = next(line for line in up.stdout.splitlines() if line.startswith("load balancer 'web' answers at "))
        lb_url = lb_line.rsplit(" ", 1)[1]
        assert lb_url.startswith("http://127.0.0.2:") and lb_url.endswith("/"), lb_line
        assert up.stdout.index(lb_line) < up.stdout.index("service 'web' answers at")
        tries = [line for line in up.stdout.split("next, try:", 1)[1].splitlines()
                 if line.strip() and not line.strip().startswith("export ")]
        assert lb_url in tries[0], "the first thing to try (after pointing at the state dir) is the load balancer"
        assert f"console        https://127.0.0.1:{console}" in up.stdout, up.stdout

        config = json.loads(statefiles.config_path(state).read_text())
        assert config["endpoint"] == f"127.0.0.1:{api}"
        assert config["prometheus"] == f"http://127.0.0.1:{prom}"
        assert config["ecs"] == f"https://127.0.0.1:{ecs}"
        assert config["console"] == f"https://127.0.0.1:{console}"
        # HTTPS with a certificate from the cluster's CA, as the ECS API.
        with urllib.request.urlopen(config["console"], timeout=10,
                                    context=ssl.create_default_context(cafile=config["ca"])) as resp:
            assert b"Shoal console" in resp.read()
        records = statefiles.recorded(state)
        assert sorted(r.role for r in records) == [
            "agent", "agent", "agent", "autoscaler", "controlplane", "etcd", "prometheus", "registry"]
        # The cluster registry, trusted by dockerd through the CA until `shoal down`.
        registry_trust = CERTS_D / config["registry"] / "ca.crt"
        assert f"registry       {config['registry']}" in up.stdout and registry_trust.exists()
        assert all(r.alive() for r in records)

        # Security is on by default: the CLI's admin identity is in config.json, and etcd
        # answers only its own client certificate.
        assert {"ca", "cert", "key"} <= set(config), config
        assert config["etcd"].startswith("https://")
        assert range_read(config["etcd"], config["etcd_ca"], (config["etcd_cert"], config["etcd_key"]))["kvs"]
        for scheme, ca in (("http", None), ("https", config["etcd_ca"])):
            with pytest.raises(REFUSED):
                range_read(config["etcd"], ca, scheme=scheme)
        with client_channel(config["endpoint"], ClientTLS.from_env(config, env={})) as channel:
            stub = operator_pb2_grpc.OperatorStub(channel)
            tasks = wait_for(lambda: t if len(t := web_tasks(stub)) == 3 else None, 60, "3 web tasks RUNNING")
            key = accesskeys_pb2_grpc.AccessKeysStub(channel).CreateAccessKey(ak.CreateAccessKeyRequest(), timeout=10)
        # The ECS API serves HTTPS with a certificate from the cluster CA.
        ecs_api = boto3.client("ecs", endpoint_url=config["ecs"], region_name="us-east-1", verify=config["ca"],
                               aws_access_key_id=key.access_key_id, aws_secret_access_key=key.secret_access_key)
        assert len(ecs_api.list_services()["serviceArns"]) == 1
        ports = [b.host_port for t in tasks for c in t.containers for b in c.network_bindings]
        assert len(ports) == 3 and all(ports), ports
        direct = set()
        for port in ports:
            page = wait_for(lambda p=port: fetch(p), 30, f"the sample page on port {port}")
            assert page.startswith("hello from "), page
            direct.add(page)
        assert len(direct) == 3, direct
        # Through the node proxies: the printed URL answers from a sample task, and every
        # node's address on that port reaches all three tasks in turn.
        assert fetch_url(lb_url) in direct
        lb_port = int(lb_url.rsplit(":", 1)[1].rstrip("/"))
        answered: set[str] = set()

        def all_three() -> bool:
            for node in (2, 3, 4):
                answered.update(fetch(lb_port, f"127.0.0.{node}") for _ in range(3))
            return answered == direct

        wait_for(all_three, 30, "every node's listener reaching the 3 sample tasks")
        # Prometheus found the agents and their node proxies through the control plane's
        # service discovery.
        def agent_targets() -> tuple[int, int]:
            with urllib.request.urlopen(f"http://127.0.0.1:{prom}/api/v1/targets", timeout=5) as resp:
                active = json.load(resp)["data"]["activeTargets"]
            ours = [t["labels"] for t in active if t["labels"].get("job") == "shoal-agents"]
            return (sum(1 for labels in ours if "component" not in labels),
                    sum(1 for labels in ours if labels.get("component") == "proxy"))
        wait_for(lambda: agent_targets() == (3, 3), 60, "Prometheus scraping the 3 agents and their proxies")

        ids = node_ids(state)
        assert len(ids) == 3
        down = shoal("down", "--state-dir", str(state), timeout=180)
        assert down.returncode == 0, f"shoal down failed:\n{down.stdout}\n{down.stderr}"
        assert not [r.name for r in records if r.alive()], "processes left running after shoal down"
        assert not node_containers(docker_client, ids), "containers left after shoal down"
        assert not statefiles.config_path(state).exists()
        assert not statefiles.pids_path(state).exists()
        assert not registry_trust.parent.exists(), "shoal down removes the registry's certs.d entry"
    finally:
        # Whatever failed above, leave nothing running.
        if statefiles.pids_path(state).exists():
            teardown.stop_recorded(state)


def test_up_without_the_proxy_makes_no_load_balancer_and_says_so(tmp_path: Path, docker_client) -> None:
    state = tmp_path / "state"
    try:
        up = shoal("up", "--detach", "--state-dir", str(state), "--port", "0", "--metrics-port", "0",
                   "--no-prometheus", "--no-registry", "--no-proxy", "--ecs-port", "-1", "--console-port", "-1",
                   "--agents", "1", "--lease-ttl", "4")
        assert up.returncode == 0, f"shoal up failed:\n{up.stdout}\n{up.stderr}"
        assert "no load balancer (--no-proxy): each task answers on its own host port" in up.stdout, up.stdout
        assert "load balancer 'web' answers" not in up.stdout
        tries = [line for line in up.stdout.split("next, try:", 1)[1].splitlines()
                 if line.strip() and not line.strip().startswith("export ")]
        port = int(tries[0].split("http://127.0.0.1:", 1)[1].split("/", 1)[0])
        assert fetch(port).startswith("hello from "), "the first thing to try is a task's own port"
    finally:
        if statefiles.pids_path(state).exists():
            teardown.stop_recorded(state)


def test_up_reports_a_taken_port(tmp_path: Path, docker_client) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        up = shoal("up", "--detach", "--state-dir", str(tmp_path), "--port", str(port),
                   "--metrics-port", "0", "--no-prometheus", "--no-sample", "--agents", "0", timeout=120)
    assert up.returncode == 1
    assert f"port {port}" in up.stderr and "already in use" in up.stderr, up.stderr
    assert "Traceback" not in up.stderr
    assert not statefiles.pids_path(tmp_path).exists()


def test_down_without_a_cluster_says_so(tmp_path: Path) -> None:
    down = shoal("down", "--state-dir", str(tmp_path), timeout=60)
    assert down.returncode == 0, down.stderr
    assert "nothing to stop" in down.stdout

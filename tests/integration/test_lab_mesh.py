"""The routing mesh between `shoal lab` hosts (network namespaces, each with its own
address): a request to host 1's load-balancer listener reaches tasks running only on hosts
2 and 3, with the client's own address in X-Forwarded-For; once host 2's link is cut and
it is judged lost, every request to host 1's listener is still answered, by host 3's
tasks. The client runs in host 3's namespace, so the request crosses the lab network
twice (client -> host 1's proxy -> a task reached at its host's address)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from shoal.netutil import free_port
from shoal.v1 import operator_pb2 as op
from shoalctl.lab.lab import Lab
from shoalctl.lab.network import LabHost
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
LEASE_TTL = 3
# The judgement (lease expiry) plus the table's rebuild and push to every proxy.
JUDGED = 30

# busybox httpd whose CGI answers "<container hostname> <X-Forwarded-For>".
WHO = ("mkdir -p /www/cgi-bin && printf '#!/bin/sh\\necho Content-Type: text/plain\\necho\\n"
       "echo $HOSTNAME $HTTP_X_FORWARDED_FOR\\n' > /www/cgi-bin/who && chmod +x /www/cgi-bin/who && "
       "exec httpd -f -p 8080 -h /www")
TASKDEF = {"family": "mesh-who", "networkMode": "bridge", "containerDefinitions": [{
    "name": "web", "image": "shoal/busybox:latest", "essential": True, "cpu": 16, "memory": 16,
    "stopTimeout": 1, "portMappings": [{"containerPort": 8080, "hostPort": 0, "protocol": "tcp"}],
    "command": ["sh", "-c", WHO],
}]}

# Run inside a lab host's namespace: N requests, one JSON line each (the answer or the error).
CLIENT = """
import json, sys, urllib.request
url, n = sys.argv[1], int(sys.argv[2])
for _ in range(n):
    try:
        with urllib.request.urlopen(url, timeout=3) as resp:
            print(json.dumps({"ok": resp.read().decode().strip()}))
    except Exception as exc:
        print(json.dumps({"error": repr(exc)}))
"""


def shoal(lab: Lab, *args: str) -> str:
    env = {**os.environ, "SHOAL_STATE_DIR": str(lab.state_dir), "PYTHONPATH": str(ROOT)}
    env.pop("SHOAL_ENDPOINT", None)
    out = subprocess.run([sys.executable, "-m", "shoalctl", *args], capture_output=True, text=True,
                         timeout=120, env=env, cwd=ROOT)
    assert out.returncode == 0, f"shoal {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}"
    return out.stdout


def requests_from(host: LabHost, url: str, n: int) -> list[dict]:
    """``n`` GETs of ``url`` made from inside lab host ``host``'s namespace."""
    out = subprocess.run(["ip", "netns", "exec", host.netns, sys.executable, "-c", CLIENT, url, str(n)],
                         capture_output=True, text=True, timeout=30 + 4 * n, check=True)
    return [json.loads(line) for line in out.stdout.splitlines()]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory, busybox_image: str) -> Iterator[Lab]:
    the_lab = Lab(tmp_path_factory.mktemp("mesh") / "lab", hosts=3, zones=["a", "b", "c"], replicas=1,
                  etcd_members=1, lease_ttl=LEASE_TTL, gc_delay=1.0, prometheus=False, autoscaler=False)
    try:
        the_lab.start(timeout=240)
        yield the_lab
    finally:
        the_lab.stop()


def running_by_host(lab: Lab, service: str) -> dict[int, set[str]]:
    """Per lab host number, the container hostnames of ``service``'s running tasks there."""
    api = lab.cluster.operator
    arns = list(api.ListTasks(op.ListTasksRequest(cluster="default", service_name=service), timeout=10).arns)
    tasks = api.DescribeTasks(op.DescribeTasksRequest(cluster="default", tasks=arns), timeout=10).tasks if arns else []
    hosts = {agent.node_id: n for n, agent in lab.cluster.agents.items()}
    out: dict[int, set[str]] = {}
    for task in tasks:
        if task.last_status == "RUNNING" and task.desired_status == "RUNNING" and task.node_id in hosts:
            out.setdefault(hosts[task.node_id], set()).add(task.containers[0].runtime_id[:12])
    return out


def connected(lab: Lab, number: int) -> bool:
    api = lab.cluster.operator
    nodes = api.DescribeContainerInstances(op.DescribeContainerInstancesRequest(
        cluster="default", container_instances=[lab.cluster.agents[number].node_id]), timeout=10)
    return bool(nodes.container_instances) and nodes.container_instances[0].agent_connected


def test_host_ones_listener_reaches_tasks_on_other_hosts_and_survives_a_cut_link(lab: Lab) -> None:
    port = free_port()
    taskdef = lab.state_dir / "mesh-who.json"
    taskdef.write_text(json.dumps(TASKDEF))
    shoal(lab, "taskdef", "register", str(taskdef))
    shoal(lab, "lb", "create", "mesh", "--listener", f"{port}:http")
    # Two tasks, one on host 2 and one on host 3, none on host 1 (whose listener is asked).
    shoal(lab, "service", "create", "who", "--taskdef", "mesh-who", "--desired", "2", "--load-balancer", "mesh",
          "--placement-constraint", "type=memberOf,expression=attribute:ecs.availability-zone in [b, c]",
          "--placement-strategy", "type=spread,field=instanceId")
    placed = wait_for(lambda: (lambda m: m if set(m) == {2, 3} else None)(running_by_host(lab, "who")), 120,
                      "one task of `who` running on host 2 and one on host 3")
    one, three = lab.network.hosts[1], lab.network.hosts[3]
    url = f"http://{one.address}:{port}/cgi-bin/who"

    def all_tasks_answer() -> list[dict] | None:
        answers = requests_from(three, url, 8)
        got = {a["ok"].split()[0] for a in answers if "ok" in a}
        return answers if got == placed[2] | placed[3] else None

    answers = wait_for(all_tasks_answer, 60, "host 1's listener answered by the tasks on hosts 2 and 3")
    assert all("ok" in a for a in answers), answers
    # The client is host 3; its address survives the proxy as X-Forwarded-For.
    assert {a["ok"].split()[1] for a in answers} == {three.address}

    lab.partition(2)
    wait_for(lambda: not connected(lab, 2), JUDGED, "host 2 judged lost after its link was cut")
    on_two = placed[2]

    def only_host_three_answers() -> list[dict] | None:
        answers = requests_from(three, url, 10)
        return answers if all("ok" in a and a["ok"].split()[0] not in on_two for a in answers) else None

    # The lost node's targets leave host 1's proxy within a table push of the judgement.
    wait_for(only_host_three_answers, 5, "host 1's listener answered only by host 3's tasks", interval=0.5)
    answers = requests_from(three, url, 30)
    failed = [a for a in answers if "ok" not in a]
    assert not failed, f"{len(failed)} of 30 requests failed after host 2 was judged lost: {failed[:3]}"
    assert not {a["ok"].split()[0] for a in answers} & on_two

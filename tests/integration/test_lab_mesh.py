"""Traffic between `shoal lab` hosts (network namespaces, each with its own address).

Service discovery: a service registered only in a namespace (Cloud Map's A and SRV
records, no Service Connect) is resolved by a client in another host through that host's
DNS responder, and the address and port it answers are reached from there.

The routing mesh: a request to host 1's load-balancer listener reaches tasks running only on hosts
2 and 3, with the client's own address in X-Forwarded-For; once host 2's link is cut and
it is judged lost, every request to host 1's listener is still answered, by host 3's
tasks. The client runs in host 3's namespace, so the request crosses the lab network
twice (client -> host 1's proxy -> a task reached at its host's address). A listener moved
to another port (ModifyListener) answers there on host 1, and no longer on the old one."""

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
from shoal.v1 import traffic_pb2 as t
from shoal.v1 import traffic_pb2_grpc
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


# Run inside a lab host's namespace: asks the DNS server for NAME's A and SRV records, then
# GETs /cgi-bin/who at each SRV target's address (from the additional section) and port.
RESOLVER = """
import json, sys, urllib.request
from dnslib import QTYPE, DNSRecord
server, name = sys.argv[1], sys.argv[2]
ask = lambda qtype: DNSRecord.parse(DNSRecord.question(name, qtype).send(server, 53, timeout=3))
a, srv = ask("A"), ask("SRV")
glue = {str(rr.rname): str(rr.rdata) for rr in srv.ar if rr.rtype == QTYPE.A}
targets = [(glue[str(rr.rdata.target)], rr.rdata.port) for rr in srv.rr if rr.rtype == QTYPE.SRV]
answers = []
for address, port in targets:
    with urllib.request.urlopen(f"http://{address}:{port}/cgi-bin/who", timeout=3) as resp:
        answers.append(resp.read().decode().strip())
print(json.dumps({"a": sorted(str(rr.rdata) for rr in a.rr if rr.rtype == QTYPE.A),
                  "srv": targets, "answers": answers}))
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


def register_taskdef(lab: Lab) -> None:
    path = lab.state_dir / "mesh-who.json"
    if not path.exists():
        path.write_text(json.dumps(TASKDEF))
        shoal(lab, "taskdef", "register", str(path))


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


def test_a_namespace_only_service_resolves_and_connects_from_another_host(lab: Lab) -> None:
    register_taskdef(lab)
    shoal(lab, "namespace", "create", "lab")
    shoal(lab, "service", "create", "disc", "--taskdef", "mesh-who", "--desired", "1", "--namespace", "lab",
          "--placement-constraint", "type=memberOf,expression=attribute:ecs.availability-zone == c")
    placed = wait_for(lambda: running_by_host(lab, "disc").get(3), 120, "the task of `disc` running on host 3")
    one, three = lab.network.hosts[1], lab.network.hosts[3]

    def resolved() -> dict | None:
        out = subprocess.run(["ip", "netns", "exec", one.netns, sys.executable, "-c", RESOLVER, one.address,
                              "disc.lab"], capture_output=True, text=True, timeout=30)
        return json.loads(out.stdout) if out.returncode == 0 and json.loads(out.stdout)["srv"] else None

    # Host 1's own responder answers with host 3's address; the client in host 1 reaches it.
    got = wait_for(resolved, 30, "disc.lab resolved and reached from host 1")
    assert got["a"] == [three.address]
    assert [address for address, _ in got["srv"]] == [three.address]
    assert {answer.split()[0] for answer in got["answers"]} == placed


def test_host_ones_listener_reaches_tasks_on_other_hosts_and_survives_a_cut_link(lab: Lab) -> None:
    port = free_port()
    register_taskdef(lab)
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
    try:
        judged_lost_then_served_by_host_three(lab, url, placed[2], three)
    finally:
        lab.heal(2)


def judged_lost_then_served_by_host_three(lab: Lab, url: str, on_two: set[str], three: LabHost) -> None:
    wait_for(lambda: not connected(lab, 2), JUDGED, "host 2 judged lost after its link was cut")

    def only_host_three_answers() -> list[dict] | None:
        answers = requests_from(three, url, 10)
        return answers if all("ok" in a and a["ok"].split()[0] not in on_two for a in answers) else None

    # The lost node's targets leave host 1's proxy within a table push of the judgement.
    wait_for(only_host_three_answers, 5, "host 1's listener answered only by host 3's tasks", interval=0.5)
    answers = requests_from(three, url, 30)
    failed = [a for a in answers if "ok" not in a]
    assert not failed, f"{len(failed)} of 30 requests failed after host 2 was judged lost: {failed[:3]}"
    assert not {a["ok"].split()[0] for a in answers} & on_two


def test_a_modified_listener_port_moves_on_every_node(lab: Lab) -> None:
    """After the mesh test: load balancer ``mesh`` and service ``who`` are there."""
    traffic = traffic_pb2_grpc.TrafficStub(lab.cluster.channel)
    found = traffic.DescribeLoadBalancers(t.DescribeLoadBalancersRequest(cluster="default", load_balancers=["mesh"]),
                                          timeout=10)
    (lb,) = found.load_balancers
    (listener,) = lb.listeners
    new_port = free_port()
    traffic.ModifyListener(t.ModifyListenerRequest(cluster="default", listener_arn=listener.listener_arn,
                                                   port=new_port), timeout=10)
    one, three = lab.network.hosts[1], lab.network.hosts[3]

    def moved() -> bool:
        new = requests_from(three, f"http://{one.address}:{new_port}/cgi-bin/who", 3)
        old = requests_from(three, f"http://{one.address}:{listener.port}/cgi-bin/who", 1)
        return all("ok" in a for a in new) and "error" in old[0]

    wait_for(moved, 30, f"host 1's listener moved from {listener.port} to {new_port}", interval=0.5)

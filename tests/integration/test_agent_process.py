"""The agent as a real process (`python -m agent`) with real dockerd, against the fake
AgentGateway served from the test process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from shoal.netutil import free_port
from shoal.v1 import resources_pb2 as r
from tests.fakegateway import FakeGateway, assignment, served
from tests.waiting import wait_for

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


class AgentProcess:
    def __init__(self, endpoint: str, state_dir: Path, log_path: Path) -> None:
        self.endpoint, self.state_dir, self.log_path = endpoint, state_dir, log_path
        self.proc: subprocess.Popen | None = None

    def start(self) -> AgentProcess:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "agent", "--endpoint", self.endpoint, "--state-dir", str(self.state_dir),
                 "--gc-delay", "0", "--resync-interval", "1", "--stop-timeout", "2", "--log-level", "DEBUG",
                 # The fake gateway speaks plaintext, like an --insecure control plane.
                 "--name", self.state_dir.name, "--insecure"],
                cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        return self

    def node_id(self) -> str:
        return wait_for(lambda: json.loads((self.state_dir / "node.json").read_text())["node_id"], 30,
                        f"node.json in {self.state_dir}; log:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:] if self.log_path.exists() else ""

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            self.proc.wait(timeout=20)


@pytest.fixture
def gateway() -> Iterator[FakeGateway]:
    yield from served(0.5)


@pytest.fixture
def spawn(gateway, tmp_path, node_cleanup) -> Iterator:
    procs: list[AgentProcess] = []

    def make(name: str) -> AgentProcess:
        p = AgentProcess(gateway.endpoint, tmp_path / name, tmp_path / f"{name}.log").start()
        procs.append(p)
        node_cleanup.add(p.node_id())
        return p

    try:
        yield make
    finally:
        for p in procs:
            try:
                p.kill(signal.SIGTERM)
            except subprocess.TimeoutExpired:  # a wedged agent must not outlive the test
                p.kill(signal.SIGKILL)


def status(gw: FakeGateway, task_id: str, want: str):
    s = gw.state(task_id)
    return s if s is not None and s.last_status == want else None


def running_ids(docker_client, node_id: str) -> list[str]:
    return sorted(c.id for c in docker_client.containers.list(filters={"label": f"shoal.node={node_id}"}))


def test_web_task_exit_and_pull_failure_reported_then_stop_and_gc(spawn, gateway, docker_client, busybox_image):
    agent = spawn("a1")
    nid = agent.node_id()
    port = free_port()
    web = assignment("w" * 32, [r.ContainerDefinition(
        name="web", image=busybox_image, port_mappings=[r.PortMapping(container_port=8080, protocol="tcp")],
        command=["sh", "-c", "echo hi-from-shoal > /www/index.html && exec httpd -f -p 8080 -h /www"])],
        bindings={"web": [(8080, port)]})
    exiter = assignment("e" * 32, [r.ContainerDefinition(name="job", image=busybox_image,
                                                         command=["sh", "-c", "sleep 1; exit 3"])])
    nopull = assignment("n" * 32, [r.ContainerDefinition(name="x", image="shoal/nope:1")])
    gateway.assign(nid, [web, exiter, nopull])

    st = wait_for(lambda: status(gateway, web.task.id, "RUNNING"), 60, f"web RUNNING; log:\n{agent.log()}")
    assert [(b.container_port, b.host_port) for b in st.containers[0].network_bindings] == [(8080, port)]
    body = wait_for(lambda: urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).read(), 30, "httpd")
    assert body == b"hi-from-shoal\n"

    st = wait_for(lambda: status(gateway, exiter.task.id, "STOPPED"), 60, "essential exit reported")
    assert st.stop_code == "EssentialContainerExited"
    assert st.stopped_reason == "Essential container in task exited"
    assert st.containers[0].exit_code == 3

    st = wait_for(lambda: status(gateway, nopull.task.id, "STOPPED"), 60, "pull failure reported")
    assert st.stop_code == "TaskFailedToStart"
    assert st.stopped_reason.startswith("CannotPullContainerError: pull image shoal/nope:1: ")

    stop = assignment(web.task.id, web.task_definition.container_definitions, desired="STOPPED",
                      last_status="RUNNING")
    gateway.assign(nid, [stop, exiter, nopull])
    wait_for(lambda: status(gateway, web.task.id, "STOPPED"), 60, "web STOPPED")
    wait_for(lambda: not docker_client.containers.list(all=True, filters={"label": f"shoal.node={nid}"}), 60,
             "stopped containers collected (gc-delay 0)")
    assert len(gateway.received(nid, "heartbeat")) >= 1


def test_sigkill_then_restart_adopts_without_duplicates(spawn, gateway, docker_client, busybox_image):
    agent = spawn("k1")
    nid = agent.node_id()
    task = assignment("k" * 32, [r.ContainerDefinition(name="main", image=busybox_image, command=["sleep", "600"])])
    gateway.assign(nid, [task])
    wait_for(lambda: status(gateway, task.task.id, "RUNNING"), 60, f"RUNNING; log:\n{agent.log()}")
    before = running_ids(docker_client, nid)
    assert len(before) == 1
    agent.kill(signal.SIGKILL)
    gateway.states.clear()
    agent.start()
    # The restarted agent reports the adopted task before it has any assignment set.
    wait_for(lambda: status(gateway, task.task.id, "RUNNING"), 60, f"catch-up RUNNING; log:\n{agent.log()}")
    assert agent.node_id() == nid
    wait_for(lambda: "restored 1 tasks (1 running)" in agent.log(), 30, "restore logged")
    wait_for(lambda: "nothing to do" in agent.log().split("restored 1 tasks")[-1], 30, "a cycle after restore")
    assert running_ids(docker_client, nid) == before
    assert len(docker_client.containers.list(all=True, filters={"label": f"shoal.node={nid}"})) == 1


def test_two_agents_sharing_dockerd_leave_each_other_alone(spawn, gateway, docker_client, busybox_image):
    one, two = spawn("s1"), spawn("s2")
    n1, n2 = one.node_id(), two.node_id()
    assert n1 != n2
    t1 = assignment("1" * 32, [r.ContainerDefinition(name="main", image=busybox_image, command=["sleep", "600"])])
    t2 = assignment("2" * 32, [r.ContainerDefinition(name="main", image=busybox_image, command=["sleep", "600"])])
    gateway.assign(n1, [t1])
    gateway.assign(n2, [t2])
    wait_for(lambda: status(gateway, t1.task.id, "RUNNING") and status(gateway, t2.task.id, "RUNNING"), 60,
             "both RUNNING")
    kept = running_ids(docker_client, n2)
    gateway.assign(n1, [])  # n1's task was replaced elsewhere: n1 removes its own, not n2's
    wait_for(lambda: not docker_client.containers.list(all=True, filters={"label": f"shoal.node={n1}"}), 60,
             "n1's container removed")
    assert running_ids(docker_client, n2) == kept


def test_sigterm_while_stopping_containers_exits_at_once(spawn, gateway, docker_client, busybox_image):
    """`shoal down` SIGTERMs agents that may be in the middle of a 30 s `docker stop` (a
    container ignoring SIGTERM): the agent answers at once and leaves the containers to
    dockerd (and to `shoal down`, which removes them)."""
    agent = spawn("t1")
    nid = agent.node_id()
    # sleep as a container's PID 1 ignores SIGTERM: docker stop waits the whole stop timeout.
    defs = [r.ContainerDefinition(name="main", image=busybox_image, command=["sleep", "600"], stop_timeout=30)]
    tasks = [assignment(c * 32, defs) for c in "uv"]
    gateway.assign(nid, tasks)
    for t in tasks:
        wait_for(lambda t=t: status(gateway, t.task.id, "RUNNING"), 60, f"RUNNING; log:\n{agent.log()}")
    gateway.assign(nid, [assignment(t.task.id, defs, desired="STOPPED", last_status="RUNNING") for t in tasks])
    # Both stops are under way once dockerd has sent the containers SIGTERM (and they ignored it).
    wait_for(lambda: len([e for e in docker_client.events(since=0, until=int(time.time()) + 1, decode=True,
                                                          filters={"event": "kill", "label": f"shoal.node={nid}"})])
             >= 2, 30, "docker stop under way for both containers")
    assert running_ids(docker_client, nid), "the containers are still stopping"
    started = time.monotonic()
    os.killpg(agent.proc.pid, signal.SIGTERM)
    agent.proc.wait(timeout=30)
    took = time.monotonic() - started
    assert took < 2.5, f"the agent took {took:.1f}s to exit on SIGTERM; log:\n{agent.log()}"
    assert agent.proc.returncode == 0

"""A DAEMON service with real agents (hollow runtime: real agent processes and streams,
simulated containers): created through the CLI with --daemon, it runs one task on each of
three nodes, a fourth node joining gets a fourth, and draining a node stops its replica
tasks first and its daemon task after them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from shoal.v1 import operator_pb2 as op
from tests.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
AGENT = {"family": "agent", "containerDefinitions": [
    {"name": "agent", "image": "shoal/busybox:latest", "cpu": 16, "memory": 16, "command": ["sleep", "3600"]}]}
WEB = {"family": "web", "containerDefinitions": [
    {"name": "web", "image": "shoal/busybox:latest", "cpu": 16, "memory": 16, "command": ["sleep", "3600"]}]}


def shoal(cluster, *args: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SHOAL_STATE_DIR": str(cluster.state_dir),
           "SHOAL_ENDPOINT": cluster.endpoint}
    out = subprocess.run([sys.executable, "-m", "shoalctl", *args], cwd=ROOT, capture_output=True, text=True,
                         timeout=60, env=env)
    assert out.returncode == 0, f"shoal {' '.join(args)}: {out.stderr}"
    return out.stdout


def tasks_of(cluster, service: str) -> list:
    api = cluster.operator
    arns = api.ListTasks(op.ListTasksRequest(cluster="default", service_name=service)).arns
    if not arns:
        return []
    return list(api.DescribeTasks(op.DescribeTasksRequest(cluster="default", tasks=list(arns))).tasks)


def running_on(cluster, service: str) -> dict[str, str]:
    """node id -> task id of the service's RUNNING tasks wanted RUNNING."""
    return {t.node_id: t.id for t in tasks_of(cluster, service)
            if t.last_status == "RUNNING" and t.desired_status == "RUNNING"}


def test_daemon_covers_every_node_a_new_one_and_leaves_a_draining_one_last(make_cluster, tmp_path: Path) -> None:
    cluster = make_cluster(agents=3, zones=["a", "b", "c"], runtime="hollow", autoscaler=False, proxy=False)
    (tmp_path / "agent.json").write_text(json.dumps(AGENT))
    (tmp_path / "web.json").write_text(json.dumps(WEB))
    shoal(cluster, "taskdef", "register", str(tmp_path / "agent.json"))
    shoal(cluster, "taskdef", "register", str(tmp_path / "web.json"))
    shoal(cluster, "service", "create", "agent", "--taskdef", "agent", "--daemon")
    first = set(cluster.node_ids())
    assert len(first) == 3
    wait_for(lambda: set(running_on(cluster, "agent")) == first, 60, "a daemon task RUNNING on each of 3 nodes")
    described = shoal(cluster, "service", "describe", "agent")
    assert "DAEMON" in described and "desired=3" in described

    cluster.start_agent(4)
    cluster.wait_for_agents(4)
    wait_for(lambda: len(set(running_on(cluster, "agent"))) == 4 and set(running_on(cluster, "agent")) == set(
        cluster.node_ids()), 60, "a fourth daemon task on the node that joined")

    shoal(cluster, "service", "create", "web", "--taskdef", "web", "--desired", "4")
    wait_for(lambda: len(running_on(cluster, "web")) == 4, 60, "four replica tasks RUNNING")
    node = sorted(running_on(cluster, "web"))[0]
    daemon_task = running_on(cluster, "agent")[node]
    shoal(cluster, "node", "drain", node)

    def drained() -> list | None:
        here = {t.id: t for t in tasks_of(cluster, "agent") + tasks_of(cluster, "web") if t.node_id == node}
        return list(here.values()) if all(t.last_status == "STOPPED" for t in here.values()) else None

    gone = wait_for(drained, 90, f"every task on the draining node {node} STOPPED")
    daemon = next(t for t in gone if t.id == daemon_task)
    replicas = [t for t in gone if t.service_name == "web"]
    assert replicas
    # The daemon was stopped last: its stop began after every replica of the node had stopped.
    assert daemon.stopping_at >= max(t.stopped_at for t in replicas), (daemon, replicas)
    assert "being drained" in daemon.stopped_reason
    assert node not in running_on(cluster, "agent")  # and nothing replaced it elsewhere
    assert len(running_on(cluster, "agent")) == 3

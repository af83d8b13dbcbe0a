"""The CLI as a newcomer meets it, against a real control plane and docker agents: the
12-character ids `task list` prints are taken by `task describe`, `task stop` and `logs`,
the NODE column names the node as users know it (agent-1) beside its id, which `node
describe` takes as well as the hostname; times print as dates; `shoal status` prints one
table."""

from __future__ import annotations

import json
import re

import pytest

from shoal.v1 import operator_pb2 as op
from tests.integration.test_console import SLEEPER
from tests.integration.test_logs_events import shoal
from tests.waiting import wait_for

pytestmark = pytest.mark.integration


def test_printed_ids_and_names_are_taken_back(make_cluster, busybox_image) -> None:
    cluster = make_cluster(agents=2)
    api = cluster.operator
    api.RegisterTaskDefinition(op.RegisterTaskDefinitionRequest(json=json.dumps(SLEEPER)))
    made = shoal(cluster, "service", "create", "web", "--taskdef", "sleeper", "--desired", "2")
    assert made.returncode == 0, made.stderr

    def rows() -> list[list[str]] | None:
        out = shoal(cluster, "task", "list").stdout.splitlines()[1:]
        found = [line.split() for line in out if " RUNNING " in line]
        return found if len(found) == 2 else None

    listed = wait_for(rows, 90, "two RUNNING tasks listed")
    task_short = listed[0][0]
    assert len(task_short) == 12
    # NODE: "agent-N (id12)".
    line = next(line for line in shoal(cluster, "task", "list").stdout.splitlines() if line.startswith(task_short))
    node_name, node_short = line.split()[5], line.split()[6].strip("()")
    assert node_name.startswith("agent-") and len(node_short) == 12, line

    described = shoal(cluster, "task", "describe", task_short)
    assert described.returncode == 0, described.stderr
    assert task_short in described.stdout and "RUNNING" in described.stdout
    created = next(line for line in described.stdout.splitlines() if line.startswith("createdAt:"))
    assert re.fullmatch(r"createdAt:\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \S+ \(\d+[smhd] ago\)", created), created
    logs = shoal(cluster, "logs", task_short)
    assert logs.returncode == 0, logs.stderr
    for ref in (node_name, node_short):
        node = shoal(cluster, "node", "describe", ref)
        assert node.returncode == 0, node.stderr
        assert node_short in node.stdout and node_name in node.stdout
    missing = shoal(cluster, "task", "describe", "ffffffffff")
    assert missing.returncode != 0 and "no task in cluster default has an id starting with it" in missing.stderr
    assert "Traceback" not in missing.stderr
    stopped = shoal(cluster, "task", "stop", task_short)
    assert stopped.returncode == 0, stopped.stderr
    assert stopped.stdout.startswith(task_short)

    status = shoal(cluster, "status", "--state-dir", str(cluster.state_dir))
    assert status.returncode == 0, status.stderr
    lines = status.stdout.splitlines()
    assert lines[0].split() == ["WHAT", "PID", "STATE", "ADDRESS"]
    assert "{" not in status.stdout, "one table, no JSON blob"
    cp = next(line for line in lines if line.startswith("controlplane"))
    assert "running" in cp and cluster.endpoint.split(",")[0] in cp
    assert sum(line.startswith("agent-") for line in lines) == 2
    as_json = json.loads(shoal(cluster, "status", "--state-dir", str(cluster.state_dir), "-o", "json").stdout)
    assert as_json["config"]["cluster"] == "default"

"""The CLI's --launch-type against a real control plane (etcd, the control plane process,
no agents: the tasks stay PROVISIONING, which is all the launch type needs)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli import ok, shoal

pytestmark = pytest.mark.integration

WEB = {"family": "web", "requiresCompatibilities": ["EC2", "EXTERNAL"],
       "containerDefinitions": [{"name": "web", "image": "shoal/busybox:latest", "memory": 16}]}


def test_cli_launch_type_is_sent_kept_and_filtered(make_cluster, tmp_path: Path) -> None:
    cluster = make_cluster(agents=0)
    (tmp_path / "web.json").write_text(json.dumps(WEB))
    ok(cluster, "taskdef", "register", str(tmp_path / "web.json"))
    ext = ok(cluster, "task", "run", "--taskdef", "web", "--launch-type", "EXTERNAL").split()
    ec2 = ok(cluster, "task", "run", "--taskdef", "web").split()
    listed = json.loads(ok(cluster, "task", "list", "--launch-type", "EXTERNAL", "-o", "json"))
    assert [(t["id"], t["launchType"]) for t in listed] == [(ext[0], "EXTERNAL")]
    listed = json.loads(ok(cluster, "task", "list", "--launch-type", "EC2", "-o", "json"))
    assert [t["id"] for t in listed] == ec2

    ok(cluster, "service", "create", "anywhere", "--taskdef", "web", "--desired", "0", "--launch-type", "EXTERNAL")
    services = json.loads(ok(cluster, "service", "list", "--launch-type", "EXTERNAL", "-o", "json"))
    assert [(s["serviceName"], s["launchType"]) for s in services] == [("anywhere", "EXTERNAL")]
    assert json.loads(ok(cluster, "service", "list", "--launch-type", "EC2", "-o", "json")) == []

    refused = shoal(cluster, "service", "create", "f", "--taskdef", "web", "--launch-type", "FARGATE")
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    assert refused.stderr.startswith("shoal: ")
    assert "launchType: FARGATE is not among the task definition" in refused.stderr
    assert json.loads(ok(cluster, "service", "list", "-o", "json"))[0]["serviceName"] == "anywhere"

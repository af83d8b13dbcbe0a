"""`shoal lab` and `shoal chaos` as a user runs them: separate processes that find the lab
through its state dir, each chaos command printing what it did and how long the cluster
took to converge, and `shoal lab down` leaving nothing behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from shoal.v1 import operator_pb2 as op
from shoal.v1 import resources_pb2 as r
from shoalctl.chaos.converge import picture
from shoalctl.cli.client import Client
from shoalctl.lab import lab as labmod
from shoalctl.lab.network import netns_names, sweep
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SLEEPER = {"family": "lab-cli", "containerDefinitions": [{
    "name": "main", "image": "shoal/busybox:latest", "memory": 16, "cpu": 16, "essential": True,
    "command": ["sleep", "100000"], "stopTimeout": 1,
}]}


def shoal(*args: str, state: Path, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SHOAL_STATE_DIR": str(state), "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-m", "shoalctl.cli.main", *args], capture_output=True, text=True,
                         timeout=timeout, env=env, cwd=ROOT)
    print(f"$ shoal {' '.join(args)}\n{out.stdout}{out.stderr}")
    return out


@pytest.fixture
def lab_dir(tmp_path: Path, busybox_image: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    state = tmp_path / "lab"
    monkeypatch.setenv("SHOAL_STATE_DIR", str(state))
    lab_id = None
    try:
        up = shoal("lab", "up", "--hosts", "2", "--replicas", "2", "--lease-ttl", "3", "--gc-delay", "1",
                   "--own-dockerd", "2", "--state-dir", str(state), state=state)
        assert up.returncode == 0, up.stderr
        lab_id = json.loads((state / "lab.json").read_text())["network"]["lab_id"]
        yield state
    finally:
        if (state / "lab.json").exists():
            labmod.down(state)
        if lab_id:
            sweep(lab_id)


def test_chaos_commands_on_a_lab_then_down_leaves_nothing(lab_dir: Path) -> None:
    lab_id = json.loads((lab_dir / "lab.json").read_text())["network"]["lab_id"]
    config = json.loads((lab_dir / "config.json").read_text())
    assert "," in config["endpoint"], "the CLI gets every replica"
    api = Client(config["endpoint"], timeout=10)
    try:
        api.RegisterTaskDefinition(op.RegisterTaskDefinitionRequest(json=json.dumps(SLEEPER)))
        api.CreateService(op.CreateServiceRequest(
            cluster="default", service_name="sleepers", task_definition="lab-cli", desired_count=2,
            placement_strategy=[r.PlacementStrategy(type="spread", field="instanceId")]))
        wait_for(lambda: picture(api).converged() and len(picture(api).tasks) == 2, 90, "2 sleepers running")
        # First, while the spread holds: one task on agent-2, whose dockerd is its own.
        out = shoal("chaos", "stop-docker", "agent-2", "--timeout", "90s", state=lab_dir)
        assert out.returncode == 0 and "(1 tasks on it)" in out.stdout, out.stdout + out.stderr
        task = next(t for t in picture(api).tasks if t.last_status == "RUNNING")
    finally:
        api.close()

    for args in (("kill-task", task.id), ("kill-agent", "agent-1", "--restart"), ("kill-leader", "--restart"),
                 ("partition", "agent-2", "--for", "4s")):
        out = shoal("chaos", *args, "--timeout", "90s", state=lab_dir)
        assert out.returncode == 0, f"shoal chaos {' '.join(args)}: {out.stdout}{out.stderr}"
        assert "converged after" in out.stdout and "NOT converged" not in out.stdout

    status = shoal("lab", "status", state=lab_dir)
    assert status.returncode == 0 and "link up" in status.stdout
    bad = shoal("chaos", "partition", "agent-9", "--for", "1s", state=lab_dir)
    assert bad.returncode == 1 and "agent-9" in bad.stderr and "Traceback" not in bad.stderr

    down = shoal("lab", "down", state=lab_dir)
    assert down.returncode == 0, down.stderr
    assert not [n for n in netns_names() if lab_id in n]
    assert not [p.name for p in Path("/sys/class/net").iterdir() if lab_id in p.name]
    forward = subprocess.run(["iptables", "-S", "FORWARD"], capture_output=True, text=True, check=True).stdout
    assert f"shoal-lab-{lab_id}" not in forward, "the lab bridge's FORWARD rule outlived `shoal lab down`"
    assert not (lab_dir / "lab.json").exists() and not (lab_dir / "pids.json").exists()

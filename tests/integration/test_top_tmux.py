"""`shoal top` in a real terminal (tmux, on a socket of its own) against a real cluster: it
shows the nodes and a service as it comes up, Tab moves the focus, q quits."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from shoal.v1 import operator_pb2 as op
from tests.integration.test_console import SLEEPER
from tests.integration.test_logs_events import ROOT, cli_env
from tests.waiting import wait_for

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")]


class Tmux:
    def __init__(self, socket: Path) -> None:
        self.socket = socket

    def run(self, *args: str) -> str:
        return subprocess.run(["tmux", "-S", str(self.socket), *args], capture_output=True, text=True,
                              timeout=10).stdout

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "top")

    def focused(self) -> str:
        """The panel title drawn in reverse video (the focus), read from the escapes."""
        for line in self.run("capture-pane", "-p", "-e", "-t", "top").splitlines():
            if "\x1b[7m" in line:
                return line.split("\x1b[7m", 1)[1].split("\x1b[", 1)[0].strip()
        return ""


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    t = Tmux(tmp_path / "tmux.sock")
    yield t
    # Our own server, on our own socket: ends the session and whatever runs in it.
    t.run("kill-server")


def test_top_under_tmux(make_cluster, busybox_image, tmux: Tmux) -> None:
    cluster = make_cluster(agents=2, zones=["a", "b"])
    env = {**cli_env(cluster), "TERM": "xterm-256color"}
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items()
                       if k.startswith("SHOAL_") or k in ("PYTHONPATH", "TERM", "PATH"))
    top = f"{shlex.quote(sys.executable)} -m shoalctl top --interval 0.5"
    command = f"env {exports} {top}; echo TOP-EXITED $?; sleep 60"
    tmux.run("new-session", "-d", "-s", "top", "-x", "150", "-y", "45", "-c", str(ROOT), command)
    wait_for(lambda: "2/2 nodes connected" in tmux.screen(), 30, "top showing both nodes")
    screen = tmux.screen()
    assert "agent-1" in screen and "agent-2" in screen and "░" in screen, screen

    cluster.operator.RegisterTaskDefinition(op.RegisterTaskDefinitionRequest(json=json.dumps(SLEEPER)))
    cluster.operator.CreateService(op.CreateServiceRequest(cluster="default", service_name="web",
                                                           task_definition="sleeper", desired_count=2))
    wait_for(lambda: any(" web " in line and "2/2" in line for line in tmux.screen().splitlines()), 60,
             "web at 2/2 in top")
    wait_for(lambda: "has reached a steady state" in tmux.screen(), 30, "the service's event in top")

    assert tmux.focused().startswith("nodes"), tmux.focused()
    tmux.run("send-keys", "-t", "top", "Tab")
    wait_for(lambda: tmux.focused() == "services (1)", 10, "Tab moving the focus to the services panel")
    tmux.run("send-keys", "-t", "top", "q")
    wait_for(lambda: "TOP-EXITED 0" in tmux.screen(), 10, "top to quit on q with status 0")

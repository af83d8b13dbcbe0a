"""The node proxy does not outlive its agent: an agent killed -9 (no chance to stop
anything) takes its HAProxy with it, through the watchdog beside the master."""

from __future__ import annotations

import shutil

import pytest

from agent.proxy.watchdog import live_as
from tests.waiting import wait_for


@pytest.fixture(scope="module", autouse=True)
def haproxy_installed() -> None:
    if not shutil.which("haproxy"):
        pytest.fail("haproxy is not installed; run scripts/bootstrap.sh", pytrace=False)


def test_a_killed_agents_haproxy_exits(make_cluster) -> None:
    cluster = make_cluster(agents=1, proxy=True)
    workdir = cluster.agent(1).state_dir / "proxy"
    pid = wait_for(lambda: (workdir / "haproxy.pid").exists() and int((workdir / "haproxy.pid").read_text().split()[0]),
                   30, "the agent's haproxy to write its pid file")
    config = str(workdir / "haproxy.cfg").encode()
    assert live_as(pid, config), "the agent's haproxy runs"
    cluster.kill_agent(1)
    cluster.agent(1).proc.wait(10)
    wait_for(lambda: not live_as(pid, config), 10, f"haproxy {pid} to exit after its agent was killed -9")
    # The watchdog says why only once the master has gone, so its line may trail the exit.
    log = workdir / "haproxy.log"
    wait_for(lambda: "the agent is gone; stopped haproxy" in log.read_text(), 10,
             f"the watchdog to say it stopped haproxy {pid} (log: {log})")

"""One agent of a local cluster: its node name ``agent-N``, zone, state dir, log and process,
and how it is launched (directly, or inside a lab host's network namespace)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from agent.proxy.process import HAProxyProcess
from shoal.v1 import operator_pb2 as op
from shoal.v1 import operator_pb2_grpc
from shoal.waiting import wait_until
from shoalctl.local import procs
from shoalctl.local.errors import ClusterError
from shoalctl.local.statefiles import CLUSTER, read_node_id


@dataclass
class AgentProcess(procs.Supervised):
    """One agent: node name ``agent-N``, its own state dir and log."""

    number: int
    name: str
    zone: str
    state_dir: Path
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    dynamic_ports: tuple[int, int] | None = None

    @property
    def node_id(self) -> str | None:
        """The id the control plane gave this node (from its node.json), once registered."""
        return read_node_id(self.state_dir)


# What an agent is launched under and with: (argv prefix such as ["ip", "netns", "exec",
# NS], extra agent flags such as ["--address", IP, "--docker-host", URL]).
AgentLaunch = Callable[[AgentProcess], tuple[list[str], list[str]]]


def agent_loopback(number: int) -> str:
    """agent-N's own loopback address when agents share a host: 127.0.0.N+1."""
    if not 1 <= number <= 253:
        raise ClusterError(f"agent-{number}: only agents 1-253 get a loopback address of their own")
    return f"127.0.0.{number + 1}"


def agent_number(name_or_number: str | int) -> int:
    """N of ``agent-N`` (or N itself); KeyError for anything else."""
    if isinstance(name_or_number, int):
        return name_or_number
    text = name_or_number.removeprefix("agent-")
    if not text.isdigit():
        raise KeyError(f"{name_or_number!r} is not an agent name (agent-N)")
    return int(text)


def wait_connected(operator: operator_pb2_grpc.OperatorStub, agents: list[AgentProcess], count: int,
                   timeout: float, logs_dir: Path) -> list[str]:
    """Waits until ``count`` nodes are ACTIVE and connected; returns their ARNs. Raises
    ClusterError naming the agents that did not come up, with their log tails."""
    connected: list[str] = []

    def ready() -> bool:
        nonlocal connected
        arns = operator.ListContainerInstances(op.ListContainerInstancesRequest(cluster=CLUSTER), timeout=5).arns
        if len(arns) < count:
            return False
        described = operator.DescribeContainerInstances(
            op.DescribeContainerInstancesRequest(cluster=CLUSTER, container_instances=list(arns)), timeout=5
        )
        connected = [n.container_instance_arn for n in described.container_instances
                     if n.agent_connected and n.status == "ACTIVE"]
        return len(connected) >= count

    if not wait_until(ready, timeout, interval=0.25):
        detail = "".join(
            f"\n--- {a.name} exited (code {a.proc.returncode if a.proc else None}); "
            f"{a.log_path}:\n{procs.log_tail(a.log_path, 15)}"
            for a in agents if not a.running
        )
        raise ClusterError(f"{len(connected)} of {count} agents connected after {timeout}s "
                           f"(logs in {logs_dir}){detail}")
    return connected


def stop_proxies(state_dir: Path) -> list[str]:
    """Stops the node proxies that agents killed outright left running (found by the pid
    files in their state dirs); one sentence per proxy stopped."""
    return [f"stopped the node proxy {workdir.parent.name} left behind"
            for workdir in sorted((state_dir / "agents").glob("agent-*/proxy"))
            if HAProxyProcess(workdir).stop_leftover()]

"""What each agent of a local cluster is started with: its address plan — a loopback address
of its own when the agents share this host (so every node's proxy listeners can take the same
port), a block of host ports of its own for dynamic port mappings — and the rest of its
command line (endpoints, node proxy and DNS responder, the cluster's policy flags)."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

from shoalctl.local.agents import AgentProcess, agent_loopback
from shoalctl.local.ports import pick_port_block
from shoalctl.local.statefiles import CLUSTER


@dataclass(frozen=True)
class AgentFlags:
    """What every agent of one cluster is started with."""

    endpoints: str
    runtime: str
    gc_delay: float
    log_level: str
    # Each agent runs the node proxy (HAProxy).
    proxy: bool = False
    # The agents share this host (no lab namespace): each gets its own loopback address.
    shared_host: bool = True
    # With the proxy on a shared host: the DNS responder too, its port 53 shared.
    dns: bool = False
    # The control plane's --allow-* flags: each node enforces the cluster's policy too.
    policy: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)


def plan_ports(agent: AgentProcess, others: list[AgentProcess], span: int) -> None:
    """Gives ``agent`` its block of dynamic host ports, once (a restarted agent keeps it)."""
    if span and agent.dynamic_ports is None:
        taken = [a.dynamic_ports for a in others if a.dynamic_ports]
        agent.dynamic_ports = pick_port_block(span, taken)


def node_args(agent: AgentProcess, flags: AgentFlags) -> list[str]:
    """The flags that differ from one agent to the next: its ports and its own address."""
    out = []
    if agent.dynamic_ports:
        out += ["--dynamic-ports", f"{agent.dynamic_ports[0]}-{agent.dynamic_ports[1]}"]
    if flags.proxy:
        out.append("--proxy")
        if flags.shared_host:
            address = agent_loopback(agent.number)
            out += ["--address", address, "--metrics-address", address]
            if flags.dns:
                out += ["--dns", "--dns-shared"]
    return out


def argv(agent: AgentProcess, flags: AgentFlags, prefix: list[str], launch_args: list[str]) -> list[str]:
    """agent-N's whole command line; ``prefix`` and ``launch_args`` come from an AgentLaunch."""
    return [
        *prefix,
        sys.executable, "-m", "agent",
        "--endpoint", flags.endpoints,
        "--cluster", CLUSTER,
        "--state-dir", str(agent.state_dir),
        "--name", agent.name,
        "--zone", agent.zone,
        "--instance-type", "local",
        "--metrics-port", "0",
        "--runtime", flags.runtime,
        "--gc-delay", str(flags.gc_delay),
        "--log-level", flags.log_level,
        *node_args(agent, flags),
        *launch_args,
        *flags.policy,
        *flags.extra,
    ]

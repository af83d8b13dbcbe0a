"""Finding a local cluster's processes and nodes by name: agent-N by name or number, a
node id's agent, a process's pid, and whether the cluster's core (etcd, the control plane)
is still there. A base of LocalCluster, over the parts it holds."""

from __future__ import annotations

from shoalctl.local.agents import AgentProcess, agent_number
from shoalctl.local.errors import ClusterError
from shoalctl.local.etcdset import LocalEtcd
from shoalctl.local.prometheus import PrometheusProcess
from shoalctl.local.replicas import Replicas


class ClusterLookup:
    agents: dict[int, AgentProcess]
    etcd_set: LocalEtcd
    cp: Replicas
    prometheus: PrometheusProcess | None

    def agent(self, name_or_number: str | int) -> AgentProcess:
        number = agent_number(name_or_number)
        if number not in self.agents:
            raise KeyError(f"no agent {name_or_number!r} (have {sorted(self.agents)})")
        return self.agents[number]

    def core_exited(self) -> list[str]:
        """Which of etcd and the control plane (that this object started) have exited:
        without them the cluster is gone, whereas agents may come and go on purpose."""
        gone = []
        if self.etcd_set.exited():
            gone.append("etcd")
        first = self.cp.procs.get(1)
        if first is not None and first.poll() is not None:
            gone.append("the control plane")
        return gone

    def node_ids(self) -> set[str]:
        """The node ids of this cluster's agents that have registered."""
        return {nid for a in self.agents.values() if (nid := a.node_id)}

    def node_names(self) -> dict[str, str]:
        """node id -> agent name (agent-N), for agents that have registered."""
        return {nid: a.name for a in self.agents.values() if (nid := a.node_id)}

    def agent_index(self, node_id: str) -> int:
        """The number N of the agent (agent-N) that is node ``node_id``: what
        ``kill_agent``/``start_agent`` take."""
        for number, a in self.agents.items():
            if a.node_id == node_id:
                return number
        raise KeyError(f"no agent of this cluster is node {node_id!r}")

    def pid_of(self, name: str) -> int:
        """The pid of "etcd", "controlplane", "controlplane-N", "prometheus" or "agent-N"."""
        pid: int | None
        replicas = self.cp.procs
        if name == "etcd":
            pid = self.etcd_set.first.pid if self.etcd_set.first else None
        elif name == "controlplane":
            pid = replicas[1].pid if 1 in replicas else None
        elif name.startswith("controlplane-") and name[13:].isdigit() and int(name[13:]) in replicas:
            pid = replicas[int(name[13:])].pid
        elif name == "prometheus":
            pid = self.prometheus.pid if self.prometheus else None
        else:
            pid = self.agent(name).pid
        if pid is None:
            raise ClusterError(f"{name} is not running")
        return pid

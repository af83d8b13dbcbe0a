"""Where chaos finds the processes it hurts. ``RecordedTarget`` reads a cluster another
process started (`shoal up` / `shoal lab up`: pids.json, lab.json, agents' node.json in
its state dir); ``LiveTarget`` drives a LocalCluster (and Lab) object this process owns,
so its bookkeeping stays true (the tests use it).

Nodes are named by agent name (agent-N), node id, hostname or container instance ARN.
"""

from __future__ import annotations

import abc
import contextlib
import json
import signal
from pathlib import Path

import psutil

from shoal import keys
from shoal.store.base import StoreError
from shoal.store.etcd import EtcdStore
from shoalctl.lab.lab import RecordedLab
from shoalctl.local import procs, statefiles
from shoalctl.local.cluster import ClusterError, LocalCluster


class Target(abc.ABC):
    state_dir: Path

    @abc.abstractmethod
    def agent_name(self, node: str) -> str:
        """agent-N for any way of naming the node; ClusterError if it is not ours."""

    @abc.abstractmethod
    def signal_agent(self, name: str, sig: signal.Signals) -> int:
        """Sends ``sig`` to the agent's process; returns its pid."""

    @abc.abstractmethod
    def start_agent(self, name: str) -> int:
        """Starts a stopped agent again, as it was; returns its pid."""

    @abc.abstractmethod
    def partition(self, name: str) -> str: ...

    @abc.abstractmethod
    def heal(self, name: str) -> str: ...

    @abc.abstractmethod
    def restart_docker(self, name: str, down_for: float) -> str: ...

    @abc.abstractmethod
    def replica_names(self) -> list[str]: ...

    @abc.abstractmethod
    def kill_replica(self, name: str) -> int: ...

    @abc.abstractmethod
    def start_replica(self, name: str) -> int: ...

    @abc.abstractmethod
    def etcd_store(self) -> EtcdStore:
        """A store on the cluster's etcd, with its client certificate; the caller closes it."""

    @abc.abstractmethod
    def docker_host(self, name: str) -> str | None:
        """The docker socket URL the agent uses, None for the default."""

    def node_ids(self) -> dict[str, str]:
        """agent name -> node id, for agents that registered."""
        out = {}
        for d in sorted((self.state_dir / "agents").glob("agent-*")):
            with contextlib.suppress(OSError, ValueError):
                node_id = json.loads((d / "node.json").read_text()).get("node_id")
                if node_id:
                    out[d.name] = str(node_id)
        return out

    def _resolve(self, node: str, names: list[str]) -> str:
        if node in names:
            return node
        if node.isdigit() and f"agent-{node}" in names:
            return f"agent-{node}"
        for name, node_id in self.node_ids().items():
            if node == node_id or node.endswith("/" + node_id):
                return name
        raise ClusterError(f"no agent of the cluster in {self.state_dir} is node {node!r} "
                           f"(agents: {', '.join(sorted(names)) or 'none'})")

    def prepare_restart(self, name: str) -> None:
        """Called before a process is killed that chaos will start again."""
        return None

    def leader_name(self) -> str | None:
        """The replica name in the controllers' leader key, or None."""
        store = self.etcd_store()
        try:
            kv = store.get(keys.leader("controllers"))
        except StoreError as exc:
            raise ClusterError(f"cannot read the leader from etcd at {store.current_endpoint}: {exc}") from exc
        finally:
            store.close()
        return kv.value.decode(errors="replace") if kv is not None else None


class RecordedTarget(Target):
    def __init__(self, state_dir: Path | str) -> None:
        self.state_dir = Path(state_dir).expanduser().resolve()
        self.records = {r.name: r for r in statefiles.recorded(self.state_dir)}
        if not self.records:
            raise ClusterError(f"no cluster recorded in {self.state_dir} (no pids.json): "
                               "point --state-dir at a `shoal up`/`shoal lab up` state dir")
        try:
            self.config = json.loads(statefiles.config_path(self.state_dir).read_text())
        except (OSError, ValueError):
            self.config = {}
        self._launches: dict[str, dict] = {}

    def _agents(self) -> list[str]:
        return [n for n, r in self.records.items() if r.role == "agent"]

    def agent_name(self, node: str) -> str:
        return self._resolve(node, self._agents())

    def _process(self, name: str) -> psutil.Process:
        rec = self.records.get(name)
        proc = rec.process() if rec else None
        if proc is None:
            raise ClusterError(f"{name} is not running")
        return proc

    def signal_agent(self, name: str, sig: signal.Signals) -> int:
        proc = self._process(name)
        if sig in (signal.SIGSTOP, signal.SIGCONT):
            procs.send(proc.pid, sig)
        else:
            # Our daemons lead their own process group: a crash takes what they spawned.
            with contextlib.suppress(ProcessLookupError):
                procs._signal_group(proc.pid, sig)
            with contextlib.suppress(psutil.Error):
                proc.wait(10)
        return proc.pid

    def _respawn(self, name: str) -> int:
        saved = self._saved_launch(name)
        if saved is None:
            raise ClusterError(f"cannot start {name} again: chaos did not see how it was started")
        proc = procs.spawn(saved["argv"], Path(saved["log"]), env=saved["env"])
        self._update_record(name, proc.pid)
        return proc.pid

    def start_agent(self, name: str) -> int:
        return self._respawn(name)

    def start_replica(self, name: str) -> int:
        return self._respawn(name)

    def prepare_restart(self, name: str) -> None:
        """Keeps the process' command line and environment (before it is killed), so it can
        be started again exactly as it was."""
        proc = self._process(name)
        with contextlib.suppress(psutil.Error):
            self._launches[name] = {"argv": self._netns_prefix(name) + proc.cmdline(), "env": proc.environ(),
                                    "log": self.records[name].log or str(self.state_dir / "logs" / f"{name}.log")}

    def _netns_prefix(self, name: str) -> list[str]:
        """A lab host's agent runs under `ip netns exec`, which execs into it: its command
        line no longer shows the namespace, the lab record does."""
        if self.records[name].role != "agent":
            return []
        try:
            host = self._lab().network.host(name)
        except (ClusterError, KeyError):
            return []
        return ["ip", "netns", "exec", host.netns]

    def _saved_launch(self, name: str) -> dict | None:
        return self._launches.get(name)

    def _update_record(self, name: str, pid: int) -> None:
        path = statefiles.pids_path(self.state_dir)
        data = json.loads(path.read_text())
        fresh = procs.ProcRecord.of(self.records[name].role, name, pid, self.records[name].log)
        data["processes"] = [fresh.to_json() if p.get("name") == name else p for p in data.get("processes", [])]
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2) + "\n")
        tmp.replace(path)
        self.records[name] = fresh

    def _lab(self) -> RecordedLab:
        return RecordedLab(self.state_dir)

    def partition(self, name: str) -> str:
        host = self._lab().network.partition(name)
        return f"cut {name}'s link ({host.veth} down, {host.address} unreachable)"

    def heal(self, name: str) -> str:
        host = self._lab().network.heal(name)
        return f"restored {name}'s link ({host.veth} up)"

    def restart_docker(self, name: str, down_for: float) -> str:
        return self._lab().restart_docker(int(name.removeprefix("agent-")), down_for)

    def replica_names(self) -> list[str]:
        return [n for n, r in self.records.items() if r.role == "controlplane"]

    def kill_replica(self, name: str) -> int:
        return self.signal_agent(name, signal.SIGKILL)

    def etcd_store(self) -> EtcdStore:
        url = self.config.get("etcd")
        if not url:
            raise ClusterError(f"no etcd URL in {statefiles.config_path(self.state_dir)}")
        tls = [self.config.get(k) for k in ("etcd_ca", "etcd_cert", "etcd_key")]
        return EtcdStore(str(url), timeout=5, ca_cert=tls[0], cert_cert=tls[1], cert_key=tls[2])

    def docker_host(self, name: str) -> str | None:
        with contextlib.suppress(ClusterError):
            lab = self._lab()
            number = int(name.removeprefix("agent-"))
            if number in lab.dockerds:
                return str(lab.dockerds[number]["socket"])
        return None


class LiveTarget(Target):
    """A cluster (and lab) this process started."""

    def __init__(self, cluster: LocalCluster, lab: object | None = None) -> None:
        self.cluster = cluster
        self.lab = lab
        self.state_dir = cluster.state_dir

    def agent_name(self, node: str) -> str:
        return self._resolve(node, [a.name for a in self.cluster.agents.values()])

    def signal_agent(self, name: str, sig: signal.Signals) -> int:
        pid = self.cluster.pid_of(name)
        if sig == signal.SIGKILL:
            self.cluster.kill_agent(name)  # type: ignore[arg-type]
        else:
            procs.send(pid, sig)
        return pid

    def start_agent(self, name: str) -> int:
        agent = self.cluster.start_agent(self.cluster.agent(name).number)
        return agent.pid or 0

    def _need_lab(self):  # noqa: ANN202
        if self.lab is None:
            raise ClusterError("partitions and private dockerds need a lab (shoalctl.lab.lab.Lab)")
        return self.lab

    def partition(self, name: str) -> str:
        host = self._need_lab().partition(name)
        return f"cut {name}'s link ({host.veth} down, {host.address} unreachable)"

    def heal(self, name: str) -> str:
        host = self._need_lab().heal(name)
        return f"restored {name}'s link ({host.veth} up)"

    def restart_docker(self, name: str, down_for: float) -> str:
        return self._need_lab().restart_docker(int(name.removeprefix("agent-")), down_for)

    def replica_names(self) -> list[str]:
        return [self.cluster.replica_name(i) for i in range(1, self.cluster.replica_count + 1)]

    def _replica_number(self, name: str) -> int:
        for i in range(1, self.cluster.replica_count + 1):
            if self.cluster.replica_name(i) == name:
                return i
        raise ClusterError(f"no replica {name!r}")

    def kill_replica(self, name: str) -> int:
        i = self._replica_number(name)
        pid = self.cluster.replicas[i].pid
        self.cluster.kill_replica(i)
        return pid

    def start_replica(self, name: str) -> int:
        i = self._replica_number(name)
        self.cluster.start_replica(i)
        return self.cluster.replicas[i].pid

    def etcd_store(self) -> EtcdStore:
        return self.cluster.etcd_store(timeout=5)

    def docker_host(self, name: str) -> str | None:
        dockerds = getattr(self.lab, "dockerds", {}) if self.lab is not None else {}
        d = dockerds.get(int(name.removeprefix("agent-")))
        return d.socket_url if d is not None else None

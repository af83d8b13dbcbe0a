"""A whole Shoal cluster on this machine: etcd, one control plane, N agents (each its own
process and node, sharing the local dockerd) and, when installed, Prometheus scraping them.
`shoal up` runs one; the integration tests run one per test on free ports.

Layout of ``state_dir``::

    etcd/                   etcd's data
    agents/agent-N/         each agent's state dir (its node.json identity, tls/ certificate)
    pki/                    master key (0600), admin identity, local join token; etcd stays
                            plaintext on loopback: only this machine's processes reach it
    prometheus/             prometheus.yml and its TSDB
    logs/*.log              one log per process
    pids.json               every process started, so `shoal down` (another process) can
                            stop them and remove their containers
    config.json             where the CLI finds this cluster (see ``config_path``)
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

import shoal
from autoscaler import localup
from shoal import logs
from shoal.endpoints import FailoverStub
from shoal.local import procs
from shoal.local.etcd import EtcdProcess, client_urls, start_etcd_cluster
from shoal.local.prometheus import PrometheusProcess, available, render_config
from shoal.netutil import free_port
from shoal.security import pki
from shoal.security.channels import ClientTLS, client_channel
from shoal.v1 import operator_pb2 as op
from shoal.v1 import operator_pb2_grpc

log = logging.getLogger(__name__)

CLUSTER = "default"
DEFAULT_ZONES = ("zone-a", "zone-b", "zone-c")
HOST = "127.0.0.1"
# Below Linux's ephemeral range (32768-60999), where outgoing connections take ports.
_DYNAMIC_PORTS_AREA = (20000, 32700)
# The daemons run from the same source tree as this module, installed or not.
_SOURCE_ROOT = Path(shoal.__file__).resolve().parent.parent
# Stop order: what depends on the others first, etcd last.
_STOP_ORDER = ("autoscaler", "prometheus", "agent", "controlplane", "etcd")


class ClusterError(Exception):
    """The cluster could not start (or stop); the message says why and what to do."""


def config_path(state_dir: Path | str) -> Path:
    """``<state_dir>/config.json``, written by ``LocalCluster.start`` and removed by
    ``stop``/``stop_recorded``. Keys (all strings unless said):

    - ``endpoint``: the control plane's gRPC HOST:PORT (what ``--endpoint`` takes)
    - ``metrics``: the control plane's Prometheus metrics URL (``http://H:P/metrics``)
    - ``sd``: its Prometheus HTTP service discovery URL (``http://H:P/sd``)
    - ``prometheus``: Prometheus' base URL, or null when it is not running
    - ``etcd``: etcd's client URL
    - ``cluster``: the cluster the agents joined ("default")
    - ``state_dir``: the absolute state dir
    - ``ca``, ``cert``, ``key``: the cluster CA bundle and the admin identity the CLI
      authenticates with (absent for a cluster started with --insecure)
    """
    return Path(state_dir) / "config.json"


def pids_path(state_dir: Path | str) -> Path:
    """``<state_dir>/pids.json``: {"version": 1, "cluster": ..., "processes": [ProcRecord...]}."""
    return Path(state_dir) / "pids.json"


@dataclass
class AgentProcess:
    """One agent: node name ``agent-N``, its own state dir and log."""

    number: int
    name: str
    zone: str
    state_dir: Path
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    dynamic_ports: tuple[int, int] | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def node_id(self) -> str | None:
        """The id the control plane gave this node (from its node.json), once registered."""
        return _read_node_id(self.state_dir)


# What an agent is launched under and with: (argv prefix such as ["ip", "netns", "exec",
# NS], extra agent flags such as ["--address", IP, "--docker-host", URL]).
AgentLaunch = Callable[["AgentProcess"], tuple[list[str], list[str]]]


class LocalCluster:
    """Start with ``start()`` (or ``with LocalCluster(...) as c``); ``stop()`` stops every
    process and removes every container of this cluster's nodes. Port arguments of 0 pick
    a free port; agents are numbered from 1 (``agents[1].name == "agent-1"``)."""

    def __init__(
        self,
        state_dir: Path,
        agents: int = 3,
        zones: list[str] | None = None,
        api_port: int = 7400,
        metrics_port: int = 7401,
        prometheus_port: int = 9090,
        lease_ttl: float = 5,
        runtime: str = "docker",
        etcd_client_port: int = 0,
        gc_delay: float = 30,
        extra_agent_args: list[str] | None = None,
        prometheus: bool = True,
        autoscaler: bool = True,
        scrape_interval: float = 5.0,
        extra_controlplane_args: list[str] | None = None,
        log_level: str = "INFO",
        dynamic_port_span: int = 100,
        ecs_port: int | None = None,
        etcd_members: int = 1,
        replicas: int = 1,
        host: str = HOST,
        agent_launch: AgentLaunch | None = None,
        replica_etcd: dict[int, list[int]] | None = None,
    ) -> None:
        """``dynamic_port_span``: how many host ports each agent gets for dynamic port
        mappings, in a block of its own (0: leave the scheduler's default range).
        ``ecs_port``: serve the ECS-compatible HTTP API there (0: a free port; None: off).
        ``etcd_members``: 1, or 3/5 for an etcd cluster on loopback. ``replicas``: how many
        control-plane processes (1 uses api_port/metrics_port; the others free ports); agents
        and config.json get all their endpoints. ``host``: the address the control plane
        listens on and is reached at (a lab's bridge address). ``agent_launch``: see
        AgentLaunch (the lab runs each agent in its own network namespace with it).
        ``replica_etcd``: replica -> the etcd members (1-based) it is told about, for
        every replica not named all of them; killing those members then cuts that
        replica off from etcd while the others keep quorum."""
        if etcd_members not in (1, 3, 5):
            raise ValueError(f"etcd_members must be 1, 3 or 5, got {etcd_members}")
        if not 1 <= replicas <= 9:
            raise ValueError(f"replicas must be 1-9, got {replicas}")
        if agents < 0:
            raise ValueError(f"agents must be 0 or more, got {agents}")
        if runtime not in ("docker", "hollow"):
            raise ValueError(f"runtime must be 'docker' or 'hollow', got {runtime!r}")
        zones = [z.strip() for z in (zones or DEFAULT_ZONES) if z.strip()]
        if not zones:
            raise ValueError("zones must name at least one zone")
        self.state_dir = Path(state_dir).resolve()
        self.agent_count = agents
        self.zones = zones
        self.api_port = api_port
        self.metrics_port = metrics_port
        self.prometheus_port = prometheus_port
        self.lease_ttl = lease_ttl
        self.runtime = runtime
        self.etcd_client_port = etcd_client_port
        self.gc_delay = gc_delay
        self.extra_agent_args = list(extra_agent_args or [])
        self.extra_controlplane_args = list(extra_controlplane_args or [])
        self.want_prometheus = prometheus
        # Runs only beside Prometheus: it scales on Prometheus' numbers.
        self.want_autoscaler = autoscaler
        self.autoscaler: subprocess.Popen[bytes] | None = None
        self.scrape_interval = scrape_interval
        self.log_level = log_level
        self.dynamic_port_span = dynamic_port_span if runtime == "docker" else 0
        self.ecs_port = ecs_port
        self.etcd_member_count = etcd_members
        self.replica_count = replicas
        self.host = host
        self.agent_launch = agent_launch
        self.replica_etcd = dict(replica_etcd or {})
        for i, members in self.replica_etcd.items():
            if not 1 <= i <= replicas or not members or not all(1 <= m <= etcd_members for m in members):
                raise ValueError(f"replica_etcd: replica {i} -> members {members} is outside "
                                 f"{replicas} replicas / {etcd_members} etcd members")
        self.etcd_members: list[EtcdProcess] = []
        # Replica i (from 1) -> process; (api, metrics) ports. Replica 1 is also
        # ``self.controlplane`` and uses api_port/metrics_port.
        self.replicas: dict[int, subprocess.Popen[bytes]] = {}
        self.replica_ports: dict[int, tuple[int, int]] = {}
        self.logs_dir = self.state_dir / "logs"
        self.etcd: EtcdProcess | None = None
        self.controlplane: subprocess.Popen[bytes] | None = None
        self.prometheus: PrometheusProcess | None = None
        self.agents: dict[int, AgentProcess] = {}
        self._channel: grpc.Channel | None = None
        self._join_token: str | None = None
        self._operator: operator_pb2_grpc.OperatorStub | None = None

    # --- where things are ----------------------------------------------------------

    @property
    def endpoint(self) -> str:
        """The (first) control plane replica's gRPC HOST:PORT."""
        return f"{self.host}:{self.api_port}"

    @property
    def endpoints(self) -> list[str]:
        """Every replica's gRPC HOST:PORT, replica 1 first."""
        return [f"{self.host}:{self._ports_of(i)[0]}" for i in range(1, self.replica_count + 1)]

    @property
    def endpoint_list(self) -> str:
        """``endpoints`` comma-separated: what agents' and the CLI's --endpoint take."""
        return ",".join(self.endpoints)

    @property
    def metrics_url(self) -> str:
        return f"http://{self.host}:{self.metrics_port}/metrics"

    @property
    def sd_url(self) -> str:
        return f"http://{self.host}:{self.metrics_port}/sd"

    @property
    def prometheus_url(self) -> str | None:
        return self.prometheus.url if self.prometheus is not None else None

    @property
    def etcd_url(self) -> str | None:
        """etcd's client URL, or every member's comma-separated."""
        if self.etcd_members:
            return client_urls(self.etcd_members)
        return self.etcd.client_url if self.etcd is not None else None

    @property
    def secure(self) -> bool:
        """TLS and authentication on: unless --insecure is among the control plane's args."""
        return "--insecure" not in self.extra_controlplane_args

    @property
    def pki_dir(self) -> Path:
        """The replicas' --pki-dir: master key, and the admin identity the CLI uses."""
        return self.state_dir / "pki"

    def admin_tls(self) -> ClientTLS | None:
        return ClientTLS.from_dir(self.pki_dir, "admin") if self.secure else None

    def _open_channel(self, target: str) -> grpc.Channel:
        """Every channel this object opens to a replica is made here."""
        return client_channel(target, self.admin_tls())

    def security_env(self) -> dict[str, str]:
        """What agents and the autoscaler get in their environment to authenticate: a join
        token (never on a command line, where `ps` shows it) and the admin identity."""
        if not self.secure:
            return {"SHOAL_INSECURE": "1"}
        if self._join_token is None:
            raise ClusterError("start the control plane before agents: the join token comes with it")
        return {"SHOAL_JOIN_TOKEN": self._join_token, "SHOAL_CA": str(self.pki_dir / "ca.crt"),
                "SHOAL_CERT": str(self.pki_dir / "admin.crt"), "SHOAL_KEY": str(self.pki_dir / "admin.key")}

    def _bootstrap_security(self) -> None:
        """The CA, admin identity and join token, made before any replica starts (so several
        replicas starting at once find one master key; see shoal.security.pki)."""
        if not self.secure:
            return
        from controlplane.store.etcd import EtcdStore

        store = EtcdStore(self.etcd_url or "", timeout=10)
        try:
            self._join_token = pki.bootstrap_local(store, self.pki_dir)
        except (pki.PkiError, OSError) as exc:
            raise ClusterError(f"cannot set up the cluster CA in {self.pki_dir}: {exc}") from exc
        finally:
            store.close()

    @property
    def channel(self) -> grpc.Channel:
        if self._channel is None:
            self._channel = self._open_channel(self.endpoint)
        return self._channel

    @property
    def operator(self) -> operator_pb2_grpc.OperatorStub:
        """An Operator stub on this cluster's control plane; with several replicas, one that
        fails over between them (shoal.endpoints.FailoverStub)."""
        if self._operator is None:
            if self.replica_count > 1:
                self._operator = FailoverStub(self.endpoints, self._open_channel,  # type: ignore[assignment]
                                              operator_pb2_grpc.OperatorStub)
            else:
                self._operator = operator_pb2_grpc.OperatorStub(self.channel)
        return self._operator

    def failover_operator(self, timeout: float = 10, endpoints: list[str] | None = None) -> FailoverStub:
        """A new Operator stub over every replica (or just ``endpoints``), failing over
        between them, each call with ``timeout`` unless it gives its own; the caller closes it."""
        return FailoverStub(endpoints or self.endpoints, self._open_channel, operator_pb2_grpc.OperatorStub,
                            patience=max(timeout, 10), timeout=timeout)

    def agent(self, name_or_number: str | int) -> AgentProcess:
        number = _agent_number(name_or_number)
        if number not in self.agents:
            raise KeyError(f"no agent {name_or_number!r} (have {sorted(self.agents)})")
        return self.agents[number]

    def core_exited(self) -> list[str]:
        """Which of etcd and the control plane (that this object started) have exited:
        without them the cluster is gone, whereas agents may come and go on purpose."""
        gone = []
        if self.etcd is not None and self.etcd.pid is not None and not self.etcd.running:
            gone.append("etcd")
        if self.controlplane is not None and self.controlplane.poll() is not None:
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

    # --- whole cluster -------------------------------------------------------------

    def start(self, timeout: float = 120, wait_for_agents: bool = True) -> None:
        """Starts etcd, the control plane (returns once its gRPC health is SERVING), the
        agents (and, with ``wait_for_agents``, waits until all are connected), and
        Prometheus if wanted and installed. On any failure stops what it started and raises
        ClusterError saying why."""
        deadline = time.monotonic() + timeout
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        _refuse_if_running(self.state_dir)
        self._pick_ports()
        try:
            self._start_etcd(max(5.0, deadline - time.monotonic()))
            self.start_control_plane(timeout=max(5.0, deadline - time.monotonic()))
            for number in range(1, self.agent_count + 1):
                self.start_agent(number)
            if self.want_prometheus and available():
                self._start_prometheus(max(5.0, deadline - time.monotonic()))
                if self.want_autoscaler:
                    self._start_autoscaler()
            elif self.want_prometheus:
                log.info("prometheus is not installed; starting without it")
            if wait_for_agents and self.agent_count:
                self.wait_for_agents(self.agent_count, max(5.0, deadline - time.monotonic()))
        except BaseException as exc:
            self.stop()
            if isinstance(exc, ClusterError | KeyboardInterrupt):
                raise
            raise ClusterError(str(exc)) from exc
        self._write_config()
        log.info("local cluster up", extra=logs.kv(endpoint=self.endpoint, agents=len(self.agents),
                                                    prometheus=self.prometheus_url, state_dir=self.state_dir))

    def stop(self, timeout: float = 10, remove_containers: bool = True) -> list[str]:
        """Stops everything this object started (agents before the control plane before
        etcd), then removes the containers of this cluster's nodes. Safe to call twice and
        after a failed start. Returns one sentence per step."""
        done: list[str] = []
        node_ids = self.node_ids()
        if self.autoscaler is not None:
            done.append(procs.stop_popen(self.autoscaler, "autoscaler", timeout))
            done += localup.stop_nodes(self.state_dir, remove_containers and self.runtime == "docker")
        if self.prometheus is not None:
            done.append(self.prometheus.stop(timeout))
        for agent in self.agents.values():
            if agent.proc is not None:
                done.append(procs.stop_popen(agent.proc, agent.name, timeout))
        for i, replica in sorted(self.replicas.items()):
            done.append(procs.stop_popen(replica, self.replica_name(i), timeout))
        for member in self.etcd_members or ([self.etcd] if self.etcd is not None else []):
            member.stop(timeout)
            done.append(f"etcd {member.name} stopped")
        if self._operator is not None and hasattr(self._operator, "close"):
            self._operator.close()
        if self._channel is not None:
            self._channel.close()
        self._channel, self._operator = None, None
        if remove_containers and self.runtime == "docker":
            done.append(remove_node_containers(node_ids))
        with contextlib.suppress(FileNotFoundError):
            pids_path(self.state_dir).unlink()
        with contextlib.suppress(FileNotFoundError):
            config_path(self.state_dir).unlink()
        for line in done:
            log.info(line)
        return done

    def wait_for_agents(self, count: int, timeout: float = 60) -> list[str]:
        """Waits until ``count`` nodes are ACTIVE and connected; returns their ARNs. Raises
        ClusterError naming the agents that did not come up, with their log tails."""
        connected: list[str] = []

        def ready() -> bool:
            nonlocal connected
            arns = self.operator.ListContainerInstances(
                op.ListContainerInstancesRequest(cluster=CLUSTER), timeout=5
            ).arns
            if len(arns) < count:
                return False
            described = self.operator.DescribeContainerInstances(
                op.DescribeContainerInstancesRequest(cluster=CLUSTER, container_instances=list(arns)), timeout=5
            )
            connected = [n.container_instance_arn for n in described.container_instances
                         if n.agent_connected and n.status == "ACTIVE"]
            return len(connected) >= count

        if not procs.wait_until(ready, timeout, interval=0.25):
            dead = [a for a in self.agents.values() if not a.running]
            detail = "".join(
                f"\n--- {a.name} exited (code {a.proc.returncode if a.proc else None}); "
                f"{a.log_path}:\n{procs.log_tail(a.log_path, 15)}"
                for a in dead
            )
            raise ClusterError(
                f"{len(connected)} of {count} agents connected after {timeout}s "
                f"(logs in {self.logs_dir}){detail}"
            )
        return connected

    # --- control plane -------------------------------------------------------------

    def replica_name(self, i: int) -> str:
        """"controlplane" for a single replica, "controlplane-N" for replica N of several:
        its --name, so also what the leader key holds while it leads."""
        return "controlplane" if self.replica_count == 1 else f"controlplane-{i}"

    def _ports_of(self, i: int) -> tuple[int, int]:
        if i == 1:
            return self.api_port, self.metrics_port
        if i not in self.replica_ports:
            self.replica_ports[i] = (free_port(self.host), free_port(self.host))
        return self.replica_ports[i]

    def start_control_plane(self, timeout: float = 60) -> None:
        """Spawns every replica not running and returns once each says SERVING."""
        if self.etcd is None:
            raise ClusterError("start etcd before the control plane")
        self._bootstrap_security()
        started = [i for i in range(1, self.replica_count + 1) if self._spawn_replica(i)]
        deadline = time.monotonic() + timeout
        for i in started:
            self._wait_serving(i, max(1.0, deadline - time.monotonic()))

    def start_replica(self, i: int, timeout: float = 60) -> None:
        """Starts replica ``i`` (1-based) again after a kill or stop; waits until it serves."""
        if not self._spawn_replica(i):
            raise ClusterError(f"{self.replica_name(i)} is already running (pid {self.replicas[i].pid})")
        self._wait_serving(i, timeout)

    def _spawn_replica(self, i: int) -> bool:
        if not 1 <= i <= self.replica_count:
            raise ClusterError(f"no replica {i}: this cluster has {self.replica_count}")
        proc = self.replicas.get(i)
        if proc is not None and proc.poll() is None:
            return False
        api, metrics = self._ports_of(i)
        name = self.replica_name(i)
        argv = [
            sys.executable, "-m", "controlplane",
            "--etcd", self._etcd_url_of(i),
            "--listen", f"{self.host}:{api}",
            "--metrics-listen", f"{self.host}:{metrics}",
            "--lease-ttl", str(self.lease_ttl),
            *(["--ecs-listen", f"{HOST}:{self.ecs_port}", *([] if self.secure else ["--ecs-plaintext"])]
              if self.ecs_port is not None and i == 1 else []),
            "--name", name,
            "--log-level", self.log_level,
            *(["--pki-dir", str(self.pki_dir)] if self.secure else []),
            *self.extra_controlplane_args,
        ]
        self.replicas[i] = procs.spawn(argv, self.logs_dir / f"{name}.log", env=_child_env())
        if i == 1:
            self.controlplane = self.replicas[i]
        self._record()
        return True

    def _etcd_url_of(self, i: int) -> str:
        members = self.replica_etcd.get(i)
        if not members:
            return self.etcd_url or ""
        return client_urls([self.etcd_member(m) for m in members])

    def _wait_serving(self, i: int, timeout: float) -> None:
        name = self.replica_name(i)
        log_path = self.logs_dir / f"{name}.log"
        target = f"{self.host}:{self._ports_of(i)[0]}"
        channel = self._open_channel(target)
        proc = self.replicas[i]
        try:
            # An exited replica fails at once rather than after the whole timeout.
            if not procs.wait_until(lambda: proc.poll() is not None or self._serving(log_path, proc, channel),
                                    timeout, interval=0.2) or proc.poll() is not None:
                raise ClusterError(
                    f"{name} did not serve on {target} within {timeout}s (exit code {proc.poll()}); "
                    f"{log_path}:\n{procs.log_tail(log_path)}"
                )
        finally:
            channel.close()

    def stop_control_plane(self, timeout: float = 10) -> str:
        if not self.replicas:
            return "controlplane was not started"
        return "; ".join(self.stop_replica(i, timeout) for i in sorted(self.replicas))

    def kill_control_plane(self) -> None:
        for i in sorted(self.replicas):
            self.kill_replica(i)

    def restart_control_plane(self, timeout: float = 60) -> None:
        self.stop_control_plane()
        self.start_control_plane(timeout)

    def stop_replica(self, i: int, timeout: float = 10) -> str:
        proc = self.replicas.get(i)
        return procs.stop_popen(proc, self.replica_name(i), timeout) if proc else f"{self.replica_name(i)} not started"

    def kill_replica(self, i: int) -> None:
        """SIGKILL replica ``i``: a crash. Its lease (leadership, its agents' liveness keys)
        expires one TTL later."""
        proc = self.replicas.get(i)
        if proc is not None:
            procs.kill_popen(proc)

    def leader(self, timeout: float = 5) -> int | None:
        """The number of the replica holding the controllers' leader key now, or None when
        no replica does (or etcd cannot say within ``timeout``)."""
        from controlplane import keys
        from controlplane.store.base import StoreError
        from controlplane.store.etcd import EtcdStore

        if not self.etcd_url:
            return None
        store = EtcdStore(self.etcd_url, timeout=timeout)
        try:
            kv = store.get(keys.leader("controllers"))
        except StoreError:
            return None
        finally:
            store.close()
        if kv is None:
            return None
        holder = kv.value.decode(errors="replace")
        for i in range(1, self.replica_count + 1):
            if self.replica_name(i) == holder:
                return i
        return None

    # --- etcd members (an etcd cluster: etcd_members > 1) ------------------------------

    def etcd_member(self, i: int) -> EtcdProcess:
        members = self.etcd_members or ([self.etcd] if self.etcd is not None else [])
        if not 1 <= i <= len(members):
            raise ClusterError(f"no etcd member {i}: this cluster has {len(members)}")
        return members[i - 1]

    def stop_etcd_member(self, i: int, timeout: float = 10) -> None:
        self.etcd_member(i).stop(timeout)

    def kill_etcd_member(self, i: int) -> None:
        """SIGKILL etcd member ``i`` (1-based): with 3 members the other two keep quorum."""
        self.etcd_member(i).kill()

    def start_etcd_member(self, i: int, timeout: float = 60) -> None:
        """Starts member ``i`` again on its data dir: it rejoins its cluster."""
        member = self.etcd_member(i)
        member.cluster_state = "existing"
        try:
            member.start(timeout)
        except RuntimeError as exc:
            raise ClusterError(str(exc)) from exc
        finally:
            self._record()

    # --- agents --------------------------------------------------------------------

    def start_agent(self, number: int) -> AgentProcess:
        """Starts agent-``number`` (a new one past the initial count joins the cluster as
        another node; a stopped one comes back as the same node, from its state dir)."""
        if number < 1:
            raise ValueError(f"agents are numbered from 1, got {number}")
        agent = self.agents.get(number)
        if agent is not None and agent.running:
            raise ClusterError(f"{agent.name} is already running (pid {agent.pid})")
        if agent is None:
            name = f"agent-{number}"
            agent = AgentProcess(
                number=number,
                name=name,
                zone=self.zones[(number - 1) % len(self.zones)],
                state_dir=self.state_dir / "agents" / name,
                log_path=self.logs_dir / f"{name}.log",
            )
            self.agents[number] = agent
        if self.dynamic_port_span and agent.dynamic_ports is None:
            taken = [a.dynamic_ports for a in self.agents.values() if a.dynamic_ports]
            agent.dynamic_ports = _pick_port_block(self.dynamic_port_span, taken)
        agent.state_dir.mkdir(parents=True, exist_ok=True)
        attributes = []
        if agent.dynamic_ports:
            attributes = ["--dynamic-ports", f"{agent.dynamic_ports[0]}-{agent.dynamic_ports[1]}"]
        prefix, launch_args = self.agent_launch(agent) if self.agent_launch else ([], [])
        argv = [
            *prefix,
            sys.executable, "-m", "agent",
            "--endpoint", self.endpoint_list,
            "--cluster", CLUSTER,
            "--state-dir", str(agent.state_dir),
            "--name", agent.name,
            "--zone", agent.zone,
            "--instance-type", "local",
            "--metrics-port", "0",
            "--runtime", self.runtime,
            "--gc-delay", str(self.gc_delay),
            "--log-level", self.log_level,
            *attributes,
            *launch_args,
            *self.extra_agent_args,
        ]
        agent.proc = procs.spawn(argv, agent.log_path, env={**_child_env(), **self.security_env()})
        self._record()
        log.info("started agent", extra=logs.kv(agent=agent.name, pid=agent.pid, zone=agent.zone))
        return agent

    def stop_agent(self, number: int, timeout: float = 10) -> str:
        """SIGTERM (then SIGKILL): the agent exits, its containers keep running."""
        agent = self.agent(number)
        return procs.stop_popen(agent.proc, agent.name, timeout) if agent.proc else f"{agent.name} not started"

    def kill_agent(self, number: int) -> None:
        """SIGKILL: an agent crash."""
        agent = self.agent(number)
        if agent.proc is not None:
            procs.kill_popen(agent.proc)

    def restart_agent(self, number: int, timeout: float = 10) -> AgentProcess:
        self.stop_agent(number, timeout)
        return self.start_agent(number)

    # --- freezing, for fault tests ---------------------------------------------------

    def pid_of(self, name: str) -> int:
        """The pid of "etcd", "controlplane", "prometheus" or "agent-N"."""
        pid: int | None
        if name == "etcd":
            pid = self.etcd.pid if self.etcd else None
        elif name == "controlplane":
            pid = self.controlplane.pid if self.controlplane else None
        elif name.startswith("controlplane-") and name[13:].isdigit() and int(name[13:]) in self.replicas:
            pid = self.replicas[int(name[13:])].pid
        elif name == "prometheus":
            pid = self.prometheus.pid if self.prometheus else None
        else:
            pid = self.agent(name).pid
        if pid is None:
            raise ClusterError(f"{name} is not running")
        return pid

    def pause(self, name: str) -> None:
        """SIGSTOP ``name`` (see ``pid_of``): frozen, its sockets open but silent."""
        procs.send(self.pid_of(name), signal.SIGSTOP)

    def resume(self, name: str) -> None:
        procs.send(self.pid_of(name), signal.SIGCONT)

    # --- context manager -----------------------------------------------------------

    def __enter__(self) -> LocalCluster:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"LocalCluster(state_dir={str(self.state_dir)!r}, endpoint={self.endpoint}, agents={len(self.agents)})"

    # --- internals -----------------------------------------------------------------

    def _pick_ports(self) -> None:
        wanted = [("api_port", "the control plane API"), ("metrics_port", "the control plane metrics")]
        if self.want_prometheus and available():
            wanted.append(("prometheus_port", "Prometheus"))
        if self.etcd_client_port:
            wanted.append(("etcd_client_port", "etcd"))
        if self.ecs_port is not None:
            wanted.append(("ecs_port", "the ECS-compatible API"))
        for attr, what in wanted:
            port = getattr(self, attr)
            if port == 0:
                setattr(self, attr, free_port(self.host))
            elif not port_free(port, self.host):
                raise ClusterError(
                    f"port {port} for {what} ({attr}) is already in use on {self.host}: "
                    f"choose another or stop what holds it (see `ss -ltnp 'sport = :{port}'`)"
                )

    def _start_etcd(self, timeout: float) -> None:
        if self.etcd_member_count > 1:
            try:
                self.etcd_members = start_etcd_cluster(self.state_dir / "etcd", self.etcd_member_count, timeout)
            except FileNotFoundError as exc:
                raise ClusterError("etcd is not installed (no `etcd` on PATH): run scripts/bootstrap.sh") from exc
            except RuntimeError as exc:
                raise ClusterError(str(exc)) from exc
            finally:
                self._record()
            self.etcd = self.etcd_members[0]
            return
        self.etcd = EtcdProcess(self.state_dir / "etcd", client_port=self.etcd_client_port, name="shoal")
        self.etcd.log_path = self.logs_dir / "etcd.log"
        try:
            self.etcd.start(timeout)
        except FileNotFoundError as exc:
            raise ClusterError(
                "etcd is not installed (no `etcd` on PATH): run scripts/bootstrap.sh "
                "or `apt-get install etcd-server`"
            ) from exc
        except RuntimeError as exc:
            raise ClusterError(str(exc)) from exc
        finally:
            self._record()

    def _start_prometheus(self, timeout: float) -> None:
        base = self.state_dir / "prometheus"
        base.mkdir(parents=True, exist_ok=True)
        config = base / "prometheus.yml"
        config.write_text(render_config(f"{self.host}:{self.metrics_port}", self.scrape_interval))
        self.prometheus = PrometheusProcess(
            config, base / "data", self.logs_dir / "prometheus.log", self.prometheus_port
        )
        try:
            self.prometheus.start(timeout)
        except RuntimeError as exc:
            raise ClusterError(str(exc)) from exc
        finally:
            self._record()

    def _serving(self, log_path: Path, proc: subprocess.Popen[bytes] | None, channel: grpc.Channel) -> bool:
        if proc is not None and proc.poll() is not None:
            raise ClusterError(
                f"the control plane exited with code {proc.returncode}; {log_path}:\n{procs.log_tail(log_path)}"
            )
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            reply = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=2)
        except grpc.RpcError:
            return False
        return reply.status == health_pb2.HealthCheckResponse.SERVING

    def records(self) -> list[procs.ProcRecord]:
        out: list[procs.ProcRecord] = []
        if self.etcd_members:
            for m in self.etcd_members:
                if m.pid is not None:
                    out.append(procs.ProcRecord.of("etcd", f"etcd-{m.name}", m.pid, m.log_path))
        elif self.etcd is not None and self.etcd.pid is not None:
            out.append(procs.ProcRecord.of("etcd", "etcd", self.etcd.pid, self.etcd.log_path))
        for i, replica in sorted(self.replicas.items()):
            name = self.replica_name(i)
            out.append(procs.ProcRecord.of("controlplane", name, replica.pid, self.logs_dir / f"{name}.log"))
        for a in self.agents.values():
            if a.pid is not None:
                out.append(procs.ProcRecord.of("agent", a.name, a.pid, a.log_path))
        if self.prometheus is not None and self.prometheus.pid is not None:
            out.append(procs.ProcRecord.of("prometheus", "prometheus", self.prometheus.pid,
                                           self.prometheus.log_path))
        if self.autoscaler is not None:
            out.append(procs.ProcRecord.of("autoscaler", "autoscaler", self.autoscaler.pid,
                                           self.logs_dir / "autoscaler.log"))
        return out

    def _start_autoscaler(self) -> None:
        assert self.prometheus is not None and self.etcd is not None
        args = localup.argv(self.endpoint, self.prometheus.url, self.etcd.client_url, self.state_dir, self.log_level)
        self.autoscaler = localup.spawn(args, self.logs_dir / "autoscaler.log",
                                        {**_child_env(), **self.security_env()})
        self._record()

    def _record(self) -> None:
        # Rewritten after every spawn, so a `shoal up` that dies half-way still leaves
        # `shoal down` everything it needs.
        data = {
            "version": 1,
            "cluster": CLUSTER,
            "runtime": self.runtime,
            "owner_pid": os.getpid(),
            "processes": [r.to_json() for r in self.records()],
        }
        _write_json(pids_path(self.state_dir), data)

    def _write_config(self) -> None:
        _write_json(config_path(self.state_dir), {
            "endpoint": self.endpoint_list,
            "metrics": self.metrics_url,
            "sd": self.sd_url,
            "prometheus": self.prometheus_url,
            "etcd": self.etcd_url,
            "ecs": f"http{'s' if self.secure else ''}://{HOST}:{self.ecs_port}" if self.ecs_port is not None else None,
            "cluster": CLUSTER,
            "state_dir": str(self.state_dir),
            # The admin identity the CLI authenticates with (absent: an --insecure cluster).
            **({"ca": str(self.pki_dir / "ca.crt"), "cert": str(self.pki_dir / "admin.crt"),
                "key": str(self.pki_dir / "admin.key")} if self.secure else {}),
        })


# --- for `shoal down` and `shoal status`: a cluster another process started -------------

def recorded(state_dir: Path | str) -> list[procs.ProcRecord]:
    """The processes pids.json names (alive or not); [] when there is none."""
    path = pids_path(state_dir)
    try:
        data = json.loads(path.read_text())
        return [procs.ProcRecord.from_json(p) for p in data.get("processes", [])]
    except FileNotFoundError:
        return []
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ClusterError(f"{path} is unreadable ({exc}); remove it after stopping the processes by hand") from exc


def running(state_dir: Path | str) -> list[procs.ProcRecord]:
    """The recorded processes that are still alive."""
    return [r for r in recorded(state_dir) if r.alive()]


def stop_recorded(state_dir: Path | str, timeout: float = 10) -> list[str]:
    """Stops every process pids.json names (Prometheus and agents, then the control plane,
    then etcd), removes the containers of the cluster's nodes, and removes pids.json and
    config.json. Data (etcd, agent identities) stays for the next `shoal up`. Returns one
    sentence per step."""
    state_dir = Path(state_dir)
    records = recorded(state_dir)
    done: list[str] = []
    for role in _STOP_ORDER:
        for rec in records:
            if rec.role == role:
                done.append(procs.stop_record(rec, timeout))
    runtime = _recorded_runtime(state_dir)
    done += localup.stop_nodes(state_dir, runtime != "hollow")
    if runtime != "hollow":
        node_ids = {nid for d in sorted((state_dir / "agents").glob("agent-*")) if (nid := _read_node_id(d))}
        done.append(remove_node_containers(node_ids))
    survivors = [r.name for r in records if r.alive()]
    if survivors:
        raise ClusterError(f"could not stop {', '.join(survivors)}; pids.json kept in {state_dir}")
    for path in (pids_path(state_dir), config_path(state_dir)):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    return done


def remove_node_containers(node_ids: set[str], cluster: str = CLUSTER) -> str:
    """Force-removes the containers labelled ``shoal.node`` with one of ``node_ids`` (and
    ``shoal.cluster`` = ``cluster`` when the label is set). Returns what it did; never
    raises for an unreachable dockerd (there is then nothing it could remove)."""
    if not node_ids:
        return "no nodes registered: no containers to remove"
    import docker
    import docker.errors

    try:
        client = docker.from_env(timeout=60)
    except docker.errors.DockerException as exc:
        return f"did not remove containers: dockerd is not reachable ({exc})"
    removed = 0
    try:
        for node_id in sorted(node_ids):
            for c in client.containers.list(all=True, filters={"label": f"shoal.node={node_id}"}):
                if c.labels.get("shoal.cluster", cluster) != cluster:
                    continue
                with contextlib.suppress(docker.errors.NotFound):
                    c.remove(force=True)
                    removed += 1
    except docker.errors.DockerException as exc:
        return f"removed {removed} containers, then dockerd failed: {exc}"
    finally:
        client.close()
    return f"removed {removed} containers of {len(node_ids)} nodes"


def _refuse_if_running(state_dir: Path) -> None:
    alive = running(state_dir)
    if alive:
        names = ", ".join(f"{r.name} (pid {r.pid})" for r in alive)
        raise ClusterError(
            f"a local cluster from {state_dir} is already running ({names}): "
            f"stop it with `shoal down --state-dir {state_dir}` first"
        )


def _recorded_runtime(state_dir: Path) -> str:
    try:
        return str(json.loads(pids_path(state_dir).read_text()).get("runtime", "docker"))
    except (OSError, ValueError):
        return "docker"


def _read_node_id(agent_state_dir: Path) -> str | None:
    try:
        data = json.loads((agent_state_dir / "node.json").read_text())
    except (OSError, ValueError):
        return None
    node_id = data.get("node_id") if isinstance(data, dict) else None
    return str(node_id) if node_id else None


def _agent_number(name_or_number: str | int) -> int:
    if isinstance(name_or_number, int):
        return name_or_number
    text = name_or_number.removeprefix("agent-")
    if not text.isdigit():
        raise KeyError(f"{name_or_number!r} is not an agent name (agent-N)")
    return int(text)


def _pick_port_block(span: int, taken: list[tuple[int, int]]) -> tuple[int, int]:
    """A random block of ``span`` ports, all free now and not overlapping ``taken``: random
    so that clusters running side by side (parallel tests) rarely pick the same block."""
    low, high = _DYNAMIC_PORTS_AREA
    starts = list(range(low, high - span + 1, span))
    random.shuffle(starts)
    for start in starts:
        end = start + span - 1
        if any(start <= t_high and t_low <= end for t_low, t_high in taken):
            continue
        if all(port_free(p) for p in range(start, end + 1)):
            return start, end
    raise ClusterError(f"no block of {span} free ports between {low} and {high} for dynamic host ports")


def port_free(port: int, host: str = HOST) -> bool:
    """True if nothing listens on (or holds) ``port`` on ``host`` right now."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_SOURCE_ROOT), env.get("PYTHONPATH", "")) if p)
    # Logs reach the file as they happen, not when a buffer fills.
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)

"""A whole Shoal cluster on this machine: etcd, one control plane, N agents (each its own
process and node, sharing the local dockerd) and, when installed, Prometheus scraping them.
`shoal up` runs one; the integration tests run one per test on free ports. Its parts live
beside it: etcdset, etcdcerts, replicas, agents, agentargs, clusterregistry, credentials,
statefiles, teardown.

Layout of ``state_dir``::

    etcd/                   etcd's data
    agents/agent-N/         each agent's state dir (its node.json identity, tls/ certificate)
    pki/                    master key (0600), admin identity, local join token
    pki/etcd/               etcd's own CA, its server and client certificates (etcdcerts)
    prometheus/             prometheus.yml and its TSDB
    logs/*.log              one log per process
    pids.json               every process started, so `shoal down` (another process) can
                            stop them and remove their containers
    config.json             where the CLI finds this cluster (see ``statefiles.config_path``)
"""

from __future__ import annotations

import contextlib
import logging
import subprocess
import time
from pathlib import Path

import grpc

from shoal import logs
from shoal.endpoints import FailoverStub
from shoal.security.channels import ClientTLS
from shoal.store.etcd import EtcdStore
from shoal.taskdef.policy import policy_argv
from shoal.v1 import operator_pb2_grpc
from shoalctl.local import agentargs, procs
from shoalctl.local import autoscaler as localup
from shoalctl.local.agents import AgentLaunch, AgentProcess, stop_proxies, wait_connected
from shoalctl.local.clients import ControlPlaneClients
from shoalctl.local.clusterregistry import ClusterRegistry
from shoalctl.local.containers import remove_node_containers
from shoalctl.local.credentials import LocalCredentials
from shoalctl.local.errors import ClusterError
from shoalctl.local.etcd import EtcdProcess
from shoalctl.local.etcdset import LocalEtcd
from shoalctl.local.lookup import ClusterLookup
from shoalctl.local.ports import HOST, claim_port
from shoalctl.local.prometheus import PrometheusProcess, available
from shoalctl.local.registry import RegistryProcess
from shoalctl.local.replicas import Replicas, ReplicaSettings
from shoalctl.local.statefiles import CLUSTER, config_path, pids_path, refuse_if_running, write_json, write_pids

log = logging.getLogger(__name__)

DEFAULT_ZONES = ("zone-a", "zone-b", "zone-c")


class LocalCluster(ClusterLookup, procs.Started):
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
        console_port: int | None = None,
        etcd_members: int = 1,
        replicas: int = 1,
        host: str = HOST,
        agent_launch: AgentLaunch | None = None,
        replica_etcd: dict[int, list[int]] | None = None,
        registry: bool = False,
        registry_port: int = 0,
        proxy: bool = True,
        dns: bool = False,
    ) -> None:
        """``dynamic_port_span``: how many host ports each agent gets for dynamic port
        mappings, in a block of its own (0: leave the scheduler's default range).
        ``ecs_port``: serve the ECS-compatible HTTP API there (0: a free port; None: off).
        ``console_port``: replica 1 serves the web console there (0: a free port; None: no
        replica serves one), every other replica on a free port of its own.
        ``etcd_members``: 1, or 3/5 for an etcd cluster on loopback. ``replicas``: how many
        control-plane processes (1 uses api_port/metrics_port; the others free ports); agents
        and config.json get all their endpoints. ``host``: the address the control plane
        listens on and is reached at (a lab's bridge address). ``agent_launch``: see
        AgentLaunch (the lab runs each agent in its own network namespace with it).
        ``replica_etcd``: replica -> the etcd members (1-based) it is told about, for
        every replica not named all of them; killing those members then cuts that
        replica off from etcd while the others keep quorum. ``proxy``: each docker agent runs
        the node proxy (HAProxy); agents sharing this host each get a loopback address of
        their own (agent-N: 127.0.0.N+1) so every node's listeners can take the same port.
        ``dns``: with ``proxy`` on this host, each agent also runs the DNS responder, on its
        own address and on the Docker bridge gateway's port 53 where containers ask; the
        agents of this host share that port (--dns-shared): their tables are the same
        cluster-wide, so any of them answers."""
        if agents < 0:
            raise ValueError(f"agents must be 0 or more, got {agents}")
        if runtime not in ("docker", "hollow"):
            raise ValueError(f"runtime must be 'docker' or 'hollow', got {runtime!r}")
        zones = [z.strip() for z in (zones or DEFAULT_ZONES) if z.strip()]
        if not zones:
            raise ValueError("zones must name at least one zone")
        self.state_dir = Path(state_dir).resolve()
        self.logs_dir = self.state_dir / "logs"
        self.etcd_set = LocalEtcd(self.state_dir / "etcd", self.logs_dir, self.pki_dir / "etcd", etcd_members,
                                  etcd_client_port)
        self.cp = Replicas(replicas)
        self.api_port = api_port
        self.metrics_port = metrics_port
        self.agent_count = agents
        self.zones = zones
        self.prometheus_port = prometheus_port
        self.lease_ttl = lease_ttl
        self.runtime = runtime
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
        self.console_port = console_port
        self.replica_count = replicas
        self.host = host
        self.agent_launch = agent_launch
        self.replica_etcd = dict(replica_etcd or {})
        self.proxy = proxy and runtime == "docker"
        self.dns = dns and self.proxy and agent_launch is None
        for i, members in self.replica_etcd.items():
            if not 1 <= i <= replicas or not members or not all(1 <= m <= etcd_members for m in members):
                raise ValueError(f"replica_etcd: replica {i} -> members {members} is outside "
                                 f"{replicas} replicas / {etcd_members} etcd members")
        self.prometheus: PrometheusProcess | None = None
        # The cluster registry (``registry=True``): needs the CA, so not with --insecure.
        self.cluster_registry = ClusterRegistry(registry and self.secure, host, registry_port, self.state_dir,
                                                self.logs_dir)
        self.agents: dict[int, AgentProcess] = {}
        self.credentials = LocalCredentials(self.pki_dir, self.secure)
        self.clients = ControlPlaneClients(lambda: self.endpoints, self.admin_tls)

    # --- where things are ----------------------------------------------------------

    @property
    def endpoint(self) -> str:
        """The (first) control plane replica's gRPC HOST:PORT."""
        return f"{self.host}:{self.api_port}"

    @property
    def endpoints(self) -> list[str]:
        """Every replica's gRPC HOST:PORT, replica 1 first."""
        settings = self._replica_settings()
        return [f"{self.host}:{self.cp.ports_of(i, settings)[0]}" for i in range(1, self.replica_count + 1)]

    @property
    def endpoint_list(self) -> str:
        """``endpoints`` comma-separated: what agents' and the CLI's --endpoint take."""
        return ",".join(self.endpoints)

    @property
    def metrics_url(self) -> str:
        return f"http://{self.host}:{self.metrics_port}/metrics"

    def replica_metrics_url(self, i: int) -> str:
        """Replica ``i``'s /metrics (``metrics_url`` is the first's)."""
        return f"http://{self.host}:{self.cp.ports_of(i, self._replica_settings())[1]}/metrics"

    @property
    def sd_url(self) -> str:
        return f"http://{self.host}:{self.metrics_port}/sd"

    @property
    def console_urls(self) -> list[str]:
        """Every replica's web console, replica 1 first ([] when they serve none)."""
        settings = self._replica_settings()
        ports = [self.cp.console_port_of(i, settings) for i in range(1, self.replica_count + 1)]
        scheme = "https" if self.secure else "http"
        return [f"{scheme}://{self.host}:{port}" for port in ports if port is not None]

    @property
    def registry_address(self) -> str | None:
        """The cluster registry's HOST:PORT (image names start with it), or None."""
        return self.cluster_registry.address

    @property
    def registry(self) -> RegistryProcess | None:
        return self.cluster_registry.process

    @property
    def prometheus_url(self) -> str | None:
        return self.prometheus.url if self.prometheus is not None else None

    @property
    def etcd(self) -> EtcdProcess | None:
        """The (first) etcd member."""
        return self.etcd_set.first

    @property
    def etcd_members(self) -> list[EtcdProcess]:
        """Every member of a several-member etcd; [] for a single one."""
        return self.etcd_set.members if self.etcd_set.count > 1 else []

    @property
    def etcd_url(self) -> str | None:
        """etcd's client URL, or every member's comma-separated."""
        return self.etcd_set.url

    def etcd_store(self, timeout: float = 10, members: list[int] | None = None) -> EtcdStore:
        """A store on this cluster's etcd (or on ``members`` only), with the client
        certificate etcd requires; the caller closes it."""
        return self.etcd_set.store(timeout, members)

    def etcd_flags(self) -> list[str]:
        """``--etcd URL`` and the client certificate flags: what a daemon takes to reach etcd."""
        return ["--etcd", self.etcd_url or "", *self.etcd_set.client_flags()]

    @property
    def replicas(self) -> dict[int, subprocess.Popen[bytes]]:
        """Replica i (from 1) -> its process."""
        return self.cp.procs

    @property
    def controlplane(self) -> subprocess.Popen[bytes] | None:
        """Replica 1's process."""
        return self.cp.procs.get(1)

    @property
    def secure(self) -> bool:
        """TLS and authentication on: unless --insecure is among the control plane's args."""
        return "--insecure" not in self.extra_controlplane_args

    @property
    def pki_dir(self) -> Path:
        """The replicas' --pki-dir: master key, and the admin identity the CLI uses."""
        return self.state_dir / "pki"

    def admin_tls(self) -> ClientTLS | None:
        return self.credentials.admin_tls()

    def _open_channel(self, target: str) -> grpc.Channel:
        return self.clients.open_channel(target)

    def security_env(self) -> dict[str, str]:
        """What agents and the autoscaler get in their environment (LocalCredentials.env)."""
        return self.credentials.env()

    @property
    def channel(self) -> grpc.Channel:
        return self.clients.channel

    @property
    def operator(self) -> operator_pb2_grpc.OperatorStub:
        """See ControlPlaneClients.operator."""
        return self.clients.operator

    def failover_operator(self, timeout: float = 10, endpoints: list[str] | None = None) -> FailoverStub:
        """See ControlPlaneClients.failover_operator."""
        return self.clients.failover_operator(timeout, endpoints)

    # --- whole cluster -------------------------------------------------------------

    def start(self, timeout: float = 120, wait_for_agents: bool = True) -> None:
        """Starts etcd, the control plane (returns once its gRPC health is SERVING), the
        agents (and, with ``wait_for_agents``, waits until all are connected), and
        Prometheus if wanted and installed. On any failure stops what it started and raises
        ClusterError saying why."""
        deadline = time.monotonic() + timeout
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        refuse_if_running(self.state_dir)
        self._pick_ports()
        try:
            self._start_etcd(max(5.0, deadline - time.monotonic()))
            self.start_control_plane(timeout=max(5.0, deadline - time.monotonic()))
            if self.cluster_registry.wanted:
                self._start_registry(max(5.0, deadline - time.monotonic()))
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
        done += self.cluster_registry.stop(timeout)
        done += stop_proxies(self.state_dir)
        for i in sorted(self.replicas):
            done.append(self.cp.stop(i, timeout))
        done += self.etcd_set.stop(timeout)
        self.clients.close()
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
        """Waits until ``count`` nodes are ACTIVE and connected; returns their ARNs (see
        agents.wait_connected)."""
        return wait_connected(self.operator, list(self.agents.values()), count, timeout, self.logs_dir)

    # --- control plane -------------------------------------------------------------

    def replica_name(self, i: int) -> str:
        return self.cp.name(i)

    def _replica_settings(self) -> ReplicaSettings:
        return ReplicaSettings(
            host=self.host, first_ports=(self.api_port, self.metrics_port), logs_dir=self.logs_dir,
            lease_ttl=self.lease_ttl, log_level=self.log_level,
            etcd_args=self._etcd_args_of, pki_dir=self.pki_dir if self.secure else None,
            ecs_listen=f"{HOST}:{self.ecs_port}" if self.ecs_port is not None else None,
            console_port=self.console_port,
            registry=self.registry_address,
            registry_token_listen=self.cluster_registry.token_listen,
            registry_upstream=self.cluster_registry.upstream,
            extra_args=self.extra_controlplane_args)

    def restart_control_plane(self, timeout: float = 60) -> None:
        for i in sorted(self.replicas):
            self.cp.stop(i)
        self.start_control_plane(timeout)

    def start_control_plane(self, timeout: float = 60) -> None:
        """Spawns every replica not running and returns once each says SERVING."""
        if self.etcd is None:
            raise ClusterError("start etcd before the control plane")
        store = self.etcd_store()
        try:
            self.credentials.bootstrap(store)
        finally:
            store.close()
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
        started = self.cp.spawn(i, self._replica_settings(), procs.child_env())
        if started:
            self._record()
        return started

    def _etcd_args_of(self, i: int) -> list[str]:
        members = self.replica_etcd.get(i)
        return ["--etcd", self.etcd_set.urls_of(members) if members else self.etcd_url or "",
                *self.etcd_set.client_flags()]

    def _wait_serving(self, i: int, timeout: float) -> None:
        channel = self._open_channel(f"{self.host}:{self.cp.ports_of(i, self._replica_settings())[0]}")
        try:
            self.cp.wait_serving(i, self._replica_settings(), channel, timeout)
        finally:
            channel.close()

    def kill_replica(self, i: int) -> None:
        """SIGKILL replica ``i``: a crash (see Replicas.kill)."""
        self.cp.kill(i)

    def leader(self, timeout: float = 5) -> int | None:
        """The number of the replica holding the controllers' leader key now, or None when
        no replica does (or etcd cannot say within ``timeout``)."""
        if not self.etcd_url:
            return None
        store = self.etcd_store(timeout)
        try:
            return self.cp.leader(store)
        finally:
            store.close()

    # --- etcd members (an etcd cluster: etcd_members > 1) ------------------------------

    def etcd_member(self, i: int) -> EtcdProcess:
        return self.etcd_set.member(i)

    def kill_etcd_member(self, i: int) -> None:
        """SIGKILL etcd member ``i`` (1-based): with 3 members the other two keep quorum."""
        self.etcd_member(i).kill()

    def start_etcd_member(self, i: int, timeout: float = 60) -> None:
        """Starts member ``i`` again on its data dir: it rejoins its cluster."""
        try:
            self.etcd_set.start_member(i, timeout)
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
        agentargs.plan_ports(agent, list(self.agents.values()), self.dynamic_port_span)
        agent.state_dir.mkdir(parents=True, exist_ok=True)
        prefix, launch_args = self.agent_launch(agent) if self.agent_launch else ([], [])
        argv = agentargs.argv(agent, self._agent_flags(), prefix, launch_args)
        agent.proc = procs.spawn(argv, agent.log_path, env={**procs.child_env(), **self.security_env()})
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

    def __repr__(self) -> str:
        return f"LocalCluster(state_dir={str(self.state_dir)!r}, endpoint={self.endpoint}, agents={len(self.agents)})"

    # --- internals -----------------------------------------------------------------

    def _pick_ports(self) -> None:
        wanted = [("api_port", "the control plane API"), ("metrics_port", "the control plane metrics")]
        if self.want_prometheus and available():
            wanted.append(("prometheus_port", "Prometheus"))
        if self.ecs_port is not None:
            wanted.append(("ecs_port", "the ECS-compatible API"))
        if self.console_port is not None:
            wanted.append(("console_port", "the web console"))
        for attr, what in wanted:
            setattr(self, attr, claim_port(getattr(self, attr), self.host, f"{what} ({attr})"))
        self.cluster_registry.claim_ports()
        if self.etcd_set.client_port:
            self.etcd_set.client_port = claim_port(self.etcd_set.client_port, self.host, "etcd (etcd_client_port)")

    def _start_etcd(self, timeout: float) -> None:
        try:
            self.etcd_set.start(timeout)
        finally:
            self._record()

    def _start_prometheus(self, timeout: float) -> None:
        self.prometheus = PrometheusProcess.for_cluster(self.state_dir / "prometheus", self.logs_dir,
                                                        f"{self.host}:{self.metrics_port}", self.scrape_interval,
                                                        self.prometheus_port)
        try:
            self.prometheus.start(timeout)
        except RuntimeError as exc:
            raise ClusterError(str(exc)) from exc
        finally:
            self._record()

    def _start_registry(self, timeout: float) -> None:
        store = self.etcd_store()
        try:
            self.cluster_registry.start(store, self.pki_dir, timeout)
        finally:
            store.close()
            self._record()

    def _agent_flags(self) -> agentargs.AgentFlags:
        return agentargs.AgentFlags(
            endpoints=self.endpoint_list, runtime=self.runtime, gc_delay=self.gc_delay, log_level=self.log_level,
            proxy=self.proxy, shared_host=self.agent_launch is None, dns=self.dns,
            policy=policy_argv(self.extra_controlplane_args), extra=self.extra_agent_args)

    def records(self) -> list[procs.ProcRecord]:
        out = self.etcd_set.records() + self.cp.records(self._replica_settings()) + self.cluster_registry.records()
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
        profiles = localup.write_profiles(self.state_dir, policy_argv(self.extra_controlplane_args))
        args = [*localup.argv(self.endpoint, self.prometheus.url, self.etcd.client_url, self.state_dir,
                              self.log_level, providers_config=profiles), *self.etcd_set.client_flags()]
        self.autoscaler = localup.spawn(args, self.logs_dir / "autoscaler.log",
                                        {**procs.child_env(), **self.security_env()})
        self._record()

    def _record(self) -> None:
        # Rewritten after every spawn, so a `shoal up` that dies half-way still leaves
        # `shoal down` everything it needs.
        write_pids(self.state_dir, self.runtime, self.records())

    def _write_config(self) -> None:
        write_json(config_path(self.state_dir), {
            "endpoint": self.endpoint_list,
            "metrics": self.metrics_url,
            "sd": self.sd_url,
            "prometheus": self.prometheus_url,
            "etcd": self.etcd_url,
            **self.etcd_set.config_entries(),
            "ecs": f"http{'s' if self.secure else ''}://{HOST}:{self.ecs_port}" if self.ecs_port is not None else None,
            "console": ",".join(self.console_urls) or None,
            "registry": self.registry_address,
            "cluster": CLUSTER,
            "state_dir": str(self.state_dir),
            **self.credentials.config_entries(),
        })

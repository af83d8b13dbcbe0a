"""`python -m agent.fleet` / `shoal agent-fleet`: many hollow nodes in one process, each a
real agent (Agent + GatewayClient) over a HollowRuntime with its own node identity, all
talking gRPC to a real control plane, so one machine can show the control plane carrying
thousands of nodes (Kubernetes' kubemark, for Shoal).

What a fleet shares to stay light: one pool of start/stop workers, one event loop holding
every node's connection, registration and stream (agent.aiostreams: no threads per node's
stream), and no per-agent /metrics server. What each node keeps of its own: identity (a
state dir per node, with its node certificate got by joining with ``--token`` like a real
agent), runtime, reconcile loop, Connect stream and, with mTLS, its own TLS connection
showing its own certificate, so the control plane sees exactly what a real agent sends.
Only with ``--insecure`` (a control plane started with --insecure) do
``--agents-per-channel`` nodes share one plaintext connection.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import logging
import os
import signal
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import grpc

import shoal.logs
from agent import credentials, identity
from agent.agent import Agent, AgentConfig
from agent.aiostreams import StreamLoop
from agent.connection import GatewayClient, Registration
from agent.hollow import HollowRuntime
from agent.host import HostSample
from agent.main import UsageError, _endpoints
from shoal import grpcwait
from shoal.security.channels import client_channel

log = logging.getLogger("agent.fleet")

# Each node holds a thread (its reconcile loop) that mostly waits: small stacks let thousands fit.
_THREAD_STACK_BYTES = 512 * 1024


@dataclass
class FleetConfig:
    endpoints: list[str]
    count: int
    state_dir: str
    zones: list[str] = field(default_factory=lambda: ["a", "b", "c"])
    instance_types: list[str] = field(default_factory=lambda: ["hollow"])
    cluster: str = "default"
    cpu_units: int = 4096
    memory_mib: int = 8192
    name_prefix: str = "hollow"
    agents_per_channel: int = 100
    workers: int = 32
    resync_interval: float = 10.0
    gc_delay: float = 30.0
    pull_delay: float = 0.05
    start_delay: float = 0.01
    stop_delay: float = 0.01
    insecure: bool = False
    token: str = ""
    join: str = ""  # HOST:PORT to join at; default the first endpoint
    joins_in_flight: int = 8
    connects_in_flight: int = 50


class HollowHost:
    """The host a hollow node pretends to be: its registered capacity, and usage derived
    from the containers it "runs" (psutil would report the one real machine 1,000 times)."""

    def __init__(self, cpu_units: int, memory_mib: int, agent: Agent | None = None,
                 container_bytes: int = 8 * 1024 * 1024) -> None:
        self._cpu_units = cpu_units
        self._memory_mib = memory_mib
        self.agent = agent
        self.container_bytes = container_bytes

    def cpu_units(self) -> int:
        return self._cpu_units

    def memory_mib(self) -> int:
        return self._memory_mib

    def sample(self) -> HostSample:
        running = self.agent.running_containers() if self.agent is not None else 0
        total = self._memory_mib * 1024 * 1024
        cores = max(1, self._cpu_units // 1024)
        return HostSample(min(100.0, running * 1.0 / cores), min(total, running * self.container_bytes), total)


class HollowNode:
    """One hollow node: a real Agent and GatewayClient over its own HollowRuntime."""

    def __init__(self, cfg: FleetConfig, index: int, channel: grpc.Channel | None, pool: ThreadPoolExecutor,
                 joins: threading.Semaphore, streams: StreamLoop) -> None:
        """``channel``: shared plaintext channel (--insecure), or None to open one of its own
        with the node certificate, joining first (``joins`` bounds joins, and first
        registrations, in flight) if the state dir has none. ``streams``: the event loop
        that holds the node's connection, registration and stream."""
        self.index = index
        self.name = f"{cfg.name_prefix}-{index:05d}"
        self.state_dir = os.path.join(cfg.state_dir, self.name)
        stored = identity.load(self.state_dir)
        if stored.get("cluster") and stored["cluster"] != cfg.cluster:
            raise UsageError(f"--cluster {cfg.cluster!r}: {self.state_dir} belongs to a node of cluster "
                             f"{stored['cluster']!r}; use another --state-dir")
        self.cfg = cfg
        self._joins = joins
        self._streams = streams
        self._share = f"channel-{(index - 1) // cfg.agents_per_channel}" if channel is not None else ""
        self.running: concurrent.futures.Future | None = None
        self.runtime = HollowRuntime(pull_delay=cfg.pull_delay, start_delay=cfg.start_delay,
                                     stop_delay=cfg.stop_delay)
        self.agent = Agent(AgentConfig(cluster=cfg.cluster, node_id=stored.get("node_id", ""),
                                       gc_delay=cfg.gc_delay, resync_interval=cfg.resync_interval,
                                       stop_timeout=2), self.runtime)
        self.host = HollowHost(cfg.cpu_units, cfg.memory_mib, self.agent)
        attrs = {
            "ecs.os-type": "linux",
            "ecs.availability-zone": cfg.zones[(index - 1) % len(cfg.zones)],
            "ecs.instance-type": cfg.instance_types[(index - 1) % len(cfg.instance_types)],
            "shoal.hollow": "true",
        }
        reg = Registration(cluster=cfg.cluster, hostname=self.name, cpu_units=cfg.cpu_units,
                           memory_mib=cfg.memory_mib, attributes=attrs, state_dir=self.state_dir)
        self.client = GatewayClient(cfg.endpoints, reg, self.agent, self.host, channel=channel,
                                    tls_later=channel is None)
        self._pool = pool
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def _credentials(self) -> bool:
        cfg = self.cfg
        try:
            with self._joins:
                tls, node_id = credentials.resolve(self.state_dir, cfg.join or cfg.endpoints[0], cfg.token,
                                                   self.name, cfg.cluster, self.agent.node_id)
        except credentials.CredentialsError as exc:
            log.error("hollow node cannot authenticate", extra=shoal.logs.kv(node=self.name, error=exc))
            return False
        self.agent.config.node_id = node_id
        self.client.use_tls(tls)
        return True

    def _run(self) -> None:
        # The real agent's order (agent.main.main and run): credentials, identity, restore,
        # then the loops; the gateway runs on this thread rather than one more of its own.
        if not self.cfg.insecure and not self._credentials():
            return
        if not self.agent.node_id and not self._register():
            return
        self.agent.restore()
        self.agent.start(pool=self._pool)
        self.agent.wake()
        # This thread ends here: the node's sessions run on the fleet's event loop.
        self.running = self._streams.run(self.client, self._share)

    def _register(self) -> bool:
        """First boot without a node id (--insecure: no join gave one)."""
        with self._joins:
            return bool(self.client.register_until_done())

    @property
    def connected(self) -> bool:
        return self.client.connected.is_set()

    def stop(self) -> None:
        self.client._stopped.set()
        self.client.stop()
        self.agent.stop()


class Fleet:
    def __init__(self, cfg: FleetConfig) -> None:
        if cfg.count < 1:
            raise UsageError(f"--count: must be at least 1, got {cfg.count}")
        if cfg.agents_per_channel < 1:
            raise UsageError(f"--agents-per-channel: must be at least 1, got {cfg.agents_per_channel}")
        self.cfg = cfg
        self.pool = ThreadPoolExecutor(max_workers=cfg.workers, thread_name_prefix="hollow-op")
        self.channels: list[grpc.Channel] = []
        self.nodes: list[HollowNode] = []
        # A thousand first starts would otherwise all join in the same instant.
        joins = threading.Semaphore(cfg.joins_in_flight)
        self.streams = StreamLoop(cfg.connects_in_flight)
        for i in range(cfg.count):
            if cfg.insecure and i % cfg.agents_per_channel == 0:
                # Several endpoints: spread the channels over them, as agents would spread.
                endpoint = cfg.endpoints[(i // cfg.agents_per_channel) % len(cfg.endpoints)]
                # Nodes sharing one connection cannot each show their own certificate.
                self.channels.append(client_channel(endpoint, None, options=[
                    ("grpc.keepalive_time_ms", 20_000),
                    # Each channel is a separate connection: without this gRPC would share one.
                    ("grpc.use_local_subchannel_pool", 1),
                ]))
            self.nodes.append(HollowNode(cfg, i + 1, self.channels[-1] if cfg.insecure else None, self.pool, joins,
                                         self.streams))

    def start(self) -> None:
        for node in self.nodes:
            node.start()

    def connected(self) -> int:
        return sum(1 for n in self.nodes if n.connected)

    def running_tasks(self) -> int:
        return sum(n.agent.running_containers() for n in self.nodes)

    def stop(self) -> None:
        for node in self.nodes:
            node.client._stopped.set()
        self.streams.stop([n.running for n in self.nodes if n.running is not None])
        for node in self.nodes:
            node.stop()
        self.pool.shutdown(wait=False, cancel_futures=True)
        for channel in self.channels:
            channel.close()


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="shoal agent-fleet", description="Run many hollow nodes (real agents over an "
                                "in-memory container runtime) in one process, for scale tests of the control plane.")
    p.add_argument("--endpoint", default=os.environ.get("SHOAL_ENDPOINT", "127.0.0.1:7400"),
                   help="control plane HOST:PORT[,HOST:PORT...] (env SHOAL_ENDPOINT)")
    p.add_argument("--count", type=int, required=True, help="how many hollow nodes")
    p.add_argument("--zones", default="a,b,c", help="availability zones, assigned round-robin")
    p.add_argument("--instance-types", default="hollow", help="instance types, assigned round-robin")
    p.add_argument("--state-dir", required=True, help="node identities go to DIR/<name>/node.json")
    p.add_argument("--cluster", default="default")
    p.add_argument("--cpu-units", type=int, default=4096, help="CPU units each node registers")
    p.add_argument("--memory-mib", type=int, default=8192, help="memory MiB each node registers")
    p.add_argument("--name-prefix", default="hollow", help="node hostnames are PREFIX-00001, ...")
    p.add_argument("--join", default="", metavar="HOST:PORT",
                   help="control plane to join at with --token (default: the first --endpoint)")
    p.add_argument("--token", default=os.environ.get("SHOAL_JOIN_TOKEN", ""),
                   help="join token with enough uses for every node without a certificate yet "
                   "(env SHOAL_JOIN_TOKEN keeps it out of `ps`)")
    p.add_argument("--insecure", action="store_true", default=os.environ.get("SHOAL_INSECURE") == "1",
                   help="plaintext, no certificates, nodes sharing connections: only for a control plane "
                   "started with --insecure")
    p.add_argument("--joins-in-flight", type=int, default=8, help="nodes joining at the same time")
    p.add_argument("--connects-in-flight", type=int, default=50,
                   help="connection attempts (handshake to held stream) at the same time, at boot and on "
                   "every reconnect (a fleet's boot, or its return after a control-plane restart, is not one instant)")
    p.add_argument("--agents-per-channel", type=int, default=100,
                   help="with --insecure: agents sharing one gRPC connection")
    p.add_argument("--workers", type=int, default=32, help="start/stop operations in flight across the fleet")
    p.add_argument("--resync-interval", type=float, default=10.0, help="seconds between each agent's full resync")
    p.add_argument("--start-delay", type=float, default=0.01, help="seconds a hollow container takes to start")
    p.add_argument("--log-level", default=os.environ.get("SHOAL_LOG_LEVEL", "WARNING"),
                   help="default WARNING: at INFO a thousand agents log every task transition")
    return p


def _csv(flag: str, value: str) -> list[str]:
    items = [v.strip() for v in value.split(",") if v.strip()]
    if not items:
        raise UsageError(f"{flag}: at least one value is required")
    return items


def config_from(args: argparse.Namespace) -> FleetConfig:
    for flag, value in (("--cpu-units", args.cpu_units), ("--memory-mib", args.memory_mib),
                        ("--workers", args.workers), ("--joins-in-flight", args.joins_in_flight),
                        ("--connects-in-flight", args.connects_in_flight)):
        if value < 1:
            raise UsageError(f"{flag}: must be at least 1, got {value}")
    if args.start_delay < 0 or args.resync_interval <= 0:
        raise UsageError("--start-delay must be >= 0 and --resync-interval > 0")
    return FleetConfig(
        endpoints=_endpoints(args.endpoint), count=args.count, state_dir=args.state_dir,
        zones=_csv("--zones", args.zones), instance_types=_csv("--instance-types", args.instance_types),
        cluster=args.cluster, cpu_units=args.cpu_units, memory_mib=args.memory_mib, name_prefix=args.name_prefix,
        agents_per_channel=args.agents_per_channel, workers=args.workers, resync_interval=args.resync_interval,
        start_delay=args.start_delay, stop_delay=args.start_delay, insecure=args.insecure, token=args.token,
        join=_endpoints(args.join)[0] if args.join else "", joins_in_flight=args.joins_in_flight,
        connects_in_flight=args.connects_in_flight,
    )


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    shoal.logs.setup(args.log_level)
    threading.stack_size(_THREAD_STACK_BYTES)
    # The blocking calls left (first registrations, a task's secrets) would wake ten times a second (shoal/grpcwait.py).
    grpcwait.relax_idle_polling()
    try:
        fleet = Fleet(config_from(args))
    except (UsageError, identity.IdentityError) as exc:
        print(f"shoal agent-fleet: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    started = time.monotonic()
    fleet.start()
    # Progress goes to stdout whatever the log level: it is what a bench or an operator watches.
    last = -1
    while not stop.wait(1.0):
        connected = fleet.connected()
        if connected != last:
            print(f"fleet: {connected}/{len(fleet.nodes)} nodes connected, {fleet.running_tasks()} tasks running "
                  f"({time.monotonic() - started:.1f}s)", flush=True)
            last = connected
    fleet.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

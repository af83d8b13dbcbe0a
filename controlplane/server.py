"""`shoal controlplane`: one replica. Every replica serves the Operator and AgentGateway
APIs; the one holding leadership also runs the controllers."""

from __future__ import annotations

import argparse
import dataclasses
import gc
import logging
import math
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from controlplane import http_hooks
from controlplane.api import reads
from controlplane.api.accesskeys import AccessKeysService
from controlplane.api.agents import AgentGatewayService
from controlplane.api.context import ApiContext
from controlplane.api.events import ConsoleService, EventsService
from controlplane.api.logs import LOGS_SERVICE_NAME, add_logs_service
from controlplane.api.operator import OperatorService
from controlplane.api.repositories import RegistryService
from controlplane.api.roles_service import RolesService
from controlplane.api.scaling import SCALING_SERVICE_NAME, add_scaling_service
from controlplane.api.task_credentials import DEFAULT_TTL, MAX_TTL, MIN_TTL
from controlplane.api.traffic import TRAFFIC_SERVICE_NAME, add_traffic_service
from controlplane.assignments import AssignmentFeed
from controlplane.cache import Cache
from controlplane.cluster_metrics import ClusterCollector
from controlplane.console.logs import LogSource
from controlplane.console.server import Console
from controlplane.console.sessions import SESSION_TTL, Sessions
from controlplane.console.views import Views
from controlplane.controllers.assignments import AssignmentController
from controlplane.controllers.gc import TaskGC
from controlplane.controllers.loop import ControllerLoop
from controlplane.controllers.nodes import NodeController
from controlplane.controllers.placement import PlacementController
from controlplane.controllers.prepull import PrePullController
from controlplane.controllers.services import ServiceController
from controlplane.controllers.view import Writer
from controlplane.ecs.config import add_flags as add_ecs_flags
from controlplane.ecs.config import cluster_ca_context
from controlplane.ecs.config import start as start_ecs
from controlplane.event_log import EventLog
from controlplane.feed import EventFeed
from controlplane.http import serve as serve_http
from controlplane.known_actions import known_actions
from controlplane.loop_server import LoopServer
from controlplane.metrics import REGISTRY
from controlplane.registry.lifecycle_sweep import LifecycleSweep
from controlplane.registry_setup import add_flags as add_registry_flags
from controlplane.registry_setup import start as start_registry
from controlplane.revocations import Revocations
from controlplane.routing_publisher import RoutingPublisher
from controlplane.security_setup import SERVICE_NAME as SECURITY_SERVICE_NAME
from controlplane.security_setup import Security
from controlplane.security_setup import add_flags as add_security_flags
from controlplane.watching import PrefixWatch
from controlplane.writers import WriterCheck
from shoal import grpcwait, keys, logs
from shoal.arns import ArnFormat
from shoal.election import Election
from shoal.netutil import split_hostport
from shoal.replica_lease import ReplicaLease
from shoal.security.pki import LiveTrust
from shoal.store.base import StoreError
from shoal.store.etcd import EtcdStore
from shoal.store.tracking import WriteTracking
from shoal.taskdef import policy
from shoal.v1 import (
    accesskeys_pb2,
    accesskeys_pb2_grpc,
    agent_pb2,
    agent_pb2_grpc,
    events_pb2,
    events_pb2_grpc,
    operator_pb2,
    operator_pb2_grpc,
    roles_pb2,
    roles_pb2_grpc,
)
from shoal.v1 import registry_pb2 as registry_messages
from shoal.v1 import registry_pb2_grpc as registry_grpc

log = logging.getLogger("controlplane")

MAX_MESSAGE_BYTES = 4 * 1024 * 1024

# Seconds a thread may hold the interpreter while another waits for it (CPython's default:
# 5 ms). An API call needs the interpreter at each of its steps (the event loop that receives
# it, the pool thread that runs its handler, the loop again to answer), and during a rollout
# each step waits behind the leader's cycle, the task-report batches and the watches: a
# ListTasks spends 2 ms in its handler and up to 100 ms around it. 0.5 ms shortens each of
# those waits (bench/scale.py, alternated with 1 ms: p99 42-85 ms against 59-118 ms, the
# rollout and its CPU no worse).
SWITCH_INTERVAL = 0.0005
# A full garbage collection walks every object the process holds, holding the interpreter
# throughout: 55-235 ms with 1,000 agents connected. CPython runs one after every 10 younger
# ones while the heap has grown by a quarter since the last, which during a rollout is every
# few seconds (two in a 13 s rollout: the two slowest API calls). After 100, it is rarely
# during one; the cyclic garbage that outlives the young generations waits longer for it
# (one run: 128,000 objects freed by the first full collection after the rollout, peak RSS
# 434 MiB against ~407).
FULL_COLLECTION_AFTER = 100


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="shoal controlplane", description="Run one Shoal control-plane replica.")
    p.add_argument("--etcd", default="http://127.0.0.1:2379", help="etcd endpoints, comma-separated")
    p.add_argument("--etcd-ca", help="CA bundle for etcd over TLS")
    p.add_argument("--etcd-cert", help="client certificate for etcd")
    p.add_argument("--etcd-key", help="client key for etcd")
    p.add_argument("--listen", default="127.0.0.1:7400", help="gRPC address (HOST:PORT)")
    p.add_argument("--advertise-address", default="",
                   help="HOST:PORT other replicas reach this one at (relayed `shoal logs`); default: --listen")
    p.add_argument("--metrics-listen", default="127.0.0.1:7401", help="HTTP address for /metrics and /sd")
    p.add_argument("--console-listen", default="",
                   help="HTTP address (HOST:PORT) of the web console (default: none); `shoal console` links to it")
    p.add_argument("--console-session-ttl", type=float, default=SESSION_TTL, metavar="S",
                   help="seconds a web console session lives, at every replica (logging out ends it sooner)")
    add_ecs_flags(p)
    add_registry_flags(p)
    p.add_argument("--lease-ttl", type=float, default=5.0, help="seconds without heartbeats before a node is lost")
    p.add_argument("--leader-ttl", type=float, default=None,
                   help="TTL of the leader key's own lease (default: 0.7 x --lease-ttl, at least 2 s)")
    p.add_argument("--name", default=socket.gethostname(), help="replica name (shown as leader)")
    p.add_argument("--region", default="local", help="region part of ARNs")
    p.add_argument("--account-id", default="000000000000", help="account part of ARNs")
    p.add_argument("--resync-interval", type=float, default=2.0, help="controller resync period, seconds")
    p.add_argument("--hook-allow-host", action="append", default=[], metavar="HOST[:PORT]",
                   help="a host HTTP lifecycle hooks may call (repeatable; none: HTTP hooks are refused)")
    p.add_argument("--hook-timeout", type=float, default=http_hooks.DEFAULT_TIMEOUT, metavar="SECONDS",
                   help="how long an HTTP lifecycle hook may take to answer before the deployment rolls back")
    p.add_argument("--cycle-interval", type=float, default=0.1,
                   help="least seconds between the starts of two controller cycles (changes in between are "
                        "taken together)")
    p.add_argument("--task-retention", type=float, default=3600.0, help="seconds a stopped task stays visible")
    p.add_argument("--task-credentials-ttl", type=float, default=DEFAULT_TTL, metavar="S",
                   help="seconds a task's role credentials live (agents refresh them well before)")
    p.add_argument("--max-streams", type=int, default=4096, help="agent streams one replica can hold")
    policy.add_flags(p)
    add_security_flags(p)
    p.add_argument("--allow-local-targets", action="store_true",
                   help="let ELBv2 RegisterTargets name loopback, link-local and node addresses (a door into "
                        "every node's own services: for tests and single-host labs only)")
    p.add_argument("--log-level", default="INFO")
    return p


def own_hosts(args: argparse.Namespace) -> frozenset[str]:
    """The hosts of etcd's endpoints and of this replica's own listeners: never targets."""
    urls = [u for u in args.etcd.split(",") if u]
    addrs = [args.listen, args.advertise_address, args.metrics_listen, args.console_listen,
             getattr(args, "ecs_listen", "") or ""]
    hosts = {urlsplit(u if "//" in u else "//" + u).hostname or "" for u in urls}
    hosts |= {urlsplit("//" + a).hostname or "" for a in addrs if a}
    return frozenset(h for h in hosts if h)


def own_ports(args: argparse.Namespace) -> dict[int, str]:
    """The ports of etcd's endpoints and of this replica's own listeners, each with its flag."""
    given = [("--etcd", u) for u in args.etcd.split(",") if u]
    given += [(flag, getattr(args, attr, "") or "") for flag, attr in (
        ("--listen", "listen"), ("--advertise-address", "advertise_address"), ("--metrics-listen", "metrics_listen"),
        ("--console-listen", "console_listen"), ("--ecs-listen", "ecs_listen"), ("--registry", "registry"),
        ("--registry-token-listen", "registry_token_listen"), ("--registry-front-listen", "registry_front_listen"),
        ("--registry-upstream", "registry_upstream"))]
    out: dict[int, str] = {}
    for flag, value in given:
        try:
            port = urlsplit(value if "//" in value else "//" + value).port if value else None
        except ValueError:
            port = None
        if port:
            out.setdefault(port, flag)
    return out


class Replica:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        # Every write is checked against the one-writer table (controlplane/writers.py).
        self.store = WriterCheck(EtcdStore(args.etcd, ca_cert=args.etcd_ca, cert_cert=args.etcd_cert,
                                           cert_key=args.etcd_key))
        self.ctx = ApiContext(
            WriteTracking(self.store, reads.TRACKED),
            ArnFormat(args.region, args.account_id),
            policy.from_args(args),
            allow_local_targets=args.allow_local_targets,
            control_plane_hosts=own_hosts(args),
            control_plane_ports=own_ports(args),
            hook_hosts=frozenset(h.lower() for h in args.hook_allow_host),
        )
        self._stop = threading.Event()

    def _wait_for_store(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.ctx.ensure_default_cluster()
                return
            except StoreError as exc:
                if time.monotonic() > deadline:
                    raise SystemExit(f"controlplane: etcd at {self.args.etcd} unreachable: {exc}") from exc
                log.warning("waiting for etcd: %s", exc)
                time.sleep(1)

    def run(self) -> int:
        args = self.args
        self._wait_for_store()
        self.lease = ReplicaLease(self.store, args.lease_ttl)
        self.lease.start()
        self.feed = AssignmentFeed(self.store)
        self.feed.start()
        # The gateway's writes (agents' reports) are not the API clients' own: they must not
        # make ListTasks wait for the cache (controlplane/api/reads.py), so it writes untracked.
        gateway = AgentGatewayService(dataclasses.replace(self.ctx, store=self.store), self.feed, self.lease,
                                      args.lease_ttl)
        gateway.address = advertised(args)
        host, port = split_hostport(args.listen)
        security = Security.setup(args, self.store, host)
        self.ctx.revoked_since = security.revocations.cutoff

        self.server = LoopServer(
            workers=args.max_streams + 64,
            options=[
                ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                ("grpc.max_send_message_length", 64 * 1024 * 1024),
                ("grpc.keepalive_time_ms", 10_000),
                ("grpc.keepalive_permit_without_calls", 1),
                ("grpc.http2.min_ping_interval_without_data_ms", 1_000),
                # Agents ping every 10 s to notice a dead replica (agent/connection.py);
                # gRPC's default policy would answer that with GOAWAY "too_many_pings".
                ("grpc.http2.min_recv_ping_interval_without_data_ms", 5_000),
            ],
            maximum_concurrent_rpcs=args.max_streams + 64,
            interceptors=security.interceptors,
        )
        security.register(self.server, self.ctx)
        operator_pb2_grpc.add_OperatorServicer_to_server(OperatorService(self.ctx), self.server)
        add_scaling_service(self.ctx, self.server)
        add_traffic_service(self.ctx, self.server)
        accesskeys_pb2_grpc.add_AccessKeysServicer_to_server(AccessKeysService(self.ctx), self.server)
        roles_pb2_grpc.add_RolesServicer_to_server(
            RolesService(self.ctx, known_actions(), args.task_credentials_ttl), self.server)
        agent_pb2_grpc.add_AgentGatewayServicer_to_server(gateway, self.server)
        # The event feed hears every change the cache takes in (the cache starts below).
        self.events = EventFeed()
        events_pb2_grpc.add_EventsServicer_to_server(EventsService(self.events), self.server)
        self.console: Console | None = None
        events_pb2_grpc.add_ConsoleServicer_to_server(
            ConsoleService(lambda identity: self.console.link(identity) if self.console else None), self.server)
        add_logs_service(self.ctx, gateway, self.server, security.open_channel)
        self.registry_tokens = start_registry(args, self.ctx, security.trust, security.sealer,
                                             security.revocations)
        registry_grpc.add_RegistryServicer_to_server(RegistryService(self.ctx, security.sealer), self.server)
        health_servicer = health.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(health_servicer, self.server)
        reflection.enable_server_reflection(
            (
                operator_pb2.DESCRIPTOR.services_by_name["Operator"].full_name,
                SCALING_SERVICE_NAME,
                TRAFFIC_SERVICE_NAME,
                agent_pb2.DESCRIPTOR.services_by_name["AgentGateway"].full_name,
                LOGS_SERVICE_NAME,
                events_pb2.DESCRIPTOR.services_by_name["Events"].full_name,
                events_pb2.DESCRIPTOR.services_by_name["Console"].full_name,
                accesskeys_pb2.DESCRIPTOR.services_by_name["AccessKeys"].full_name,
                roles_pb2.DESCRIPTOR.services_by_name["Roles"].full_name,
                SECURITY_SERVICE_NAME,
                registry_messages.DESCRIPTOR.services_by_name["Registry"].full_name,
                health.SERVICE_NAME,
                reflection.SERVICE_NAME,
            ),
            self.server,
        )
        # Read before the first call is served, and again once the watch is armed, so no
        # tombstone written meanwhile is missed.
        _log_sentence(security.revocations.refresh)
        revocation_watch = PrefixWatch(self.store, keys.REVOKED_USERS,
                                       lambda: _log_sentence(security.revocations.refresh))
        revocation_watch.start(call_when_armed=True)
        if security.bind(self.server, f"{host}:{port}") == 0:
            raise SystemExit(f"controlplane: cannot listen on {args.listen}")
        self.server.start()

        mhost, mport = split_hostport(args.metrics_listen)
        try:
            self.http = serve_http(mhost, mport, self.ctx.state)
        except OSError as exc:
            raise SystemExit(f"controlplane: cannot listen on {args.metrics_listen}: {exc}") from exc
        self.ecs = start_ecs(args, self.ctx, security.trust)

        # The leader key has its own, shorter lease: a dead leader's key then expires well
        # inside one --lease-ttl, so failover fits in a TTL even with etcd's expiry sweep
        # and the follower's campaign on top.
        self.leader_lease = ReplicaLease(self.store, leader_ttl(args), name="leader lease")
        self.leader_lease.start()
        election = Election(self.store, self.leader_lease, args.name)
        # What a cache change wakes: the controller loop and the routing publisher.
        wakers: list[Callable[[], None]] = []
        cache = Cache(self.store, on_change=lambda: [wake() for wake in wakers])
        routing = RoutingPublisher(cache, gateway.broadcast, min_interval=args.cycle_interval)
        gateway.routing_for = routing.current
        wakers.append(routing.wake)
        event_log = EventLog(self.store, election.is_leader, election.fence)
        try:
            self.events.seed(event_log.load())
        except StoreError as exc:
            log.warning("event feed: the stored history could not be read; starting without it: %s", exc)
        # Set after the seed: the history is not written again.
        self.events.on_events = event_log.offer
        event_log.start()
        cache.add_listener(self.events.observe)
        cache.start()
        routing.start()  # after the first listing: a partial table is never sent
        routing.wake()
        REGISTRY.register(ClusterCollector(cache, election.is_leader))
        self.ctx.cache = cache
        gateway.ctx.cache = cache  # its own context (untracked writes): reports start from the cache too
        writer = Writer(self.store, election, cache)
        nodes = NodeController(writer, grace=args.lease_ttl)
        loop = ControllerLoop(
            election, cache,
            [nodes, ServiceController(writer, self.ctx.arns), AssignmentController(writer),
             PrePullController(writer), PlacementController(writer), TaskGC(writer, args.task_retention)],
            resync=args.resync_interval,
            min_interval=args.cycle_interval,
            on_step_down=nodes.step_down,
        )
        wakers.append(loop.wake)
        loop.start()
        if args.console_listen:
            self.console = self._start_console(args, cache, election.key,
                                               LogSource(security.open_channel, gateway.address),
                                               security.revocations, security.trust)
        leader_watch = PrefixWatch(self.store, election.key, loop.wake)
        leader_watch.start()
        lifecycle = (LifecycleSweep(self.store, self.ctx.registry.client, election.is_leader,
                                    args.registry_lifecycle_interval) if self.ctx.registry else None)
        if lifecycle is not None:
            lifecycle.start()
        deregistrations = PrefixWatch(self.store, keys.DEREGISTERED,
                                      lambda: _log_sentence(gateway.end_deregistered_streams))
        deregistrations.start()
        threading.Thread(target=self._expire_agents, args=(gateway,), name="liveness", daemon=True).start()
        threading.Thread(target=self._call_hooks, args=(election,), name="http hooks", daemon=True).start()
        security.start_refresh(self._stop)
        health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
        log.info("control plane serving", extra=logs.kv(listen=args.listen, metrics=args.metrics_listen,
                                                         replica=args.name, etcd=args.etcd))

        signal.signal(signal.SIGTERM, lambda *_: self._stop.set())
        signal.signal(signal.SIGINT, lambda *_: self._stop.set())
        self._stop.wait()
        log.info("control plane stopping")
        health_servicer.enter_graceful_shutdown()
        leader_watch.close()
        if lifecycle is not None:
            lifecycle.stop()
        deregistrations.close()
        revocation_watch.close()
        loop.stop()
        routing.stop()
        event_log.stop()
        log.info(election.resign())
        self.server.stop(grace=2, timeout=5)
        self.http.shutdown()
        for registry_server in self.registry_tokens:
            registry_server.shutdown()
        if self.ecs is not None:
            self.ecs.close()
        if self.console is not None:
            self.console.close()
        cache.close()
        self.feed.close()
        self.leader_lease.stop()
        self.lease.stop()
        self.store.close()
        return 0

    def _start_console(self, args: argparse.Namespace, cache: Cache, leader_key: str, task_logs: LogSource,
                       revocations: Revocations, trust: LiveTrust | None) -> Console:
        def leader() -> str:
            kv = self.store.get(leader_key)
            return kv.value.decode(errors="replace") if kv is not None else ""

        chost, cport = split_hostport(args.console_listen)
        # Plain HTTP only on an --insecure control plane, the one kind without a cluster CA.
        tls = cluster_ca_context(args, chost, trust, "web console") if trust is not None else None
        try:
            return Console(chost, cport, self.ctx, Views(cache, self.events, leader), self.events, args.insecure,
                           task_logs, Sessions(self.ctx.store, ttl=args.console_session_ttl), tls,
                           revoked=revocations.revoked)
        except OSError as exc:
            raise SystemExit(f"controlplane: cannot listen on {args.console_listen}: {exc}") from exc

    def _expire_agents(self, gateway: AgentGatewayService) -> None:
        interval = min(0.5, self.args.lease_ttl / 4)
        while not self._stop.wait(interval):
            for sentence in (gateway.shed_if_cut_off(), gateway.expire_silent_agents()):
                if sentence:
                    log.info(sentence)


    def _call_hooks(self, election: Election) -> None:
        """The leader calls the HTTP lifecycle hooks deployments wait on (one caller at a time)."""
        caller = http_hooks.HookCaller(self.ctx, self.args.hook_timeout)
        while not self._stop.wait(max(1.0, self.args.cycle_interval)):
            if election.is_leader():
                _log_sentence(caller.reconcile)


def _log_sentence(step: Callable[[], str]) -> None:
    try:
        sentence = step()
    except StoreError as exc:
        log.warning("%s: store unavailable: %s", getattr(step, "__name__", "step"), exc)
        return
    if sentence:
        log.info(sentence)


def leader_ttl(args: argparse.Namespace) -> float:
    if args.leader_ttl is not None:
        return args.leader_ttl
    # Whole seconds because etcd's are; below 2 s etcd would round the grant up anyway.
    return max(min(args.lease_ttl, 2.0), float(math.floor(0.7 * args.lease_ttl)))


def advertised(args: argparse.Namespace) -> str:
    if args.advertise_address:
        return args.advertise_address
    host, port = split_hostport(args.listen)
    if host in ("0.0.0.0", "::", ""):
        host = socket.gethostname()
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logs.setup(args.log_level)
    if args.lease_ttl < 1:
        raise SystemExit("controlplane: --lease-ttl must be at least 1 second")
    if args.leader_ttl is not None and not 1 <= args.leader_ttl <= args.lease_ttl:
        raise SystemExit("controlplane: --leader-ttl must be between 1 second and --lease-ttl")
    if not 2 <= args.console_session_ttl <= 7 * 86400:
        raise SystemExit("controlplane: --console-session-ttl must be 2 seconds to 7 days")
    if not MIN_TTL <= args.task_credentials_ttl <= MAX_TTL:
        raise SystemExit(f"controlplane: --task-credentials-ttl must be {MIN_TTL:g}-{MAX_TTL:g} seconds")
    # Only once the arguments are good: these hold for the whole process, and a test that
    # runs main() with bad arguments must not leave them on the rest of its session.
    tune_process()
    return Replica(args).run()


def tune_process() -> None:
    """The interpreter and gRPC settings a replica runs with (see their constants)."""
    # Thousands of agent streams each poll at 10 Hz otherwise (see shoal/grpcwait.py).
    grpcwait.relax_idle_polling()
    sys.setswitchinterval(SWITCH_INTERVAL)
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_COLLECTION_AFTER)

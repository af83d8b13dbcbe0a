"""`python -m agent` / `shoal agent`: flags, then restore, register, connect, and run until
SIGTERM or SIGINT (the containers keep running when the agent stops)."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import shoal.logs
from agent import credentials, identity, task_roles
from agent.agent import Agent, AgentConfig
from agent.connection import BACKOFF_BASE, BACKOFF_CAP, GatewayClient, Registration
from agent.dns import upstream
from agent.dns.responder import DnsResponder
from agent.docker_runtime import DockerRuntime
from agent.hollow import HollowRuntime
from agent.host import HostProbe
from agent.image_cache import CacheSettings
from agent.metrics import AgentMetrics
from agent.prepull import PrePuller
from agent.proxy import process
from agent.proxy.driver import ProxyDriver
from agent.runtime import ContainerRuntimeError, Runtime
from agent.spec import ContainerDns
from shoal.endpoints import parse_endpoints
from shoal.netutil import free_port
from shoal.retry import backoff
from shoal.security.channels import ClientTLS
from shoal.taskdef import policy
from shoal.taskdef.policy import HostPolicy
from shoal.v1 import resources_pb2 as r

log = logging.getLogger("agent")
# Like the ECS agent's terminal exit code: systemd must not restart a deregistered node's
# agent (deploy/systemd/shoal-agent.service has RestartPreventExitStatus=5).
EXIT_DEREGISTERED = 5


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="shoal agent", description="Shoal node agent: runs the tasks the control plane "
                                "assigns to this host in Docker and reports their state.")
    p.add_argument("--endpoint", default=os.environ.get("SHOAL_ENDPOINT"),
                   help="control plane HOST:PORT[,HOST:PORT...], tried in turn (env SHOAL_ENDPOINT; "
                   "default: --join's, else 127.0.0.1:7400)")
    p.add_argument("--join", default="", metavar="HOST:PORT", help="control plane to join at with --token "
                   "(first start only: the node certificate then lives in the state dir)")
    p.add_argument("--token", default=os.environ.get("SHOAL_JOIN_TOKEN", ""),
                   help="join token from `shoal token create` (env SHOAL_JOIN_TOKEN keeps it out of `ps`)")
    p.add_argument("--insecure", action="store_true", default=os.environ.get("SHOAL_INSECURE") == "1",
                   help="plaintext, no certificate: only for a control plane started with --insecure "
                   "(env SHOAL_INSECURE=1)")
    p.add_argument("--cluster", default="default")
    p.add_argument("--state-dir", default="/var/lib/shoal/agent", help="where the node identity is kept")
    p.add_argument("--name", default=socket.gethostname(), help="hostname shown for this node")
    p.add_argument("--address", default="127.0.0.1", help="address the control plane and Prometheus reach us at")
    p.add_argument("--attribute", action="append", default=[], metavar="K=V", help="custom node attribute")
    p.add_argument("--zone", default="", help="sets ecs.availability-zone")
    p.add_argument("--instance-type", default="local", help="sets ecs.instance-type")
    p.add_argument("--cpu-units", type=int, default=0, help="override registered CPU units (default cores*1024)")
    p.add_argument("--memory-mib", type=int, default=0, help="override registered memory MiB (default total)")
    p.add_argument("--metrics-port", type=int, default=0, help="0 picks a free port")
    p.add_argument("--metrics-address", default="127.0.0.1")
    p.add_argument("--runtime", choices=("docker", "hollow"), default="docker")
    p.add_argument("--docker-host", default=os.environ.get("DOCKER_HOST", ""), help="default: DOCKER_HOST or socket")
    p.add_argument("--gc-delay", type=float, default=30.0, help="seconds before stopped containers are removed")
    p.add_argument("--stop-timeout", type=int, default=30, help="default seconds from SIGTERM to SIGKILL")
    p.add_argument("--dynamic-ports", default="", metavar="LOW-HIGH",
                   help="host ports for hostPort 0 (default 32768-60999); agents sharing a dockerd need disjoint ones")
    p.add_argument("--bind-ip", default="0.0.0.0", help="host IP that published ports bind on")
    p.add_argument("--resync-interval", type=float, default=10.0, help="seconds between full resyncs")
    p.add_argument("--image-cleanup", action="store_true",
                   help="remove images this agent pulled once unused (like the ECS agent's image cleanup)")
    p.add_argument("--image-min-age", type=float, default=3600.0, metavar="SECONDS",
                   help="with --image-cleanup: an image stays at least this long after its pull")
    p.add_argument("--image-unused-for", type=float, default=3600.0, metavar="SECONDS",
                   help="with --image-cleanup: and this long after the last task on the node used it")
    p.add_argument("--image-cleanup-per-sweep", type=int, default=5, metavar="N",
                   help="with --image-cleanup: at most this many images removed per sweep (one per resync)")
    p.add_argument("--start-timeout", type=float, default=120.0,
                   help="seconds a container waits for its dependsOn conditions (a container's startTimeout wins)")
    p.add_argument("--max-restart-attempt-period", type=float, default=None, metavar="SECONDS",
                   help="cap every container's restartPolicy.restartAttemptPeriod (ECS allows 60-1800; for tests)")
    p.add_argument("--proxy", action="store_true",
                   help="run the node proxy (HAProxy) and keep it on the cluster's routing table")
    p.add_argument("--proxy-metrics-port", type=int, default=0,
                   help="port of the proxy's Prometheus exporter on --address (0 picks a free one)")
    p.add_argument("--proxy-internal-address", default="",
                   help="where this node's containers reach it: service-connect listeners bind there "
                   "(default: the Docker bridge's gateway; --address with the hollow runtime)")
    p.add_argument("--haproxy", default=process.BINARY, metavar="PATH", help="the haproxy binary")
    p.add_argument("--log-level", default=os.environ.get("SHOAL_LOG_LEVEL", "INFO"))
    p.add_argument("--dns", action="store_true",
                   help="serve service discovery DNS on this node; the containers Shoal starts use it")
    p.add_argument("--dns-address", default="", metavar="IP[,IP...]",
                   help="where the DNS responder listens (default: the Docker bridge gateway, which containers "
                   "reach, and --address)")
    p.add_argument("--dns-port", type=int, default=53,
                   help="the responder's UDP and TCP port; containers use it only on 53 (0 picks a free port)")
    p.add_argument("--dns-shared", action="store_true",
                   help="share the DNS port with the responders of other agents of this cluster on this host "
                   "(SO_REUSEPORT; `shoal up` runs its agents so)")
    p.add_argument("--dns-upstream", default="", metavar="IP[:PORT][,...]",
                   help="resolvers for every other name (default: the nameservers of /etc/resolv.conf)")
    task_roles.add_flags(p)
    policy.add_flags(p)
    return p


def node_policy(args: argparse.Namespace) -> HostPolicy:
    """This node's --allow-* policy; the agent's own state (node key, certificates) is never
    mountable, wherever --state-dir puts it."""
    return policy.from_args(args, forbidden=(os.path.abspath(args.state_dir),))


def _path_resolver(args: argparse.Namespace) -> Callable[[str], str] | None:
    """os.path.realpath when this agent sees the filesystem the Docker daemon mounts from
    (a local socket), so a symlink under an allowed prefix is judged by where it leads."""
    if args.runtime == "docker" and not args.docker_host.startswith(("tcp://", "ssh://", "http")):
        return os.path.realpath
    return None


class UsageError(Exception):
    pass


def _attributes(args: argparse.Namespace) -> dict[str, str]:
    attrs = {"ecs.os-type": "linux", "ecs.instance-type": args.instance_type}
    if args.zone:
        attrs["ecs.availability-zone"] = args.zone
    for item in args.attribute:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--attribute {item!r}: expected KEY=VALUE")
        attrs[key.strip()] = value
    return attrs


def _dynamic_ports(value: str) -> tuple[int, int]:
    if not value:
        return (0, 0)
    low, sep, high = value.partition("-")
    if not (sep and low.isdigit() and high.isdigit() and 1024 <= int(low) < int(high) <= 65535):
        raise UsageError(f"--dynamic-ports {value!r}: expected LOW-HIGH within 1024-65535, LOW < HIGH")
    return int(low), int(high)


def _endpoints(value: str) -> list[str]:
    try:
        return parse_endpoints(value, "--endpoint")
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _dns_addresses(value: str, defaults: list[str]) -> list[str]:
    """--dns-address, or the defaults; each a specific IP, since a wildcard socket may answer
    from another address than the one asked and the client then drops the answer."""
    out: list[str] = []
    for item in (value.split(",") if value.strip() else defaults):
        text = item.strip()
        if not text:
            continue
        try:
            ip = ipaddress.ip_address(text)
        except ValueError:
            raise UsageError(f"--dns-address {text!r}: not an IP address") from None
        if ip.is_unspecified:
            raise UsageError(f"--dns-address {text!r}: name the addresses to listen on, not a wildcard")
        if str(ip) not in out:
            out.append(str(ip))
    if not out:
        raise UsageError("--dns-address: no address to listen on")
    return out


def _dns_upstreams(value: str) -> list[upstream.Upstream] | None:
    """--dns-upstream, or None for the nameservers of resolv.conf."""
    try:
        return [upstream.parse(u) for u in value.split(",") if u.strip()] if value.strip() else None
    except upstream.UpstreamError as exc:
        raise UsageError(f"--dns-upstream {exc}") from None


def check_dns_flags(args: argparse.Namespace) -> None:
    """Refuses bad DNS flags before anything starts (a join, the engine)."""
    if not args.dns:
        return
    if not 0 <= args.dns_port < 65536:
        raise UsageError(f"--dns-port: must be 0-65535, got {args.dns_port}")
    _dns_upstreams(args.dns_upstream)
    if args.dns_address.strip():
        _dns_addresses(args.dns_address, [])


def dns_responder(args: argparse.Namespace, runtime: Runtime) -> DnsResponder | None:
    """The responder --dns asks for (not yet started), or None; refuses bad DNS flags."""
    if not args.dns:
        return None
    check_dns_flags(args)
    upstreams = _dns_upstreams(args.dns_upstream)
    gateway = runtime.bridge_gateway() if not args.dns_address.strip() else ""
    addresses = _dns_addresses(args.dns_address, [gateway, args.address])
    # Containers reach the node's proxy where they reach its responder: the bridge side.
    reachable = [a for a in addresses if not ipaddress.ip_address(a).is_loopback]
    return DnsResponder(addresses, args.dns_port, proxy_address=(reachable or addresses)[0], upstreams=upstreams,
                        shared=args.dns_shared)


def container_dns(responder: DnsResponder) -> Callable[[r.Task], ContainerDns | None] | None:
    """What containers get: the first address they can reach the responder at. Docker's
    `dns` option has no port, so a responder off port 53 is for hosts only."""
    reachable = [a for a in responder.addresses if not ipaddress.ip_address(a).is_loopback]
    if responder.port != 53 or not reachable:
        log.warning("containers keep the engine's DNS: the responder is not on port 53 of an address they reach",
                    extra=shoal.logs.kv(addresses=",".join(responder.addresses), port=responder.port))
        return None
    return lambda task: ContainerDns(servers=(reachable[0],), search=responder.search_domains(task.service_name))


def make_runtime(args: argparse.Namespace) -> Runtime:
    if args.runtime == "hollow":
        return HollowRuntime(pull_delay=0.05, start_delay=0.02, stop_delay=0.02)
    return DockerRuntime(args.docker_host or None)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    shoal.logs.setup(args.log_level)
    try:
        attrs = _attributes(args)
        endpoints = _endpoints(args.endpoint or args.join or "127.0.0.1:7400")
        _dynamic_ports(args.dynamic_ports)  # refuse a bad value before anything starts
        check_dns_flags(args)
        for flag, value in (("--cpu-units", args.cpu_units), ("--memory-mib", args.memory_mib),
                            ("--stop-timeout", args.stop_timeout), ("--gc-delay", args.gc_delay)):
            if value < 0:
                raise UsageError(f"{flag}: must be >= 0, got {value}")
        for flag, port in (("--metrics-port", args.metrics_port), ("--proxy-metrics-port", args.proxy_metrics_port)):
            if not 0 <= port < 65536:
                raise UsageError(f"{flag}: must be 0-65535, got {port}")
        stored = identity.load(args.state_dir)
        if stored.get("cluster") and stored["cluster"] != args.cluster:
            raise UsageError(f"--cluster {args.cluster!r}: the state dir {args.state_dir} belongs to a node of "
                             f"cluster {stored['cluster']!r}; use another --state-dir")
        node_id, tls = stored.get("node_id", ""), None
        if not args.insecure:
            join_at = _endpoints(args.join)[0] if args.join else endpoints[0]
            tls, node_id = credentials.resolve(args.state_dir, join_at, args.token, args.name, args.cluster, node_id)
        runtime = make_runtime(args)
        responder = dns_responder(args, runtime)
    except (UsageError, identity.IdentityError, ContainerRuntimeError, credentials.CredentialsError) as exc:
        print(f"shoal agent: {exc}", file=sys.stderr)
        return 2
    exit_now(run(args, runtime, endpoints, attrs, node_id, tls, responder))


def exit_now(code: int) -> NoReturn:
    """Ends the process at once: an operation thread still in a `docker stop` (up to the
    container's stop timeout) would otherwise hold the interpreter's exit, which joins every
    worker thread. The containers are dockerd's; a restarted agent adopts them."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def run(args: argparse.Namespace, runtime: Runtime, endpoints: list[str], attrs: dict[str, str],
        node_id: str, tls: ClientTLS | None = None, responder: DnsResponder | None = None) -> int:
    if responder is not None:
        try:
            responder.start()
        except OSError as exc:
            print(f"shoal agent: --dns-address/--dns-port: cannot listen on {exc.strerror}", file=sys.stderr)
            return 2
    host = HostProbe()
    metrics = AgentMetrics(host)
    try:
        metrics_port = metrics.serve(args.metrics_port, args.metrics_address)
    except OSError as exc:
        print(f"shoal agent: --metrics-port {args.metrics_port}: {exc}", file=sys.stderr)
        return 2
    proxy = None
    if args.proxy:
        try:
            own = frozenset({metrics_port} | ({responder.port} if responder is not None else set()))
            proxy = make_proxy(args, runtime, own)
            log.info(proxy.start(), extra=shoal.logs.kv(metrics_port=proxy.addresses.metrics_port,
                                                        internal=proxy.addresses.internal))
        except (UsageError, process.ProxyError, ContainerRuntimeError, OSError) as exc:
            print(f"shoal agent: --proxy: {exc}", file=sys.stderr)
            metrics.close()
            return 2
    try:
        return _run(args, runtime, endpoints, attrs, node_id, tls, host, metrics, metrics_port, proxy, responder)
    finally:
        if proxy is not None:
            proxy.stop()


def make_proxy(args: argparse.Namespace, runtime: Runtime, reserved_ports: frozenset[int] = frozenset()) -> ProxyDriver:
    """The node proxy's driver (not started): its files under the state dir, its exporter
    on --address, service-connect listeners on the address containers reach the node at;
    no route binds ``reserved_ports`` (the agent's metrics and DNS ports), nor a port below
    1024 unless --allow-privileged-listener-ports."""
    internal = args.proxy_internal_address
    if not internal:
        internal = (runtime.bridge_gateway() if isinstance(runtime, DockerRuntime) else "") or args.address
    port = args.proxy_metrics_port or free_port(args.address)
    workdir = Path(os.path.abspath(args.state_dir)) / "proxy"
    workdir.mkdir(mode=0o700, parents=True, exist_ok=True)
    return ProxyDriver(workdir, external=args.address, internal=internal, metrics_port=port,
                       binary=args.haproxy, socket_dir=process.socket_dir_for(workdir), reserved_ports=reserved_ports,
                       privileged_ports=args.allow_privileged_listener_ports)


def _image_cache(args: argparse.Namespace) -> CacheSettings | None:
    if not args.image_cleanup:
        return None
    if args.runtime != "docker":
        raise SystemExit("agent: --image-cleanup needs the docker runtime (the hollow one pulls nothing)")
    if args.image_min_age < 0 or args.image_unused_for < 0 or args.image_cleanup_per_sweep < 1:
        raise SystemExit("agent: --image-min-age and --image-unused-for must be >= 0, "
                         "--image-cleanup-per-sweep >= 1")
    return CacheSettings(args.image_min_age, args.image_unused_for, args.image_cleanup_per_sweep)


def _run(args: argparse.Namespace, runtime: Runtime, endpoints: list[str], attrs: dict[str, str], node_id: str,
         tls: ClientTLS | None, host: HostProbe, metrics: AgentMetrics, metrics_port: int,
         proxy: ProxyDriver | None, responder: DnsResponder | None) -> int:
    config = AgentConfig(cluster=args.cluster, node_id=node_id, gc_delay=args.gc_delay,
                         stop_timeout=args.stop_timeout, bind_ip=args.bind_ip,
                         resync_interval=args.resync_interval, start_timeout=args.start_timeout,
                         restart_period_cap=args.max_restart_attempt_period,
                         policy=node_policy(args), resolve_path=_path_resolver(args),
                         image_cache=_image_cache(args))
    agent = Agent(config, runtime, on_cycle=metrics.observe_cycle)
    if proxy is not None:
        agent.routing_consumers.append(proxy)
    metrics.attach(agent)
    reg = Registration(cluster=args.cluster, hostname=args.name, cpu_units=args.cpu_units or host.cpu_units(),
                       memory_mib=args.memory_mib or host.memory_mib(), attributes=attrs, address=args.address,
                       metrics_port=metrics_port, state_dir=args.state_dir,
                       dynamic_ports=_dynamic_ports(args.dynamic_ports),
                       proxy_metrics_port=proxy.addresses.metrics_port if proxy is not None else 0)
    client = GatewayClient(endpoints, reg, agent, host, tls=tls, insecure=args.insecure)
    if proxy is not None:
        proxy.on_checks = client.send_proxy_checks
    agent.resolve_secrets = client.task_secrets
    if responder is not None:
        agent.routing_consumers.append(responder)
        agent.container_dns = container_dns(responder)
    agent.resolve_pull_auth = client.task_pull_credentials
    prepuller = PrePuller(runtime, client.prepull_credentials, client.send_prepull_report, agent.pulls.cache, node_id)
    client.on_prepull = prepuller.apply
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        log.info("stopping on signal; containers keep running", extra=shoal.logs.kv(signal=signum))
        stop.set()
        client._stopped.set()
        agent.interrupt()

    client.on_deregistered = stop.set
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    log.info("agent starting", extra=shoal.logs.kv(node=node_id or "(new)", cluster=args.cluster,
                                                    endpoints=",".join(endpoints), metrics_port=metrics_port,
                                                    runtime=args.runtime,
                                                    policy=" ".join(policy.to_argv(config.policy)) or "closed"))
    if not node_id and not client.register_until_done():
        metrics.close()
        return EXIT_DEREGISTERED if client.deregistered.is_set() else 0
    attempt = 0
    while not stop.is_set():
        try:
            agent.restore()
            break
        except ContainerRuntimeError as exc:
            log.warning("cannot restore yet: container runtime unavailable", extra=shoal.logs.kv(error=exc))
            stop.wait(backoff(attempt, BACKOFF_BASE, BACKOFF_CAP))
            attempt += 1
    if stop.is_set():
        metrics.close()
        return 0
    role_endpoint = task_roles.from_args(
        args.task_credentials_listen, args.state_dir,
        runtime.bridge_gateway() if isinstance(runtime, DockerRuntime) else "", args.address,
        client.task_role_credentials, lambda: task_roles.role_tasks(agent.desired))
    agent.task_role_env = role_endpoint.environment if role_endpoint is not None else None
    agent.start()
    agent.wake()
    client.start()
    if tls is not None:
        credentials.start_renewal(client, args.state_dir, stop)
    stop.wait()
    client.stop()
    if client.deregistered.is_set():
        log.error(agent.release_all(timeout=60), extra=shoal.logs.kv(node=agent.node_id))
    left = agent.operations_in_flight()
    agent.stop()
    if left:
        log.info("stopped; left the container operations under way to dockerd",
                 extra=shoal.logs.kv(node=agent.node_id, operations=left))
    metrics.close()
    if responder is not None:
        responder.stop()
    if role_endpoint is not None:
        role_endpoint.close()
    runtime.close()
    return EXIT_DEREGISTERED if client.deregistered.is_set() else 0

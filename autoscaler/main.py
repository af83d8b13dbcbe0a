"""`python -m autoscaler` / `shoal autoscaler`: service auto scaling from Prometheus metrics
and cluster auto scaling through capacity providers. Several may run; one leads (an etcd
election, component "autoscaler"), the others stand by."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import socket
import sys
import threading
from pathlib import Path

from autoscaler.api import ControlPlane
from autoscaler.cluster_scaler import ClusterScaler
from autoscaler.loop import Loop, TooManyFailures
from autoscaler.metrics import serve as serve_metrics
from autoscaler.policies import Tuning
from autoscaler.prom import PromClient
from autoscaler.providers import profiles
from autoscaler.service_scaler import ServiceScaler
from shoal import logs
from shoal.durations import parse_duration
from shoal.election import Election
from shoal.endpoints import Connection, PlaintextRefused, insecure_from_env, parse_endpoints
from shoal.replica_lease import ReplicaLease
from shoal.security.channels import ClientTLS, TlsConfigError
from shoal.store.base import StoreError
from shoal.store.etcd import EtcdStore
from shoal.validation import ValidationError

log = logging.getLogger("autoscaler")


def _rate_window(text: str) -> str:
    """--rate-window as PromQL's rate() takes it ("60s"): any duration shoal.durations reads,
    in whole seconds."""
    try:
        seconds = parse_duration(text, "--rate-window")
    except ValidationError as exc:
        raise argparse.ArgumentTypeError(exc.message) from None
    if seconds < 1 or seconds != int(seconds):
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of seconds (e.g. 30s, 1m)")
    return f"{int(seconds)}s"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="shoal autoscaler",
                                description="Scale services from Prometheus metrics and nodes through capacity "
                                            "providers.")
    p.add_argument("--endpoint", default=os.environ.get("SHOAL_ENDPOINT", "127.0.0.1:7400"),
                   help="control plane HOST:PORT, or several replicas' comma-separated (fails over between them)")
    p.add_argument("--insecure", action="store_true", default=insecure_from_env(),
                   help="without a CA (SHOAL_CA/SHOAL_CERT/SHOAL_KEY), talk plaintext to a control plane started "
                        "with --insecure; refused otherwise (env SHOAL_INSECURE=1)")
    p.add_argument("--node-endpoint", help="control plane address new nodes' agents use (default: --endpoint)")
    p.add_argument("--prometheus", default="http://127.0.0.1:9090", help="Prometheus base URL")
    p.add_argument("--etcd", default="http://127.0.0.1:2379", help="etcd endpoints for leader election")
    p.add_argument("--etcd-ca")
    p.add_argument("--etcd-cert")
    p.add_argument("--etcd-key")
    p.add_argument("--interval", type=float, default=5.0, help="seconds between evaluations")
    p.add_argument("--rate-window", type=_rate_window, default="1m",
                   help="rate() window of the predefined CPU metric (e.g. 30s, 1m)")
    p.add_argument("--scale-in-evaluations", type=int, default=3,
                   help="evaluations below target before target tracking scales in")
    p.add_argument("--cluster-scale-in-delay", type=float, default=60.0,
                   help="seconds a capacity provider stays below target before removing nodes")
    p.add_argument("--state-dir", default=str(Path.home() / ".shoal" / "autoscaler"),
                   help="where node providers keep their state")
    p.add_argument("--providers-config", metavar="PATH",
                   help=f"JSON file of node provider profiles, the only commands and plugin classes capacity "
                        f"providers may run (default: {profiles.DEFAULT_PATH} if it exists; 'local' is built in)")
    p.add_argument("--metrics-listen", default="127.0.0.1:0", help="HOST:PORT for /metrics (port 0: any)")
    p.add_argument("--name", default=f"{socket.gethostname()}-{os.getpid()}", help="name shown as leader")
    p.add_argument("--lease-ttl", type=float, default=10.0, help="leadership lease, seconds")
    p.add_argument("--max-failures", type=int, default=20, help="consecutive failed cycles before exiting (0: never)")
    p.add_argument("--prometheus-timeout", type=float, default=5.0)
    p.add_argument("--log-level", default=os.environ.get("SHOAL_LOG_LEVEL", "INFO"))
    return p


def _check(args: argparse.Namespace) -> str | None:
    if args.interval < 0.5:
        return "--interval: must be at least 0.5 seconds"
    if args.scale_in_evaluations < 1:
        return "--scale-in-evaluations: must be at least 1"
    if args.cluster_scale_in_delay < 0:
        return "--cluster-scale-in-delay: must not be negative"
    if args.lease_ttl < 2 or args.lease_ttl < args.interval:
        return "--lease-ttl: must be at least 2 seconds and at least --interval"
    if not args.prometheus.startswith(("http://", "https://")):
        return f"--prometheus: {args.prometheus!r} is not an http(s) URL"
    try:
        parse_endpoints(args.endpoint, "--endpoint")
    except ValueError as exc:
        return str(exc)
    try:
        _listen(args.metrics_listen)
    except ValueError as exc:
        return f"--metrics-listen: {exc}"
    return None


def _listen(value: str) -> tuple[str, int]:
    """HOST:PORT where port 0 (any free port) is allowed."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"{value!r} is not HOST:PORT (port 0-65535)")
    return host.strip("[]"), int(port)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logs.setup(args.log_level)
    problem = _check(args)
    if problem:
        print(f"shoal autoscaler: {problem}", file=sys.stderr)
        return 2
    config_path = Path(args.providers_config) if args.providers_config else (
        profiles.DEFAULT_PATH if profiles.DEFAULT_PATH.exists() else None)
    try:
        known = profiles.load(config_path)
    except profiles.ProfilesError as exc:
        print(f"shoal autoscaler: {exc}", file=sys.stderr)
        return 2
    source = f"--providers-config {config_path}" if config_path else "no --providers-config: built-in profiles only"
    try:
        conn = Connection(parse_endpoints(args.endpoint, "--endpoint"), ClientTLS.from_env(), insecure=args.insecure)
    except (PlaintextRefused, TlsConfigError) as exc:
        print(f"shoal autoscaler: {exc}", file=sys.stderr)
        return 2
    mhost, mport = _listen(args.metrics_listen)
    try:
        metrics_port = serve_metrics(mhost, mport)
    except OSError as exc:
        print(f"shoal autoscaler: --metrics-listen {args.metrics_listen}: {exc}", file=sys.stderr)
        return 2
    store = EtcdStore(args.etcd, ca_cert=args.etcd_ca, cert_cert=args.etcd_cert, cert_key=args.etcd_key)
    lease = ReplicaLease(store, args.lease_ttl)
    lease.start()
    election = Election(store, lease, args.name, component="autoscaler")
    cp = ControlPlane(conn)
    prom = PromClient(args.prometheus, timeout=args.prometheus_timeout)
    services = ServiceScaler(cp, prom, interval=args.interval, rate_window=args.rate_window,
                             tuning=Tuning(scale_in_evaluations=args.scale_in_evaluations),
                             may_act=election.is_leader)
    clusters = ClusterScaler(cp, endpoint=args.node_endpoint or args.endpoint, state_dir=Path(args.state_dir),
                             scale_in_delay=args.cluster_scale_in_delay, may_act=election.is_leader,
                             profiles=known, profiles_source=source)
    loop = Loop(election.campaign, election.is_leader,
                [("services", services.run_once), ("capacity providers", clusters.run_once)],
                on_leading=services.seed, interval=args.interval, max_failures=args.max_failures)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    log.info("autoscaler starting", extra=logs.kv(endpoint=args.endpoint, prometheus=args.prometheus,
                                                   interval=args.interval, metrics_port=metrics_port,
                                                   name=args.name, profiles=",".join(sorted(known))))
    code = 0
    try:
        loop.run(stop)
    except TooManyFailures as exc:
        log.error(str(exc))
        code = 1
    finally:
        log.info(election.resign())
        clusters.close()
        lease.stop()
        cp.close()
        prom.close()
        with contextlib.suppress(StoreError):
            store.close()
    log.info("autoscaler stopped")
    return code

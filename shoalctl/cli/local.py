"""`shoal up`, `shoal down`, `shoal status`: a whole cluster on this machine (etcd, a control
plane, N agents, Prometheus) with a sample service, in the foreground or detached."""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import sys
import threading
import time
from pathlib import Path

import grpc

from shoal.taskdef import policy
from shoal.v1 import operator_pb2 as op
from shoal.v1 import resources_pb2 as r
from shoal.waiting import wait_until
from shoalctl.cli import sample_lb
from shoalctl.cli.client import state_dir as default_state_dir
from shoalctl.cli.errors import CliError
from shoalctl.cli.output import table
from shoalctl.local import cluster as localcluster
from shoalctl.local import statefiles, teardown
from shoalctl.local.cluster import CLUSTER, ClusterError, LocalCluster
from shoalctl.local.ports import port_free
from shoalctl.local.registry import available as registry_available

SAMPLE_SERVICE = "web"
SAMPLE_COUNT = 3
SAMPLE_TASKDEF = Path(__file__).resolve().parents[2] / "examples" / "web.json"
DOCKER_HINT = "start it with: sudo dockerd & — or run scripts/bootstrap.sh"


def register(sub) -> None:
    p = sub.add_parser("up", help="run a local cluster (etcd, control plane, agents, Prometheus)")
    _state_dir_flag(p)
    p.add_argument("--agents", type=int, default=3, help="how many agents (nodes) to run (default 3)")
    p.add_argument("--zones", default=",".join(localcluster.DEFAULT_ZONES),
                   help="comma-separated availability zones, given to the agents round-robin")
    p.add_argument("--port", type=int, default=7400, help="control plane gRPC port (0 picks a free one)")
    p.add_argument("--metrics-port", type=int, help="control plane /metrics and /sd port (default PORT+1)")
    p.add_argument("--prometheus-port", type=int, default=9090, help="Prometheus port (0 picks a free one)")
    p.add_argument("--ecs-port", type=int, default=7480,
                   help="port of the ECS-compatible API for the aws CLI and boto3 (0 picks a free one, -1: off)")
    p.add_argument("--console-port", type=int, default=7490,
                   help="port of the web console (0 picks a free one, -1: off); `shoal console` opens it")
    p.add_argument("--no-prometheus", action="store_true", help="do not start Prometheus")
    p.add_argument("--no-registry", action="store_true",
                   help="do not start the cluster registry (it starts when docker-registry is installed)")
    p.add_argument("--registry-gc-interval", type=float, default=3600.0, metavar="SECONDS",
                   help="in the foreground, run the registry's garbage collection this often (it stops the "
                        "registry for a moment) so images that lifecycle policies expired free their disk; "
                        "0: never")
    p.add_argument("--registry-port", type=int, default=5000,
                   help="the cluster registry's port (image names carry it, so it stays the same from one "
                        "`shoal up` to the next; 0: any free port)")
    p.add_argument("--no-proxy", action="store_true",
                   help="nodes run no node proxy (HAProxy); by default each docker node runs one")
    p.add_argument("--no-dns", action="store_true",
                   help="nodes run no DNS responder; by default each node with a proxy answers service "
                        "discovery names (SERVICE.NAMESPACE) on its address and, for containers, on the Docker "
                        "bridge gateway's port 53, a port the agents of this host share")
    p.add_argument("--no-sample", action="store_true", help=f"do not create the sample service {SAMPLE_SERVICE!r}")
    p.add_argument("--runtime", choices=("docker", "hollow"), default="docker",
                   help="hollow agents only pretend to run containers")
    p.add_argument("--lease-ttl", type=float, default=5.0, help="seconds without heartbeats before a node is lost")
    p.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for the cluster and the sample")
    p.add_argument("--detach", "-d", action="store_true", help="return once up; stop later with `shoal down`")
    # The cluster's policy: its control plane, its agents and the autoscaler's local nodes.
    policy.add_flags(p)
    p.set_defaults(func=up)

    p = sub.add_parser("down", help="stop the local cluster `shoal up --detach` started")
    _state_dir_flag(p)
    p.add_argument("--purge", action="store_true", help="also delete the state dir (etcd data, node identities)")
    p.set_defaults(func=down)

    p = sub.add_parser("status", help="show the local cluster's processes and addresses, as one table")
    _state_dir_flag(p)
    p.add_argument("--output", "-o", choices=("table", "json"), default="table")
    p.set_defaults(func=status)


def _state_dir_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--state-dir", type=Path,
                   help="where the cluster keeps data, logs and pids (default: $SHOAL_STATE_DIR or ~/.shoal)")


def _state_dir(a) -> Path:
    return (a.state_dir or default_state_dir()).expanduser().resolve()


# ---- up ---------------------------------------------------------------------------------------

def up(a) -> int:
    state = _state_dir(a)
    zones = [z.strip() for z in a.zones.split(",") if z.strip()]
    if not zones:
        raise CliError("--zones: give at least one zone, e.g. --zones a,b,c")
    if a.agents < 0:
        raise CliError("--agents: must be 0 or more")
    ecs_port = None if a.ecs_port == -1 else a.ecs_port
    console_port = None if a.console_port == -1 else a.console_port
    ports = (("--port", a.port), ("--metrics-port", a.metrics_port), ("--prometheus-port", a.prometheus_port),
             ("--ecs-port", ecs_port), ("--console-port", console_port))
    for flag, port in ports:
        if port is not None and not 0 <= port < 65536:
            raise CliError(f"{flag}: must be 0-65535, got {port}")
        wanted = port and not (flag == "--prometheus-port" and a.no_prometheus)
        if wanted and not port_free(port):
            raise CliError(f"{flag}: port {port} is already in use on 127.0.0.1 (is a cluster already up? "
                           f"`shoal status`); choose another, or 0 for any free port")
    if shutil.which("etcd") is None:
        raise CliError("etcd is not installed (no `etcd` on PATH): run scripts/bootstrap.sh "
                       "or `apt-get install etcd-server`")
    if a.runtime == "docker":
        _ensure_docker_and_image()
        if not a.no_proxy and shutil.which("haproxy") is None:
            raise CliError("haproxy is not installed (the node proxy): run scripts/bootstrap.sh or "
                           "`apt-get install haproxy`, or pass --no-proxy")
    metrics_port = a.metrics_port if a.metrics_port is not None else (a.port + 1 if a.port else 0)

    cluster = LocalCluster(
        state,
        agents=a.agents,
        zones=zones,
        api_port=a.port,
        metrics_port=metrics_port,
        prometheus_port=a.prometheus_port,
        lease_ttl=a.lease_ttl,
        runtime=a.runtime,
        prometheus=not a.no_prometheus,
        ecs_port=ecs_port,
        console_port=console_port,
        extra_controlplane_args=policy.to_argv(policy.from_args(a)),
        registry=not a.no_registry and a.runtime == "docker" and registry_available() is not None,
        registry_port=a.registry_port,
        proxy=not a.no_proxy,
        dns=not a.no_dns,
    )
    # SIGTERM means what Ctrl-C means: stop everything in order, in either mode.
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        print(f"starting a local cluster in {state} (logs in {cluster.logs_dir})", flush=True)
        try:
            cluster.start(timeout=a.timeout)
        except ClusterError as exc:
            raise CliError(f"the local cluster did not start: {exc}") from None
        try:
            tasks, lb_url = _create_sample(cluster, a.timeout) if not a.no_sample else ([], None)
        except BaseException:
            cluster.stop()
            raise
        _print_summary(cluster, state, tasks, a.detach, sample=not a.no_sample, lb_url=lb_url)
        if a.detach:
            return 0
        return _run_foreground(cluster, a.registry_gc_interval)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _ensure_docker_and_image() -> None:
    import docker
    import docker.errors

    try:
        client = docker.from_env(timeout=120)
        client.ping()
    except docker.errors.DockerException as exc:
        raise CliError(f"dockerd is not running or not reachable ({_first_line(exc)}): {DOCKER_HINT}") from None
    try:
        from shoalctl.images import ensure_busybox_image

        ensure_busybox_image(client)
    except docker.errors.DockerException as exc:
        raise CliError(f"could not build the busybox image: {_first_line(exc)}") from None
    finally:
        client.close()


def _run_foreground(cluster: LocalCluster, gc_interval: float = 0.0) -> int:
    """Waits for Ctrl-C or SIGTERM (then stops everything), or for the cluster to go away
    under us (`shoal down` from another terminal, or a crash); meanwhile collects the
    registry's garbage every ``gc_interval`` seconds (0: never)."""
    print("running in the foreground: Ctrl-C stops the cluster", flush=True)
    idle = threading.Event()
    next_gc = time.monotonic() + gc_interval
    try:
        while True:
            idle.wait(1.0)
            if gc_interval > 0 and time.monotonic() >= next_gc and cluster.registry is not None:
                next_gc = time.monotonic() + gc_interval
                try:
                    print(cluster.registry.garbage_collect(), flush=True)
                except RuntimeError as exc:
                    print(f"shoal: {exc}", file=sys.stderr, flush=True)
            gone = cluster.core_exited()
            if gone:
                print(f"shoal: {' and '.join(gone)} exited (`shoal down`, or a crash: see {cluster.logs_dir}); "
                      "stopping the rest", file=sys.stderr, flush=True)
                cluster.stop()
                return 1
    except KeyboardInterrupt:
        print("\nstopping the local cluster ...", flush=True)
        for line in cluster.stop():
            print(f"  {line}")
        return 0


# ---- the sample service -----------------------------------------------------------------------

def _create_sample(cluster: LocalCluster, timeout: float) -> tuple[list[r.Task], str | None]:
    """Registers examples/web.json, creates service "web" with 3 tasks (leaving an existing
    one as it is) behind load balancer "web" (with the node proxy: sample_lb) and waits until
    they run and the load balancer answers; returns the running tasks and the load
    balancer's URL (None without the proxy)."""
    try:
        taskdef_json = SAMPLE_TASKDEF.read_text()
    except OSError as exc:
        raise CliError(f"cannot read the sample task definition {SAMPLE_TASKDEF}: {exc.strerror} "
                       "(use --no-sample to start without it)") from None
    stub = cluster.operator
    _call(stub.CreateCluster, op.CreateClusterRequest(cluster_name=CLUSTER), ok_if_exists=True)
    _call(stub.RegisterTaskDefinition, op.RegisterTaskDefinitionRequest(json=taskdef_json))
    lb_url = sample_lb.url(sample_lb.ensure(cluster)) if cluster.proxy else None
    attach = [r.ServiceLoadBalancer(load_balancer_name=sample_lb.NAME, container_name="web", container_port=8080)]
    _call(stub.CreateService, op.CreateServiceRequest(
        cluster=CLUSTER, service_name=SAMPLE_SERVICE, task_definition="web", desired_count=SAMPLE_COUNT,
        load_balancers=attach if lb_url else [],
    ), ok_if_exists=True)
    print(f"created service {SAMPLE_SERVICE!r} with {SAMPLE_COUNT} tasks; waiting for them to run ...", flush=True)
    tasks: list[r.Task] = []

    def running() -> bool:
        nonlocal tasks
        tasks = _running_tasks(cluster)
        return len(tasks) >= SAMPLE_COUNT

    if not wait_until(running, timeout, interval=0.5):
        print(f"shoal: warning: {len(tasks)} of {SAMPLE_COUNT} sample tasks running after {timeout}s; "
              f"see `shoal task list` and the logs in {cluster.logs_dir}", file=sys.stderr, flush=True)
    elif lb_url and not wait_until(lambda: sample_lb.answers(lb_url), timeout, interval=0.5):
        print(f"shoal: warning: load balancer {sample_lb.NAME!r} did not answer at {lb_url} after {timeout}s; "
              f"see `shoal lb describe {sample_lb.NAME}` and the logs in {cluster.logs_dir}",
              file=sys.stderr, flush=True)
    return tasks, lb_url


def _running_tasks(cluster: LocalCluster) -> list[r.Task]:
    """The sample service's RUNNING tasks that have a host port."""
    arns = list(cluster.operator.ListTasks(
        op.ListTasksRequest(cluster=CLUSTER, service_name=SAMPLE_SERVICE, desired_status="RUNNING"), timeout=10,
    ).arns)
    if not arns:
        return []
    described = cluster.operator.DescribeTasks(op.DescribeTasksRequest(cluster=CLUSTER, tasks=arns), timeout=10)
    return [t for t in described.tasks if t.last_status == "RUNNING" and _host_ports(t)]


def _host_ports(task: r.Task) -> list[int]:
    return [b.host_port for c in task.containers for b in c.network_bindings if b.host_port]


def _call(method, request, ok_if_exists: bool = False):
    try:
        return method(request, timeout=30)
    except grpc.RpcError as exc:
        if ok_if_exists and exc.code() == grpc.StatusCode.ALREADY_EXISTS:
            return None
        raise CliError(f"{type(request).__name__.removesuffix('Request')}: {exc.details()}") from None


def fetch_command(url: str) -> str:
    """A command that prints the page at ``url`` with what this machine has: curl or wget
    when installed (a minimal Debian has neither), else the python3 Shoal runs on."""
    if shutil.which("curl"):
        return f"curl {url}"
    if shutil.which("wget"):
        return f"wget -qO- {url}"
    return f"python3 -c 'import urllib.request; print(urllib.request.urlopen(\"{url}\").read().decode())'"


def _print_summary(cluster: LocalCluster, state: Path, tasks: list[r.Task], detached: bool, sample: bool,
                   lb_url: str | None = None) -> None:
    nodes = ", ".join(f"{a.name} ({a.zone})" for a in cluster.agents.values())
    lines = [
        "",
        f"Shoal is up (state and logs in {state})",
        f"  control plane  {cluster.endpoint}",
        f"  metrics        {cluster.metrics_url}",
        f"  prometheus     {cluster.prometheus_url or 'not running'}",
        f"  etcd           {cluster.etcd_url}",
        "  ECS API        " + (f"{'https' if cluster.secure else 'http'}://127.0.0.1:{cluster.ecs_port}"
                                "  (aws ecs --endpoint-url … [--ca-bundle pki/ca.crt]; keys: shoal accesskey create)"
                                if cluster.ecs_port is not None else "off"),
        "  console        " + (f"{', '.join(cluster.console_urls)}  (log in: shoal console"
                                f"{'; its certificate is from pki/ca.crt' if cluster.secure else ''})"
                                if cluster.console_urls else "off"),
        "  registry       " + (f"{cluster.registry_address}  (shoal registry login; shoal repo create NAME)"
                                if cluster.registry_address else "off"),
        f"  nodes          {nodes or 'none'}",
    ]
    names = {a.node_id: a.name for a in cluster.agents.values() if a.node_id}
    urls = [lb_url] if lb_url else []
    if lb_url:
        lines += ["", f"load balancer {sample_lb.NAME!r} answers at {lb_url}",
                  f"  (so does every node's address, {sample_lb.node_addresses(cluster)}, on that port; "
                  "requests go round the sample tasks)"]
    elif sample and tasks:
        lines += ["", "no load balancer (--no-proxy): each task answers on its own host port"]
    if tasks:
        lines += ["", f"service {SAMPLE_SERVICE!r} answers at:"]
        for t in sorted(tasks, key=lambda t: names.get(t.node_id, t.node_id)):
            for port in _host_ports(t):
                urls.append(f"http://127.0.0.1:{port}/")
                lines.append(f"  {urls[-1]:<28} task {t.id[:12]} on {names.get(t.node_id, t.node_id[:12])}")
    env = []
    if state != default_state_dir().expanduser().resolve():
        env.append(f"export SHOAL_STATE_DIR={state}")
    lines += ["", "next, try:", *[f"  {e}" for e in env]]
    if urls:
        lines.append(f"  {fetch_command(urls[0])}")
    lines += [
        "  shoal node list",
        "  shoal service list",
        "  shoal task list",
    ]
    if sample:
        lines.append(f"  shoal service update {SAMPLE_SERVICE} --desired 5")
    else:
        lines.append(f"  shoal taskdef register {SAMPLE_TASKDEF}")
    if cluster.prometheus_url:
        lines.append(f"  # in a browser: {cluster.prometheus_url}/targets")
    if detached:
        down = "shoal down" + ("" if not env else f" --state-dir {state}")
        lines.append(f"  {down}    # stops everything")
    print("\n".join(lines), flush=True)


# ---- down and status --------------------------------------------------------------------------

def down(a) -> int:
    state = _state_dir(a)
    if not statefiles.pids_path(state).exists():
        print(f"no local cluster recorded in {state}: nothing to stop")
    else:
        try:
            for line in teardown.stop_recorded(state):
                print(line)
        except ClusterError as exc:
            raise CliError(str(exc)) from None
    if a.purge and state.exists():
        _purge(state)
        print(f"deleted {state}")
    return 0


def _purge(state: Path) -> None:
    # Refuse to delete anything that does not look like a state dir `shoal up` made.
    markers = ("etcd", "agents", "logs")
    if not any((state / m).exists() for m in markers):
        raise CliError(f"--purge: {state} does not look like a shoal state dir; not deleting it")
    shutil.rmtree(state)


def status(a) -> int:
    state = _state_dir(a)
    try:
        records = statefiles.recorded(state)
    except ClusterError as exc:
        raise CliError(str(exc)) from None
    if not records:
        print(f"no local cluster recorded in {state}")
        return 1
    path = statefiles.config_path(state)
    config = json.loads(path.read_text()) if path.exists() else {}
    if a.output == "json":
        print(json.dumps({"processes": [{"name": rec.name, "pid": rec.pid, "running": rec.alive()}
                                        for rec in records], "config": config}, indent=2))
    else:
        table(["WHAT", "PID", "STATE", "ADDRESS"], status_rows(records, config))
    return 0 if all(rec.alive() for rec in records) else 1


# A process's address in config.json, by the start of its name.
_ADDRESS_OF = (("controlplane", "endpoint"), ("etcd", "etcd"), ("prometheus", "prometheus"), ("registry", "registry"))
# Addresses served by a process above, each a row of its own.
_SERVED = (("console", "console"), ("ecs api", "ecs"), ("metrics", "metrics"), ("state dir", "state_dir"))


def status_rows(records: list, config: dict) -> list[list[str]]:
    """One table: each recorded process with its pid, state and address, then what the
    cluster serves (console, ECS API, metrics) and where its state is."""
    rows = []
    for rec in records:
        key = next((k for prefix, k in _ADDRESS_OF if rec.name.startswith(prefix)), "")
        rows.append([rec.name, str(rec.pid), "running" if rec.alive() else "NOT RUNNING",
                     _shown(config.get(key)) if key else "-"])
    rows += [[what, "-", "-", _shown(config[key])] for what, key in _SERVED if config.get(key)]
    return rows


def _shown(value: object) -> str:
    if isinstance(value, list):
        return ",".join(str(v) for v in value) or "-"
    return str(value) if value else "-"


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


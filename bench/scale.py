"""Control-plane scale on hollow nodes (kubemark-style): `python bench/scale.py`.

Starts a real etcd, a real control-plane process with mTLS on (as `shoal up` runs it) and a
fleet of hollow agents (`python -m agent.fleet`: real agents over an in-memory runtime, each
node joining with a join token and connecting with its own certificate), then a service with
spread(attribute:ecs.availability-zone) + binpack(memory). Prints, asserting nothing:

- join: seconds for every node of a fresh fleet to join (a first start only: the fleet is
  then restarted, as agents are, with the certificates in its state dirs);
- connect: seconds from starting the fleet until every node's alive key exists;
- rollout: seconds from CreateService until the service's runningCount is the target
  (then checked task by task: every task RUNNING, and the spread over zones);
- fleet idle: with ``--idle S``, the fleet processes' CPU seconds and threads over S seconds
  of every node connected and no task (what the fleet itself costs the machine);
- control-plane CPU seconds (user+system) and peak RSS during the rollout (psutil);
- API p50/p99: a side thread calls DescribeServices and ListTasks in a loop throughout, 20 ms
  apart, so that the p99 is of 100 or more calls of each (at the default size, ~150-250 in a
  10-14 s rollout) rather than the single worst; a run with fewer says so beside the figure;
- etcd: the database size and the store revision at the end.

`--nodes 100 --tasks 500` is a quick check, `--smoke` a smaller one; the defaults are the
target (5,000 tasks RUNNING on 1,000 hollow nodes within 30 s, on a 2-core machine).
`--insecure` runs plaintext with nodes sharing connections, the way this bench ran before.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import grpc  # noqa: E402
import psutil  # noqa: E402
import pyetcd  # noqa: E402

from bench._timing import pct  # noqa: E402
from shoal import keys  # noqa: E402
from shoal.netutil import free_ports, wait_for_port  # noqa: E402
from shoal.security.channels import ClientTLS, client_channel  # noqa: E402
from shoal.store.etcd import EtcdStore  # noqa: E402
from shoal.v1 import operator_pb2 as op  # noqa: E402
from shoal.v1 import operator_pb2_grpc, security_pb2_grpc  # noqa: E402
from shoal.v1 import resources_pb2 as r  # noqa: E402
from shoal.v1 import security_pb2 as sec  # noqa: E402
from shoalctl.local.etcd import EtcdProcess  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ZONE_ATTR = "ecs.availability-zone"


def taskdef(cpu: int, memory: int) -> dict:
    return {"family": "scale", "containerDefinitions": [
        {"name": "app", "image": "shoal/busybox:latest", "cpu": cpu, "memory": memory,
         "command": ["sleep", "3600"]}]}


class Procs:
    """Every process the bench starts, stopped in reverse order whatever happens."""

    def __init__(self) -> None:
        self.procs: list[tuple[subprocess.Popen, object]] = []

    def start(self, argv: list[str], log_path: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
        log = open(log_path, "a")  # noqa: SIM115 (closed in stop)
        proc = subprocess.Popen(argv, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                env=env)
        self.procs.append((proc, log))
        return proc

    def stop(self, proc: subprocess.Popen) -> None:
        for entry in list(self.procs):
            if entry[0] is proc:
                self.procs.remove(entry)
                self._stop(*entry)

    def stop_all(self) -> None:
        for proc, log in reversed(self.procs):
            self._stop(proc, log)
        self.procs.clear()

    @staticmethod
    def _stop(proc: subprocess.Popen, log: object) -> None:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()  # type: ignore[attr-defined]


class Sampler(threading.Thread):
    """Peak RSS of a process, and API latencies of the calls an operator makes."""

    PAUSE = 0.02  # between rounds: short enough for 100+ calls in a 10 s rollout
    ENOUGH = 100  # calls below which a p99 is close to the single worst call

    def __init__(self, pid: int, api: operator_pb2_grpc.OperatorStub) -> None:
        super().__init__(daemon=True)
        self.proc = psutil.Process(pid)
        self.api = api
        self.peak_rss = 0
        self.latency: dict[str, list[float]] = {"DescribeServices": [], "ListTasks": []}
        self.errors = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            with contextlib.suppress(psutil.Error):
                self.peak_rss = max(self.peak_rss, self.proc.memory_info().rss)
            for name, call in (
                ("DescribeServices", lambda: self.api.DescribeServices(
                    op.DescribeServicesRequest(cluster="default", services=["scale"]), timeout=30)),
                ("ListTasks", lambda: self.api.ListTasks(
                    op.ListTasksRequest(cluster="default", service_name="scale"), timeout=30)),
            ):
                started = time.perf_counter()
                try:
                    call()
                except grpc.RpcError:
                    self.errors += 1
                    continue
                self.latency[name].append(time.perf_counter() - started)
            self.stop.wait(self.PAUSE)


def cpu_seconds(pid: int) -> float:
    t = psutil.Process(pid).cpu_times()
    return t.user + t.system + t.children_user + t.children_system


def all_tasks(api: operator_pb2_grpc.OperatorStub) -> list[r.Task]:
    arns: list[str] = []
    token = ""
    while True:
        page = api.ListTasks(op.ListTasksRequest(cluster="default", service_name="scale", next_token=token),
                             timeout=60)
        arns.extend(page.arns)
        token = page.next_token
        if not token:
            break
    out: list[r.Task] = []
    for i in range(0, len(arns), 100):
        out.extend(api.DescribeTasks(op.DescribeTasksRequest(cluster="default", tasks=arns[i:i + 100]),
                                     timeout=60).tasks)
    return out


def admin_identity(pki_dir: Path, timeout: float = 60) -> ClientTLS:
    """The bootstrap admin identity the control plane writes to its --pki-dir."""
    deadline = time.monotonic() + timeout
    while not (pki_dir / "admin.crt").exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"no admin identity in {pki_dir} after {timeout}s")
        time.sleep(0.2)
    return ClientTLS.from_dir(pki_dir, "admin")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nodes", type=int, default=1000)
    p.add_argument("--tasks", type=int, default=5000)
    p.add_argument("--zones", default="a,b,c")
    p.add_argument("--fleets", type=int, default=1, help="fleet processes the nodes are split over")
    p.add_argument("--task-cpu", type=int, default=64)
    p.add_argument("--task-memory", type=int, default=128)
    p.add_argument("--timeout", type=float, default=600, help="give up on a phase after this many seconds")
    p.add_argument("--workdir", help="keep logs and data here (default: a temporary dir, removed)")
    p.add_argument("--cp-flag", action="append", default=[], help="extra control-plane flag (repeatable)")
    p.add_argument("--fleet-flag", action="append", default=[], help="extra agent-fleet flag (repeatable)")
    p.add_argument("--json", action="store_true", help="also print the figures as one JSON line")
    p.add_argument("--insecure", action="store_true",
                   help="plaintext control plane, fleet nodes sharing connections (no join, no certificates)")
    p.add_argument("--idle", type=float, default=0,
                   help="seconds to measure the connected, idle fleet's own CPU and threads before the rollout")
    p.add_argument("--smoke", action="store_true", help="30 nodes, 100 tasks: proves the script still runs")
    args = p.parse_args(argv)
    if args.smoke:
        args.nodes, args.tasks, args.timeout = 30, 100, min(args.timeout, 180)

    tmp = None if args.workdir else tempfile.TemporaryDirectory(prefix="shoal-scale-")
    work = Path(args.workdir or tmp.name)  # type: ignore[union-attr]
    work.mkdir(parents=True, exist_ok=True)
    # A reused workdir starts from nothing: old state would make a different run.
    for old in ("etcd", "nodes"):
        shutil.rmtree(work / old, ignore_errors=True)
    procs = Procs()
    etcd = EtcdProcess(work / "etcd" / "data", name="scale", die_with_parent=True)
    figures: dict[str, float | int | str] = {"nodes": args.nodes, "tasks": args.tasks}
    try:
        etcd.start(timeout=60)
        api_port, metrics_port = free_ports(2)
        endpoint = f"127.0.0.1:{api_port}"
        pki_dir = work / "pki"
        security = ["--insecure"] if args.insecure else ["--pki-dir", str(pki_dir)]
        cp = procs.start([sys.executable, "-m", "controlplane", "--etcd", etcd.client_url, "--listen", endpoint,
                          "--metrics-listen", f"127.0.0.1:{metrics_port}", "--lease-ttl", "10",
                          "--name", "scale", *security, *args.cp_flag], work / "controlplane.log")
        if not wait_for_port("127.0.0.1", int(endpoint.rsplit(":", 1)[1]), 60):
            raise SystemExit(f"control plane did not start; see {work / 'controlplane.log'}")
        admin = None if args.insecure else admin_identity(pki_dir)
        channel = client_channel(endpoint, admin)
        api = operator_pb2_grpc.OperatorStub(channel)
        store = EtcdStore(etcd.client_url, timeout=30)
        env = dict(os.environ)
        if admin is not None:
            env["SHOAL_JOIN_TOKEN"] = security_pb2_grpc.SecurityStub(channel).CreateJoinToken(
                sec.CreateJoinTokenRequest(ttl_seconds=3600, max_uses=args.nodes, description="bench/scale"),
                timeout=30).token
        figures["mtls"] = "off (--insecure)" if args.insecure else "on"

        def start_fleets() -> list[subprocess.Popen]:
            per = -(-args.nodes // args.fleets)
            fleets = []
            for i in range(args.fleets):
                count = min(per, args.nodes - i * per)
                if count <= 0:
                    break
                fleets.append(procs.start(
                    [sys.executable, "-m", "agent.fleet", "--endpoint", endpoint, "--count", str(count),
                     "--zones", args.zones, "--state-dir", str(work / "nodes"), "--name-prefix", f"hollow{i}",
                     *(["--insecure"] if args.insecure else []), *args.fleet_flag], work / f"fleet{i}.log", env=env))
            return fleets

        def wait_alive(want: int, what: str) -> float:
            started = time.monotonic()
            deadline = started + args.timeout
            while (alive := len(store.list(keys.ALIVE).kvs)) != want:
                if time.monotonic() > deadline:
                    raise SystemExit(f"{what}: {alive} nodes alive after {args.timeout}s, want {want}")
                time.sleep(0.2)
            return round(time.monotonic() - started, 1)

        if not args.insecure:
            fleets = start_fleets()
            figures["join_seconds"] = wait_alive(args.nodes, "join")
            print(f"{args.nodes} nodes joined (and connected) in {figures['join_seconds']}s", flush=True)
            for fleet in fleets:
                procs.stop(fleet)
            wait_alive(0, "stopping the fleet")  # each alive key goes with its lease
        fleet_pids = [fleet.pid for fleet in start_fleets()]
        figures["connect_seconds"] = wait_alive(args.nodes, "connect")
        print(f"{args.nodes} nodes connected in {figures['connect_seconds']}s", flush=True)

        if args.idle > 0:
            idle_before = sum(cpu_seconds(pid) for pid in fleet_pids)
            time.sleep(args.idle)  # the measurement window itself, not a wait for a condition
            figures["fleet_idle_cpu_seconds"] = round(sum(cpu_seconds(pid) for pid in fleet_pids) - idle_before, 2)
            figures["fleet_threads"] = sum(psutil.Process(pid).num_threads() for pid in fleet_pids)
            figures["load_average"] = " ".join(f"{x:.1f}" for x in os.getloadavg())
            print(f"idle fleet: {figures['fleet_idle_cpu_seconds']} CPU-s in {args.idle}s, "
                  f"{figures['fleet_threads']} threads, load {figures['load_average']}", flush=True)

        api.RegisterTaskDefinition(op.RegisterTaskDefinitionRequest(
            json=json.dumps(taskdef(args.task_cpu, args.task_memory))))
        sampler = Sampler(cp.pid, api)
        cpu_before = cpu_seconds(cp.pid)
        fleet_cpu_before = sum(cpu_seconds(pid) for pid in fleet_pids)
        sampler.start()
        started = time.monotonic()
        api.CreateService(op.CreateServiceRequest(
            cluster="default", service_name="scale", task_definition="scale", desired_count=args.tasks,
            placement_strategy=[r.PlacementStrategy(type="spread", field=f"attribute:{ZONE_ATTR}"),
                                r.PlacementStrategy(type="binpack", field="memory")]), timeout=60)
        deadline = started + args.timeout
        last_print = 0.0
        while True:
            svc = api.DescribeServices(op.DescribeServicesRequest(cluster="default", services=["scale"]),
                                       timeout=60).services[0]
            now = time.monotonic()
            if svc.running_count >= args.tasks:
                break
            if now > deadline:
                raise SystemExit(f"only {svc.running_count} of {args.tasks} tasks RUNNING after {args.timeout}s")
            if now - last_print >= 5:
                print(f"  {now - started:5.1f}s: running {svc.running_count}, pending {svc.pending_count}",
                      flush=True)
                last_print = now
            time.sleep(0.2)
        figures["rollout_seconds"] = round(time.monotonic() - started, 1)
        sampler.stop.set()
        sampler.join()
        figures["cp_cpu_seconds"] = round(cpu_seconds(cp.pid) - cpu_before, 1)
        figures["fleet_cpu_seconds"] = round(sum(cpu_seconds(pid) for pid in fleet_pids) - fleet_cpu_before, 1)
        figures["cp_peak_rss_mib"] = round(sampler.peak_rss / 2**20)
        for name, samples in sampler.latency.items():
            figures[f"{name}_calls"] = len(samples)
            figures[f"{name}_p50_ms"] = round(pct(samples, 0.5) * 1000, 1)
            figures[f"{name}_p99_ms"] = round(pct(samples, 0.99) * 1000, 1)
        few = [name for name, samples in sampler.latency.items() if len(samples) < Sampler.ENOUGH]
        if few:
            figures["api_p99_note"] = f"fewer than {Sampler.ENOUGH} calls of {', '.join(few)}: p99 ~ the worst call"
        figures["api_errors"] = sampler.errors

        tasks = all_tasks(api)
        running = [t for t in tasks if t.last_status == "RUNNING"]
        zone_of = {}
        for node in store.list(keys.NODES).kvs:
            ci = r.ContainerInstance()
            ci.ParseFromString(node.value)
            zone_of[ci.id] = next((a.value for a in ci.attributes if a.name == ZONE_ATTR), "?")
        by_zone = Counter(zone_of.get(t.node_id, "?") for t in running)
        figures["tasks_running_checked"] = len(running)
        figures["nodes_used"] = len({t.node_id for t in running})
        figures["zones"] = " ".join(f"{z}={n}" for z, n in sorted(by_zone.items()))
        client = pyetcd.client("127.0.0.1", etcd.client_port, timeout=10)
        status = client.status()
        figures["etcd_db_mib"] = round(status.db_size / 2**20, 1)
        figures["etcd_revision"] = store.list(keys.CLUSTERS).revision
        client.close()
        store.close()
        channel.close()
        print(f"\n{args.nodes} hollow nodes, {args.tasks} tasks "
              f"(spread {ZONE_ATTR} + binpack memory; {os.cpu_count()} cores)")
        width = max(len(k) for k in figures)
        for k, v in figures.items():
            print(f"  {k:<{width}}  {v}")
        if args.json:
            print(json.dumps(figures))
    finally:
        procs.stop_all()
        etcd.stop()
        if tmp is not None:
            tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())

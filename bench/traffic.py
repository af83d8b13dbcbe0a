"""The node proxy's cost, each figure beside a baseline measured in the same run:
`python bench/traffic.py`.

1. latency: one connection in a closed loop (`wrk -c1 --latency`) straight to a backend and
   through a real HAProxy run by the agent's proxy driver to the same backend; the added
   latency is the difference at p50 and p99.
2. throughput: the same backend saturated (`wrk -c32`) directly and through the proxy; the
   ratio is through / direct. Beside it, where the difference goes: the CPU time per request
   of the backend, HAProxy's worker and wrk in each path, the connections HAProxy opened to
   the backend beside the requests it sent on reused ones (server-side keep-alive), and the
   ratios those costs allow when the backend's one thread is the limit and when the box's
   cores are.
3. server-set changes under steady load: while wrk sends through the proxy, the driver is
   fed tables that add, drain and remove servers (runtime API, no reload); prints the failed
   requests (socket errors and non-2xx answers) and the reloads seen.

4. end to end on a real local cluster (bench/_traffic_mesh.py): failed requests during a rolling
   deployment of 3 tasks, target healthy -> first request through the proxy, and failed
   requests after an agent is killed -9, before and after its node is judged lost.
   `--no-cluster` skips it.

Each measurement of 1-3 runs `--rounds` times, direct and through alternating, and the median is
printed (the box is shared; alternating keeps drift out of the comparison). The backend is a
small Python HTTP/1.1 server (tests/http_backend.py) on loopback. Needs haproxy and wrk (and
etcd, dockerd and the busybox image for 4). `--smoke` runs 1 round of 1 s each and a 1 s steady
state, to prove the script runs. `--proxy-threads N` runs HAProxy with `nbthread N` (default:
HAProxy's own, one thread per CPU it may use), to compare a single-threaded proxy.
`--backend loop` makes the backend one asyncio event loop instead of a thread per connection
(the same answers, for both paths), to tell the proxy's cost from the backend's.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, str(ROOT))

from agent.proxy import checks, config  # noqa: E402
from agent.proxy.driver import ProxyDriver, Render  # noqa: E402
from bench import _traffic_mesh as traffic_mesh  # noqa: E402
from shoal.netutil import free_port  # noqa: E402
from shoal.v1 import traffic_pb2 as t  # noqa: E402

BACKEND = ROOT / "tests" / "http_backend.py"
UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def wrk(url: str, connections: int, seconds: float) -> dict[str, float]:
    """p50/p99 (ms), requests/s, requests and failures (socket errors + non-2xx) of one run."""
    threads = min(connections, 2)
    out = subprocess.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--latency", url],
                         capture_output=True, text=True, timeout=seconds + 60, check=True).stdout

    def latency(pct: str) -> float:
        m = re.search(rf"^\s+{pct}%\s+([0-9.]+)(us|ms|s)\s*$", out, re.M)
        if not m:
            raise RuntimeError(f"no {pct}% latency in wrk's output:\n{out}")
        return float(m.group(1)) * UNITS[m.group(2)]

    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "p50": latency("50"), "p99": latency("99"),
        "rps": float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1)),  # type: ignore[union-attr]
        "requests": float(re.search(r"(\d+) requests in", out).group(1)),  # type: ignore[union-attr]
        "failed": float((sum(int(x) for x in errors.groups()) if errors else 0)
                        + (int(non2xx.group(1)) if non2xx else 0)),
    }


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU time so far of process ``pid`` (all its threads); None: of this
    process's finished children (the wrk runs)."""
    if pid is None:
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def backend_connections(driver: ProxyDriver) -> tuple[int, int]:
    """(connections opened, requests sent on a reused connection) from HAProxy to tg-bench."""
    row = checks.rows(driver.process.cli.worker("show stat")).get(("tg-bench", "BACKEND"), {})
    return int(row.get("connect") or 0), int(row.get("reuse") or 0)


def table(revision: int, fe: int, servers: list[tuple[str, int, bool]]) -> t.RoutingTable:
    return t.RoutingTable(
        revision=revision,
        frontends=[t.RouteFrontend(name="lb-bench", port=fe, mode="http", default_backend="tg-bench")],
        backends=[t.RouteBackend(name="tg-bench", mode="http", servers=[
            t.RouteServer(name=n, address="127.0.0.1", port=p, active=a) for n, p, a in servers])])


def with_threads(threads: int) -> Render:
    """The agent's renderer with ``nbthread`` set in the global section (0: left as is)."""

    def render(table: t.RoutingTable, addrs: config.NodeAddresses) -> config.Rendered:
        out = config.render(table, addrs)
        if not threads:
            return out
        line = f"global\n    nbthread {threads}\n"
        return config.Rendered(text=out.text.replace("global\n", line, 1),
                               skeleton=out.skeleton.replace("global\n", line, 1), servers=out.servers)

    return render


def start_backend(name: str, kind: str = "http") -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(BACKEND), kind, str(port), name], stdout=subprocess.PIPE)
    if proc.stdout is None or proc.stdout.readline().strip() != b"ready":
        raise RuntimeError(f"backend {name} did not start")
    return proc, port


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=10.0, help="length of each wrk run")
    ap.add_argument("--connections", type=int, default=32, help="wrk connections for the throughput runs")
    ap.add_argument("--smoke", action="store_true", help="1 round of 1 s runs")
    ap.add_argument("--no-cluster", action="store_true", help="skip the end-to-end figures on a local cluster")
    ap.add_argument("--proxy-threads", type=int, default=0, metavar="N",
                    help="HAProxy's nbthread (default: HAProxy's own choice)")
    ap.add_argument("--backend", choices=("threads", "loop"), default="threads",
                    help="the backend both paths reach: a thread per connection (default) or one event loop")
    ap.add_argument("--ttl", type=float, default=5.0, help="the local cluster's node lease TTL (s)")
    args = ap.parse_args()
    steady, after_lost = 5.0, 5.0
    if args.smoke:
        args.rounds, args.seconds = 1, 1.0
        steady, after_lost = 1.0, 1.0
    for tool in ("haproxy", "wrk"):
        if not shutil.which(tool):
            print(f"bench/traffic.py: {tool} is not installed (scripts/bootstrap.sh installs it)", file=sys.stderr)
            return 2

    kind = {"threads": "http", "loop": "http-loop"}[args.backend]
    backends = [start_backend(name, kind) for name in ("b1", "b2", "b3")]
    workdir = tempfile.mkdtemp(prefix="shoal-bench-proxy-")
    if args.proxy_threads < 0:
        ap.error("--proxy-threads: must be 0 (HAProxy's choice) or more")
    driver = ProxyDriver(Path(workdir), "127.0.0.1", "127.0.0.1", free_port(), render=with_threads(args.proxy_threads))
    try:
        driver.start()
        fe = free_port()
        first = backends[0][1]
        driver.apply(table(1, fe, [("b1", first, True)]))
        direct_url, proxy_url = f"http://127.0.0.1:{first}/", f"http://127.0.0.1:{fe}/"
        load_start = os.getloadavg()[0]
        lat: dict[str, list[dict[str, float]]] = {"direct": [], "proxy": []}
        thr: dict[str, list[dict[str, float]]] = {"direct": [], "proxy": []}
        # CPU seconds spent by the backend, HAProxy's worker and wrk during the throughput runs.
        pids = {"backend": backends[0][0].pid, "haproxy": driver.process.cli.processes().workers[0], "wrk": None}
        spent = {(kind, who): 0.0 for kind in thr for who in pids}
        conns_before = backend_connections(driver)
        for _ in range(args.rounds):
            for kind, url in (("direct", direct_url), ("proxy", proxy_url)):
                lat[kind].append(wrk(url, 1, args.seconds))
                start = {who: cpu_seconds(pid) for who, pid in pids.items()}
                thr[kind].append(wrk(url, args.connections, args.seconds))
                for who, pid in pids.items():
                    spent[(kind, who)] += cpu_seconds(pid) - start[who]
        conns_after = backend_connections(driver)

        def med(runs: list[dict[str, float]], key: str) -> float:
            return statistics.median(r[key] for r in runs)

        for pct in ("p50", "p99"):
            d, p = med(lat["direct"], pct), med(lat["proxy"], pct)
            print(f"latency {pct} (1 connection)      direct {d:.3f} ms   through haproxy {p:.3f} ms   "
                  f"added {p - d:.3f} ms", flush=True)
        d, p = med(thr["direct"], "rps"), med(thr["proxy"], "rps")
        print(f"backend: {args.backend}; proxy threads: {args.proxy_threads or 'HAProxy default'}; "
              f"1-min load average {load_start:.1f} "
              f"at the start, {os.getloadavg()[0]:.1f} now, on {os.cpu_count()} cores", flush=True)
        print(f"throughput ({args.connections} connections)    direct {d:,.0f} req/s   "
              f"through haproxy {p:,.0f} req/s   ratio {p / d:.2f}", flush=True)

        def per_request(kind: str, who: str) -> float:
            return 1e6 * spent[(kind, who)] / sum(r["requests"] for r in thr[kind])

        opened, reused = (a - b for a, b in zip(conns_after, conns_before, strict=True))
        print(f"CPU per request ({args.connections} connections): backend {per_request('direct', 'backend'):.1f} us "
              f"direct, {per_request('proxy', 'backend'):.1f} us through haproxy; haproxy's worker "
              f"{per_request('proxy', 'haproxy'):.1f} us; wrk {per_request('direct', 'wrk'):.1f} / "
              f"{per_request('proxy', 'wrk'):.1f} us   haproxy -> backend over all runs: {opened} connections "
              f"opened, {reused:,} requests on a reused connection", flush=True)
        # What these costs allow: the ratio when the backend's one thread is the limit (an idle
        # box), and when the box's CPU is (a loaded one: every process of the path shares it).
        total = {kind: sum(per_request(kind, who) for who in pids) for kind in thr}
        thread_bound = per_request("direct", "backend") / per_request("proxy", "backend")
        print(f"ratio the CPU per request allows: {thread_bound:.2f} when the backend's thread is the limit, "
              f"{total['direct'] / total['proxy']:.2f} when the {os.cpu_count()} cores are", flush=True)

        # Server-set changes under steady load through the proxy.
        before = driver.process.cli.processes()
        ports = {f"b{i + 1}": port for i, (_, port) in enumerate(backends)}
        steps = [
            [("b1", True), ("b2", True)],
            [("b1", True), ("b2", True), ("b3", True)],
            [("b1", False), ("b2", True), ("b3", True)],
            [("b2", True), ("b3", True)],
            [("b1", True), ("b2", False), ("b3", True)],
            [("b1", True), ("b3", True)],
        ]
        seconds = max(2.0, args.seconds)
        result: dict[str, float] = {}
        load = threading.Thread(target=lambda: result.update(wrk(proxy_url, 8, seconds)))
        load.start()
        applied = 0
        for revision, step in enumerate(steps, start=2):
            time.sleep(seconds / (len(steps) + 1))  # spread the changes over the load run
            said = driver.apply(table(revision, fe, [(n, ports[n], a) for n, a in step]))
            applied += "no reload" in said
        load.join()
        after = driver.process.cli.processes()
        print(f"server-set changes under load (8 connections, {seconds:g} s): {applied} of {len(steps)} changes "
              f"through the runtime API, "
              f"{after.reloads - before.reloads} reloads, {result['failed']:.0f} failed of "
              f"{result['requests']:,.0f} requests", flush=True)
    finally:
        driver.stop()
        shutil.rmtree(workdir, ignore_errors=True)
        for proc, _ in backends:
            proc.terminate()
            proc.wait(10)
    if not args.no_cluster:
        for line in traffic_mesh.run(args.ttl, steady, after_lost):
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

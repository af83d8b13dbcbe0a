"""How live is the web console, and what do open consoles cost the control plane? A local
cluster (etcd, a control plane with mTLS and its console, hollow agents: no containers) and
headless Chromium logged into the console's Services page.

- latency: the bench changes a service's desired count through the API (the API returns
  once etcd holds it) and a MutationObserver in the page stamps when the new count is on
  screen; the time between, over ``--samples`` changes half a second apart (default 100):
  p50, p99, max, and
  the API call's own share (the clock starts before the call).
- CPU: the control plane's CPU while the desired count changes once a second for
  ``--window`` seconds (default 30), with no console open, then with ``--sessions`` (default
  20) sessions open, each following the server-sent event stream and re-reading the page's
  data on each notice as the page does (plain HTTPS clients, not 20 Chromiums: on a 2-core
  box twenty browsers would measure the browsers). Printed as the added share of one core.

    python bench/console.py [--samples 100] [--sessions 20] [--window 30]

`--smoke`: 5 samples, 3 sessions, a 5 s window: proves it runs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from selenium import webdriver  # noqa: E402

from bench._timing import wait  # noqa: E402
from shoal.v1 import events_pb2 as ev  # noqa: E402
from shoal.v1 import events_pb2_grpc  # noqa: E402
from shoal.v1 import operator_pb2 as op  # noqa: E402
from shoalctl.local.cluster import LocalCluster  # noqa: E402
from tests.headless import chromium, connect  # noqa: E402

TASKDEF = ('{"family": "bench", "containerDefinitions": [{"name": "app", "image": "shoal/busybox:latest", '
           '"memory": 8, "cpu": 8}]}')

OBSERVER = """
window.seen = {};
new MutationObserver(() => {
  const cell = document.querySelector('tr[data-service="web"] .desired');
  if (cell && !(cell.textContent in window.seen)) window.seen[cell.textContent] = Date.now();
}).observe(document.getElementById('page'), {childList: true, subtree: true, characterData: true});
"""


def set_desired(api, n: int) -> None:
    api.UpdateService(op.UpdateServiceRequest(cluster="default", service="web", desired_count=n), timeout=30)


def latency(api, b: webdriver.Chrome, samples: int) -> tuple[list[float], list[float]]:
    """(change -> on the page, of which the API call) per sample, in seconds."""
    out, calls = [], []
    for i in range(samples):
        # Counts 10..19 cycle, so every change shows a count the page has not shown just before.
        target = 10 + i % 10
        b.execute_script("delete window.seen[arguments[0]]", str(target))
        # Changes half a second apart: closer ones share the page's notices (at most one per
        # 0.2 s), which would measure the throttle, not the path.
        time.sleep(0.5)
        start = time.time()
        set_desired(api, target)
        calls.append(time.time() - start)
        wait(lambda t=str(target): b.execute_script("return window.seen[arguments[0]]", t) is not None, 30,
             f"desired {target} on the page")
        out.append(b.execute_script("return window.seen[arguments[0]]", str(target)) / 1000.0 - start)
    return out, calls


class Session(threading.Thread):
    """One open console: follows /api/stream and re-reads /api/services on each notice."""

    def __init__(self, base: urllib.parse.SplitResult, ca: Path, cookie: str, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.base, self.ca, self.cookie, self.stop = base, ca, cookie, stop
        self.reads = 0

    def run(self) -> None:
        stream = connect(self.base, self.ca, timeout=60)
        stream.request("GET", "/api/stream", headers={"Cookie": self.cookie})
        resp = stream.getresponse()
        reader = connect(self.base, self.ca, timeout=30)
        while not self.stop.is_set():
            line = resp.fp.readline()
            if not line:
                return
            if line.startswith(b"event: change"):
                reader.request("GET", "/api/services", headers={"Cookie": self.cookie})
                reader.getresponse().read()
                self.reads += 1
        stream.close()


def login(link: str, ca: Path) -> str:
    url = urllib.parse.urlsplit(link)
    conn = connect(url, ca, timeout=10)
    conn.request("GET", f"{url.path}?{url.query}")
    cookie = conn.getresponse().getheader("Set-Cookie") or ""
    return cookie.split(";")[0]


def cpu_over(pid: int, api, seconds: float) -> float:
    """Share of one core the process used while the desired count changed once a second."""
    proc = psutil.Process(pid)
    before, t0 = proc.cpu_times(), time.monotonic()
    n = 0
    while time.monotonic() - t0 < seconds:
        set_desired(api, 10 + n % 10)
        n += 1
        time.sleep(1.0)
    after = proc.cpu_times()
    return (after.user + after.system - before.user - before.system) / (time.monotonic() - t0)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--samples", type=int, default=100)
    p.add_argument("--sessions", type=int, default=20)
    p.add_argument("--window", type=float, default=30.0)
    p.add_argument("--smoke", action="store_true")
    a = p.parse_args()
    if a.smoke:
        a.samples, a.sessions, a.window = 5, 3, 5.0
    with tempfile.TemporaryDirectory(prefix="shoal-bench-console-") as tmpdir:
        tmp = Path(tmpdir)
        cluster = LocalCluster(tmp / "cluster", agents=2, runtime="hollow", prometheus=False, api_port=0,
                               metrics_port=0, console_port=0)
        b = None
        try:
            cluster.start(timeout=120)
            api = cluster.operator
            api.RegisterTaskDefinition(op.RegisterTaskDefinitionRequest(json=TASKDEF))
            api.CreateService(op.CreateServiceRequest(cluster="default", service_name="web",
                                                      task_definition="bench", desired_count=1))
            link = events_pb2_grpc.ConsoleStub(cluster.channel).CreateConsoleLink(ev.CreateConsoleLinkRequest()).url
            b = chromium(tmp)
            b.get(link)
            b.get(link.split("/login")[0] + "/#/services")
            wait(lambda: b.execute_script("return !!document.querySelector('tr[data-service=\"web\"]')"), 30,
                 "the services page")
            b.execute_script(OBSERVER)
            lat, calls = latency(api, b, a.samples)
            lat.sort()
            b.quit()
            b = None
            p99 = lat[min(len(lat) - 1, int(0.99 * len(lat)))]
            print(f"etcd change -> on the page ({len(lat)} samples): p50 {statistics.median(lat) * 1000:.0f} ms, "
                  f"p99 {p99 * 1000:.0f} ms, max {lat[-1] * 1000:.0f} ms (of which the UpdateService call: "
                  f"p50 {statistics.median(calls) * 1000:.0f} ms)")

            pid = cluster.controlplane.pid
            idle = cpu_over(pid, api, a.window)
            stop = threading.Event()
            base = urllib.parse.urlsplit(link)
            ca = cluster.pki_dir / "ca.crt"
            sessions = [Session(base, ca, login(events_pb2_grpc.ConsoleStub(cluster.channel).CreateConsoleLink(
                ev.CreateConsoleLinkRequest()).url, ca), stop) for _ in range(a.sessions)]
            for s in sessions:
                s.start()
            busy = cpu_over(pid, api, a.window)
            stop.set()
            reads = sum(s.reads for s in sessions)
            print(f"control plane CPU, desired count changing every second for {a.window:.0f} s: "
                  f"{idle * 100:.1f} % of a core with no console, {busy * 100:.1f} % with {a.sessions} open "
                  f"(added {(busy - idle) * 100:.1f} %; the sessions re-read the page {reads} times)")
        finally:
            if b is not None:
                b.quit()
            cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

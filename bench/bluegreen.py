"""Issue 15's blue/green figures: `python bench/bluegreen.py [--steady 5]`.

A real local cluster (3 docker agents, each with its node proxy), a load balancer whose
listener is on every node, a BLUE_GREEN service of 3 busybox httpd tasks behind it, and a
steady request loop (one new connection per request) through agent-1's listener. A new
deployment (forceNewDeployment) brings green up beside blue, then moves all traffic at once.
Prints:
  - failed requests during the whole deployment, beside the same loop's in the steady state;
  - the traffic switch time: from the control plane's switch (the deployment seen past
    PRODUCTION_TRAFFIC_SHIFT, polled every 50 ms) to the loop's last answer from a blue task;
  - how long the deployment took (update to the old tasks STOPPED).
Asserts nothing. `--smoke`: one second of steady state.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import docker  # noqa: E402

from bench._traffic_mesh import Loop, _healthy, _hostnames, _tasks, create_web, wait  # noqa: E402
from shoal.v1 import operator_pb2 as op  # noqa: E402
from shoal.v1 import resources_pb2 as r  # noqa: E402
from shoalctl.images import DEFAULT_TAG, ensure_busybox_image  # noqa: E402
from shoalctl.local.agents import agent_loopback  # noqa: E402
from shoalctl.local.cluster import LocalCluster  # noqa: E402

SWITCHED = ("POST_PRODUCTION_TRAFFIC_SHIFT", "BAKE_TIME", "CLEAN_UP")


def _stage(cluster: LocalCluster) -> tuple[str, str]:
    svc = cluster.operator.DescribeServices(op.DescribeServicesRequest(cluster="default", services=["web"])).services[0]
    d = next(d for d in svc.deployments if d.status == "PRIMARY")
    return d.id, d.lifecycle_stage


def run(steady_seconds: float) -> list[str]:
    client = docker.from_env()
    ensure_busybox_image(client, DEFAULT_TAG)
    cluster = LocalCluster(Path(tempfile.mkdtemp(prefix="shoal-bench-bg-")), agents=3, api_port=0, metrics_port=0,
                           prometheus=False, autoscaler=False, lease_ttl=4, gc_delay=1, proxy=True)
    loop: Loop | None = None
    thread: threading.Thread | None = None
    try:
        cluster.start(timeout=180)
        port = create_web(cluster, r.DeploymentConfiguration(strategy="BLUE_GREEN", bake_time_in_minutes=0))
        wait(lambda: len([x for x in _tasks(cluster) if _healthy(x)]) == 3, 120, "3 healthy tasks")
        loop = Loop(agent_loopback(1), port)
        thread = threading.Thread(target=loop.run, daemon=True)
        thread.start()
        old = {x.id for x in _tasks(cluster)}
        names = _hostnames(client)
        blue = {names[i] for i in old}
        wait(lambda: {b for _, b in loop.answers} >= blue, 30, "answers from all 3 tasks")
        t0 = time.time()
        time.sleep(steady_seconds)
        first = _stage(cluster)[0]
        t1 = time.time()
        cluster.operator.UpdateService(op.UpdateServiceRequest(cluster="default", service="web",
                                                               force_new_deployment=True))
        wait(lambda: _stage(cluster)[0] != first, 10, "the new deployment")
        switched = wait(lambda: time.time() if _stage(cluster)[1] in SWITCHED else None, 180,
                        "the switch to green", interval=0.05)
        wait(lambda: all(x.last_status == "STOPPED" for x in _tasks(cluster) if x.id in old), 120,
             "blue's tasks STOPPED", interval=0.2)
        t2 = time.time()
        time.sleep(2)
        steady, steady_total = loop.between(t0, t1)
        failed, total = loop.between(t1, t2)
        last_blue = max((ts for ts, body in loop.answers if body in blue), default=switched)
        green_first = min((ts for ts, body in loop.answers if ts > t1 and body not in blue), default=0.0)
        lines = [
            f"blue/green deployment of 3 tasks (1 request at a time through agent-1's listener): {failed} failed "
            f"of {total} requests in {t2 - t1:.1f} s   steady state before it: {steady} failed of "
            f"{steady_total} in {t1 - t0:.1f} s",
            f"traffic switch: last answer from blue {last_blue - switched:+.2f} s after the control plane's switch; "
            f"first answer from green {green_first - switched:+.2f} s after it",
        ]
        if failed:
            lines.append("  failures: " + "; ".join(sorted({why for ts, why in loop.failures if t1 <= ts < t2})))
        return lines
    finally:
        if loop is not None:
            loop.stopping.set()
        if thread is not None:
            thread.join(10)
        cluster.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steady", type=float, default=5.0, help="seconds of steady-state load before the deploy")
    parser.add_argument("--smoke", action="store_true", help="a short steady state, to prove the script runs")
    args = parser.parse_args()
    for line in run(1.0 if args.smoke else args.steady):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())

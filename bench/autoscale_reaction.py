"""How fast does auto scaling react? A local cluster (etcd, control plane with mTLS, one
docker agent, Prometheus) and an autoscaler process holding the admin identity the cluster
made; one busybox service with a CPU target tracking policy at 50%. The bench switches a CPU
load on, measures from that moment:

- breach:   the first time Prometheus' own answer to the policy's expression exceeds 50
- decision: the start of the first scale-out activity the autoscaler recorded
- running:  all the new tasks RUNNING

then switches the load off, waits for the metric to fall and the service to be back at one
task, and does it again: median and max over ``--breaches`` rounds (default 10), printed
beside the scrape and evaluation intervals. The defaults are the shipped ones (autoscaler
--interval 5 and --rate-window 1m, `shoal up`'s 5 s scrape). Target: decision - breach
within two evaluation intervals.

    python bench/autoscale_reaction.py [--breaches 10] [--interval 5] [--scrape 5] [--rate-window 1m]

`--smoke` is one round with a 1 s scrape, 2 s evaluation and 15 s window: proves it runs.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import docker
import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from autoscaler.policies import metric_expression  # noqa: E402  # noqa: E402
from bench._timing import wait  # noqa: E402
from shoal.netutil import free_port  # noqa: E402
from shoal.scaling_terms import CPU  # noqa: E402  # noqa: E402
from shoal.v1 import operator_pb2 as op  # noqa: E402
from shoal.v1 import scaling_pb2 as sc  # noqa: E402
from shoal.v1 import scaling_pb2_grpc  # noqa: E402
from shoalctl.images import ensure_busybox_image  # noqa: E402  # noqa: E402
from shoalctl.local import autoscaler as localup  # noqa: E402
from shoalctl.local import procs  # noqa: E402
from shoalctl.local.cluster import LocalCluster  # noqa: E402  # noqa: E402
from tests.bridge import bridge_gateway  # noqa: E402
from tests.load_switch import LoadSwitch, burner_command  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--breaches", type=int, default=10, help="rounds of load on / scale-out / load off")
    p.add_argument("--interval", type=float, default=5.0, help="autoscaler evaluation interval, seconds")
    p.add_argument("--scrape", type=float, default=5.0, help="Prometheus scrape interval, seconds")
    p.add_argument("--rate-window", default="1m")
    p.add_argument("--max", type=int, default=3, help="max capacity of the service")
    p.add_argument("--smoke", action="store_true", help="one short round")
    args = p.parse_args()
    if args.smoke:
        args.breaches, args.interval, args.scrape, args.rate_window = 1, 2.0, 1.0, "15s"

    client = docker.from_env(timeout=120)
    image = ensure_busybox_image(client)
    switch = LoadSwitch(bridge_gateway())
    base = Path(tempfile.mkdtemp(prefix="shoal-bench-autoscale-"))
    cluster = LocalCluster(base / "cluster", agents=1, api_port=0, metrics_port=0, prometheus_port=0,
                           prometheus=True, autoscaler=False, scrape_interval=args.scrape, gc_delay=1,
                           extra_controlplane_args=["--resync-interval", "0.5"])
    cluster.start(timeout=180)
    auto = None
    try:
        # The autoscaler as `shoal up` starts it (its credentials in the environment), with
        # this bench's intervals.
        argv = localup.argv(cluster.endpoint, cluster.prometheus_url, cluster.etcd_url, base / "autoscaler",
                            interval=args.interval)
        argv += [*cluster.etcd_set.client_flags(), "--rate-window", args.rate_window,
                 "--metrics-listen", f"127.0.0.1:{free_port()}", "--lease-ttl", str(max(6.0, args.interval * 2))]
        auto = localup.spawn(argv, base / "autoscaler.log", {**procs.child_env(), **cluster.security_env()})
        doc = {"family": "bench-burner", "containerDefinitions": [{
            "name": "main", "image": image, "cpu": 128, "memory": 32,
            "command": burner_command(switch.host, switch.port), "stopTimeout": 2}]}
        cluster.operator.RegisterTaskDefinition(op.RegisterTaskDefinitionRequest(json=json.dumps(doc)))
        cluster.operator.CreateService(op.CreateServiceRequest(cluster="default", service_name="bench",
                                                               task_definition="bench-burner", desired_count=1))
        api = scaling_pb2_grpc.ScalingStub(cluster.channel)
        api.RegisterScalableTarget(sc.RegisterScalableTargetRequest(cluster="default", service="bench",
                                                                    min_capacity=1, max_capacity=args.max))
        tt = sc.TargetTrackingConfiguration(target_value=50, predefined_metric_type=CPU)
        api.PutScalingPolicy(sc.PutScalingPolicyRequest(cluster="default", service="bench", policy_name="cpu50",
                                                        policy_type="TargetTrackingScaling", target_tracking=tt))

        def svc():
            return cluster.operator.DescribeServices(
                op.DescribeServicesRequest(cluster="default", services=["bench"])).services[0]

        expr = metric_expression(tt, "default", "bench", args.rate_window)

        def metric() -> float | None:
            try:
                r = requests.get(f"{cluster.prometheus_url}/api/v1/query", params={"query": expr}, timeout=2).json()
                res = r["data"]["result"]
                return float(res[0]["value"][1]) if res else None
            except (requests.RequestException, KeyError, ValueError, IndexError):
                return None

        def scale_out_after(t: float):
            acts = api.DescribeScalingActivities(sc.DescribeScalingActivitiesRequest(cluster="default",
                                                                                     service="bench")).activities
            outs = [a for a in acts if a.to_capacity > a.from_capacity and a.status_code == "Successful"
                    and a.start_time >= t]
            return min(outs, key=lambda a: a.start_time) if outs else None

        window = 300 + 2 * args.interval
        rounds: list[tuple[float, float, float, int]] = []
        for k in range(args.breaches):
            # Back to one idle task before each round, so every round starts alike.
            if svc().desired_count != 1:
                cluster.operator.UpdateService(op.UpdateServiceRequest(cluster="default", service="bench",
                                                                       desired_count=1))
            wait(lambda: (s := svc()).running_count == 1 and s.desired_count == 1, window, "one task RUNNING", 0.2)
            wait(lambda: (m := metric()) is not None and m < 25, window, "the utilisation metric below 25", 0.2)
            switch.burn = True
            start = time.time()
            breach = wait(lambda: (m := metric()) is not None and m > 50 and time.time(), window, "the breach", 0.25)
            decision = wait(lambda s=start: scale_out_after(s), window, "the first scale-out decision", 0.2)
            running_at = wait(lambda c=decision.to_capacity: svc().running_count >= c and time.time(), window,
                              f"{decision.to_capacity} tasks RUNNING", 0.2)
            switch.burn = False
            rounds.append((breach - start, decision.start_time - breach, running_at - start, decision.to_capacity))
            print(f"round {k + 1}: breach {breach - start:.1f}s after load start, decision "
                  f"{decision.start_time - breach:.1f}s after the breach (1 -> {decision.to_capacity}), "
                  f"new tasks RUNNING {running_at - start:.1f}s after load start", flush=True)

        def med_max(i: int) -> str:
            values = [r[i] for r in rounds]
            return f"median {statistics.median(values):.1f}s, max {max(values):.1f}s"

        reactions = [r[1] for r in rounds]
        rows = [
            ("rounds (breaches)", str(len(rounds))),
            ("scrape interval", f"{args.scrape:.1f}s"),
            ("evaluation interval", f"{args.interval:.1f}s"),
            ("rate window", args.rate_window),
            ("load start -> breach (Prometheus > 50%)", med_max(0)),
            ("breach -> first scale-out decision", f"{med_max(1)} (target <= {2 * args.interval:.1f}s: "
                                                   f"{'met' if max(reactions) <= 2 * args.interval else 'MISSED'})"),
            ("load start -> new tasks RUNNING", med_max(2)),
        ]
        width = max(len(k) for k, _ in rows)
        for k, v in rows:
            print(f"{k.ljust(width)}  {v}")
        return 0
    finally:
        switch.server.shutdown()
        if auto is not None:
            procs.stop_popen(auto, "autoscaler", timeout=30)
        cluster.stop()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

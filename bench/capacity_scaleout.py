"""How long does a task wait for a capacity provider to bring a node up for it? A local
cluster (etcd, control plane with mTLS, one ordinary docker agent) and an autoscaler process
holding the admin identity the cluster made; a FARGATE capacity provider (managed scaling on,
min 0) whose node provider is `local`: each node it adds is a real agent process on this
host. Each node it starts has exactly the room of one bench task (512 CPU units, 1 GiB),
and every round runs a fresh FARGATE task of that size, so at the start of every round the
provider's nodes are all full and the ordinary node is not eligible: the task fits no
existing node and must wait for a new one. (Fresh tasks rather than waiting for scale-in
between rounds: a round then measures one cold node-up, not scale-in timing, and the bench
checks before each round that the provider has exactly one node per task it ran.) Measured
from RunTask:

- node:    the provider's new node registered with its agent connected
- running: the task RUNNING on it

beside a baseline measured in the same run: RunTask -> RUNNING of a small EC2 task on the
ordinary node, which has room. Median and max over ``--rounds`` (default 5). At the end the
bench stops the FARGATE tasks and times the provider's scale-in back to its minimum (0 nodes)
under the autoscaler's --cluster-scale-in-delay (10 s here; the shipped default is 60 s).

    python bench/capacity_scaleout.py [--rounds 5] [--interval 1]

`--smoke` is one round: proves it runs.
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._timing import wait  # noqa: E402
from shoal.netutil import free_port  # noqa: E402
from shoal.v1 import operator_pb2 as op  # noqa: E402
from shoal.v1 import scaling_pb2 as sc  # noqa: E402
from shoal.v1 import scaling_pb2_grpc  # noqa: E402
from shoalctl.images import ensure_busybox_image  # noqa: E402
from shoalctl.local import autoscaler as localup  # noqa: E402
from shoalctl.local import procs  # noqa: E402
from shoalctl.local.cluster import LocalCluster  # noqa: E402

PROVIDER = "bench-cp"
SCALE_IN_DELAY = 10.0
TIMEOUT = 300.0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=5, help="tasks that each need a new node")
    p.add_argument("--interval", type=float, default=1.0, help="autoscaler evaluation interval, seconds")
    p.add_argument("--smoke", action="store_true", help="one round")
    args = p.parse_args()
    if args.smoke:
        args.rounds = 1

    image = ensure_busybox_image(docker.from_env(timeout=120))
    base = Path(tempfile.mkdtemp(prefix="shoal-bench-capacity-"))
    cluster = LocalCluster(base / "cluster", agents=1, api_port=0, metrics_port=0, prometheus_port=0,
                           prometheus=True, autoscaler=False, gc_delay=1,
                           extra_controlplane_args=["--resync-interval", "0.5"])
    auto = None
    try:
        cluster.start(timeout=180)
        # The autoscaler as `shoal up` starts it (its credentials in the environment), with
        # this bench's intervals.
        argv = localup.argv(cluster.endpoint, cluster.prometheus_url, cluster.etcd_url,
                            base / "autoscaler", interval=args.interval)
        argv += [*cluster.etcd_set.client_flags(), "--cluster-scale-in-delay", str(SCALE_IN_DELAY),
                 "--metrics-listen", f"127.0.0.1:{free_port()}", "--lease-ttl", "6"]
        auto = localup.spawn(argv, base / "autoscaler.log", {**procs.child_env(), **cluster.security_env()})

        def nodes() -> list:
            arns = list(cluster.operator.ListContainerInstances(op.ListContainerInstancesRequest(
                cluster="default")).arns)
            return list(cluster.operator.DescribeContainerInstances(op.DescribeContainerInstancesRequest(
                cluster="default", container_instances=arns)).container_instances) if arns else []

        def task(arn: str):
            return cluster.operator.DescribeTasks(op.DescribeTasksRequest(cluster="default", tasks=[arn])).tasks[0]

        wait(lambda: sum(n.agent_connected for n in nodes()) == 1, 180, "the ordinary node", 0.2)
        plain = {n.id for n in nodes()}
        scaling_pb2_grpc.ScalingStub(cluster.channel).CreateCapacityProvider(sc.CreateCapacityProviderRequest(
            name=PROVIDER, cluster="default", min_size=0, max_size=args.rounds, fargate=True,
            node_provider=sc.NodeProviderConfig(profile="local", config={
                "cpu_units": "512", "memory_mib": "1024", "gc_delay": "1", "stop_timeout": "10",
                "resync_interval": "1"})))
        container = {"name": "main", "image": image, "command": ["sleep", "3600"], "essential": True,
                     "stopTimeout": 2}
        for doc in ({"family": "bench-fargate", "requiresCompatibilities": ["FARGATE"], "networkMode": "awsvpc",
                     "cpu": "512", "memory": "1024", "containerDefinitions": [container]},
                    {"family": "bench-plain", "containerDefinitions": [{**container, "cpu": 64, "memory": 64}]}):
            cluster.operator.RegisterTaskDefinition(op.RegisterTaskDefinitionRequest(json=json.dumps(doc)))

        def provider_nodes() -> list:
            return [n for n in nodes() if n.id not in plain and n.agent_connected]

        def run(family: str, launch_type: str) -> str:
            return cluster.operator.RunTask(op.RunTaskRequest(cluster="default", task_definition=family,
                                                              launch_type=launch_type)).tasks[0].task_arn

        baseline: list[float] = []
        node_up: list[float] = []
        running: list[float] = []
        fargate: list[str] = []
        for k in range(args.rounds):
            # Baseline: the ordinary node has room.
            started = time.monotonic()
            arn = run("bench-plain", "EC2")
            wait(lambda a=arn: task(a).last_status == "RUNNING", TIMEOUT,
                 "the baseline task RUNNING", 0.05)
            baseline.append(time.monotonic() - started)
            cluster.operator.StopTask(op.StopTaskRequest(cluster="default", task=arn, reason="bench"))

            # No spare capacity: one full provider node per FARGATE task already running.
            wait(lambda n=k: len(provider_nodes()) == n, TIMEOUT, f"exactly {k} provider node(s)", 0.2)
            before = {n.id for n in provider_nodes()}
            started = time.monotonic()
            arn = run("bench-fargate", "FARGATE")
            fargate.append(arn)
            seen: dict[str, float] = {}

            def progress(a: str = arn, b: set = before, s: dict = seen, t0: float = started) -> bool:
                if "node" not in s and any(n.id not in b for n in provider_nodes()):
                    s["node"] = time.monotonic() - t0
                if "running" not in s and task(a).last_status == "RUNNING":
                    s["running"] = time.monotonic() - t0
                return "node" in s and "running" in s

            wait(progress, TIMEOUT, "a new provider node and the task RUNNING on it", 0.1)
            ran = task(arn)
            if ran.node_id in plain or ran.node_id in before:
                raise SystemExit(f"bench: the task ran on {ran.node_id}, not on a new node")
            node_up.append(seen["node"])
            running.append(seen["running"])
            print(f"round {k + 1}: new node registered {seen['node']:.2f}s, task RUNNING {seen['running']:.2f}s "
                  f"after RunTask; baseline RUNNING {baseline[-1]:.2f}s", flush=True)

        for arn in fargate:
            cluster.operator.StopTask(op.StopTaskRequest(cluster="default", task=arn, reason="bench"))
        stopped = time.monotonic()
        wait(lambda: not provider_nodes(), TIMEOUT + SCALE_IN_DELAY, "scale-in to 0 provider nodes", 0.2)
        scale_in = time.monotonic() - stopped

        def med_max(values: list[float]) -> str:
            return f"median {statistics.median(values):.2f} s, max {max(values):.2f} s"

        print(f"capacity-provider scale-out, {args.rounds} round(s), autoscaler interval {args.interval:g} s, "
              f"local node provider:")
        print(f"  RunTask -> new node registered      {med_max(node_up)}")
        print(f"  RunTask -> RUNNING on the new node  {med_max(running)}")
        print(f"  baseline RunTask -> RUNNING (node with room)  {med_max(baseline)}")
        print(f"  tasks stopped -> scale-in to 0 nodes  {scale_in:.2f} s "
              f"(cluster scale-in delay {SCALE_IN_DELAY:g} s)")
        return 0
    except BaseException:
        log = base / "autoscaler.log"
        if log.exists():
            print(f"--- autoscaler log (tail):\n{log.read_text(errors='replace')[-3000:]}", file=sys.stderr)
        raise
    finally:
        if auto is not None:
            procs.stop_popen(auto, "autoscaler", timeout=30)
        # After the autoscaler exits (it would replace them): its nodes and their containers.
        localup.stop_nodes(base / "autoscaler")
        cluster.stop()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

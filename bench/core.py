"""Issue 2's figures, each beside a baseline measured in the same run: `python bench/core.py`.

1. launch: `CreateService --desired 24` across 3 real agents until 24 tasks RUNNING, beside
   24 raw `docker run -d` of the same container started in parallel (ratio = raw / shoal
   throughput, so 1.0 means as fast as raw docker).
2. latency: RunTask -> RUNNING for one task at a time (p50/p99), beside one raw
   `docker run -d` at a time; Shoal's added latency is the difference of the medians. A p99
   is printed only from at least 100 samples (`--latency-runs`, default 100).
3. agent footprint: RSS and idle CPU of one agent process holding 20 tasks.

Prints figures; asserts nothing. Needs dockerd, etcd and the busybox image (built if absent).
`--smoke` runs 3 tasks, 3 latency samples and a 1 s idle window, to prove the script runs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import docker  # noqa: E402
import psutil  # noqa: E402

from bench._timing import pct, wait  # noqa: E402
from shoal.v1 import operator_pb2 as op  # noqa: E402
from shoalctl.images import ensure_busybox_image  # noqa: E402
from shoalctl.local.cluster import LocalCluster  # noqa: E402

IMAGE = "shoal/busybox:latest"
COMMAND = ["sh", "-c", "mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p 8080 -h /www"]


def taskdef(family: str) -> str:
    return json.dumps({"family": family, "containerDefinitions": [{
        "name": "web", "image": IMAGE, "memory": 16, "cpu": 16, "command": COMMAND,
        "portMappings": [{"containerPort": 8080}], "stopTimeout": 1,
    }]})


MIN_P99_SAMPLES = 100


def p99_text(values: list[float]) -> str:
    """The 99th percentile in ms, or why there is none: fewer than 100 samples make the
    "p99" the maximum of a few, not a percentile."""
    if len(values) < MIN_P99_SAMPLES:
        return f"p99 n/a ({len(values)} samples < {MIN_P99_SAMPLES})"
    return f"p99 {pct(values, 0.99) * 1000:.0f} ms"


def raw_docker_run(client: docker.DockerClient, label: str) -> float:
    started = time.perf_counter()
    container = client.containers.run(IMAGE, COMMAND, detach=True, labels={"shoal.bench": label},
                                      ports={"8080/tcp": None}, mem_limit="16m")
    while client.api.inspect_container(container.id)["State"]["Status"] != "running":
        time.sleep(0.005)
    return time.perf_counter() - started


def cleanup_raw(client: docker.DockerClient, label: str) -> None:
    for c in client.containers.list(all=True, filters={"label": f"shoal.bench={label}"}):
        c.remove(force=True)


def running_count(api, service: str) -> int:
    return api.DescribeServices(op.DescribeServicesRequest(cluster="default", services=[service])).services[0] \
        .running_count


def task_status(api, task_id: str) -> str:
    return api.DescribeTasks(op.DescribeTasksRequest(cluster="default", tasks=[task_id])).tasks[0].last_status


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", type=int, default=24)
    ap.add_argument("--latency-runs", type=int, default=MIN_P99_SAMPLES)
    ap.add_argument("--footprint-tasks", type=int, default=20, help="tasks on the agent whose footprint is taken")
    ap.add_argument("--idle-seconds", type=float, default=10.0, help="window the agent's idle CPU is taken over")
    ap.add_argument("--smoke", action="store_true", help="3 tasks, 3 latency samples, 1 s idle window")
    args = ap.parse_args()
    if args.smoke:
        args.tasks, args.latency_runs, args.footprint_tasks, args.idle_seconds = 3, 3, 3, 1.0
    client = docker.from_env()
    ensure_busybox_image(client)
    label = uuid.uuid4().hex[:8]

    # Baseline: raw parallel docker run of the same containers.
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=args.tasks) as pool:
        list(pool.map(lambda _: raw_docker_run(client, label), range(args.tasks)))
    raw_launch = time.perf_counter() - started
    cleanup_raw(client, label)
    raw_single = []
    for _ in range(args.latency_runs):
        raw_single.append(raw_docker_run(client, label))
        cleanup_raw(client, label)

    with tempfile.TemporaryDirectory(prefix="shoal-bench-") as tmp:
        cluster = LocalCluster(Path(tmp), agents=3, zones=["a", "b", "c"], api_port=0, metrics_port=0,
                               prometheus_port=0, prometheus=False, gc_delay=1)
        cluster.start(timeout=180)
        try:
            api = cluster.operator
            api.RegisterTaskDefinition(op.RegisterTaskDefinitionRequest(json=taskdef("bench-web")))
            started = time.perf_counter()
            api.CreateService(op.CreateServiceRequest(cluster="default", service_name="bench",
                                                      task_definition="bench-web", desired_count=args.tasks))
            wait(lambda: running_count(api, "bench") >= args.tasks, 300, f"{args.tasks} tasks RUNNING")
            shoal_launch = time.perf_counter() - started

            # Agent footprint with the service's tasks (20 or more per agent would need more tasks;
            # measure the busiest agent, then top it up to --footprint-tasks with standalone tasks).
            agent = cluster.agents[1]
            node = agent.node_id
            on_node = len(api.ListTasks(op.ListTasksRequest(cluster="default", container_instance=node,
                                                            desired_status="RUNNING")).arns)
            for _ in range(max(0, args.footprint_tasks - on_node)):
                req = op.RunTaskRequest(cluster="default", task_definition="bench-web")
                req.placement_constraints.add(type="memberOf", expression=f"ec2InstanceId == {node}")
                api.RunTask(req)
            wait(lambda: sum(1 for t in api.DescribeTasks(op.DescribeTasksRequest(
                cluster="default", tasks=list(api.ListTasks(op.ListTasksRequest(
                    cluster="default", container_instance=node, desired_status="RUNNING")).arns)[:100])).tasks
                if t.last_status == "RUNNING") >= args.footprint_tasks, 300,
                f"{args.footprint_tasks} RUNNING on one agent")
            proc = psutil.Process(agent.pid)
            time.sleep(2)  # let start-up work settle before sampling idle CPU
            cpu0, t0 = proc.cpu_times(), time.monotonic()
            time.sleep(args.idle_seconds)
            cpu1, t1 = proc.cpu_times(), time.monotonic()
            idle_cpu = ((cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)) / (t1 - t0) * 100
            rss = proc.memory_info().rss / 2**20

            # Latency is measured on an idle cluster: scale the service to 0, stop the
            # standalone tasks, and wait until every container is gone.
            api.UpdateService(op.UpdateServiceRequest(cluster="default", service="bench", desired_count=0))
            for arn in api.ListTasks(op.ListTasksRequest(cluster="default", desired_status="RUNNING")).arns:
                api.StopTask(op.StopTaskRequest(cluster="default", task=arn))
            nodes = cluster.node_ids()
            wait(lambda: not [c for c in client.api.containers(all=True, filters={"label": "shoal.cluster=default"})
                              if c["Labels"].get("shoal.node") in nodes], 300, "every task's container removed")
            latencies = []
            for _ in range(args.latency_runs):
                started = time.perf_counter()
                task = api.RunTask(op.RunTaskRequest(cluster="default", task_definition="bench-web")).tasks[0]
                wait(lambda t=task: task_status(api, t.id) == "RUNNING", 60, "a task RUNNING", interval=0.005)
                latencies.append(time.perf_counter() - started)
                api.StopTask(op.StopTaskRequest(cluster="default", task=task.id))
                # As the raw baseline removes each container before the next run.
                wait(lambda t=task: not client.api.containers(all=True, filters={"label": f"shoal.task={t.id}"}),
                     60, "the stopped task's container removed")
        finally:
            cluster.stop()
            cleanup_raw(client, label)

    raw_tput, shoal_tput = args.tasks / raw_launch, args.tasks / shoal_launch
    print(f"launch {args.tasks} tasks on 3 agents: shoal {shoal_launch:.2f}s ({shoal_tput:.1f}/s), "
          f"raw parallel docker run {raw_launch:.2f}s ({raw_tput:.1f}/s), ratio {shoal_tput / raw_tput:.2f}x")
    p50 = {name: statistics.median(v) * 1000 for name, v in (("shoal", latencies), ("raw", raw_single))}
    print(f"RunTask->RUNNING ({len(latencies)} samples): p50 {p50['shoal']:.0f} ms, {p99_text(latencies)}; "
          f"raw docker run: p50 {p50['raw']:.0f} ms, {p99_text(raw_single)}; "
          f"added p50 {p50['shoal'] - p50['raw']:.0f} ms")
    print(f"agent with {args.footprint_tasks} tasks: RSS {rss:.0f} MiB, idle CPU {idle_cpu:.1f}% of one core")
    return 0


if __name__ == "__main__":
    sys.exit(main())

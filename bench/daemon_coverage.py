"""Issue 15's daemon coverage time: `python bench/daemon_coverage.py [--rounds 5]`.

A DAEMON service runs on a cluster of three hollow-runtime agents (real agent processes and
streams, simulated containers, so the figure is the control plane's and the agent's, not
dockerd's). Each round starts one more agent and times, for its node:
  - join: from starting the agent process until its daemon task is RUNNING;
  - registered: from the moment its node is first listed until its daemon task is RUNNING
    (the scheduler's and the stream's share, without the agent's own start-up).

Prints figures; asserts nothing. `--smoke` runs one round, to prove the script still runs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench._timing import wait  # noqa: E402
from shoal.v1 import operator_pb2 as op  # noqa: E402
from shoalctl.local.cluster import LocalCluster  # noqa: E402

TASKDEF = {"family": "bench-daemon", "containerDefinitions": [{
    "name": "agent", "image": "shoal/busybox:latest", "memory": 16, "cpu": 16, "command": ["sleep", "100000"],
}]}


def daemon_running_on(api, node_id: str) -> bool:
    arns = api.ListTasks(op.ListTasksRequest(cluster="default", service_name="daemon",
                                             container_instance=node_id)).arns
    if not arns:
        return False
    tasks = api.DescribeTasks(op.DescribeTasksRequest(cluster="default", tasks=list(arns))).tasks
    return any(t.last_status == "RUNNING" and t.node_id == node_id for t in tasks)


def listed(api) -> set[str]:
    return {n.id for n in api.DescribeContainerInstances(op.DescribeContainerInstancesRequest(
        cluster="default", container_instances=list(api.ListContainerInstances(
            op.ListContainerInstancesRequest(cluster="default")).arns))).container_instances}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--smoke", action="store_true")
    args = ap.parse_args()
    rounds = 1 if args.smoke else args.rounds
    with tempfile.TemporaryDirectory() as tmp:
        cluster = LocalCluster(Path(tmp), agents=3, runtime="hollow", prometheus=False, autoscaler=False,
                               proxy=False, api_port=0, metrics_port=0, prometheus_port=0, lease_ttl=4.0)
        try:
            cluster.start(timeout=120)
            api = cluster.operator
            api.RegisterTaskDefinition(op.RegisterTaskDefinitionRequest(json=json.dumps(TASKDEF)))
            api.CreateService(op.CreateServiceRequest(cluster="default", service_name="daemon",
                                                      task_definition="bench-daemon", scheduling_strategy="DAEMON"))
            for node in cluster.node_ids():
                wait(lambda n=node: daemon_running_on(api, n), 60, f"the daemon on {node}")
            join, registered = [], []
            for k in range(rounds):
                before = listed(api)
                started = time.monotonic()
                cluster.start_agent(4 + k)
                node = wait(lambda b=before: next(iter(listed(api) - b), None), 60, "the new node")
                seen = time.monotonic()
                wait(lambda n=node: daemon_running_on(api, n), 60, f"the daemon on {node}")
                done = time.monotonic()
                join.append(done - started)
                registered.append(done - seen)
                print(f"round {k + 1}: node {node[:8]}: join -> RUNNING {join[-1]:.2f} s, "
                      f"registered -> RUNNING {registered[-1]:.2f} s", flush=True)
            print(f"daemon coverage over {rounds} joining nodes: join -> RUNNING median "
                  f"{statistics.median(join):.2f} s, max {max(join):.2f} s; registered -> RUNNING median "
                  f"{statistics.median(registered):.2f} s, max {max(registered):.2f} s")
        finally:
            cluster.stop()


if __name__ == "__main__":
    main()

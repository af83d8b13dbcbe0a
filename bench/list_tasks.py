"""ListTasks served from a replica's cache: `python bench/list_tasks.py`.

A cluster of `--tasks` tasks of one service on the in-memory store, held by a real
``controlplane.cache.Cache`` as a replica holds them, and ListTasks called through the API
function itself (``controlplane.api.tasks.list_``), first page of 100. Prints the median and
max wall time per call over `--calls` calls for a service filter, a service plus
desiredStatus filter, and the whole cluster; asserts nothing. This is the CPU one call takes
on the interpreter the agents' reports and the controllers share during a rollout.

`--smoke` runs 500 tasks and 5 calls, to prove the script still runs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from controlplane.api import reads, tasks  # noqa: E402
from controlplane.api.context import ApiContext  # noqa: E402
from controlplane.cache import Cache  # noqa: E402
from shoal import keys  # noqa: E402
from shoal.store.memory import MemoryStore  # noqa: E402
from shoal.store.tracking import WriteTracking  # noqa: E402
from shoal.v1 import operator_pb2 as op  # noqa: E402
from shoal.v1 import resources_pb2 as r  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tasks", type=int, default=5000)
    p.add_argument("--calls", type=int, default=60)
    p.add_argument("--smoke", action="store_true", help="500 tasks, 5 calls: proves the script still runs")
    args = p.parse_args(argv)
    if args.smoke:
        args.tasks, args.calls = 500, 5
    store = MemoryStore()
    ctx = ApiContext(WriteTracking(store, reads.TRACKED))
    ctx.ensure_default_cluster()
    cache = Cache(store, on_change=lambda: None)
    cache.start()
    ctx.cache = cache
    try:
        for i in range(args.tasks):
            task_id = f"{i:08x}-task"
            store.put(keys.task("default", task_id), r.Task(
                id=task_id, cluster="default", service_name="scale", desired_status="RUNNING", last_status="RUNNING",
                task_arn=f"arn:aws:ecs:us-east-1:000000000000:task/default/{task_id}").SerializeToString())
        if not cache.caught_up(keys.TASKS, store.list(keys.TASKS).revision, 30):
            raise SystemExit("the cache did not catch up with the store")
        print(f"ListTasks, first page of 100, {args.tasks} tasks of one service, {args.calls} calls each")
        for name, req in (
            ("service", op.ListTasksRequest(cluster="default", service_name="scale")),
            ("service + RUNNING", op.ListTasksRequest(cluster="default", service_name="scale",
                                                      desired_status="RUNNING")),
            ("whole cluster", op.ListTasksRequest(cluster="default")),
        ):
            samples = []
            for _ in range(args.calls):
                started = time.perf_counter()
                tasks.list_(ctx, req)
                samples.append(time.perf_counter() - started)
            print(f"  {name:<18} median {statistics.median(samples) * 1000:6.2f} ms  "
                  f"max {max(samples) * 1000:6.2f} ms")
    finally:
        cache.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

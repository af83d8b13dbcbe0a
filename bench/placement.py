"""Placement throughput and latency on in-memory clusters: `python bench/placement.py`.

A service with spread(attribute:ecs.availability-zone) + binpack(memory) + memberOf on
1,000 and 10,000 nodes (3 zones, mixed instance types). Prints figures, asserts nothing.

- batch: one schedule() call placing many tasks; decisions/s = tasks / wall time, and the
  p50/p99 of each decision (Planner.place_one) with the setup (filtering every node once)
  reported separately.
- one task per call (the path a RunTask takes): schedule() with count=1, the plan counted
  into the snapshot with apply_plan() before the next call, p50/p99 of the whole call.
  "memoized" reuses the snapshot's per-shape feasibility memo (scheduler.index), as the
  control plane does while the cluster changes only by its own placements, and times
  apply_plan() with the call; "from scratch" drops the memo before each call and times
  schedule() alone, which is what every call cost before the memo existed.

`--smoke` runs a few hundred decisions on 1,000 nodes, to prove the script still runs.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench._timing import pct  # noqa: E402
from controlplane.scheduler import (  # noqa: E402
    NodeState,
    PlacementRequest,
    Planner,
    Snapshot,
    apply_plan,
    schedule,
)

ZONES = ["us-east-1a", "us-east-1b", "us-east-1c"]
TYPES = [("t2.small", 1024, 2048), ("m5.large", 2048, 8192), ("m5.xlarge", 4096, 16384),
         ("c5.2xlarge", 8192, 16384)]


def cluster(n: int, seed: int = 7) -> Snapshot:
    rng = random.Random(seed)
    nodes = []
    for i in range(n):
        kind, cpu, mem = rng.choice(TYPES)
        used_mem = rng.randrange(0, mem // 2, 128)
        nodes.append(NodeState(
            id=f"i-{i:08x}", cpu_units=cpu, memory_mib=mem,
            used_cpu=rng.randrange(0, cpu // 2, 128), used_memory=used_mem,
            used_ports={80} if rng.random() < 0.1 else set(),
            attributes={"ecs.availability-zone": ZONES[i % 3], "ecs.instance-type": kind,
                        "ecs.os-type": "linux", "stack": rng.choice(["prod", "staging"])},
            registered_at=1.7e9 + i, running_tasks_count=rng.randrange(0, 5),
            groups=Counter({"service:web": rng.randrange(0, 2)}),
        ))
    return Snapshot(nodes)


def request(count: int) -> PlacementRequest:
    return PlacementRequest(
        count=count, cpu=128, memory=256, dynamic_ports=1, group="service:web",
        constraints=[("memberOf", "attribute:ecs.instance-type != t2.small and attribute:stack == prod")],
        strategies=[("spread", "attribute:ecs.availability-zone"), ("binpack", "memory")],
    )


def bench_batch(n: int, tasks: int) -> None:
    snap = cluster(n)
    t0 = time.perf_counter()
    planner = Planner(snap, request(tasks))
    setup = time.perf_counter() - t0
    lat = []
    for _ in range(tasks):
        s = time.perf_counter()
        placed = planner.place_one()
        lat.append(time.perf_counter() - s)
        assert placed is not None
    total = time.perf_counter() - t0
    print(f"{n:>6} nodes  batch of {tasks}: {tasks / total:8.0f} decisions/s (setup included), "
          f"setup {setup * 1e3:.2f} ms, decision p50 {statistics.median(lat) * 1e6:.0f} us "
          f"p99 {pct(lat, 0.99) * 1e6:.0f} us")


def bench_single(n: int, calls: int, memoized: bool) -> None:
    snap = cluster(n)
    lat = []
    for _ in range(calls):
        if not memoized:
            snap.index = None
        req = request(1)
        s = time.perf_counter()
        plan = schedule(snap, req)
        if memoized:  # keeping the memo true is part of the memoized path's cost
            apply_plan(snap, req, plan)
        lat.append(time.perf_counter() - s)
        if not memoized:
            apply_plan(snap, req, plan)
        assert not plan.unplaced
    how = "memoized    " if memoized else "from scratch"
    print(f"{n:>6} nodes  one task per call, {how} x{calls}: {calls / sum(lat):8.0f} calls/s, "
          f"p50 {statistics.median(lat) * 1e3:.3f} ms p99 {pct(lat, 0.99) * 1e3:.3f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="a short run on 1,000 nodes only")
    args = parser.parse_args()
    runs = [(1_000, 200, 100, 300)] if args.smoke else [(1_000, 5_000, 300, 5_000), (10_000, 5_000, 60, 2_000)]
    for n, tasks, scratch_calls, memo_calls in runs:
        bench_batch(n, tasks)
        bench_single(n, scratch_calls, memoized=False)
        bench_single(n, memo_calls, memoized=True)


if __name__ == "__main__":
    main()

"""How much does a routing-table build cost? The pure builder (controlplane/routing/table.py)
over one synthetic cluster — ``--tasks`` tasks of ``--services`` services, each behind its
own target group and path rule on one listener, on ``--nodes`` nodes — built ``--rounds``
times; prints the median and max build time and the table's size. Each replica builds at
most once per ``--cycle-interval`` (0.1 s), so the median over 0.1 s is the share of one
core a replica spends on routing while its cluster changes without pause.

    python bench/routing_table.py [--tasks 5000] [--services 100] [--nodes 50] [--rounds 10] [--smoke]
"""

from __future__ import annotations

import argparse
import statistics
import time

from controlplane.routing.table import build_routing_table
from shoal.v1 import resources_pb2 as r
from shoal.v1 import traffic_pb2 as t


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tasks", type=int, default=5000)
    p.add_argument("--services", type=int, default=100)
    p.add_argument("--nodes", type=int, default=50)
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--smoke", action="store_true", help="a small cluster, 3 rounds (what CI runs)")
    a = p.parse_args()
    if a.smoke:
        a.tasks, a.services, a.nodes, a.rounds = 200, 10, 5, 3
    groups = [t.TargetGroup(target_group_arn=f"arn:tg/{i}", protocol="HTTP", port=80, cluster="c", id=f"tg{i}")
              for i in range(a.services)]
    listener = t.Listener(port=8000, protocol="HTTP", default_target_group_arn="arn:tg/0", rules=[
        t.ListenerRule(priority=i + 1, path_patterns=[f"/{i}/*"], target_group_arn=f"arn:tg/{i}")
        for i in range(a.services)])
    lbs = [t.LoadBalancer(cluster="c", id="lb", listeners=[listener])]
    services = [r.Service(service_name=f"s{i}", cluster="c", load_balancers=[
        r.ServiceLoadBalancer(target_group_arn=f"arn:tg/{i}", container_name="web", container_port=80)])
        for i in range(a.services)]
    nodes = [r.ContainerInstance(id=f"n{i}", cluster="c", address=f"10.0.{i // 250}.{i % 250}", agent_connected=True)
             for i in range(a.nodes)]
    tasks = [r.Task(id=f"t{i}", cluster="c", node_id=f"n{i % a.nodes}", service_name=f"s{i % a.services}",
                    last_status="RUNNING", desired_status="RUNNING",
                    containers=[r.Container(name="web", network_bindings=[
                        r.NetworkBinding(container_port=80, host_port=32000 + i % 20000)])],
                    target_health=[r.TargetHealth(target_group_arn=f"arn:tg/{i % a.services}", state="healthy")])
             for i in range(a.tasks)]
    times = []
    for _ in range(a.rounds):
        started = time.perf_counter()
        table = build_routing_table("c", services, tasks, nodes, lbs, groups, [], 1, now=time.time())
        times.append(time.perf_counter() - started)
    print(f"{a.tasks} tasks, {a.services} services/target groups, {a.nodes} nodes: build median "
          f"{statistics.median(times) * 1000:.1f} ms, max {max(times) * 1000:.1f} ms over {a.rounds} rounds; "
          f"table {table.ByteSize()} bytes")


if __name__ == "__main__":
    main()

"""Issue 6's failover figures: `python bench/failover.py [--rounds 3] [--ttl 5]`.

1. lost node: SIGKILL one agent of three (each running one task of a 3-task service), then
   time until its liveness key is gone from etcd and its node reads agentConnected=false
   (detect; target <= TTL + 1 s), and until the service is back at 3 RUNNING tasks, none
   on the lost node (replaced; target <= 10 s with a 5 s TTL). For scale: Kubernetes'
   defaults take about 5 minutes, ECS and Nomad tens of seconds to minutes.
2. leader failover: SIGKILL the replica holding leadership (of two, on a 3-member etcd),
   asking at the same instant for one more task; time until another replica holds the
   leader key, and until the extra task is RUNNING (the new leader's controllers act;
   target <= 5 s with a 5 s TTL; Patroni's defaults allow 30 s).

Prints figures; asserts nothing. `--smoke` runs one round, to prove the script still runs.
Needs root-free local processes only: etcd, dockerd and
the busybox image (built if absent).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import docker  # noqa: E402

from bench import _timing  # noqa: E402
from shoal import keys  # noqa: E402
from shoal.store.etcd import EtcdStore  # noqa: E402
from shoal.v1 import operator_pb2 as op  # noqa: E402
from shoal.v1 import resources_pb2 as r  # noqa: E402
from shoalctl.chaos.converge import picture  # noqa: E402
from shoalctl.images import DEFAULT_TAG, ensure_busybox_image  # noqa: E402
from shoalctl.local.cluster import LocalCluster  # noqa: E402

TASKDEF = {"family": "bench-failover", "containerDefinitions": [{
    "name": "web", "image": DEFAULT_TAG, "memory": 16, "cpu": 16, "essential": True,
    "command": ["sleep", "100000"], "stopTimeout": 1,
}]}


def wait(cond, timeout: float, what: str):
    # a replica may be down mid-measurement
    return _timing.wait(cond, timeout, what, tolerate=True)


def running(api, service: str = "web") -> list[r.Task]:
    return [t for t in picture(api).tasks if t.service_name == service and t.last_status == "RUNNING"]


def lost_node_round(cluster: LocalCluster, api, store: EtcdStore, ttl: float) -> tuple[float, float, float]:
    tasks = running(api)
    victim = tasks[0].node_id
    number = cluster.agent_index(victim)
    t0 = time.monotonic()
    cluster.kill_agent(number)
    wait(lambda: store.get(keys.alive(victim)) is None, 4 * ttl + 30, "the alive key to go")
    alive_gone = time.monotonic() - t0
    wait(lambda: not next(n for n in picture(api).nodes if n.id == victim).agent_connected, 4 * ttl + 30,
         "agentConnected=false")
    detected = time.monotonic() - t0
    wait(lambda: len(now := running(api)) == 3 and all(t.node_id != victim for t in now), 120, "replacement")
    replaced = time.monotonic() - t0
    # The agent returns (and removes its stale copy) before the next round.
    cluster.start_agent(number)
    cluster.wait_for_agents(3, 60)
    wait(lambda: picture(api).converged(), 120, "converged with the agent back")
    return alive_gone, detected, replaced


def leader_round(cluster: LocalCluster, api, want: int) -> tuple[float, float, int]:
    old = wait(cluster.leader, 30, "a leader")
    t0 = time.monotonic()
    cluster.kill_replica(old)
    api.UpdateService(op.UpdateServiceRequest(cluster="default", service="web", desired_count=want))
    new = wait(lambda: (n := cluster.leader()) not in (None, old) and n, 60, "a new leader")
    leads = time.monotonic() - t0
    wait(lambda: len(running(api)) == want, 120, "the new leader's controllers to run the extra task")
    acts = time.monotonic() - t0
    cluster.start_replica(old)
    return leads, acts, new


def summary(name: str, values: list[float], target: float | None = None) -> str:
    line = f"  {name:<44} median {statistics.median(values):5.2f}s  max {max(values):5.2f}s"
    if target is not None:
        line += f"  (target <= {target:g}s: {'met' if max(values) <= target else 'MISSED'})"
    return line


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--ttl", type=float, default=5.0, help="control plane lease TTL, seconds")
    p.add_argument("--keep", action="store_true", help="keep the state dir (logs) afterwards")
    p.add_argument("--smoke", action="store_true", help="one round: proves the script still runs")
    args = p.parse_args()
    if args.smoke:
        args.rounds = 1
    # A terminated bench still stops its cluster (the finally below).
    signal.signal(signal.SIGTERM, _interrupt)
    client = docker.from_env(timeout=120)
    ensure_busybox_image(client, DEFAULT_TAG)
    client.close()
    state = Path(tempfile.mkdtemp(prefix="shoal-bench-failover-"))
    cluster = LocalCluster(state, agents=3, api_port=0, metrics_port=0, prometheus=False, autoscaler=False,
                           lease_ttl=args.ttl, gc_delay=1, replicas=2, etcd_members=3)
    print(f"starting 3 agents, 2 replicas, 3 etcd members (TTL {args.ttl:g}s) in {state}", flush=True)
    cluster.start(timeout=180)
    api = cluster.failover_operator()
    store = cluster.etcd_store(timeout=5)
    try:
        api.RegisterTaskDefinition(op.RegisterTaskDefinitionRequest(json=json.dumps(TASKDEF)))
        api.CreateService(op.CreateServiceRequest(
            cluster="default", service_name="web", task_definition="bench-failover", desired_count=3,
            placement_strategy=[r.PlacementStrategy(type="spread", field="instanceId")],
            deployment_configuration=r.DeploymentConfiguration(minimum_healthy_percent=100, maximum_percent=200)))
        wait(lambda: len({t.node_id for t in running(api)}) == 3, 120, "3 tasks on 3 nodes")
        gone, detect, replace, leads, acts = [], [], [], [], []
        for i in range(args.rounds):
            a, d, rep = lost_node_round(cluster, api, store, args.ttl)
            gone.append(a)
            detect.append(d)
            replace.append(rep)
            print(f"round {i + 1}: node lost: alive key gone {a:.2f}s, agentConnected=false {d:.2f}s, "
                  f"tasks RUNNING elsewhere {rep:.2f}s", flush=True)
        want = 3
        for i in range(args.rounds):
            want += 1
            lead, act, new = leader_round(cluster, api, want)
            leads.append(lead)
            acts.append(act)
            print(f"round {i + 1}: leader killed: {cluster.replica_name(new)} leads after {lead:.2f}s, "
                  f"its controllers ran a new task after {act:.2f}s", flush=True)
        print(f"\nfailover figures (TTL {args.ttl:g}s, {args.rounds} rounds):")
        print(summary("lost node: alive key gone", gone, args.ttl + 1))
        print(summary("lost node: agentConnected=false", detect, args.ttl + 1))
        print(summary("lost node: its tasks RUNNING elsewhere", replace, 10 if args.ttl <= 5 else None))
        print(summary("leader killed: another replica leads", leads, 5 if args.ttl <= 5 else None))
        print(summary("leader killed: new leader ran a new task", acts))
    finally:
        store.close()
        api.close()
        cluster.stop()
        if not args.keep:
            import shutil

            shutil.rmtree(state, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Issue 15's partition figure: `python bench/partition_tolerance.py [--seconds 30]`.

A lab of three hosts (each agent in its own network namespace, real containers on the
shared dockerd) runs a service of 6 tasks spread over the hosts with a disconnect tolerance
of 120 s. One host's link is cut for ``--seconds`` while its agent keeps running, then
restored. Reported:
  - tasks lost: tasks running before the cut that are not running once the cluster settles;
  - tasks duplicated: replacements started during the cut, and running containers beyond one
    per live task after it;
  - how long after the cut the host's tasks read UNKNOWN, and after the heal RUNNING again.

With `--replace-on-disconnect` the service asks for replacements at once (Nomad's
max_client_disconnect with replacement): "replacements started" is then expected to be the
cut host's tasks, and the figure that matters is which copies are kept after the heal
(originals kept / replacements stopped) and the duplicate containers left (target 0).

Prints figures; asserts nothing. `--smoke` cuts for 9 s (three lease TTLs), to prove the
script still runs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import docker  # noqa: E402

from agent.runtime import LABEL_NODE, LABEL_SERVICE, LABEL_TASK  # noqa: E402
from bench import _timing  # noqa: E402
from shoal.v1 import operator_pb2 as op  # noqa: E402
from shoal.v1 import resources_pb2 as r  # noqa: E402
from shoalctl.images import ensure_busybox_image  # noqa: E402
from shoalctl.lab.lab import Lab  # noqa: E402

LEASE_TTL = 3.0
TOLERANCE = 120
DESIRED = 6
TASKDEF = {"family": "bench-cut", "containerDefinitions": [{
    "name": "worker", "image": "shoal/busybox:latest", "memory": 16, "cpu": 16, "essential": True,
    "command": ["sleep", "100000"], "stopTimeout": 1,
}]}


def wait(cond, timeout: float, what: str):
    return _timing.wait(cond, timeout, what, 0.1)


def live(api) -> dict[str, r.Task]:
    arns = api.ListTasks(op.ListTasksRequest(cluster="default", service_name="cut", desired_status="RUNNING")).arns
    if not arns:
        return {}
    return {t.id: t for t in api.DescribeTasks(op.DescribeTasksRequest(cluster="default", tasks=list(arns))).tasks}


def containers(client: docker.DockerClient, service: str, nodes: set[str]) -> list[str]:
    """The task id of every running container of the service on ``nodes`` (the lab's: the
    dockerd is shared), once per container."""
    found = client.containers.list(filters={"label": f"{LABEL_SERVICE}={service}", "status": "running"})
    return [c.labels.get(LABEL_TASK, "") for c in found if c.labels.get(LABEL_NODE) in nodes]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--replace-on-disconnect", action="store_true")
    args = ap.parse_args()
    seconds = 3 * LEASE_TTL if args.smoke else args.seconds
    client = docker.from_env(timeout=60)
    ensure_busybox_image(client)
    with tempfile.TemporaryDirectory() as tmp:
        lab = Lab(Path(tmp) / "lab", hosts=3, zones=["a", "b", "c"], lease_ttl=LEASE_TTL, gc_delay=1.0,
                  prometheus=False, autoscaler=False)
        try:
            lab.start(timeout=240)
            api = lab.cluster.failover_operator()
            api.RegisterTaskDefinition(op.RegisterTaskDefinitionRequest(json=json.dumps(TASKDEF)))
            api.CreateService(op.CreateServiceRequest(
                cluster="default", service_name="cut", task_definition="bench-cut", desired_count=DESIRED,
                disconnect_tolerance_seconds=TOLERANCE, replace_on_disconnect=args.replace_on_disconnect,
                placement_strategy=[r.PlacementStrategy(type="spread", field="instanceId")]))
            wait(lambda: sum(t.last_status == "RUNNING" for t in live(api).values()) == DESIRED, 120,
                 f"{DESIRED} tasks RUNNING")
            before = live(api)
            names = lab.cluster.node_names()
            on_cut = {i for i, t in before.items() if names.get(t.node_id) == "agent-2"}
            seen: set[str] = set(before)
            cut_at = time.monotonic()
            lab.partition("agent-2")
            unknown_after = None
            try:
                while time.monotonic() - cut_at < seconds:
                    now = live(api)
                    seen |= set(now)
                    if unknown_after is None and on_cut and all(
                            now.get(i) is not None and now[i].last_status == "UNKNOWN" for i in on_cut):
                        unknown_after = time.monotonic() - cut_at
                    time.sleep(0.2)
            finally:
                lab.heal("agent-2")
            healed_at = time.monotonic()
            wait(lambda: all((t := live(api).get(i)) is not None and t.last_status == "RUNNING"
                             and not t.disconnected_at for i in on_cut) or len(live(api)) < DESIRED - len(on_cut),
                 120, "the cut host's tasks back")
            back_after = time.monotonic() - healed_at
            settled = wait(lambda: (now := live(api)) and len(now) == DESIRED
                           and all(t.last_status == "RUNNING" for t in now.values()) and now, 120, "settled")
            seen |= set(settled)
            if args.replace_on_disconnect:
                # The stopped copies' containers go once their agents see the stop.
                try:
                    wait(lambda: sorted(containers(client, "cut", lab.cluster.node_ids())) == sorted(settled), 60,
                         "one container per live task")
                except SystemExit as e:
                    print(e)
            running = containers(client, "cut", lab.cluster.node_ids())
            lost = len(set(before) - set(settled))
            started = len(seen - set(before))
            extra = len(running) - len(set(running)) + len(set(running) - set(settled))
            print(f"host agent-2 ({len(on_cut)} of {DESIRED} tasks) cut off for {seconds:g} s, lease TTL "
                  f"{LEASE_TTL:g} s, tolerance {TOLERANCE} s: UNKNOWN after "
                  f"{unknown_after if unknown_after is None else round(unknown_after, 1)} s, RUNNING again "
                  f"{back_after:.1f} s after the heal")
            if args.replace_on_disconnect:
                replacements = seen - set(before)
                print(f"replace on disconnect: replacements started: {started}, originals kept: "
                      f"{len(on_cut & set(settled))} of {len(on_cut)}, replacements stopped: "
                      f"{len(replacements - set(settled))}, tasks lost: {lost}, duplicate containers after: "
                      f"{extra} (target: lost 0, duplicates 0)")
            else:
                print(f"tasks lost: {lost}, replacements started: {started}, duplicate containers after: {extra} "
                      f"(target: 0, 0, 0)")
            api.close()
        finally:
            lab.stop()


if __name__ == "__main__":
    main()

"""`python bench/images.py --lab`: cold pull vs pre-pulled task start on 3 lab hosts, each
with a Docker engine of its own inside its network namespace (`shoal lab up --own-dockerd
1,2,3 --registry`), so every host pulls from the cluster registry over its own link.

Each round makes two images (a busybox root filesystem plus ``layer_mib`` MiB of random
bytes, nothing shared), pushes them from the machine's dockerd and removes them there; no
host's engine has them. Then, in the same run:

* cold: a DAEMON service of the first image: one task per host, each start pulling it;
* pre-pulled: a service of the second image whose tasks cannot be placed (each asks for more
  memory than a node has), desired 3: its deployment makes the leader tell 3 nodes to
  pre-pull the image; once every host's engine has it, that service is deleted and a DAEMON
  service of a small task of the image is created.

A task's start is the control plane's created_at -> started_at (placement to RUNNING, the
pull included for cold). Prints each kind's median and max over every host and round, their
ratio, and how long the pre-pull itself took (CreateService -> image on every host)."""

from __future__ import annotations

import contextlib
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import docker
import docker.errors

from bench._timing import wait
from shoal.v1 import operator_pb2 as op
from shoal.v1 import registry_pb2 as rg
from shoal.v1 import registry_pb2_grpc
from shoalctl.lab.lab import Lab

HOSTS = (1, 2, 3)


def run(rounds: int, layer_mib: int, node_mib: int, make_image: Callable[[docker.DockerClient, str, int], str],
        taskdef: Callable[[str, str, int], str], push_env: Callable[[Path, Lab], dict[str, str]]) -> int:
    client = docker.from_env(timeout=300)
    times: dict[str, list[float]] = {"cold": [], "pre-pulled": []}
    prepull_seconds: list[float] = []
    made: set[str] = set()
    with tempfile.TemporaryDirectory(prefix="shoal-bench-images-lab-") as tmp:
        lab = Lab(Path(tmp) / "lab", hosts=len(HOSTS), private_dockerd=HOSTS, registry=True, dns=False,
                  gc_delay=1, prometheus=False, autoscaler=False,
                  extra_agent_args=["--memory-mib", str(node_mib)])
        lab.start(timeout=300)
        engines = {n: docker.DockerClient(base_url=lab.dockerds[n].socket_url, timeout=300) for n in HOSTS}
        try:
            api = lab.cluster.operator
            registry = lab.cluster.registry_address
            repo = f"bench/images-lab-{int(time.time())}"
            registry_pb2_grpc.RegistryStub(lab.cluster.channel).CreateRepository(
                rg.CreateRepositoryRequest(name=repo), timeout=30)
            env = push_env(Path(tmp), lab)
            for n in range(rounds):
                refs = {kind: f"{registry}/{repo}:r{n}-{kind}" for kind in times}
                for kind, ref in refs.items():
                    made.add(make_image(client, ref, layer_mib))
                    pushed = subprocess.run(["docker", "push", ref], env=env, capture_output=True, text=True,
                                            timeout=600)
                    if pushed.returncode != 0:
                        raise SystemExit(f"bench: docker push {ref} failed: {pushed.stderr}")
                    client.images.remove(ref, force=True)
                    family = f"lab-{n}-{kind.replace('-', '')}"
                    api.RegisterTaskDefinition(op.RegisterTaskDefinitionRequest(json=taskdef(family, ref, 16)))
                    api.RegisterTaskDefinition(op.RegisterTaskDefinitionRequest(
                        json=taskdef(f"{family}-big", ref, 4 * node_mib)))
                if any(_has(e, ref) for e in engines.values() for ref in refs.values()):
                    raise SystemExit("bench: a host's engine had a fresh image before the round")
                times["cold"] += _daemon_starts(api, f"lab-cold-{n}", f"lab-{n}-cold")
                started = time.perf_counter()
                big = f"lab-prepull-{n}"
                api.CreateService(op.CreateServiceRequest(cluster="default", service_name=big, desired_count=3,
                                                          task_definition=f"lab-{n}-prepulled-big"))
                wait(lambda ref=refs["pre-pulled"]: all(_has(e, ref) for e in engines.values()), 300,
                     "the image pre-pulled on every host", interval=0.02)
                prepull_seconds.append(time.perf_counter() - started)
                api.DeleteService(op.DeleteServiceRequest(cluster="default", service=big, force=True))
                times["pre-pulled"] += _daemon_starts(api, f"lab-warm-{n}", f"lab-{n}-prepulled")
        finally:
            for e in engines.values():
                e.close()
            lab.stop()
            for image_id in made:
                with contextlib.suppress(docker.errors.ImageNotFound):
                    client.images.remove(image_id, force=True)

    med = {k: statistics.median(v) * 1000 for k, v in times.items()}
    top = {k: max(v) * 1000 for k, v in times.items()}
    print(f"{len(HOSTS)} lab hosts, each its own engine in its namespace, ~{layer_mib + 1} MiB image, {rounds} "
          f"round(s), task start (placed -> RUNNING) over every host: cold pull median {med['cold']:.0f} ms "
          f"(max {top['cold']:.0f}), pre-pulled median {med['pre-pulled']:.0f} ms (max {top['pre-pulled']:.0f}); "
          f"pre-pulled vs cold {med['pre-pulled'] / med['cold']:.2f}x")
    print(f"pre-pull on every host (CreateService -> image in all {len(HOSTS)} engines): median "
          f"{statistics.median(prepull_seconds) * 1000:.0f} ms, max {max(prepull_seconds) * 1000:.0f} ms")
    return 0


def _has(engine: docker.DockerClient, ref: str) -> bool:
    try:
        engine.images.get(ref)
    except docker.errors.ImageNotFound:
        return False
    return True


def _daemon_starts(api, service: str, family: str) -> list[float]:
    """Creates a DAEMON service of ``family``, waits for its task on every host, returns each
    task's created_at -> started_at in seconds, and deletes the service and its tasks."""
    api.CreateService(op.CreateServiceRequest(cluster="default", service_name=service, task_definition=family,
                                              scheduling_strategy="DAEMON"))

    def tasks() -> list:
        arns = list(api.ListTasks(op.ListTasksRequest(cluster="default", service_name=service)).arns)
        return list(api.DescribeTasks(op.DescribeTasksRequest(cluster="default", tasks=arns)).tasks) if arns else []

    def all_running() -> list:
        got = tasks()
        if stopped := [t.stopped_reason for t in got if t.last_status == "STOPPED"]:
            raise SystemExit(f"bench: a task of {service} stopped: {stopped}")
        return len(r := [t for t in got if t.last_status == "RUNNING"]) == len(HOSTS) and r

    running = wait(all_running, 300, f"a task of {service} RUNNING on every host", interval=0.05)
    api.DeleteService(op.DeleteServiceRequest(cluster="default", service=service, force=True))
    wait(lambda: not [t for t in tasks() if t.last_status != "STOPPED"], 120, f"the tasks of {service} stopped",
         interval=0.1)
    return [t.started_at - t.created_at for t in running]

"""Task start and image pulls from the cluster registry: `python bench/images.py`.

One local cluster with its registry (TLS from the cluster CA, Shoal's pull tokens) and one
agent of 512 MiB. Each round makes three images of the same size (a busybox root filesystem
plus ``--layer-mib`` MiB of random bytes, so no layer is shared with anything), pushes them
to the cluster registry, and times RunTask -> RUNNING for a small task of each, in the same
run:

* present: the image is already in the node's Docker (the push left it there);
* cold: the image is only in the registry: the task's start pulls it, with a pull token;
* pre-pulled: a service of that image is created first whose task cannot be placed (it asks
  for more memory than the node has) — its deployment makes the leader tell the node to
  pre-pull the image; once the image is on the node, RunTask of the small task.

Prints each kind's median, the ratios to present, and how long the pre-pull itself took
(CreateService -> image on the node: the pull taken off the task's start).

Before the rounds, in the same run, the cost of Shoal's registry front: ``--blob-runs`` pushes
and pulls of a ``--blob-mib`` MiB blob of random bytes (a new one each run), through the front
(the address image names carry) and straight to the registry process behind it on loopback,
alternating which goes first; prints the median MB/s of each and their ratio.

After the rounds, in the same run and against the same cluster (bench/_images_deploy.py):
`docker pull` from the cluster registry vs `docker load` of the same image (one more image of
the rounds' size, pushed, saved to a tar once; ``--pull-runs`` rounds, alternating which goes
first, each after `docker rmi`; median MB/s of each, the tar's size over the command's time,
and their ratio); then `shoal app deploy` of a copy of examples/hello: invoking it -> the
first 200 from the URL it prints, and, its page edited, invoking it again -> the edit's first
answer from that URL. Asserts nothing. Needs dockerd, etcd and Debian's docker-registry.
`--smoke`: one round of 2 MiB images, two runs of a 2 MiB blob, two rounds of pull vs load.
`--lab` (root): cold pull vs pre-pulled task start across 3 lab hosts,
each with a Docker engine of its own in its namespace, instead (bench/_images_lab.py).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import secrets
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import docker  # noqa: E402
import docker.errors  # noqa: E402

from bench import _images_deploy, _images_lab  # noqa: E402
from bench._blob_throughput import Session  # noqa: E402
from bench._timing import wait  # noqa: E402
from shoal.v1 import operator_pb2 as op  # noqa: E402
from shoal.v1 import registry_pb2 as rg  # noqa: E402
from shoal.v1 import registry_pb2_grpc  # noqa: E402
from shoalctl.images import ensure_busybox_image, rootfs_tar  # noqa: E402
from shoalctl.local.cluster import LocalCluster  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
NODE_MIB = 512
KINDS = ("present", "cold", "pre-pulled")


def make_image(client: docker.DockerClient, ref: str, layer_mib: int) -> str:
    buf = io.BytesIO(rootfs_tar())
    with tarfile.open(fileobj=buf, mode="a") as tar:
        data = secrets.token_bytes(layer_mib * 2**20)
        info = tarfile.TarInfo("unique.bin")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    repository, _, tag = ref.rpartition(":")
    client.api.import_image_from_data(buf.getvalue(), repository=repository, tag=tag,
                                      changes=['CMD ["sh"]', "ENV PATH=/bin"])
    return client.images.get(ref).id


def present(client: docker.DockerClient, ref: str) -> bool:
    try:
        client.images.get(ref)
    except docker.errors.ImageNotFound:
        return False
    return True


def taskdef(family: str, image: str, memory: int) -> str:
    return json.dumps({"family": family, "containerDefinitions": [{
        "name": "app", "image": image, "memory": memory, "cpu": 16, "command": ["sleep", "600"],
        "stopTimeout": 1}]})


def task_status(api, task_id: str) -> str:
    return api.DescribeTasks(op.DescribeTasksRequest(cluster="default", tasks=[task_id])).tasks[0].last_status


def run_task(api, client: docker.DockerClient, family: str) -> float:
    """RunTask -> RUNNING in seconds; the task is stopped and its container gone after."""
    started = time.perf_counter()
    task = api.RunTask(op.RunTaskRequest(cluster="default", task_definition=family)).tasks[0]
    status = wait(lambda: (s := task_status(api, task.id)) in ("RUNNING", "STOPPED") and s, 300,
                  f"task of {family} RUNNING", interval=0.005)
    took = time.perf_counter() - started
    if status != "RUNNING":
        raise SystemExit(f"bench: task of {family} stopped: "
                         f"{api.DescribeTasks(op.DescribeTasksRequest(cluster='default', tasks=[task.id])).tasks[0]}")
    api.StopTask(op.StopTaskRequest(cluster="default", task=task.id))
    wait(lambda: not client.api.containers(all=True, filters={"label": f"shoal.task={task.id}"}), 60,
         "the stopped task's container removed")
    return took


def login_env(tmp: Path, cluster: LocalCluster) -> dict[str, str]:
    """The environment `docker push` takes: an admin's `shoal registry login` in a Docker
    config of its own under ``tmp`` (never this machine's ~/.docker)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SHOAL_STATE_DIR": str(cluster.state_dir),
           "SHOAL_ENDPOINT": cluster.endpoint, "DOCKER_CONFIG": str(tmp / "docker-config")}
    login = subprocess.run([sys.executable, "-m", "shoalctl", "registry", "login"], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=60)
    if login.returncode != 0:
        raise SystemExit(f"bench: shoal registry login failed: {login.stderr}")
    return env


def push(ref: str, env: dict[str, str]) -> None:
    pushed = subprocess.run(["docker", "push", ref], env=env, capture_output=True, text=True, timeout=600)
    if pushed.returncode != 0:
        raise SystemExit(f"bench: docker push {ref} failed: {pushed.stderr}")


def blob_throughput(cluster: LocalCluster, repo: str, mib: int, runs: int) -> dict[str, list[float]]:
    """MB/s of each push and pull, by "push front", "push direct", "pull front", "pull direct"."""
    cred = registry_pb2_grpc.RegistryStub(cluster.channel).GetLoginCredential(
        rg.GetLoginCredentialRequest(ttl_seconds=3600), timeout=30)
    ca = str(cluster.pki_dir / "ca.crt")
    sessions = {"front": Session(f"https://{cluster.registry_address}", ca, repo, cred.username, cred.password),
                "direct": Session(f"http://{cluster.cluster_registry.upstream}", ca, repo, cred.username,
                                  cred.password)}
    rates: dict[str, list[float]] = {f"{op} {via}": [] for op in ("push", "pull") for via in sessions}
    size = mib * 2**20
    for n in range(runs):
        order = list(sessions) if n % 2 == 0 else list(reversed(sessions))
        for via in order:
            digest, took = sessions[via].push(secrets.token_bytes(size))
            rates[f"push {via}"].append(size / took / 1e6)
            rates[f"pull {via}"].append(size / sessions[via].pull(digest, size) / 1e6)
    return rates


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--layer-mib", type=int, default=32, help="random bytes in each image's own layer")
    ap.add_argument("--blob-mib", type=int, default=64, help="size of the blob pushed and pulled for throughput")
    ap.add_argument("--blob-runs", type=int, default=5, help="pushes and pulls of it through each address")
    ap.add_argument("--pull-runs", type=int, default=5, help="rounds of docker pull vs docker load of one image")
    ap.add_argument("--smoke", action="store_true",
                    help="one round of 2 MiB images, two runs of a 2 MiB blob, two rounds of pull vs load")
    ap.add_argument("--lab", action="store_true",
                    help="instead: cold vs pre-pulled task start on 3 lab hosts, each with its own engine (root)")
    args = ap.parse_args()
    if args.smoke:
        args.rounds, args.layer_mib, args.blob_mib, args.blob_runs, args.pull_runs = 1, 2, 2, 2, 2
    client = docker.from_env(timeout=300)
    ensure_busybox_image(client)
    if args.lab:
        return _images_lab.run(args.rounds, args.layer_mib, NODE_MIB, make_image, taskdef,
                               lambda tmp, lab: login_env(tmp, lab.cluster))
    made: set[str] = set()
    times: dict[str, list[float]] = {k: [] for k in KINDS}
    prepull_seconds: list[float] = []
    with tempfile.TemporaryDirectory(prefix="shoal-bench-images-") as tmp:
        cluster = LocalCluster(Path(tmp) / "cluster", agents=1, zones=["a"], api_port=0, metrics_port=0,
                               prometheus_port=0, prometheus=False, gc_delay=1, registry=True,
                               extra_agent_args=["--memory-mib", str(NODE_MIB)])
        cluster.start(timeout=180)
        try:
            api = cluster.operator
            registry = cluster.registry_address
            repo = f"bench/images-{secrets.token_hex(3)}"
            registry_pb2_grpc.RegistryStub(cluster.channel).CreateRepository(rg.CreateRepositoryRequest(name=repo),
                                                                              timeout=30)
            env = login_env(Path(tmp), cluster)
            throughput = blob_throughput(cluster, repo, args.blob_mib, args.blob_runs)
            # A first task warms the node up (its first container, the agent's first pull of
            # credentials): not counted for any kind.
            api.RegisterTaskDefinition(op.RegisterTaskDefinitionRequest(
                json=taskdef("bench-warmup", "shoal/busybox:latest", 16)))
            run_task(api, client, "bench-warmup")
            for n in range(args.rounds):
                refs = {kind: f"{registry}/{repo}:r{n}-{kind}" for kind in KINDS}
                for kind, ref in refs.items():
                    made.add(make_image(client, ref, args.layer_mib))
                    push(ref, env)
                    family = f"bench-{n}-{kind.replace('-', '')}"
                    api.RegisterTaskDefinition(op.RegisterTaskDefinitionRequest(json=taskdef(family, ref, 16)))
                    api.RegisterTaskDefinition(op.RegisterTaskDefinitionRequest(
                        json=taskdef(f"{family}-big", ref, 4 * NODE_MIB)))
                    if kind != "present":
                        client.images.remove(ref, force=True)
                # Present first, cold second: neither is helped by the other's pull.
                times["present"].append(run_task(api, client, f"bench-{n}-present"))
                times["cold"].append(run_task(api, client, f"bench-{n}-cold"))
                service = f"bench-prepull-{n}"
                started = time.perf_counter()
                api.CreateService(op.CreateServiceRequest(cluster="default", service_name=service,
                                                          task_definition=f"bench-{n}-prepulled-big", desired_count=1))
                wait(lambda ref=refs["pre-pulled"]: present(client, ref), 300, "the image pre-pulled", interval=0.01)
                prepull_seconds.append(time.perf_counter() - started)
                times["pre-pulled"].append(run_task(api, client, f"bench-{n}-prepulled"))
                api.DeleteService(op.DeleteServiceRequest(cluster="default", service=service, force=True))
            pulled = f"{registry}/{repo}:pull-vs-load"
            made.add(make_image(client, pulled, args.layer_mib))
            push(pulled, env)
            pull_size, pull_rates = _images_deploy.pull_vs_load(Path(tmp), pulled, env, args.pull_runs)
            deploy = _images_deploy.deploy_to_url(Path(tmp), env, client, made)
        finally:
            cluster.stop()
            for image_id in made:
                with contextlib.suppress(docker.errors.ImageNotFound):
                    client.images.remove(image_id, force=True)

    rate = {k: statistics.median(v) for k, v in throughput.items()}
    print(f"registry front, {args.blob_mib} MiB blob, {args.blob_runs} run(s), median MB/s: push through the front "
          f"{rate['push front']:.0f}, straight to the registry {rate['push direct']:.0f} "
          f"(front/direct {rate['push front'] / rate['push direct']:.2f}); pull through the front "
          f"{rate['pull front']:.0f}, straight {rate['pull direct']:.0f} "
          f"(front/direct {rate['pull front'] / rate['pull direct']:.2f})")
    med = {k: statistics.median(v) * 1000 for k, v in times.items()}
    size = args.layer_mib + 1
    print(f"RunTask->RUNNING, ~{size} MiB image, {args.rounds} round(s), medians: present {med['present']:.0f} ms, "
          f"cold pull from the cluster registry {med['cold']:.0f} ms, pre-pulled {med['pre-pulled']:.0f} ms")
    print(f"ratios to present: cold {med['cold'] / med['present']:.2f}x, pre-pulled "
          f"{med['pre-pulled'] / med['present']:.2f}x; pre-pulled vs cold {med['pre-pulled'] / med['cold']:.2f}x")
    print(f"pre-pull (CreateService -> image on the node): median {statistics.median(prepull_seconds) * 1000:.0f} ms, "
          f"max {max(prepull_seconds) * 1000:.0f} ms")
    _images_deploy.report(deploy, pull_size, pull_rates, args.pull_runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())

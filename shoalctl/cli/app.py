"""`shoal app deploy|delete` (`status|logs` are in app_view): one command from a directory
with a Dockerfile, or an image, to a load-balanced, auto-scaled URL (ECS Express Mode's job),
made of the pieces any user could make by hand: the image built by the local Docker engine
and pushed to the cluster registry, a task definition, a load balancer (its default target
group's health check set), a service behind it, a scalable target with a CPU
target-tracking policy.

Idempotent: run again, each piece is compared with what is wanted and only what differs is
changed — a new image (a new tag: the image's own id) makes a new task definition revision
and a rolling deployment; the same image changes nothing."""

from __future__ import annotations

import re
import time
from pathlib import Path

import docker
import docker.errors

from controlplane import apps
from shoal.v1 import operator_pb2 as op
from shoal.v1 import registry_pb2 as rg
from shoal.v1 import registry_pb2_grpc
from shoal.v1 import resources_pb2 as r
from shoalctl.cli import app_view, client
from shoalctl.cli.client import add_verb
from shoalctl.cli.errors import CliError


def _registry_image(a, image: str) -> str:
    """The image as tasks will name it: a local Docker image is pushed to the cluster
    registry as apps/NAME:<its id> (a new image, a new tag); any other is used as named
    (already in the cluster registry, or in one the nodes pull from)."""
    try:
        engine = docker.from_env(timeout=600)
    except docker.errors.DockerException:
        return image  # no local engine here: nothing local to push
    try:
        try:
            local = engine.images.get(image)
        except docker.errors.ImageNotFound:
            return image
        reg = client.connect(a, registry_pb2_grpc.RegistryStub)
        cred = reg.GetLoginCredential(rg.GetLoginCredentialRequest(ttl_seconds=900))
        repository = f"apps/{a.name}"
        if not any(x.name == repository for x in reg.ListRepositories(rg.ListRepositoriesRequest()).repositories):
            reg.CreateRepository(rg.CreateRepositoryRequest(name=repository))
        tag = local.id.split(":")[-1][:12]
        target = f"{cred.registry}/{repository}"
        local.tag(target, tag)
        auth = {"username": cred.username, "password": cred.password}
        for line in engine.api.push(target, tag=tag, stream=True, decode=True, auth_config=auth):
            if "error" in line:
                raise CliError(f"docker push {target}:{tag} failed: {line['error']}")
        print(f"pushed {image} as {target}:{tag}")
        return f"{target}:{tag}"
    except docker.errors.DockerException as exc:
        raise CliError(f"the local Docker engine: {exc}") from None
    finally:
        engine.close()


BUILD_TAIL = 12  # lines of the build's own output shown when it fails


def _build(directory: Path, name: str) -> str:
    """Builds the Dockerfile in ``directory`` with the local Docker engine (base images
    from the engine itself, or the cluster registry once logged in; nothing is pulled that
    the engine has) and returns the image's id; CliError with the build's own error."""
    if not (directory / "Dockerfile").is_file():
        raise CliError(f"DIR: {directory} has no Dockerfile")
    try:
        engine = docker.from_env(timeout=600)
    except docker.errors.DockerException as exc:
        raise CliError(f"building {directory} needs the local Docker engine: {exc}") from None
    said: list[str] = []
    try:
        for line in engine.api.build(path=str(directory), tag=f"shoal-app/{name}:latest", rm=True, forcerm=True,
                                     decode=True):
            if "error" in line:
                detail = (line.get("errorDetail") or {}).get("message") or line["error"]
                tail = "".join(said[-BUILD_TAIL:]).rstrip()
                raise CliError(f"docker build {directory} failed: {detail.strip()}" + (f"\n{tail}" if tail else ""))
            if "stream" in line:
                said.append(line["stream"])
        image_id = engine.images.get(f"shoal-app/{name}:latest").id
    except docker.errors.DockerException as exc:
        raise CliError(f"docker build {directory} failed: {exc}") from None
    finally:
        engine.close()
    print(f"built {directory} as {image_id[:19]}")
    return image_id


def _app_name(a) -> str:
    """--name, or for a directory its own name made into a valid one."""
    if a.name:
        return a.name
    if not Path(a.image).is_dir():
        raise CliError("--name: required when deploying an image (a directory names its app itself)")
    name = re.sub(r"[^a-z0-9-]+", "-", Path(a.image).resolve().name.lower()).strip("-")
    if not name:
        raise CliError(f"--name: cannot make an app name of {a.image!r}; give --name")
    return name


# A new revision's tasks stopped for these reasons this many times: the deployment failed.
FAILED_TASKS = 2
_FAILURES = ("health checks", "CannotPullContainerError", "CannotStartContainerError", "Essential container")


def _failures(c, a, deployment_td: str) -> list[str]:
    """Why tasks of ``deployment_td`` were stopped as failures (health checks, pulls, exits)."""
    arns = c.ListTasks(op.ListTasksRequest(cluster=a.cluster, service_name=a.name, desired_status="STOPPED")).arns
    if not arns:
        return []
    tasks = c.DescribeTasks(op.DescribeTasksRequest(cluster=a.cluster, tasks=list(arns)[:100])).tasks
    return [x.stopped_reason for x in tasks if x.task_definition_arn == deployment_td
            and any(f in x.stopped_reason for f in _FAILURES)]


def _wait(plane: apps.Plane, a, deployment_td: str) -> r.Service:
    """Until the deployment of ``deployment_td`` completes; CliError saying why when it
    fails (the circuit breaker, or FAILED_TASKS of its tasks stopped as failures)."""
    deadline = time.monotonic() + a.wait
    while True:
        svc = apps.service(plane, a.cluster, a.name)
        if svc is None:
            raise CliError(f"service {a.name} went away while deploying")
        primary = next((d for d in svc.deployments if d.status == "PRIMARY"), None)
        if primary is not None and primary.rollout_state == "COMPLETED" and primary.task_definition == deployment_td:
            return svc
        if primary is not None and (primary.rollout_state == "FAILED" or primary.task_definition != deployment_td):
            raise _Failed(primary.rollout_state_reason or (svc.events[0].message if svc.events else "failed"))
        if len(failed := _failures(plane.operator, a, deployment_td)) >= FAILED_TASKS:
            raise _Failed(failed[0])
        if time.monotonic() > deadline:
            said = svc.events[0].message if svc.events else "no event yet"
            raise _Failed(f"not steady after {a.wait:g}s (use --wait to wait longer); last event: {said}")
        time.sleep(0.5)


class _Failed(Exception):
    """The deployment failed; the message says why."""


_FLAGS = {"serviceName": "--name", "containerPort": "--port", "listenPort": "--listen-port",
          "min/max": "--min/--max", "healthCheckPath": "--health-path"}


def _flagged(exc: apps.AppError) -> str:
    """The refusal naming the flag the user gave for the field."""
    return _FLAGS.get(exc.field, exc.field) + str(exc)[len(exc.field):]


def deploy(a) -> None:
    a.name = _app_name(a)
    spec = apps.AppSpec(name=a.name, image=a.image, cluster=a.cluster, port=a.port, cpu=a.cpu, memory=a.memory,
                        min=a.min, max=a.max, health_path=a.health_path, listen_port=a.listen_port)
    try:
        apps.check(spec)
    except apps.AppError as exc:
        raise CliError(_flagged(exc)) from None
    source = Path(a.image)
    spec.image = _registry_image(a, _build(source, a.name) if source.is_dir() else a.image)
    plane = app_view.app_plane(a)
    try:
        done = apps.apply(plane, spec)
    except apps.AppError as exc:
        raise CliError(_flagged(exc)) from None
    for line in done.said:
        print(line)
    td = done.taskdef
    try:
        svc = _wait(plane, a, td.task_definition_arn)
    except _Failed as exc:
        raise CliError(_roll_back(a, plane.operator, done.previous, td, str(exc))) from None
    print(f"{a.name}: {svc.running_count} running of {td.family}:{td.revision}, scaling {a.min}-{a.max} "
          f"on {apps.CPU_TARGET:g}% CPU")
    address = apps.url(plane, a.cluster, done.load_balancer.listeners[0].port)
    if not address:
        raise CliError("no ACTIVE node with an address: the load balancer listens on the nodes")
    print(address)


def _roll_back(a, c, previous: str, td: r.TaskDefinition, why: str) -> str:
    """Puts the app back as it was before this deploy; returns the sentence to fail with."""
    failed = f"deployment of {td.family}:{td.revision} failed: {why}"
    if not previous:
        delete(a, quiet=True)  # a first deploy leaves nothing half-made
        return f"{failed}; removed what this deploy made"
    if previous != td.task_definition_arn:
        c.UpdateService(op.UpdateServiceRequest(cluster=a.cluster, service=a.name, task_definition=previous))
    return f"{failed}; rolled back to {previous.rpartition('/')[2]}"


def delete(a, quiet: bool = False) -> None:
    said = apps.remove(app_view.app_plane(a), a.cluster, a.name, a.wait)
    if quiet:
        return
    if not said:
        raise CliError(f"no app {a.name} in cluster {a.cluster}")
    print(f"deleted {a.name}: {', '.join(said)} (task definitions and the image stay)")


def register(sub) -> None:
    noun = sub.add_parser("app", help="one command from an image to a load-balanced, auto-scaled URL")
    verbs = noun.add_subparsers(dest="verb", metavar="VERB")
    verbs.required = True
    p = add_verb(verbs, "deploy", deploy, "deploy DIR (its Dockerfile, built here) or IMAGE as an app (again: "
                                          "roll out what changed)", cluster=True)
    p.add_argument("image", metavar="DIR|IMAGE", help="a directory with a Dockerfile (built with the local Docker "
                                                      "engine), a local Docker image (both pushed to the cluster "
                                                      "registry) or an image reference the nodes can pull")
    p.add_argument("--name", help="the app's name: its service, load balancer and task family (default for a "
                                  "DIR: the directory's name)")
    p.add_argument("--port", type=int, default=80, help="the port the app listens on in its container (80)")
    p.add_argument("--listen-port", type=int, default=0,
                   help="the load balancer's port on the nodes (first deploy only; default: a free one)")
    p.add_argument("--cpu", type=int, default=256, help="CPU units per task (256)")
    p.add_argument("--memory", type=int, default=256, help="memory MiB per task (256)")
    p.add_argument("--min", type=int, default=1, help="fewest tasks (1)")
    p.add_argument("--max", type=int, default=3, help="most tasks, scaling on CPU (3)")
    p.add_argument("--health-path", default="/", help="the path the health check asks (/)")
    p.add_argument("--wait", type=float, default=300.0, help="seconds to wait for the deployment (300)")
    p = add_verb(verbs, "status", app_view.status, "show an app: its URLs, deployments, tasks (node, health), "
                                                   "scaling range and last events", cluster=True, output=True)
    p.add_argument("name", metavar="NAME")
    p = add_verb(verbs, "logs", app_view.show_logs, "show the app's running tasks' output, interleaved, each "
                                                    "line prefixed with its task id", cluster=True)
    p.add_argument("name", metavar="NAME")
    p.add_argument("--follow", "-f", action="store_true",
                   help="keep printing; tasks started later (a redeploy, a scale-out) join the stream")
    p.add_argument("--since", help="only output of the last DURATION (30s, 10m, 2h, 1d)")
    p.add_argument("--tail", type=int, help="only the last N lines of each task")
    p = add_verb(verbs, "delete", delete, "remove what `shoal app deploy` made for --name", cluster=True)
    p.add_argument("name", metavar="NAME")
    p.add_argument("--wait", type=float, default=120.0, help="seconds to wait for the target group to free (120)")

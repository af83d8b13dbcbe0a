"""`shoal app deploy|delete`: one command from a directory with a Dockerfile, or an image, to
a load-balanced, auto-scaled URL (ECS Express Mode's job), made of the pieces any user could
make by hand: the image built by the local Docker engine and pushed to the cluster
registry, a task definition, a load balancer (its default target group's health check set),
a service behind it, a scalable target with a CPU target-tracking policy.

Idempotent: run again, each piece is compared with what is wanted and only what differs is
changed — a new image (a new tag: the image's own id) makes a new task definition revision
and a rolling deployment; the same image changes nothing."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import docker
import docker.errors

from shoal.netutil import free_port
from shoal.v1 import operator_pb2 as op
from shoal.v1 import registry_pb2 as rg
from shoal.v1 import registry_pb2_grpc, scaling_pb2_grpc, traffic_pb2_grpc
from shoal.v1 import resources_pb2 as r
from shoal.v1 import scaling_pb2 as sc
from shoal.v1 import traffic_pb2 as t
from shoalctl.cli import client
from shoalctl.cli.client import add_verb
from shoalctl.cli.errors import CliError

CPU_TARGET = 70.0


def _policy(name: str) -> str:
    return f"{name}-cpu"


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


def _taskdef(a, image: str) -> dict:
    return {"family": a.name, "containerDefinitions": [{
        "name": a.name, "image": image, "essential": True, "cpu": a.cpu, "memory": a.memory,
        "portMappings": [{"containerPort": a.port, "hostPort": 0, "protocol": "tcp"}]}]}


def _same(td: r.TaskDefinition, doc: dict) -> bool:
    """Whether the registered revision already is what ``doc`` asks for."""
    want = doc["containerDefinitions"][0]
    have = [(c.name, c.image, c.cpu, c.memory, [m.container_port for m in c.port_mappings])
            for c in td.container_definitions]
    return have == [(want["name"], want["image"], want["cpu"], want["memory"],
                     [m["containerPort"] for m in want["portMappings"]])]


def _current_taskdef(c, family: str) -> r.TaskDefinition | None:
    arns = c.ListTaskDefinitions(op.ListTaskDefinitionsRequest(family_prefix=family)).arns
    if not any(arn.rpartition("/")[2].rpartition(":")[0] == family for arn in arns):
        return None
    return c.DescribeTaskDefinition(op.TaskDefinitionRef(task_definition=family)).task_definition


def _service(c, cluster: str, name: str) -> r.Service | None:
    found = c.DescribeServices(op.DescribeServicesRequest(cluster=cluster, services=[name])).services
    return found[0] if found and found[0].status == "ACTIVE" else None


def _load_balancer(tr, cluster: str, name: str) -> t.LoadBalancer | None:
    found = tr.DescribeLoadBalancers(t.DescribeLoadBalancersRequest(cluster=cluster, load_balancers=[name]))
    return found.load_balancers[0] if found.load_balancers else None


def _url(c, cluster: str, port: int) -> str:
    arns = c.ListContainerInstances(op.ListContainerInstancesRequest(cluster=cluster, status="ACTIVE")).arns
    nodes = c.DescribeContainerInstances(op.DescribeContainerInstancesRequest(
        cluster=cluster, container_instances=list(arns))).container_instances if arns else []
    address = next((n.address for n in nodes if n.address), "")
    if not address:
        raise CliError("no ACTIVE node with an address: the load balancer listens on the nodes")
    return f"http://{address}:{port}/"


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


def _wait(c, a, deployment_td: str) -> r.Service:
    """Until the deployment of ``deployment_td`` completes; CliError saying why when it
    fails (the circuit breaker, or FAILED_TASKS of its tasks stopped as failures)."""
    deadline = time.monotonic() + a.wait
    while True:
        svc = _service(c, a.cluster, a.name)
        if svc is None:
            raise CliError(f"service {a.name} went away while deploying")
        primary = next((d for d in svc.deployments if d.status == "PRIMARY"), None)
        if primary is not None and primary.rollout_state == "COMPLETED" and primary.task_definition == deployment_td:
            return svc
        if primary is not None and (primary.rollout_state == "FAILED" or primary.task_definition != deployment_td):
            raise _Failed(primary.rollout_state_reason or (svc.events[0].message if svc.events else "failed"))
        if len(failed := _failures(c, a, deployment_td)) >= FAILED_TASKS:
            raise _Failed(failed[0])
        if time.monotonic() > deadline:
            said = svc.events[0].message if svc.events else "no event yet"
            raise _Failed(f"not steady after {a.wait:g}s (use --wait to wait longer); last event: {said}")
        time.sleep(0.5)


class _Failed(Exception):
    """The deployment failed; the message says why."""


def deploy(a) -> None:
    if not 1 <= a.min <= a.max:
        raise CliError(f"--min/--max: need 1 <= min <= max, got {a.min} and {a.max}")
    if a.listen_port and not 1 <= a.listen_port <= 65535:
        raise CliError(f"--listen-port: must be from 1 to 65535, got {a.listen_port}")
    a.name = _app_name(a)
    source = Path(a.image)
    image = _registry_image(a, _build(source, a.name) if source.is_dir() else a.image)
    c = client.connect(a)
    tr = client.connect(a, traffic_pb2_grpc.TrafficStub)
    scaling = client.connect(a, scaling_pb2_grpc.ScalingStub)
    doc = _taskdef(a, image)
    td = _current_taskdef(c, a.name)
    if td is None or not _same(td, doc):
        td = c.RegisterTaskDefinition(op.RegisterTaskDefinitionRequest(json=json.dumps(doc))).task_definition
        print(f"task definition {td.family}:{td.revision} ({image})")
    lb = _load_balancer(tr, a.cluster, a.name)
    if lb is None:
        lb = tr.CreateLoadBalancer(t.CreateLoadBalancerRequest(cluster=a.cluster, name=a.name)).load_balancer
    if not lb.listeners:
        port = a.listen_port or free_port()
        lb = tr.CreateListener(t.CreateListenerRequest(cluster=a.cluster, load_balancer=a.name, port=port,
                                                       protocol="HTTP")).load_balancer
    elif a.listen_port and lb.listeners[0].port != a.listen_port:
        raise CliError(f"--listen-port: {a.name} already listens on {lb.listeners[0].port}; "
                       f"`shoal app delete {a.name}` first to move it")
    check = t.HealthCheckConfig(protocol="HTTP", path=a.health_path, matcher="200-399", interval_seconds=5,
                                timeout_seconds=3, healthy_threshold=2, unhealthy_threshold=2)
    tr.ModifyTargetGroup(t.ModifyTargetGroupRequest(cluster=a.cluster, target_group=lb.default_target_group_arn,
                                                    health_check=check, deregistration_delay_seconds=5))
    svc = _service(c, a.cluster, a.name)
    previous = svc.task_definition if svc is not None else ""
    if svc is not None and svc.load_balancers and svc.load_balancers[0].container_port != a.port:
        raise CliError(f"--port: {a.name} serves on container port {svc.load_balancers[0].container_port}; "
                       f"`shoal app delete {a.name}` first to change it")
    if svc is None:
        req = op.CreateServiceRequest(cluster=a.cluster, service_name=a.name, task_definition=td.task_definition_arn,
                                      desired_count=a.min)
        req.load_balancers.add(load_balancer_name=a.name, container_name=a.name, container_port=a.port)
        req.deployment_configuration.minimum_healthy_percent = 100
        req.deployment_configuration.maximum_percent = 200
        req.deployment_configuration.deployment_circuit_breaker.enable = True
        req.deployment_configuration.deployment_circuit_breaker.rollback = True
        c.CreateService(req)
        print(f"service {a.name} created")
    elif svc.task_definition != td.task_definition_arn:
        c.UpdateService(op.UpdateServiceRequest(cluster=a.cluster, service=a.name,
                                                task_definition=td.task_definition_arn))
        print(f"service {a.name}: rolling deployment of {td.family}:{td.revision}")
    scaling.RegisterScalableTarget(sc.RegisterScalableTargetRequest(cluster=a.cluster, service=a.name,
                                                                    min_capacity=a.min, max_capacity=a.max))
    scaling.PutScalingPolicy(sc.PutScalingPolicyRequest(
        cluster=a.cluster, service=a.name, policy_name=_policy(a.name), policy_type="TargetTrackingScaling",
        target_tracking=sc.TargetTrackingConfiguration(target_value=CPU_TARGET,
                                                       predefined_metric_type="ECSServiceAverageCPUUtilization")))
    try:
        svc = _wait(c, a, td.task_definition_arn)
    except _Failed as exc:
        raise CliError(_roll_back(a, c, previous, td, str(exc))) from None
    print(f"{a.name}: {svc.running_count} running of {td.family}:{td.revision}, scaling {a.min}-{a.max} "
          f"on {CPU_TARGET:g}% CPU")
    print(_url(c, a.cluster, lb.listeners[0].port))


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
    c = client.connect(a)
    tr = client.connect(a, traffic_pb2_grpc.TrafficStub)
    scaling = client.connect(a, scaling_pb2_grpc.ScalingStub)
    said = []
    policies = scaling.DescribeScalingPolicies(sc.DescribeScalingPoliciesRequest(
        cluster=a.cluster, service=a.name, policy_names=[_policy(a.name)])).policies
    if policies:
        scaling.DeleteScalingPolicy(sc.DeleteScalingPolicyRequest(cluster=a.cluster, service=a.name,
                                                                  policy_name=_policy(a.name)))
        said.append("scaling policy")
    targets = scaling.DescribeScalableTargets(sc.DescribeScalableTargetsRequest(cluster=a.cluster)).scalable_targets
    if any(x.service == a.name for x in targets):
        scaling.DeregisterScalableTarget(sc.ScalableTargetRef(cluster=a.cluster, service=a.name))
        said.append("scalable target")
    if _service(c, a.cluster, a.name) is not None:
        c.DeleteService(op.DeleteServiceRequest(cluster=a.cluster, service=a.name, force=True))
        said.append("service")
    lb = _load_balancer(tr, a.cluster, a.name)
    if lb is not None:
        tr.DeleteLoadBalancer(t.LoadBalancerRef(cluster=a.cluster, load_balancer=a.name))
        said.append("load balancer")
        if lb.default_target_group_arn:
            _delete_group(tr, a, lb.default_target_group_arn)
            said.append("target group")
    if quiet:
        return
    if not said:
        raise CliError(f"no app {a.name} in cluster {a.cluster}")
    print(f"deleted {a.name}: {', '.join(said)} (task definitions and the image stay)")


def _delete_group(tr, a, arn: str) -> None:
    # The service's tasks leave the group as they drain; until then it is in use.
    deadline = time.monotonic() + a.wait
    while True:
        try:
            tr.DeleteTargetGroup(t.TargetGroupRef(cluster=a.cluster, target_group=arn))
            return
        except CliError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


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
    p = add_verb(verbs, "delete", delete, "remove what `shoal app deploy` made for --name", cluster=True)
    p.add_argument("name", metavar="NAME")
    p.add_argument("--wait", type=float, default=120.0, help="seconds to wait for the target group to free (120)")

"""ECS Express Mode on the gateway: Create/Describe/Update/DeleteExpressGatewayService, made
of the same pieces as `shoal app deploy` (``controlplane.apps``, run in process): a task
definition, a load balancer whose default target group's health check asks
``healthCheckPath``, a service behind it, a scalable target and a target-tracking policy.
The request names an image (no build on the wire). An express service is a service whose
load balancer has its name (so `shoal app deploy`'s apps are express services too); its
``serviceArn`` is the service's ARN.

What Shoal cannot act on is refused naming the member (UnsupportedFeatureException):
``networkConfiguration`` (no VPC: tasks use the nodes' bridge network), ``cpuArchitecture``
ARM64, ``primaryContainer.awsLogsConfiguration`` (logs stay on the nodes: `shoal logs`),
``primaryContainer.repositoryCredentials``, and ``taskDefinitionArn`` (give
``primaryContainer``). ``infrastructureRoleArn``, which ECS requires, is accepted and not
used: Shoal makes the load balancer and the policy with the caller's own authority; it is
echoed by CreateExpressGatewayService only (it is not stored)."""

from __future__ import annotations

import re
from typing import Any

from controlplane import apps
from controlplane.api.context import ApiContext
from controlplane.ecs import fields
from controlplane.ecs.errors import EcsError, invalid_parameter
from shoal.arns import cluster_name
from shoal.scaling_terms import CPU, MEMORY, REQUESTS
from shoal.v1 import resources_pb2 as r

Body = dict[str, Any]

_METRICS = {"AVERAGE_CPU": CPU, "AVERAGE_MEMORY": MEMORY, "REQUEST_COUNT_PER_TARGET": REQUESTS}
_METRIC_NAMES = {v: k for k, v in _METRICS.items()}
_SERVICE_ARN = re.compile(r"arn:[^:]+:ecs:[^:]*:[^:]*:service/([^/]+)/([^/]+)")

_CONFIG = {"executionRoleArn", "healthCheckPath", "primaryContainer", "taskRoleArn", "networkConfiguration", "cpu",
           "memory", "cpuArchitecture", "scalingTarget", "taskDefinitionArn"}
_CREATE = _CONFIG | {"infrastructureRoleArn", "serviceName", "cluster", "tags"}
_UPDATE = _CONFIG | {"serviceArn"}
_CONTAINER = {"image", "containerPort", "awsLogsConfiguration", "repositoryCredentials", "command", "environment",
              "secrets"}
_SCALING = {"minTaskCount", "maxTaskCount", "autoScalingMetric", "autoScalingTargetValue"}


def _unsupported(member: str, why: str) -> EcsError:
    return EcsError("UnsupportedFeatureException", f"{member}: {why}")


def _only(body: Any, allowed: set[str], where: str, operation: str) -> Body:
    return fields.only(body, allowed, f"not a parameter of {operation}", where=where)


def _units(body: Body, name: str) -> int | None:
    """cpu and memory are strings in ECS's model ("256"): whole positive numbers here."""
    value = fields.string(body, name)
    if not value:
        return None
    if not value.isdigit() or not 1 <= int(value) <= 1_048_576:
        raise invalid_parameter(f"{name}: must be a whole positive number as a string (\"256\"), got {value[:32]!r}")
    return int(value)


def _pairs(value: Any, where: str, keys: tuple[str, str]) -> list[dict[str, str]]:
    if not isinstance(value, list):
        raise invalid_parameter(f"{where}: must be a list")
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, dict) or set(item) - set(keys) or not all(
                isinstance(item.get(k), str) for k in keys) or not item[keys[0]]:
            raise invalid_parameter(f"{where}[{i}]: must be {{{keys[0]}, {keys[1]}}} strings, {keys[0]} not empty")
        out.append({k: item[k] for k in keys})
    return out


def _configure(spec: apps.AppSpec, body: Body, operation: str) -> None:
    """Reads the configuration members of ``body`` into ``spec`` (those given only)."""
    if body.get("networkConfiguration"):
        raise _unsupported("networkConfiguration", "Shoal has no VPC subnets or security groups; tasks use the "
                                                   "nodes' bridge network (leave it out)")
    if body.get("taskDefinitionArn") is not None:
        raise _unsupported("taskDefinitionArn", "Shoal makes the express service's task definition from "
                                                "primaryContainer; give primaryContainer instead")
    arch = body.get("cpuArchitecture")
    if arch is not None and arch != "X86_64":
        raise _unsupported("cpuArchitecture", f"Shoal's nodes run X86_64 images only, got {str(arch)[:16]!r}")
    for name, attr in (("executionRoleArn", "execution_role_arn"), ("taskRoleArn", "task_role_arn"),
                       ("healthCheckPath", "health_path")):
        if value := fields.string(body, name):
            setattr(spec, attr, value)
    if (cpu := _units(body, "cpu")) is not None:
        spec.cpu = cpu
    if (memory := _units(body, "memory")) is not None:
        spec.memory = memory
    if (container := body.get("primaryContainer")) is not None:
        _container(spec, _only(container, _CONTAINER, "primaryContainer", operation))
    if (scaling := body.get("scalingTarget")) is not None:
        _scaling(spec, _only(scaling, _SCALING, "scalingTarget", operation))


def _container(spec: apps.AppSpec, c: Body) -> None:
    w = "primaryContainer"
    if c.get("awsLogsConfiguration") is not None:
        raise _unsupported(f"{w}.awsLogsConfiguration", "Shoal keeps container logs on the nodes (`shoal logs`), "
                                                       "not in CloudWatch Logs; leave it out")
    if c.get("repositoryCredentials") is not None:
        raise _unsupported(f"{w}.repositoryCredentials", "not supported for express services; push the image to "
                                                        "the cluster registry, which nodes pull from with their "
                                                        "own credentials")
    spec.image = fields.string(c, "image", required=True, where=w)
    if (port := fields.integer(c, "containerPort", lo=1, hi=65535, where=w)) is not None:
        spec.port = port
    if c.get("command") is not None:
        spec.command = fields.strings(c, "command", where=w)
    if (environment := c.get("environment")) is not None:
        spec.environment = _pairs(environment, f"{w}.environment", ("name", "value"))
    if (secrets := c.get("secrets")) is not None:
        spec.secrets = _pairs(secrets, f"{w}.secrets", ("name", "valueFrom"))


def _scaling(spec: apps.AppSpec, s: Body) -> None:
    w = "scalingTarget"
    if (low := fields.integer(s, "minTaskCount", lo=1, hi=10_000, where=w)) is not None:
        spec.min = low
    if (high := fields.integer(s, "maxTaskCount", lo=1, hi=10_000, where=w)) is not None:
        spec.max = high
    if spec.min > spec.max:
        raise invalid_parameter(f"{w}.minTaskCount: {spec.min} is more than maxTaskCount {spec.max}")
    if (metric := fields.choice(s, "autoScalingMetric", _METRICS, where=w)) is not None:
        spec.metric = _METRICS[metric]
    if (value := fields.integer(s, "autoScalingTargetValue", lo=1, hi=1_000_000, where=w)) is not None:
        spec.target = float(value)


def _name_from(image: str) -> str:
    """ECS names an express service itself when the request does not: here after its image."""
    last = image.rsplit("/", 1)[-1].split("@")[0].split(":")[0]
    return re.sub(r"[^a-zA-Z0-9-]+", "-", last).strip("-")[:32].strip("-") or "app"


def _ref(body: Body) -> tuple[str, str]:
    arn = fields.string(body, "serviceArn", required=True)
    m = _SERVICE_ARN.fullmatch(arn)
    if m is None:
        raise invalid_parameter(f"serviceArn: {arn[:256]!r} is not a service ARN (arn:aws:ecs:REGION:ACCOUNT:"
                                "service/CLUSTER/NAME)")
    return m.group(1), m.group(2)


def _read(plane: apps.Plane, cluster: str, name: str, code: str) -> tuple[apps.AppSpec, r.Service, Any]:
    found = apps.read(plane, cluster, name)
    if found is None:
        raise EcsError(code, f"serviceArn: no express service {name!r} in cluster {cluster!r}")
    return found


def _configuration(ctx: ApiContext, plane: apps.Plane, spec: apps.AppSpec, svc: r.Service, lb: Any) -> Body:
    container: Body = {"image": spec.image, "containerPort": spec.port, **spec.container_settings()}
    primary = next((d for d in svc.deployments if d.status == "PRIMARY"), None)
    out: Body = {"taskDefinitionArn": svc.task_definition, "cpu": str(spec.cpu), "memory": str(spec.memory),
                 "cpuArchitecture": "X86_64", "healthCheckPath": spec.health_path, "primaryContainer": container,
                 "scalingTarget": {"minTaskCount": spec.min, "maxTaskCount": spec.max,
                                   "autoScalingMetric": _METRIC_NAMES.get(spec.metric, "AVERAGE_CPU"),
                                   "autoScalingTargetValue": int(spec.target)}}
    if primary is not None and primary.service_revision_arn:
        out["serviceRevisionArn"] = primary.service_revision_arn
    if primary is not None and primary.created_at:
        out["createdAt"] = primary.created_at
    if spec.execution_role_arn:
        out["executionRoleArn"] = spec.execution_role_arn
    if spec.task_role_arn:
        out["taskRoleArn"] = spec.task_role_arn
    endpoint = apps.url(plane, spec.cluster, lb.listeners[0].port) if lb.listeners else ""
    if endpoint:
        out["ingressPaths"] = [{"accessType": "PUBLIC", "endpoint": endpoint}]
    return out


def _service_out(ctx: ApiContext, plane: apps.Plane, spec: apps.AppSpec, svc: r.Service, lb: Any,
                 status: str = "ACTIVE", tags: bool = False) -> Body:
    primary = next((d for d in svc.deployments if d.status == "PRIMARY"), None)
    out: Body = {"cluster": ctx.arns.cluster(spec.cluster), "serviceName": svc.service_name,
                 "serviceArn": svc.service_arn, "status": {"statusCode": status},
                 "activeConfigurations": [_configuration(ctx, plane, spec, svc, lb)]}
    if primary is not None:
        out["currentDeployment"] = primary.id
        if primary.updated_at:
            out["updatedAt"] = primary.updated_at
    if svc.created_at:
        out["createdAt"] = svc.created_at
    if tags:
        out["tags"] = [{"key": x.key, "value": x.value} for x in svc.tags]
    return out


def create_express_gateway_service(ctx: ApiContext, body: Body) -> Body:
    op = "CreateExpressGatewayService"
    _only(body, _CREATE, "", op)
    role = fields.string(body, "infrastructureRoleArn", required=True)
    container = body.get("primaryContainer")
    if container is None and body.get("taskDefinitionArn") is None:
        raise invalid_parameter("primaryContainer: required (the image to run)")
    image = container.get("image") if isinstance(container, dict) else None
    spec = apps.AppSpec(name="", image="", cluster=fields.string(body, "cluster") or "default")
    _configure(spec, body, op)
    spec.name = fields.string(body, "serviceName") or _name_from(str(image))
    spec.cluster = cluster_name(spec.cluster)
    if body.get("tags") is not None:
        spec.tags = _pairs(body["tags"], "tags", ("key", "value"))
    plane = apps.local_plane(ctx)
    try:
        apps.check(spec)
    except apps.AppError as exc:
        raise invalid_parameter(str(exc)) from None
    if apps.service(plane, spec.cluster, spec.name) is not None or apps.load_balancer(
            plane, spec.cluster, spec.name) is not None:
        raise invalid_parameter(f"serviceName: {spec.name!r} already names a service or load balancer in cluster "
                                f"{spec.cluster!r}; UpdateExpressGatewayService changes an express service")
    try:
        done = apps.apply(plane, spec)
    except Exception as exc:
        # Nothing half-made: what this call made goes (the task definition revision stays).
        apps.remove(plane, spec.cluster, spec.name, 0)
        if isinstance(exc, apps.AppError):
            raise invalid_parameter(str(exc)) from None
        raise
    out = _service_out(ctx, plane, spec, done.service, done.load_balancer, tags=bool(spec.tags))
    out["infrastructureRoleArn"] = role
    return {"service": out}


def describe_express_gateway_service(ctx: ApiContext, body: Body) -> Body:
    _only(body, {"serviceArn", "include"}, "", "DescribeExpressGatewayService")
    include = body.get("include") or []
    if not isinstance(include, list) or any(x != "TAGS" for x in include):
        raise invalid_parameter("include: the only value is TAGS")
    cluster, name = _ref(body)
    plane = apps.local_plane(ctx)
    spec, svc, lb = _read(plane, cluster, name, "ResourceNotFoundException")
    return {"service": _service_out(ctx, plane, spec, svc, lb, tags="TAGS" in include)}


def update_express_gateway_service(ctx: ApiContext, body: Body) -> Body:
    """Changes what is given; a changed image, size, command or environment is a new task
    definition revision rolled out as a deployment of the service."""
    op = "UpdateExpressGatewayService"
    _only(body, _UPDATE, "", op)
    cluster, name = _ref(body)
    plane = apps.local_plane(ctx)
    spec, svc, lb = _read(plane, cluster, name, "ServiceNotFoundException")
    _configure(spec, body, op)
    try:
        done = apps.apply(plane, spec)
    except apps.AppError as exc:
        raise invalid_parameter(str(exc)) from None
    whole = _service_out(ctx, plane, spec, done.service, done.load_balancer)
    out = {k: whole[k] for k in ("serviceArn", "cluster", "serviceName", "status", "createdAt", "updatedAt")
           if k in whole}
    out["targetConfiguration"] = whole["activeConfigurations"][0]
    return {"service": out}


def delete_express_gateway_service(ctx: ApiContext, body: Body) -> Body:
    """Deletes the policy, the scalable target, the service, the load balancer (its listener
    and rule) and, when no task is left in it, its target group (``apps.remove``); the
    task definition revisions stay."""
    _only(body, {"serviceArn"}, "", "DeleteExpressGatewayService")
    cluster, name = _ref(body)
    plane = apps.local_plane(ctx)
    spec, svc, lb = _read(plane, cluster, name, "ServiceNotFoundException")
    out = _service_out(ctx, plane, spec, svc, lb, status="DRAINING")
    # ECS drains in the background; so does Shoal: the request does not wait for the tasks.
    apps.remove(plane, cluster, name, 0)
    return {"service": out}


ACTIONS = {
    "CreateExpressGatewayService": create_express_gateway_service,
    "DescribeExpressGatewayService": describe_express_gateway_service,
    "UpdateExpressGatewayService": update_express_gateway_service,
    "DeleteExpressGatewayService": delete_express_gateway_service,
}

"""An app (ECS Express Mode's unit): one image behind a load balancer rule with a health
check and a target-tracking policy, made of the pieces any user could make by hand — a task
definition, a load balancer (its default target group's health check set), a service behind
it, a scalable target and a scaling policy. ``apply`` makes or updates them to match an
``AppSpec``, ``remove`` deletes them, ``read`` reads a spec back.

Shared by `shoal app deploy|delete` (over gRPC) and the gateway's *ExpressGatewayService
operations (in process): both hand a ``Plane`` whose ``operator``, ``traffic`` and
``scaling`` answer the gRPC method names with the gRPC messages. ``apply`` is idempotent:
each piece is compared with what is wanted and only what differs is changed — a new image
(or size, command, environment) makes a new task definition revision and a rolling
deployment; the same spec changes nothing."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from controlplane.api import operator, scaling, traffic, traffic_checks
from controlplane.api.context import ApiContext
from controlplane.errors import ApiError
from shoal.netutil import free_port
from shoal.scaling_terms import CPU
from shoal.v1 import operator_pb2 as op
from shoal.v1 import resources_pb2 as r
from shoal.v1 import scaling_pb2 as sc
from shoal.v1 import traffic_pb2 as t

CPU_TARGET = 70.0


class Caller(Protocol):
    """Calls gRPC method NAME with its request message: ``caller.NAME(request)``."""

    def __getattr__(self, name: str) -> Any: ...


@dataclass(frozen=True)
class Plane:
    operator: Caller
    traffic: Caller
    scaling: Caller


class _Local:
    """The replica's own handlers by gRPC method name: no second hop, the same validation
    and errors (ApiError) as the gRPC API."""

    def __init__(self, ctx: ApiContext, routes: dict) -> None:
        self._ctx = ctx
        self._routes = routes

    def __getattr__(self, name: str) -> Any:
        handler = self._routes[name]
        return lambda request: handler(self._ctx, request)


def local_plane(ctx: ApiContext) -> Plane:
    return Plane(_Local(ctx, operator.ROUTES), _Local(ctx, traffic.ROUTES), _Local(ctx, scaling.ROUTES))


@dataclass
class AppSpec:
    """What an app is. ``listen_port`` 0: a free port on the first deploy."""

    name: str
    image: str
    cluster: str = "default"
    port: int = 80
    cpu: int = 256
    memory: int = 256
    min: int = 1
    max: int = 3
    health_path: str = "/"
    metric: str = CPU
    target: float = CPU_TARGET
    listen_port: int = 0
    command: list[str] = field(default_factory=list)
    environment: list[dict[str, str]] = field(default_factory=list)
    secrets: list[dict[str, str]] = field(default_factory=list)
    execution_role_arn: str = ""
    task_role_arn: str = ""
    tags: list[dict[str, str]] = field(default_factory=list)

    @property
    def policy(self) -> str:
        return f"{self.name}-cpu"

    def container_settings(self) -> dict[str, Any]:
        """The container's command, environment and secrets that are set, under their ECS
        names: what the task definition and express's primaryContainer both carry."""
        given = {"command": self.command, "environment": self.environment, "secrets": self.secrets}
        return {name: value for name, value in given.items() if value}


class AppError(Exception):
    """What cannot be done, naming the field (``field``) the caller gave for it."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name


def taskdef_doc(spec: AppSpec) -> dict:
    container: dict[str, Any] = {
        "name": spec.name, "image": spec.image, "essential": True, "cpu": spec.cpu, "memory": spec.memory,
        "portMappings": [{"containerPort": spec.port, "hostPort": 0, "protocol": "tcp"}],
        **spec.container_settings()}
    doc: dict[str, Any] = {"family": spec.name, "containerDefinitions": [container]}
    if spec.execution_role_arn:
        doc["executionRoleArn"] = spec.execution_role_arn
    if spec.task_role_arn:
        doc["taskRoleArn"] = spec.task_role_arn
    return doc


def _shape(td: r.TaskDefinition) -> tuple:
    containers = [(c.name, c.image, c.cpu, c.memory, [m.container_port for m in c.port_mappings], list(c.command),
                   sorted((e.name, e.value) for e in c.environment), sorted((s.name, s.value_from) for s in c.secrets))
                  for c in td.container_definitions]
    return containers, td.execution_role_arn, td.task_role_arn


def _same(td: r.TaskDefinition, spec: AppSpec) -> bool:
    """Whether the registered revision already is what ``spec`` asks for."""
    want = (spec.name, spec.image, spec.cpu, spec.memory, [spec.port], spec.command,
            sorted((e["name"], e["value"]) for e in spec.environment),
            sorted((s["name"], s["valueFrom"]) for s in spec.secrets))
    return _shape(td) == ([want], spec.execution_role_arn, spec.task_role_arn)


def current_taskdef(plane: Plane, family: str) -> r.TaskDefinition | None:
    arns = plane.operator.ListTaskDefinitions(op.ListTaskDefinitionsRequest(family_prefix=family)).arns
    if not any(arn.rpartition("/")[2].rpartition(":")[0] == family for arn in arns):
        return None
    return plane.operator.DescribeTaskDefinition(op.TaskDefinitionRef(task_definition=family)).task_definition


def service(plane: Plane, cluster: str, name: str) -> r.Service | None:
    found = plane.operator.DescribeServices(op.DescribeServicesRequest(cluster=cluster, services=[name])).services
    return found[0] if found and found[0].status == "ACTIVE" else None


def load_balancer(plane: Plane, cluster: str, name: str) -> t.LoadBalancer | None:
    found = plane.traffic.DescribeLoadBalancers(t.DescribeLoadBalancersRequest(cluster=cluster,
                                                                              load_balancers=[name]))
    return found.load_balancers[0] if found.load_balancers else None


def url(plane: Plane, cluster: str, port: int) -> str:
    """Where the app answers: the load balancer listens on every node; the first ACTIVE one."""
    arns = plane.operator.ListContainerInstances(op.ListContainerInstancesRequest(cluster=cluster,
                                                                                  status="ACTIVE")).arns
    nodes = plane.operator.DescribeContainerInstances(op.DescribeContainerInstancesRequest(
        cluster=cluster, container_instances=list(arns))).container_instances if arns else []
    address = next((n.address for n in nodes if n.address), "")
    return f"http://{address}:{port}/" if address else ""


@dataclass(frozen=True)
class Applied:
    taskdef: r.TaskDefinition
    load_balancer: t.LoadBalancer
    service: r.Service
    previous: str  # the task definition the service ran before ("" for a new service)
    said: list[str]


# A port free on this replica's host may still be one the API refuses for a listener (a
# node's metrics port or dynamic host-port range): a few fresh picks, then the refusal stands.
FREE_PORT_PICKS = 8


def _listen(plane: Plane, spec: AppSpec) -> t.LoadBalancer:
    """The app's listener on its asked port, else on a free port the API accepts."""
    def create(port: int) -> t.LoadBalancer:
        return plane.traffic.CreateListener(t.CreateListenerRequest(
            cluster=spec.cluster, load_balancer=spec.name, port=port, protocol="HTTP")).load_balancer
    if spec.listen_port:
        return create(spec.listen_port)
    for _ in range(FREE_PORT_PICKS - 1):
        try:
            return create(free_port())
        except ApiError as exc:
            if not exc.message.startswith("port: "):
                raise
    return create(free_port())


def check(spec: AppSpec) -> None:
    """Refuses what would fail part-way (AppError naming the field), before anything is made."""
    try:
        traffic_checks.elb_name(spec.name, "serviceName", "app")  # it names the load balancer too
    except ApiError as exc:
        raise AppError("serviceName", exc.message.partition(": ")[2]) from None
    if not 1 <= spec.min <= spec.max:
        raise AppError("min/max", f"need 1 <= min <= max, got {spec.min} and {spec.max}")
    if spec.listen_port and not 1 <= spec.listen_port <= 65535:
        raise AppError("listenPort", f"must be from 1 to 65535, got {spec.listen_port}")
    if not 1 <= spec.port <= 65535:
        raise AppError("containerPort", f"must be from 1 to 65535, got {spec.port}")
    if not spec.health_path.startswith("/"):
        raise AppError("healthCheckPath", f"must start with /, got {spec.health_path!r}")


def apply(plane: Plane, spec: AppSpec) -> Applied:
    """Makes or updates every piece of the app to match ``spec``; does not wait for the
    deployment (callers that wait read the service)."""
    check(spec)
    said: list[str] = []
    svc = service(plane, spec.cluster, spec.name)
    if svc is not None and svc.load_balancers and svc.load_balancers[0].container_port != spec.port:
        raise AppError("containerPort", f"{spec.name} serves on container port {svc.load_balancers[0].container_port}"
                                        "; delete the app first to change it")
    td = current_taskdef(plane, spec.name)
    if td is None or not _same(td, spec):
        td = plane.operator.RegisterTaskDefinition(op.RegisterTaskDefinitionRequest(
            json=json.dumps(taskdef_doc(spec)))).task_definition
        said.append(f"task definition {td.family}:{td.revision} ({spec.image})")
    lb = load_balancer(plane, spec.cluster, spec.name)
    if lb is None:
        lb = plane.traffic.CreateLoadBalancer(t.CreateLoadBalancerRequest(cluster=spec.cluster,
                                                                          name=spec.name)).load_balancer
    if not lb.listeners:
        lb = _listen(plane, spec)
    elif spec.listen_port and lb.listeners[0].port != spec.listen_port:
        raise AppError("listenPort", f"{spec.name} already listens on {lb.listeners[0].port}; delete the app "
                                     "first to move it")
    health = t.HealthCheckConfig(protocol="HTTP", path=spec.health_path, matcher="200-399", interval_seconds=5,
                                 timeout_seconds=3, healthy_threshold=2, unhealthy_threshold=2)
    plane.traffic.ModifyTargetGroup(t.ModifyTargetGroupRequest(
        cluster=spec.cluster, target_group=lb.default_target_group_arn, health_check=health,
        deregistration_delay_seconds=5))
    previous = svc.task_definition if svc is not None else ""
    if svc is None:
        req = op.CreateServiceRequest(cluster=spec.cluster, service_name=spec.name,
                                      task_definition=td.task_definition_arn, desired_count=spec.min)
        req.load_balancers.add(load_balancer_name=spec.name, container_name=spec.name, container_port=spec.port)
        req.deployment_configuration.minimum_healthy_percent = 100
        req.deployment_configuration.maximum_percent = 200
        req.deployment_configuration.deployment_circuit_breaker.enable = True
        req.deployment_configuration.deployment_circuit_breaker.rollback = True
        for tag in spec.tags:
            req.tags.add(key=tag["key"], value=tag.get("value", ""))
        plane.operator.CreateService(req)
        said.append(f"service {spec.name} created")
    elif svc.task_definition != td.task_definition_arn:
        plane.operator.UpdateService(op.UpdateServiceRequest(cluster=spec.cluster, service=spec.name,
                                                             task_definition=td.task_definition_arn))
        said.append(f"service {spec.name}: rolling deployment of {td.family}:{td.revision}")
    plane.scaling.RegisterScalableTarget(sc.RegisterScalableTargetRequest(
        cluster=spec.cluster, service=spec.name, min_capacity=spec.min, max_capacity=spec.max))
    plane.scaling.PutScalingPolicy(sc.PutScalingPolicyRequest(
        cluster=spec.cluster, service=spec.name, policy_name=spec.policy, policy_type="TargetTrackingScaling",
        target_tracking=sc.TargetTrackingConfiguration(target_value=spec.target, predefined_metric_type=spec.metric)))
    svc = service(plane, spec.cluster, spec.name)
    assert svc is not None  # just created or updated above
    return Applied(td, lb, svc, previous, said)


def read(plane: Plane, cluster: str, name: str) -> tuple[AppSpec, r.Service, t.LoadBalancer] | None:
    """The app ``name`` as it stands (None when its service or load balancer is missing)."""
    svc = service(plane, cluster, name)
    lb = load_balancer(plane, cluster, name)
    if svc is None or lb is None or not svc.load_balancers or svc.load_balancers[0].load_balancer_name != name:
        return None
    td = plane.operator.DescribeTaskDefinition(op.TaskDefinitionRef(task_definition=svc.task_definition))
    c = td.task_definition.container_definitions[0]
    spec = AppSpec(name=name, image=c.image, cluster=cluster, port=svc.load_balancers[0].container_port,
                   cpu=c.cpu, memory=c.memory, command=list(c.command),
                   environment=[{"name": e.name, "value": e.value} for e in c.environment],
                   secrets=[{"name": s.name, "valueFrom": s.value_from} for s in c.secrets],
                   execution_role_arn=td.task_definition.execution_role_arn,
                   task_role_arn=td.task_definition.task_role_arn,
                   listen_port=lb.listeners[0].port if lb.listeners else 0)
    groups = plane.traffic.DescribeTargetGroups(t.DescribeTargetGroupsRequest(
        cluster=cluster, target_groups=[lb.default_target_group_arn])).target_groups
    if groups:
        spec.health_path = groups[0].health_check.path or "/"
    for target in plane.scaling.DescribeScalableTargets(sc.DescribeScalableTargetsRequest(
            cluster=cluster)).scalable_targets:
        if target.service == name:
            spec.min, spec.max = target.min_capacity, target.max_capacity
    for policy in plane.scaling.DescribeScalingPolicies(sc.DescribeScalingPoliciesRequest(
            cluster=cluster, service=name, policy_names=[spec.policy])).policies:
        spec.metric = policy.target_tracking.predefined_metric_type or spec.metric
        spec.target = policy.target_tracking.target_value or spec.target
    return spec, svc, lb


def remove(plane: Plane, cluster: str, name: str, wait: float) -> list[str]:
    """Deletes the app's policy, scalable target, service, load balancer (its listener and
    rules with it) and target group; returns what it deleted (task definitions and images
    stay). The target group is in use until the service's tasks have drained from it: it is
    retried for up to ``wait`` seconds, then the refusal raised; with ``wait`` 0 it is tried
    once and left when in use (unused once drained; a listener of an app of the same name
    takes it up again)."""
    said = []
    policies = plane.scaling.DescribeScalingPolicies(sc.DescribeScalingPoliciesRequest(
        cluster=cluster, service=name, policy_names=[f"{name}-cpu"])).policies
    if policies:
        plane.scaling.DeleteScalingPolicy(sc.DeleteScalingPolicyRequest(cluster=cluster, service=name,
                                                                        policy_name=f"{name}-cpu"))
        said.append("scaling policy")
    targets = plane.scaling.DescribeScalableTargets(sc.DescribeScalableTargetsRequest(
        cluster=cluster)).scalable_targets
    if any(x.service == name for x in targets):
        plane.scaling.DeregisterScalableTarget(sc.ScalableTargetRef(cluster=cluster, service=name))
        said.append("scalable target")
    if service(plane, cluster, name) is not None:
        plane.operator.DeleteService(op.DeleteServiceRequest(cluster=cluster, service=name, force=True))
        said.append("service")
    lb = load_balancer(plane, cluster, name)
    if lb is not None:
        plane.traffic.DeleteLoadBalancer(t.LoadBalancerRef(cluster=cluster, load_balancer=name))
        said.append("load balancer")
        if lb.default_target_group_arn and _delete_group(plane, cluster, lb.default_target_group_arn, wait):
            said.append("target group")
    return said


def _delete_group(plane: Plane, cluster: str, arn: str, wait: float) -> bool:
    # The service's tasks leave the group as they drain; until then it is refused as in use
    # (over gRPC and in process the refusal is a different class: any is retried).
    deadline = time.monotonic() + wait
    while True:
        try:
            plane.traffic.DeleteTargetGroup(t.TargetGroupRef(cluster=cluster, target_group=arn))
            return True
        except Exception:
            if not wait:
                return False
            if time.monotonic() > deadline:
                raise
            time.sleep(1)

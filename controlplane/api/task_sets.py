"""Task sets, the EXTERNAL deployment controller's API: a service created with
``deploymentController: {type: EXTERNAL}`` runs no task definition of its own; each of its
task sets names one, with a launch type or capacity provider strategy and a ``scale`` (a
percentage of the service's desired count). This module writes what is asked for into the
service record (the task sets, which one is PRIMARY, DRAINING on delete); the leader's
controllers/task_sets.py starts and stops the tasks and writes the counts back."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence

from controlplane import capacity_strategy, fargate, launch_types
from controlplane.api import service_traffic, taskdefs
from controlplane.api.context import ApiContext, already_exists
from controlplane.api.described import described
from controlplane.api.services import DEFAULT_SERVICE_STRATEGY
from controlplane.errors import conflict, invalid, not_found
from controlplane.events import add_event
from controlplane.placement_input import check_placement
from controlplane.task_sets import ACTIVE, DRAINING, EXTERNAL, PRIMARY, STABILIZING, computed_desired, is_external
from shoal import keys
from shoal.arns import last_segment
from shoal.store.base import KV, Conflict
from shoal.store.update import update
from shoal.v1 import operator_pb2 as op
from shoal.v1 import resources_pb2 as r
from shoal.validation import check_name

MAX_DESIRED = 100_000
# ECS allows this many task sets per service (its service quota); DRAINING ones count.
MAX_TASK_SETS = 5


def create_service(ctx: ApiContext, req: op.CreateServiceRequest) -> r.Service:
    """CreateService with the EXTERNAL controller: the service record without a task
    definition or deployments; the fields an EXTERNAL service takes per task set instead are
    refused naming them, not dropped."""
    cluster_rec = ctx.require_cluster(req.cluster).msg
    cluster = cluster_rec.cluster_name
    check_name(req.service_name, "serviceName")
    per_task_set = (("taskDefinition", req.task_definition), ("launchType", req.launch_type),
                    ("capacityProviderStrategy", list(req.capacity_provider_strategy)))
    for field, value in per_task_set:
        if value:
            raise invalid(f"{field}: a service with the EXTERNAL deployment controller takes it per task set "
                          "(CreateTaskSet); leave it out of CreateService")
    if req.load_balancers:
        raise invalid("loadBalancers: a service with the EXTERNAL deployment controller takes them per task set "
                      "(CreateTaskSet's loadBalancers); leave them out of CreateService")
    # Not done yet: discovery of a task set's tasks.
    unsupported = (("serviceRegistries", bool(req.service_registries)),
                   ("serviceConnectConfiguration", req.HasField("service_connect_configuration")))
    for field, given in unsupported:
        if given:
            raise invalid(f"{field}: not supported by Shoal with the EXTERNAL deployment controller yet; "
                          "use the ECS controller with a BLUE_GREEN or CANARY deployment strategy")
    if req.scheduling_strategy not in ("", "REPLICA"):
        raise invalid("schedulingStrategy: the EXTERNAL deployment controller supports REPLICA only")
    if not 0 <= req.desired_count <= MAX_DESIRED:
        raise invalid(f"desiredCount: must be between 0 and {MAX_DESIRED}")
    if not 0 <= req.health_check_grace_period_seconds <= 2_147_483_647:
        raise invalid("healthCheckGracePeriodSeconds: must be between 0 and 2147483647")
    strategies = list(req.placement_strategy) or list(DEFAULT_SERVICE_STRATEGY)
    check_placement(list(req.placement_constraints), strategies)
    svc = r.Service(
        service_name=req.service_name, service_arn=ctx.arns.service(cluster, req.service_name),
        cluster_arn=ctx.arns.cluster(cluster), cluster=cluster, desired_count=req.desired_count, status="ACTIVE",
        scheduling_strategy="REPLICA", created_at=time.time(),
        health_check_grace_period_seconds=req.health_check_grace_period_seconds,
        deployment_controller=r.DeploymentController(type=EXTERNAL),
    )
    svc.placement_constraints.extend(req.placement_constraints)
    svc.placement_strategy.extend(strategies)
    svc.tags.extend(req.tags)
    add_event(svc, f"(service {svc.service_name}) was created with desired count {svc.desired_count}.")
    key = keys.service(cluster, req.service_name)
    existing = ctx.state.service(cluster, req.service_name)
    if existing is not None and existing.msg.status != "INACTIVE":
        raise already_exists(f"serviceName: service {req.service_name!r} already exists in cluster {cluster!r}")
    try:
        if existing is None:
            ctx.store.create(key, svc.SerializeToString())
        else:
            ctx.store.cas(key, svc.SerializeToString(), existing.mod_revision)
    except Conflict as exc:
        raise already_exists(f"serviceName: service {req.service_name!r} already exists") from exc
    return svc


def _external(svc_bytes: bytes | None, cluster: str, name: str) -> r.Service:
    """The ACTIVE EXTERNAL service stored, or the ECS error for why not."""
    svc = r.Service.FromString(svc_bytes) if svc_bytes else None
    if svc is None or svc.status == "INACTIVE":
        raise not_found(f"service: service {name!r} not found in cluster {cluster!r}", "ServiceNotFoundException")
    if svc.status != "ACTIVE":
        raise conflict(f"service: {name!r} is {svc.status}", "ServiceNotActiveException")
    if not is_external(svc):
        raise invalid(f"service: {name!r} uses the {svc.deployment_controller.type or 'ECS'} deployment controller; "
                      "task sets need a service created with deploymentController type EXTERNAL")
    return svc


def _find(svc: r.Service, ref: str) -> r.TaskSet:
    for ts in svc.task_sets:
        if ref in (ts.id, ts.task_set_arn):
            return ts
    raise not_found(f"taskSet: task set {ref!r} not found in service {svc.service_name!r}",
                    "TaskSetNotFoundException")


def _mutate(ctx: ApiContext, cluster_ref: str, service_ref: str, change: Callable[[r.Service], None]) -> r.Service:
    """Applies ``change(svc)`` to the EXTERNAL service named, compare-and-set; returns it."""
    cluster = ctx.require_cluster(cluster_ref).msg.cluster_name
    name = last_segment(service_ref)
    if not name:
        raise invalid("service: required")
    out: list[r.Service] = []

    def mutate(kv: KV | None) -> bytes:
        svc = _external(kv.value if kv else None, cluster, name)
        change(svc)
        out[:] = [svc]
        return svc.SerializeToString()

    update(ctx.store, keys.service(cluster, name), mutate)
    return out[0]


def create(ctx: ApiContext, cluster_ref: str, service_ref: str, *, task_definition: str, scale: r.Scale,
           launch_type: str, strategy: Sequence[r.CapacityProviderStrategyItem], external_id: str,
           tags: Sequence[r.Tag], client_token: str = "",
           load_balancers: Sequence[r.ServiceLoadBalancer] = ()) -> r.TaskSet:
    """A new task set (PRIMARY if it is the service's first); a create retried with the same
    ``client_token`` returns the task set the first one made. ``load_balancers`` are checked
    against the task set's task definition and the cluster's target groups as a service's are;
    its tasks become targets of those groups."""
    cluster_rec = ctx.require_cluster(cluster_ref).msg
    td = taskdefs.runnable(ctx, task_definition)
    lbs = service_traffic.load_balancer_entries(ctx, cluster_rec.cluster_name, load_balancers, td)
    if lbs:
        service_traffic.check_listener_ports(ctx, cluster_rec.cluster_name, td)
    providers = capacity_strategy.for_request(strategy, launch_type, cluster_rec)
    checked = launch_types.check(launch_type, td.requires_compatibilities)
    # FARGATE (by launch type or by a strategy naming FARGATE or FARGATE_SPOT) goes to the
    # cluster's Fargate provider under the same rules as RunTask and CreateService.
    resolved, providers = fargate.resolve(ctx.state, cluster_rec, td, checked if launch_type else "", providers)
    if resolved != fargate.LAUNCH_TYPE:
        # A strategy alone leaves the launch type to its providers, as before.
        resolved = "" if providers else checked
    check_placement(list(td.placement_constraints), [])
    # ECS's task set ids: "ecs-svc/" and 19 digits.
    ts_id = f"ecs-svc/{random.randrange(10**18, 10**19)}"
    now = time.time()
    made: list[str] = [ts_id]

    def change(svc: r.Service) -> None:
        again = [ts for ts in svc.task_sets if client_token and ts.client_token == client_token]
        if again:
            made[:] = [again[0].id]
            return
        if len(svc.task_sets) >= MAX_TASK_SETS:
            raise invalid(f"service: {svc.service_name!r} already has {MAX_TASK_SETS} task sets, the most allowed")
        ts = r.TaskSet(
            id=ts_id, task_set_arn=svc.service_arn.replace(":service/", ":task-set/", 1) + "/" + ts_id,
            service_arn=svc.service_arn, cluster_arn=svc.cluster_arn, external_id=external_id,
            # The first task set of a service is its primary, as ECS makes it.
            status=ACTIVE if svc.task_sets else PRIMARY, task_definition=td.task_definition_arn,
            created_at=now, updated_at=now, launch_type=resolved, scale=scale,
            stability_status=STABILIZING, stability_status_at=now, client_token=client_token,
        )
        ts.capacity_provider_strategy.extend(providers)
        ts.load_balancers.extend(lbs)
        ts.tags.extend(tags)
        ts.computed_desired_count = computed_desired(svc.desired_count, ts)
        svc.task_sets.append(ts)
        add_event(svc, f"(service {svc.service_name}) created task set {ts_id} ({td.family}:{td.revision}, "
                       f"scale {scale.value:g}%).")

    svc = _mutate(ctx, cluster_ref, service_ref, change)
    return _find(svc, made[0])


def update_scale(ctx: ApiContext, cluster_ref: str, service_ref: str, ref: str, scale: r.Scale) -> r.TaskSet:
    def change(svc: r.Service) -> None:
        ts = _find(svc, ref)
        if ts.status == DRAINING:
            raise invalid(f"taskSet: {ts.id} is being deleted")
        ts.scale.CopyFrom(scale)
        ts.computed_desired_count = computed_desired(svc.desired_count, ts)
        ts.updated_at = time.time()

    return _find(_mutate(ctx, cluster_ref, service_ref, change), ref)


def make_primary(ctx: ApiContext, cluster_ref: str, service_ref: str, ref: str) -> r.TaskSet:
    def change(svc: r.Service) -> None:
        chosen = _find(svc, ref)
        if chosen.status == DRAINING:
            raise invalid(f"primaryTaskSet: {chosen.id} is being deleted")
        for ts in svc.task_sets:
            if ts.status != DRAINING:
                ts.status = PRIMARY if ts.id == chosen.id else ACTIVE
        add_event(svc, f"(service {svc.service_name}) task set {chosen.id} is now the primary.")

    return _find(_mutate(ctx, cluster_ref, service_ref, change), ref)


def delete(ctx: ApiContext, cluster_ref: str, service_ref: str, ref: str, force: bool) -> r.TaskSet:
    """Marks the task set DRAINING: the leader stops its tasks, then forgets it. Without
    ``force`` a task set must first be scaled to zero, as ECS has it."""
    def change(svc: r.Service) -> None:
        ts = _find(svc, ref)
        if ts.status == DRAINING:
            return
        if not force and ts.scale.value > 0:
            raise invalid(f"taskSet: {ts.id} has scale {ts.scale.value:g}%; scale it to 0 first or pass force")
        ts.status = DRAINING
        ts.computed_desired_count = 0
        ts.updated_at = time.time()
        add_event(svc, f"(service {svc.service_name}) deleting task set {ts.id}.")

    return _find(_mutate(ctx, cluster_ref, service_ref, change), ref)


def describe(ctx: ApiContext, cluster_ref: str, service_ref: str, refs: Sequence[str]) -> tuple[list[r.TaskSet],
                                                                                             list[r.Failure]]:
    cluster = ctx.require_cluster(cluster_ref).msg.cluster_name
    name = last_segment(service_ref)
    rec = ctx.state.service(cluster, name) if name else None
    svc = _external(rec.msg.SerializeToString() if rec else None, cluster, name or service_ref)
    if not refs:
        return list(svc.task_sets), []
    return described(refs, lambda ref: next((ts for ts in svc.task_sets if ref in (ts.id, ts.task_set_arn)), None))


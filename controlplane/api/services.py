"""CreateService, UpdateService, DeleteService, DescribeServices, ListServices. The API
records what the user wants; the leader's service controller makes it so."""

from __future__ import annotations

import time

from controlplane import capacity_strategy, fargate, launch_types, traffic_shift
from controlplane.api import reads, service_traffic, tags, taskdefs
from controlplane.api.context import ApiContext, already_exists
from controlplane.api.described import described
from controlplane.api.paging import page
from controlplane.controllers.critical import MAX_GRACE_SECONDS, MIN_GRACE_SECONDS
from controlplane.deployment_history import track
from controlplane.deployments import breaker_threshold, new_deployment
from controlplane.errors import check_refs, conflict, invalid, not_found
from controlplane.events import add_event
from controlplane.placement_input import check_placement
from controlplane.task_sets import is_external
from shoal import keys
from shoal.arns import last_segment
from shoal.store.base import Conflict
from shoal.v1 import operator_pb2 as op
from shoal.v1 import resources_pb2 as r
from shoal.validation import check_name

MAX_DESIRED = 100_000
DEFAULT_SERVICE_STRATEGY = (
    r.PlacementStrategy(type="spread", field="attribute:ecs.availability-zone"),
    r.PlacementStrategy(type="spread", field="instanceId"),
)


def _check_deployment_config(dc: r.DeploymentConfiguration, daemon: bool = False) -> r.DeploymentConfiguration:
    out = r.DeploymentConfiguration()
    out.CopyFrom(dc)
    # ECS's defaults for a DAEMON service are 0% and 100% (it stops a node's old task first).
    if not out.HasField("minimum_healthy_percent"):
        out.minimum_healthy_percent = 0 if daemon else 100
    if not out.HasField("maximum_percent"):
        out.maximum_percent = 100 if daemon else 200
    if not 0 <= out.minimum_healthy_percent <= 100:
        raise invalid("deploymentConfiguration.minimumHealthyPercent: must be between 0 and 100")
    if not 100 <= out.maximum_percent <= 400:
        raise invalid("deploymentConfiguration.maximumPercent: must be between 100 and 400")
    return out


# A day: longer, and a node nobody reaches holds its service's tasks hostage for longer.
MAX_DISCONNECT_TOLERANCE = 86_400


def _check_tolerance(seconds: int) -> int:
    if not 0 <= seconds <= MAX_DISCONNECT_TOLERANCE:
        raise invalid(f"disconnectToleranceSeconds: must be between 0 and {MAX_DISCONNECT_TOLERANCE} seconds")
    return seconds


def _check_replace(replace: bool, tolerance: int, daemon: bool) -> bool:
    # Without a tolerance a lost node's tasks are replaced anyway and never reconciled.
    if replace and not tolerance:
        raise invalid("replaceOnDisconnect: needs a disconnectToleranceSeconds above 0")
    if replace and daemon:
        raise invalid("replaceOnDisconnect: a DAEMON service's task belongs to its node and is not replaced elsewhere")
    return replace


def _check_critical(critical: bool, daemon: bool) -> bool:
    if critical and not daemon:
        raise invalid("daemonCritical: only a service with the DAEMON scheduling strategy can be critical")
    return critical


def _check_grace(seconds: int, critical: bool) -> int:
    """A critical daemon's own grace (0: the default), refused on a service that is not one,
    where it would be kept and never used."""
    if seconds and not critical:
        raise invalid("daemonCriticalGraceSeconds: only a critical daemon (daemonCritical) has a grace period")
    if seconds and not MIN_GRACE_SECONDS <= seconds <= MAX_GRACE_SECONDS:
        raise invalid(f"daemonCriticalGraceSeconds: must be between {MIN_GRACE_SECONDS} and {MAX_GRACE_SECONDS} "
                      "seconds (0: the default)")
    return seconds


def _check_rebalancing(value: str, daemon: bool) -> str:
    if value not in ("ENABLED", "DISABLED"):
        raise invalid(f"availabilityZoneRebalancing: must be ENABLED or DISABLED, not {value!r}")
    if value == "ENABLED" and daemon:
        raise invalid("availabilityZoneRebalancing: the daemon scheduling strategy does not support "
                      "availability zone rebalancing")
    return value


def _check_desired(n: int) -> None:
    if not 0 <= n <= MAX_DESIRED:
        raise invalid(f"desiredCount: must be between 0 and {MAX_DESIRED}")


def _check_strategy(req: op.CreateServiceRequest) -> bool:
    """True for a DAEMON service; refuses what ECS refuses for one."""
    if req.scheduling_strategy not in ("", "REPLICA", "DAEMON"):
        raise invalid(f"schedulingStrategy: must be REPLICA or DAEMON, not {req.scheduling_strategy!r}")
    if req.scheduling_strategy != "DAEMON":
        return False
    if req.desired_count:
        raise invalid("desiredCount: the daemon scheduling strategy does not support a desired count for services")
    if req.placement_strategy:
        raise invalid("placementStrategy: the daemon scheduling strategy does not support placement strategies")
    return True


def create(ctx: ApiContext, req: op.CreateServiceRequest) -> op.ServiceResponse:
    cluster_rec = ctx.require_cluster(req.cluster).msg
    cluster = cluster_rec.cluster_name
    check_name(req.service_name, "serviceName")
    _check_desired(req.desired_count)
    td = taskdefs.runnable(ctx, req.task_definition)
    daemon = _check_strategy(req)
    if daemon and req.capacity_provider_strategy:
        raise invalid("capacityProviderStrategy: the daemon scheduling strategy does not support a capacity "
                      "provider strategy; use launchType")
    # A daemon runs on every instance, whatever provider brought it: the default strategy
    # does not apply to it.
    strategy = [] if daemon else capacity_strategy.for_request(req.capacity_provider_strategy, req.launch_type,
                                                                cluster_rec)
    launch_type = launch_types.check(req.launch_type, td.requires_compatibilities)
    if daemon and launch_type == fargate.LAUNCH_TYPE:
        raise invalid("launchType: the daemon scheduling strategy does not support FARGATE")
    launch_type, strategy = fargate.resolve(ctx.state, cluster_rec, td, launch_type if req.launch_type else "",
                                            strategy)
    launch_type = launch_type or launch_types.DEFAULT
    strategies = [] if daemon else list(req.placement_strategy) or list(DEFAULT_SERVICE_STRATEGY)
    check_placement(list(td.placement_constraints) + list(req.placement_constraints), strategies)
    if not 0 <= req.health_check_grace_period_seconds <= 2_147_483_647:
        raise invalid("healthCheckGracePeriodSeconds: must not be negative")
    svc = r.Service(
        service_name=req.service_name,
        service_arn=ctx.arns.service(cluster, req.service_name),
        cluster_arn=ctx.arns.cluster(cluster),
        cluster=cluster,
        task_definition=td.task_definition_arn,
        desired_count=req.desired_count,
        status="ACTIVE",
        launch_type=launch_type,
        scheduling_strategy="DAEMON" if daemon else "REPLICA",
        created_at=time.time(),
        health_check_grace_period_seconds=req.health_check_grace_period_seconds,
        deployment_configuration=_check_deployment_config(req.deployment_configuration, daemon),
        disconnect_tolerance_seconds=_check_tolerance(req.disconnect_tolerance_seconds),
        replace_on_disconnect=_check_replace(req.replace_on_disconnect, req.disconnect_tolerance_seconds, daemon),
        daemon_critical=_check_critical(req.daemon_critical, daemon),
        daemon_critical_grace_seconds=_check_grace(req.daemon_critical_grace_seconds, req.daemon_critical),
        # ECS makes it ENABLED when a create does not say; Shoal keeps a service where its
        # placement put it unless asked (docs/ecs-api.md).
        availability_zone_rebalancing=_check_rebalancing(req.availability_zone_rebalancing or "DISABLED", daemon),
        enable_execute_command=req.enable_execute_command,
    )
    svc.placement_constraints.extend(list(td.placement_constraints) + list(req.placement_constraints))
    svc.placement_strategy.extend(strategies)
    tags.check(req.tags)
    svc.tags.extend(req.tags)
    svc.capacity_provider_strategy.extend(strategy)
    service_traffic.apply(ctx, cluster, svc, td, load_balancers_=req.load_balancers,
                          registries_=req.service_registries, connect=req.service_connect_configuration)
    traffic_shift.check(svc.deployment_configuration, bool(svc.load_balancers), ctx.hook_hosts)
    if daemon and svc.deployment_configuration.strategy not in ("", traffic_shift.ROLLING):
        raise invalid("deploymentConfiguration.strategy: a DAEMON service deploys ROLLING only")
    svc.deployments.append(new_deployment(td.task_definition_arn, req.desired_count, strategy))
    track(svc, time.time(), breaker_threshold(svc.desired_count))
    existing = ctx.state.service(cluster, req.service_name)
    if existing is not None and existing.msg.status != "INACTIVE":
        raise already_exists(f"serviceName: service {req.service_name!r} already exists in cluster {cluster!r}")
    add_event(svc, f"(service {svc.service_name}) was created with desired count {svc.desired_count}.")
    try:
        if existing is None:
            ctx.store.create(keys.service(cluster, req.service_name), svc.SerializeToString())
        else:
            ctx.store.cas(keys.service(cluster, req.service_name), svc.SerializeToString(), existing.mod_revision)
    except Conflict as exc:
        raise already_exists(f"serviceName: service {req.service_name!r} already exists") from exc
    return op.ServiceResponse(service=svc)


def _name(ref: str) -> str:
    name = last_segment(ref)
    if not name:
        raise invalid("service: required")
    return name


def _live(svc: r.Service | None, cluster: str, name: str) -> r.Service:
    if svc is None or svc.status == "INACTIVE":
        raise not_found(f"service: service {name!r} not found in cluster {cluster!r}", "ServiceNotFoundException")
    return svc


def _active(svc: r.Service | None, cluster: str, name: str) -> r.Service:
    svc = _live(svc, cluster, name)
    if svc.status != "ACTIVE":
        raise conflict(f"service: {svc.service_name!r} is {svc.status}", "ServiceNotActiveException")
    return svc


def update(ctx: ApiContext, req: op.UpdateServiceRequest) -> op.ServiceResponse:
    cluster_rec = ctx.require_cluster(req.cluster).msg
    cluster = cluster_rec.cluster_name
    new_strategy = None
    if req.update_capacity_provider_strategy:
        # ECS: an empty strategy means the cluster's default.
        new_strategy = fargate.served(ctx.state, cluster_rec,
                                      capacity_strategy.for_request(req.capacity_provider_strategy, "", cluster_rec))
    if req.HasField("desired_count"):
        _check_desired(req.desired_count)
    td = taskdefs.runnable(ctx, req.task_definition) if req.task_definition else None
    name = _name(req.service)

    def change(svc: r.Service | None) -> r.Service:
        svc = _active(svc, cluster, name)
        if is_external(svc):
            _check_external_update(req)
        if svc.scheduling_strategy == "DAEMON":
            if req.HasField("desired_count"):
                raise invalid("desiredCount: the daemon scheduling strategy does not support a desired count")
            if req.update_placement_strategy and req.placement_strategy:
                raise invalid("placementStrategy: the daemon scheduling strategy does not support placement strategies")
        if req.HasField("desired_count") and req.desired_count != svc.desired_count:
            add_event(svc, f"(service {svc.service_name}) desired count changed from "
                           f"{svc.desired_count} to {req.desired_count}.")
            svc.desired_count = req.desired_count
        if req.HasField("deployment_configuration"):
            merged = r.DeploymentConfiguration()
            merged.CopyFrom(svc.deployment_configuration)
            if req.deployment_configuration.strategy:
                # A new strategy brings its own configuration; the old strategy's goes.
                merged.ClearField("canary_configuration")
                merged.ClearField("linear_configuration")
                if req.deployment_configuration.strategy == traffic_shift.ROLLING:
                    merged.ClearField("lifecycle_hooks")  # a rolling deployment has no hooks
            merged.MergeFrom(req.deployment_configuration)
            if req.deployment_configuration.lifecycle_hooks:
                # A list given replaces the one kept, as ECS does.
                del merged.lifecycle_hooks[:]
                merged.lifecycle_hooks.extend(req.deployment_configuration.lifecycle_hooks)
            svc.deployment_configuration.CopyFrom(
                _check_deployment_config(merged, svc.scheduling_strategy == "DAEMON"))
        if req.HasField("health_check_grace_period_seconds"):
            if req.health_check_grace_period_seconds < 0:
                raise invalid("healthCheckGracePeriodSeconds: must not be negative")
            svc.health_check_grace_period_seconds = req.health_check_grace_period_seconds
        if req.availability_zone_rebalancing:
            svc.availability_zone_rebalancing = _check_rebalancing(req.availability_zone_rebalancing,
                                                                   svc.scheduling_strategy == "DAEMON")
        if req.HasField("enable_execute_command"):
            svc.enable_execute_command = req.enable_execute_command
        if req.HasField("disconnect_tolerance_seconds"):
            svc.disconnect_tolerance_seconds = _check_tolerance(req.disconnect_tolerance_seconds)
        if req.HasField("replace_on_disconnect") or req.HasField("disconnect_tolerance_seconds"):
            replace = req.replace_on_disconnect if req.HasField("replace_on_disconnect") else svc.replace_on_disconnect
            svc.replace_on_disconnect = _check_replace(replace, svc.disconnect_tolerance_seconds,
                                                       svc.scheduling_strategy == "DAEMON")
        if req.HasField("daemon_critical"):
            svc.daemon_critical = _check_critical(req.daemon_critical, svc.scheduling_strategy == "DAEMON")
        if req.HasField("daemon_critical_grace_seconds"):
            svc.daemon_critical_grace_seconds = req.daemon_critical_grace_seconds
        if req.HasField("daemon_critical_grace_seconds") or req.HasField("daemon_critical"):
            # A service that stops being critical keeps no grace it would never use.
            if not svc.daemon_critical and not req.HasField("daemon_critical_grace_seconds"):
                svc.daemon_critical_grace_seconds = 0
            _check_grace(svc.daemon_critical_grace_seconds, svc.daemon_critical)
        if req.update_placement_constraints:
            check_placement(req.placement_constraints, [])
            del svc.placement_constraints[:]
            svc.placement_constraints.extend(req.placement_constraints)
        if req.update_placement_strategy:
            check_placement([], req.placement_strategy)
            del svc.placement_strategy[:]
            svc.placement_strategy.extend(req.placement_strategy)
        strategy_changed = False
        if new_strategy is not None:
            if svc.scheduling_strategy == "DAEMON":
                raise invalid("capacityProviderStrategy: the daemon scheduling strategy does not support a "
                              "capacity provider strategy")
            strategy_changed = list(svc.capacity_provider_strategy) != new_strategy
            del svc.capacity_provider_strategy[:]
            svc.capacity_provider_strategy.extend(new_strategy)
        new_td = td.task_definition_arn if td is not None else svc.task_definition
        if td is not None and svc.launch_type == fargate.LAUNCH_TYPE:
            fargate.check_size(td)
        traffic_shift.check(svc.deployment_configuration,
                            bool(req.load_balancers if req.update_load_balancers else svc.load_balancers),
                            ctx.hook_hosts)
        if svc.scheduling_strategy == "DAEMON" and svc.deployment_configuration.strategy not in (
                "", traffic_shift.ROLLING):
            raise invalid("deploymentConfiguration.strategy: a DAEMON service deploys ROLLING only")
        traffic_changes = (req.update_load_balancers or req.update_service_registries
                           or req.HasField("service_connect_configuration"))
        if traffic_changes or new_td != svc.task_definition:
            # A new set, or a new definition, is checked whole against the definition it runs.
            service_traffic.apply(
                ctx, cluster, svc, td if td is not None else taskdefs.resolve(ctx, new_td).msg,
                load_balancers_=req.load_balancers if req.update_load_balancers else None,
                registries_=req.service_registries if req.update_service_registries else None,
                connect=req.service_connect_configuration if req.HasField("service_connect_configuration") else None)
        if new_td != svc.task_definition or req.force_new_deployment or strategy_changed:
            for d in svc.deployments:
                if d.status == "PRIMARY":
                    d.status = "ACTIVE"
                    d.updated_at = time.time()
            svc.task_definition = new_td
            svc.deployments.insert(0, new_deployment(new_td, svc.desired_count, svc.capacity_provider_strategy))
            add_event(svc, f"(service {svc.service_name}) started a deployment to {new_td}.")
        for d in svc.deployments:
            if d.status == "PRIMARY":
                d.desired_count = svc.desired_count
        track(svc, time.time(), breaker_threshold(svc.desired_count))
        return svc

    rec = ctx.state.update(keys.service(cluster, name), r.Service, change, field="service")
    return op.ServiceResponse(service=rec.msg)


def _check_external_update(req: op.UpdateServiceRequest) -> None:
    """An EXTERNAL service takes these per task set: refused on the service, naming them."""
    per_task_set = (("taskDefinition", bool(req.task_definition)), ("forceNewDeployment", req.force_new_deployment),
                    ("capacityProviderStrategy", req.update_capacity_provider_strategy),
                    ("loadBalancers", req.update_load_balancers),
                    ("serviceRegistries", req.update_service_registries),
                    ("serviceConnectConfiguration", req.HasField("service_connect_configuration")))
    for field, given in per_task_set:
        if given:
            raise invalid(f"{field}: a service with the EXTERNAL deployment controller deploys through its task "
                          "sets (CreateTaskSet, UpdateServicePrimaryTaskSet)")


def delete(ctx: ApiContext, req: op.DeleteServiceRequest) -> op.ServiceResponse:
    cluster = ctx.require_cluster(req.cluster).msg.cluster_name
    name = _name(req.service)

    def drain(svc: r.Service | None) -> r.Service:
        svc = _live(svc, cluster, name)
        if svc.desired_count > 0 and not req.force:
            raise invalid(
                "service: the service cannot be deleted while it is scaled above 0; "
                "set desiredCount to 0 first or use force"
            )
        svc.status = "DRAINING"
        svc.desired_count = 0
        add_event(svc, f"(service {svc.service_name}) is being deleted.")
        return svc

    rec = ctx.state.update(keys.service(cluster, name), r.Service, drain, field="service")
    return op.ServiceResponse(service=rec.msg)


def describe(ctx: ApiContext, req: op.DescribeServicesRequest) -> op.DescribeServicesResponse:
    cluster = reads.require_cluster(ctx, req.cluster).msg.cluster_name
    check_refs("services", req.services, 10, "service name or ARN")

    def find(ref: str) -> r.Service | None:
        rec = reads.record(ctx, keys.service(cluster, last_segment(ref)), r.Service)
        return rec.msg if rec is not None else None

    found, failures = described(req.services, find)
    return op.DescribeServicesResponse(services=found, failures=failures)


def list_(ctx: ApiContext, req: op.ListServicesRequest) -> op.ListResponse:
    cluster = ctx.require_cluster(req.cluster).msg.cluster_name
    launch_type = launch_types.check_filter(req.launch_type)
    arns = [s.msg.service_arn for s in ctx.state.services(cluster) if s.msg.status != "INACTIVE"
            and (not launch_type or (s.msg.launch_type or launch_types.DEFAULT) == launch_type)]
    return page(arns, req.max_results, req.next_token)


def note_event(ctx: ApiContext, cluster: str, name: str, message: str) -> None:
    """Adds one event to a service (an audit record such as an exec); a service gone
    meanwhile takes none."""
    def add(svc: r.Service | None) -> r.Service | None:
        if svc is None:
            return None
        add_event(svc, message)
        return svc

    ctx.state.update(keys.service(cluster, name), r.Service, add, field="service")

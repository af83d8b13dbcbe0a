"""CreateCluster, DeleteCluster, DescribeClusters, ListClusters, PutClusterCapacityProviders,
UpdateClusterSettings."""

from __future__ import annotations

from controlplane import capacity_strategy, cluster_settings, fargate
from controlplane.api import account_settings, tags
from controlplane.api.context import ApiContext
from controlplane.api.described import described
from controlplane.errors import conflict, invalid, not_found
from controlplane.taskspec import is_live
from shoal import keys
from shoal.arns import cluster_name
from shoal.store.base import Conflict
from shoal.v1 import operator_pb2 as op
from shoal.v1 import resources_pb2 as r
from shoal.v1 import scaling_pb2 as sc
from shoal.validation import check_name


def create(ctx: ApiContext, req: op.CreateClusterRequest) -> op.ClusterResponse:
    name = req.cluster_name or "default"
    check_name(name, "clusterName")
    cluster = r.Cluster(cluster_name=name, cluster_arn=ctx.arns.cluster(name), status="ACTIVE")
    tags.check(req.tags)
    cluster.tags.extend(req.tags)
    cluster.settings.extend(cluster_settings.check(req.settings))
    if not any(s.name == cluster_settings.CONTAINER_INSIGHTS for s in cluster.settings):
        # As in ECS: a cluster that names none gets the account's containerInsights setting.
        cluster.settings.extend(account_settings.cluster_default(ctx))
    existing = ctx.state.cluster(name)
    # ECS's CreateCluster is idempotent: creating an existing cluster returns it.
    if existing is not None and existing.msg.status == "ACTIVE":
        return op.ClusterResponse(cluster=_with_counts(ctx, existing.msg))
    try:
        if existing is None:
            ctx.store.create(keys.cluster(name), cluster.SerializeToString())
        else:
            ctx.store.cas(keys.cluster(name), cluster.SerializeToString(), existing.mod_revision)
    except Conflict:
        pass
    return op.ClusterResponse(cluster=cluster)


def delete(ctx: ApiContext, req: op.DeleteClusterRequest) -> op.ClusterResponse:
    rec = ctx.require_cluster(req.cluster)
    name = rec.msg.cluster_name
    if any(s.msg.status != "INACTIVE" for s in ctx.state.services(name)):
        raise conflict(f"cluster: {name!r} still has services; delete them first", "ClusterContainsServicesException")
    if any(is_live(t.msg) for t in ctx.state.tasks(name)):
        raise conflict(f"cluster: {name!r} still has tasks; stop them first", "ClusterContainsTasksException")
    if any(n.msg.status != "INACTIVE" for n in ctx.state.nodes(name)):
        raise conflict(
            f"cluster: {name!r} still has registered container instances; deregister them first",
            "ClusterContainsContainerInstancesException",
        )
    cluster = rec.msg
    cluster.status = "INACTIVE"
    ctx.store.delete(keys.cluster(name), rec.mod_revision)
    return op.ClusterResponse(cluster=cluster)


def describe(ctx: ApiContext, req: op.DescribeClustersRequest) -> op.DescribeClustersResponse:
    def find(ref: str) -> r.Cluster | None:
        rec = ctx.state.cluster(cluster_name(ref))
        return _with_counts(ctx, rec.msg) if rec is not None else None

    found, failures = described(req.clusters or ["default"], find)
    return op.DescribeClustersResponse(clusters=found, failures=failures)


def list_(ctx: ApiContext, req: op.ListRequest) -> op.ListResponse:
    return op.ListResponse(arns=[c.msg.cluster_arn for c in ctx.state.clusters() if c.msg.status == "ACTIVE"])


def _with_counts(ctx: ApiContext, cluster: r.Cluster) -> r.Cluster:
    name = cluster.cluster_name
    tasks = [t.msg for t in ctx.state.tasks(name)]
    cluster.running_tasks_count = sum(1 for t in tasks if t.last_status == "RUNNING")
    cluster.pending_tasks_count = sum(1 for t in tasks if t.last_status in ("PROVISIONING", "PENDING", "ACTIVATING"))
    cluster.active_services_count = sum(1 for s in ctx.state.services(name) if s.msg.status == "ACTIVE")
    cluster.registered_container_instances_count = sum(
        1 for n in ctx.state.nodes(name) if n.msg.status != "INACTIVE"
    )
    return cluster


def put_capacity_providers(ctx: ApiContext, ref: str, providers: list[str],
                           strategy: list[r.CapacityProviderStrategyItem]) -> r.Cluster:
    """Replaces the cluster's capacity providers and default strategy, both at once or
    neither. Each provider must be a Shoal capacity provider of this cluster: a Shoal
    capacity provider serves one cluster's pending tasks."""
    name = ctx.require_cluster(ref).msg.cluster_name
    if len(providers) > capacity_strategy.MAX_ITEMS:
        raise invalid(f"capacityProviders: at most {capacity_strategy.MAX_ITEMS}")
    names = []
    for i, cp_ref in enumerate(providers):
        cp_name = cp_ref.rsplit("/", 1)[-1]
        if cp_name in capacity_strategy.FARGATE:
            # ECS's own names, served by the cluster's Fargate provider (controlplane/fargate.py).
            if not fargate.provider(ctx.state, name):
                raise invalid(fargate.refused(f"capacityProviders[{i}]", cp_name, name))
            if cp_name in names:
                raise invalid(f"capacityProviders[{i}]: {cp_name!r} is listed twice")
            names.append(cp_name)
            continue
        cp = ctx.state.load(keys.capacity_provider(cp_name), sc.CapacityProvider) if cp_name else None
        if cp is None:
            raise invalid(f"capacityProviders[{i}]: capacity provider {cp_ref[:255]!r} not found")
        if cp.msg.cluster != name:
            raise invalid(f"capacityProviders[{i}]: capacity provider {cp_name!r} serves cluster "
                          f"{cp.msg.cluster!r}, not {name!r}")
        if cp_name in names:
            raise invalid(f"capacityProviders[{i}]: {cp_name!r} is listed twice")
        names.append(cp_name)
    capacity_strategy.check(strategy, names, "defaultCapacityProviderStrategy")

    def put(cluster: r.Cluster | None) -> r.Cluster:
        if cluster is None or cluster.status != "ACTIVE":
            raise invalid(f"cluster: cluster {name!r} was deleted")
        del cluster.capacity_providers[:]
        cluster.capacity_providers.extend(names)
        del cluster.default_capacity_provider_strategy[:]
        cluster.default_capacity_provider_strategy.extend(strategy)
        return cluster

    rec = ctx.state.update(keys.cluster(name), r.Cluster, put, field="cluster")
    assert rec is not None  # put() never answers "no change"
    return _with_counts(ctx, rec.msg)


def update_settings(ctx: ApiContext, ref: str, settings: list[r.ClusterSetting]) -> op.ClusterResponse:
    """Each setting given replaces the cluster's of that name; the others stay."""
    cluster_settings.check(settings)
    name = ctx.require_cluster(ref).msg.cluster_name

    def change(cluster: r.Cluster | None) -> r.Cluster | None:
        if cluster is None:
            raise not_found(f"cluster: cluster {name!r} not found", "ClusterNotFoundException")
        after = cluster_settings.merged(cluster.settings, settings)
        if list(cluster.settings) == after:
            return None
        del cluster.settings[:]
        cluster.settings.extend(after)
        return cluster

    rec = ctx.state.update(keys.cluster(name), r.Cluster, change, field="cluster")
    return op.ClusterResponse(cluster=_with_counts(ctx, rec.msg))

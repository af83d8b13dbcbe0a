"""CreateCluster, DeleteCluster, DescribeClusters, ListClusters."""

from __future__ import annotations

from controlplane.api.context import ApiContext
from controlplane.errors import conflict
from controlplane.taskspec import is_live
from shoal import keys
from shoal.arns import cluster_name
from shoal.store.base import Conflict
from shoal.v1 import operator_pb2 as op
from shoal.v1 import resources_pb2 as r
from shoal.validation import check_name


def create(ctx: ApiContext, req: op.CreateClusterRequest) -> op.ClusterResponse:
    name = req.cluster_name or "default"
    check_name(name, "clusterName")
    cluster = r.Cluster(cluster_name=name, cluster_arn=ctx.arns.cluster(name), status="ACTIVE")
    cluster.tags.extend(req.tags)
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
    resp = op.DescribeClustersResponse()
    for ref in req.clusters or ["default"]:
        rec = ctx.state.cluster(cluster_name(ref))
        if rec is None:
            resp.failures.add(arn=ref, reason="MISSING")
            continue
        resp.clusters.append(_with_counts(ctx, rec.msg))
    return resp


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

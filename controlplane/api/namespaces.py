"""Service-discovery namespaces (Cloud Map's, as ECS's serviceRegistries and Service Connect
name them): CreateNamespace, DeleteNamespace, ListNamespaces. A service registered in
namespace ``lab`` answers as ``<service>.lab``."""

from __future__ import annotations

import secrets
import time

import grpc

from controlplane.api import traffic_checks as check
from controlplane.api.context import ApiContext
from controlplane.api.traffic_state import deleting, find_namespace, in_use, live_services, namespaces
from shoal import keys
from shoal.errors import ApiError
from shoal.store.base import Conflict
from shoal.v1 import resources_pb2 as r
from shoal.v1 import traffic_pb2 as t


def create(ctx: ApiContext, req: t.CreateNamespaceRequest) -> t.NamespaceResponse:
    cluster = ctx.require_cluster(req.cluster).msg.cluster_name
    name = check.namespace_name(req.name)
    ns = t.Namespace(arn=ctx.arns.namespace(f"ns-{secrets.token_hex(8)}"), name=name, cluster=cluster,
                     created_at=time.time())
    try:
        ctx.store.create(keys.namespace(cluster, name), ns.SerializeToString())
    except Conflict:
        raise ApiError(grpc.StatusCode.ALREADY_EXISTS,
                       f"name: a namespace named {name!r} already exists in cluster {cluster!r}",
                       "NamespaceAlreadyExists") from None
    return t.NamespaceResponse(namespace=ns)


def uses(svc: r.Service, ns: t.Namespace) -> bool:
    """Whether ``svc`` registers in ``ns`` (its registries or Service Connect name it)."""
    named = {x.namespace for x in svc.service_registries}
    if svc.service_connect_configuration.enabled:
        named.add(svc.service_connect_configuration.namespace)
    return bool(named & {ns.name, ns.arn})


def delete(ctx: ApiContext, req: t.NamespaceRef) -> t.NamespaceResponse:
    cluster = ctx.require_cluster(req.cluster).msg.cluster_name
    rec = find_namespace(ctx, cluster, req.name, "name")
    users = [s.msg.service_name for s in live_services(ctx, cluster) if uses(s.msg, rec.msg)]
    if users:
        raise in_use(f"name: namespace {rec.msg.name!r} is used by service(s) {', '.join(sorted(users))}; "
                     "update or delete them first")
    with deleting("name"):
        ctx.store.delete(rec.key, rec.mod_revision)
    return t.NamespaceResponse(namespace=rec.msg)


def list_(ctx: ApiContext, req: t.ListNamespacesRequest) -> t.ListNamespacesResponse:
    cluster = ctx.require_cluster(req.cluster).msg.cluster_name
    return t.ListNamespacesResponse(namespaces=[rec.msg for rec in namespaces(ctx, cluster)])

"""ECS's container-instance attribute operations (PutAttributes, DeleteAttributes,
ListAttributes) over controlplane/api/attributes.py, and RegisterContainerInstance, which on
Shoal is a host joining with a token: it is answered with how to do that."""

from __future__ import annotations

from typing import Any

from controlplane.api import attributes
from controlplane.api.context import ApiContext
from controlplane.api.paging import page
from controlplane.ecs import fields
from controlplane.ecs.errors import EcsError, invalid_parameter
from controlplane.ecs.shapes import paged

Body = dict[str, Any]
_MEMBERS = {"name", "value", "targetType", "targetId"}


def _items(body: Body) -> list[attributes.Target]:
    value = body.get("attributes")
    if not isinstance(value, list) or not all(isinstance(x, dict) for x in value):
        raise invalid_parameter("attributes: required: a list of {name, value, targetType, targetId} objects")
    out = []
    for i, item in enumerate(value):
        where = f"attributes[{i}]"
        fields.only(item, _MEMBERS, "not a member of an attribute", where=where)
        name, value, target_type, target_id = (fields.string(item, k, where=where)
                                               for k in ("name", "value", "targetType", "targetId"))
        out.append(attributes.Target(name, value, target_type, target_id))
    return out


def _out(a: attributes.Target) -> Body:
    out = {"name": a.name, "targetType": attributes.TARGET_TYPE, "targetId": a.target_id}
    if a.value:
        out["value"] = a.value
    return out


def _cluster(ctx: ApiContext, body: Body) -> str:
    cluster = body.get("cluster") or ""
    if not isinstance(cluster, str):
        raise invalid_parameter("cluster: must be a cluster name or ARN")
    return ctx.require_cluster(cluster).msg.cluster_name


def put_attributes(ctx: ApiContext, body: Body) -> Body:
    items = _items(body)
    attributes.put(ctx, _cluster(ctx, body), items)
    return {"attributes": [_out(a) for a in items]}


def delete_attributes(ctx: ApiContext, body: Body) -> Body:
    items = _items(body)
    attributes.delete(ctx, _cluster(ctx, body), items)
    return {"attributes": [_out(a) for a in items]}


def list_attributes(ctx: ApiContext, body: Body) -> Body:
    target_type, name, value = (fields.string(body, k) for k in ("targetType", "attributeName", "attributeValue"))
    found = attributes.list_(ctx, _cluster(ctx, body), target_type, name, value)
    max_results = fields.integer(body, "maxResults") or 0
    resp = page([str(i) for i in range(len(found))], max_results, str(body.get("nextToken") or ""))
    out: Body = {"attributes": [_out(found[int(i)]) for i in resp.arns]}
    return paged(out, resp)


def register_container_instance(ctx: ApiContext, body: Body) -> Body:
    raise EcsError("ClientException",
                   "RegisterContainerInstance is not supported by Shoal: a host registers by joining with a token. "
                   "Run the script of `shoal node install-script --token-file FILE --cluster NAME --package …` "
                   "on it (Shoal's ecs-anywhere-install.sh); its container instance then appears in "
                   "ListContainerInstances, and PutAttributes sets its custom attributes")


ACTIONS = {
    "PutAttributes": put_attributes,
    "DeleteAttributes": delete_attributes,
    "ListAttributes": list_attributes,
    "RegisterContainerInstance": register_container_instance,
}

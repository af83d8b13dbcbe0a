"""ECS's capacity-provider operations over Shoal's capacity providers (controlplane.api.scaling
writes them; the autoscaler acts on them). ECS's ``autoScalingGroupProvider`` maps onto a
Shoal capacity provider: ``autoScalingGroupArn`` names a node provider profile of the
autoscaler host (a bare name, or an ARN ending ``autoScalingGroupName/<profile>``), and
``managedScaling`` is the target capacity and step sizes the autoscaler scales toward.
What Shoal cannot honour is refused naming the field, never dropped: managed scaling
switched off, managed draining switched off (Shoal always drains a node before removing
it), an instance warm-up period, tags other than Shoal's Fargate mark.

ECS has no Fargate flag on CreateCapacityProvider: FARGATE and FARGATE_SPOT are its own
providers, their names reserved. Shoal's Fargate provider (controlplane/fargate.py) is an
ordinary one marked at creation, so on the wire the mark is the one tag a capacity provider
takes, ``shoal:fargate`` = ``true``, reported back in ``tags``; it cannot be changed later
(capacity providers cannot be tagged afterwards)."""

from __future__ import annotations

from typing import Any

from controlplane import fargate
from controlplane.api import clusters, scaling
from controlplane.api.context import ApiContext
from controlplane.api.paging import page
from controlplane.ecs import fields
from controlplane.ecs.errors import invalid_parameter
from controlplane.ecs.shapes import paged
from controlplane.ecs.shapes import to_ecs as message_to_ecs
from shoal.v1 import resources_pb2 as r
from shoal.v1 import scaling_pb2 as sc
from shoal.validation import check_name

Body = dict[str, Any]
ASG = "autoScalingGroupProvider"
_ASG_NAME = "autoScalingGroupName/"
# ECS's auto scaling groups carry their own size bounds; a Shoal profile has none, so a
# capacity provider made on the wire may grow to this many nodes (`shoal capacity-provider
# create --min-size/--max-size` sets other bounds).
WIRE_MAX_SIZE = 10
_ON_OFF = ("ENABLED", "DISABLED")
FARGATE_TAG = "shoal:fargate"


def _profile(arn: Any) -> str:
    if not isinstance(arn, str) or not arn:
        raise invalid_parameter(f"{ASG}.autoScalingGroupArn: required: the name of a node provider profile "
                                f"(or an ARN ending {_ASG_NAME}<profile>)")
    if arn.startswith("arn:"):
        if _ASG_NAME not in arn:
            raise invalid_parameter(f"{ASG}.autoScalingGroupArn: an ARN must end {_ASG_NAME}<profile>")
        arn = arn.rpartition(_ASG_NAME)[2]
    return check_name(arn, f"{ASG}.autoScalingGroupArn")


def _settings(asg: Any) -> dict[str, Any]:
    """The managed-scaling settings an autoScalingGroupProvider(Update) gives, checked;
    absent ones are left out."""
    fields.only(asg, ("autoScalingGroupArn", "managedScaling", "managedTerminationProtection", "managedDraining"),
                "not a member of autoScalingGroupProvider", where=ASG)
    ms = asg.get("managedScaling") or {}
    if not isinstance(ms, dict):
        raise invalid_parameter(f"{ASG}.managedScaling: must be an object")
    if fields.choice(ms, "status", _ON_OFF, where=f"{ASG}.managedScaling") == "DISABLED":
        raise invalid_parameter(f"{ASG}.managedScaling.status: DISABLED is not supported: Shoal's autoscaler "
                                "always scales a capacity provider's nodes; delete the capacity provider instead")
    if ms.get("instanceWarmupPeriod") is not None:
        raise invalid_parameter(f"{ASG}.managedScaling.instanceWarmupPeriod: not supported by Shoal: a node "
                                "counts once its agent registers; leave it out")
    if fields.choice(asg, "managedDraining", _ON_OFF, where=ASG) == "DISABLED":
        raise invalid_parameter(f"{ASG}.managedDraining: DISABLED is not supported: Shoal always drains a node "
                                "before its capacity provider removes it")
    protection = fields.choice(asg, "managedTerminationProtection", _ON_OFF, where=ASG)
    where = f"{ASG}.managedScaling"
    out = {
        "target_capacity": fields.integer(ms, "targetCapacity", lo=1, hi=100, where=where),
        "minimum_scaling_step_size": fields.integer(ms, "minimumScalingStepSize", lo=1, hi=10_000, where=where),
        "maximum_scaling_step_size": fields.integer(ms, "maximumScalingStepSize", lo=1, hi=10_000, where=where),
        "managed_termination_protection": None if protection is None else protection == "ENABLED",
    }
    return {k: v for k, v in out.items() if v is not None}


def _no_managed_instances(body: Body) -> None:
    if body.get("managedInstancesProvider"):
        raise invalid_parameter("managedInstancesProvider: not supported by Shoal; use autoScalingGroupProvider "
                                "naming a node provider profile")


def _fargate_mark(ctx: ApiContext, body: Body) -> bool:
    """Whether ``tags`` mark the new provider as its cluster's Fargate provider; any other
    tag, a repeated or non-boolean mark, or a second Fargate provider is refused naming it."""
    tags = body.get("tags")
    if not tags:
        return False
    if not isinstance(tags, list):
        raise invalid_parameter("tags: must be a list of {key, value} objects")
    mark: bool | None = None
    at = 0
    for i, tag in enumerate(tags):
        key = tag.get("key") if isinstance(tag, dict) else None
        if key != FARGATE_TAG:
            raise invalid_parameter(f"tags[{i}].key: {key!r}: a capacity provider takes only the tag "
                                    f"{FARGATE_TAG} (true or false) on Shoal; leave other tags out")
        if mark is not None:
            raise invalid_parameter(f"tags[{i}].key: {FARGATE_TAG} is given more than once")
        value = tag.get("value")
        if value not in ("true", "false"):
            raise invalid_parameter(f"tags[{i}].value: {FARGATE_TAG} must be true or false, not {value!r}")
        mark, at = value == "true", i
    if mark:
        cluster = ctx.require_cluster(str(body.get("cluster") or "")).msg.cluster_name
        held = fargate.provider(ctx.state, cluster)
        if held:
            raise invalid_parameter(f"tags[{at}]: cluster {cluster!r} already has a Fargate capacity provider "
                                    f"({held!r}); a cluster has one")
    return bool(mark)


def to_ecs(cp: sc.CapacityProvider) -> Body:
    out: Body = {
        "capacityProviderArn": cp.capacity_provider_arn,
        "name": cp.name,
        "cluster": cp.cluster,
        "status": cp.status or "ACTIVE",
        "type": "EC2_AUTOSCALING",
        ASG: {
            "autoScalingGroupArn": cp.node_provider.profile,
            "managedScaling": {
                "status": "ENABLED",
                "targetCapacity": cp.target_capacity,
                "minimumScalingStepSize": cp.minimum_scaling_step_size,
                "maximumScalingStepSize": cp.maximum_scaling_step_size,
            },
            "managedTerminationProtection": "ENABLED" if cp.managed_termination_protection else "DISABLED",
            "managedDraining": "ENABLED",
        },
        "tags": [{"key": FARGATE_TAG, "value": "true"}] if cp.fargate else [],
    }
    if cp.update_status:
        out["updateStatus"] = cp.update_status
    if cp.update_status_reason:
        out["updateStatusReason"] = cp.update_status_reason
    return out


def create_capacity_provider(ctx: ApiContext, body: Body) -> Body:
    _no_managed_instances(body)
    asg = fields.required(body, ASG)
    settings = _settings(asg)
    mark = _fargate_mark(ctx, body)
    req = sc.CreateCapacityProviderRequest(
        name=str(body.get("name") or ""), cluster=str(body.get("cluster") or ""),
        node_provider=sc.NodeProviderConfig(profile=_profile(asg.get("autoScalingGroupArn"))),
        min_size=0, max_size=WIRE_MAX_SIZE, fargate=mark,
        **settings,
    )
    return {"capacityProvider": to_ecs(scaling.create_capacity_provider(ctx, req).capacity_provider)}


def update_capacity_provider(ctx: ApiContext, body: Body) -> Body:
    _no_managed_instances(body)
    asg = fields.required(body, ASG)
    if isinstance(asg, dict) and "autoScalingGroupArn" in asg:
        raise invalid_parameter(f"{ASG}.autoScalingGroupArn: cannot be changed; create another capacity provider")
    name = str(fields.required(body, "name"))
    return {"capacityProvider": to_ecs(scaling.update_capacity_provider(ctx, name, **_settings(asg)))}


def delete_capacity_provider(ctx: ApiContext, body: Body) -> Body:
    name = str(fields.required(body, "capacityProvider"))
    cp = scaling.delete_capacity_provider(ctx, sc.DeleteCapacityProviderRequest(name=name)).capacity_provider
    cp.status = "INACTIVE"
    return {"capacityProvider": to_ecs(cp)}


def describe_capacity_providers(ctx: ApiContext, body: Body) -> Body:
    refs = body.get("capacityProviders") or []
    if not isinstance(refs, list) or not all(isinstance(x, str) for x in refs):
        raise invalid_parameter("capacityProviders: must be a list of capacity provider names or ARNs")
    include = body.get("include") or []
    if include not in ([], ["TAGS"]):
        raise invalid_parameter("include: only TAGS")
    req = sc.DescribeCapacityProvidersRequest(names=refs, cluster=str(body.get("cluster") or ""))
    found = {cp.name: cp for cp in scaling.describe_capacity_providers(ctx, req).capacity_providers}
    failures = [{"arn": ref, "reason": "MISSING"} for ref in refs if ref.rsplit("/", 1)[-1] not in found]
    names = page(sorted(found), int(body.get("maxResults") or 0), str(body.get("nextToken") or ""))
    out: Body = {"capacityProviders": [to_ecs(found[n]) for n in names.arns], "failures": failures}
    return paged(out, names)


def strategy_items(value: Any, field: str) -> list[r.CapacityProviderStrategyItem]:
    if not isinstance(value, list) or not all(isinstance(x, dict) for x in value):
        raise invalid_parameter(f"{field}: must be a list of {{capacityProvider, weight, base}} objects")
    items = []
    for i, item in enumerate(value):
        where = f"{field}[{i}]"
        fields.only(item, ("capacityProvider", "weight", "base"), "not a member of a strategy item", where=where)
        items.append(r.CapacityProviderStrategyItem(
            capacity_provider=fields.string(item, "capacityProvider", where=where),
            weight=fields.integer(item, "weight", where=where) or 0,
            base=fields.integer(item, "base", where=where) or 0))
    return items


def put_cluster_capacity_providers(ctx: ApiContext, body: Body) -> Body:
    cluster = fields.string(body, "cluster", required=True)
    providers = body.get("capacityProviders")
    if not isinstance(providers, list) or not all(isinstance(x, str) for x in providers):
        raise invalid_parameter("capacityProviders: required: a list of capacity provider names (empty clears it)")
    strategy = strategy_items(body.get("defaultCapacityProviderStrategy", []), "defaultCapacityProviderStrategy")
    return {"cluster": message_to_ecs(clusters.put_capacity_providers(ctx, cluster, providers, strategy))}


ACTIONS = {
    "PutClusterCapacityProviders": put_cluster_capacity_providers,
    "CreateCapacityProvider": create_capacity_provider,
    "UpdateCapacityProvider": update_capacity_provider,
    "DeleteCapacityProvider": delete_capacity_provider,
    "DescribeCapacityProviders": describe_capacity_providers,
}

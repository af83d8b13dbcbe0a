"""ECS's gateway operations that make, change, associate or describe what a gateway is made
of, mapped onto Shoal's load balancers: CreateGateway makes an application load balancer in
the default cluster with one HTTP listener (``hostSharedAlb.port``); a gateway serves the
one cluster its load balancer lives in, so associating it with that cluster is ACTIVE and
any other association is refused; DescribeGatewayResources lists the load balancer, each
listener and the routes through it. Every member Shoal cannot act on (AWS networking,
TLS, WAF, access logs, ALB counts, test-traffic rules, deletion protection) is refused by
name, never accepted and forgotten."""

from __future__ import annotations

import re
from typing import Any

from controlplane.api import loadbalancers
from controlplane.api.context import ApiContext
from controlplane.api.paging import page
from controlplane.ecs import fields
from controlplane.ecs.errors import EcsError, invalid_parameter
from controlplane.ecs.gateways import active_cluster, find_gateway, gateway_routes, only
from controlplane.ecs.ingress import all_load_balancers, max_results, next_token
from controlplane.ecs.shapes import paged
from shoal.errors import ApiError
from shoal.v1 import resources_pb2 as r
from shoal.v1 import traffic_pb2 as t

Body = dict[str, Any]
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{1,12}:role/[\w+=,.@/-]{1,512}$")
_DEFAULT_PORT = 80
_MAX_TOKEN = 64
# hostSharedAlb members Shoal has nothing to act on: each is refused by name.
_CREATE_UNSUPPORTED = {
    "networkConfiguration": "Shoal's listeners listen on the nodes' own addresses; there are no subnets or "
                            "security groups to choose",
    "scheme": "a listener is on every node's address; there is no internet-facing or internal scheme to choose",
    "webACLArn": "Shoal has no web application firewall",
    "accessLogs": "Shoal's proxies do not write access logs to S3 (their metrics are in Prometheus)",
    "maxAlbCount": "a Shoal gateway is one load balancer, listening on every node",
    "httpDesync": "Shoal's HAProxy has no desync mitigation mode to choose",
    "testTrafficRules": "Shoal routes no test traffic by header",
}
_UPDATE_UNSUPPORTED = dict(_CREATE_UNSUPPORTED)
del _UPDATE_UNSUPPORTED["scheme"]


def _unsupported(field: str, why: str) -> EcsError:
    return EcsError("UnsupportedFeatureException", f"{field}: not supported by Shoal: {why}")


def _role_arn(body: Body, required: bool) -> None:
    """Required by ECS's model for the role AWS would manage the ALB with. Shoal makes the
    load balancer itself under the caller's key, so the ARN is checked for its form only
    (and never stored: DescribeGateway does not report it)."""
    value = fields.string(body, "infrastructureRoleArn", required=required)
    if value and not _ROLE_ARN.match(value):
        raise invalid_parameter(f"infrastructureRoleArn: {value[:256]!r} is not an IAM role ARN "
                                "(arn:aws:iam::<account>:role/<name>)")


def _common(body: Body) -> None:
    if fields.boolean(body, "deletionProtection"):
        raise _unsupported("deletionProtection", "a Shoal load balancer has no deletion protection")
    propagate = body.get("propagateTags")
    if propagate is not None and propagate not in ("NONE", "GATEWAY"):
        raise invalid_parameter("propagateTags: must be NONE or GATEWAY")


def _host_shared_alb(body: Body, required: bool) -> Body:
    config = body.get("configuration")
    if config is None and not required:
        return {}
    if not isinstance(config, dict) or set(config) != {"hostSharedAlb"}:
        raise invalid_parameter("configuration: must set exactly one of its members, hostSharedAlb")
    alb = config["hostSharedAlb"]
    if not isinstance(alb, dict):
        raise invalid_parameter("configuration.hostSharedAlb: must be an object")
    return alb


def _tags(body: Body) -> list[r.Tag]:
    tags = body.get("tags") or []
    if not isinstance(tags, list) or any(not isinstance(x, dict) or set(x) - {"key", "value"} for x in tags):
        raise invalid_parameter("tags: must be a list of {key, value}")
    out = []
    for i, tag in enumerate(tags):
        key, value = tag.get("key"), tag.get("value", "")
        if not isinstance(key, str) or not key or not isinstance(value, str):
            raise invalid_parameter(f"tags[{i}]: key must be a non-empty string, value a string")
        out.append(r.Tag(key=key, value=value))
    return out


def _as_ecs(exc: ApiError) -> EcsError:
    """The load balancer layer's refusals (ELBv2 codes) as the codes ECS's model gives these
    operations; its messages already name the field."""
    code = "ClientException" if exc.ecs_type.startswith(("Duplicate", "TooMany")) else "InvalidParameterException"
    return EcsError(code, exc.message)


def _retried(ctx: ApiContext, name: str, token: str, port: int) -> Body | None:
    """ECS's idempotency: the gateway a create with the same clientToken already made (boto3
    sends the same token when it retries), else None."""
    if not token:
        return None
    home = ctx.require_cluster("").msg.cluster_name
    for lb in all_load_balancers(ctx):
        if (lb.cluster, lb.load_balancer_name, lb.client_token) == (home, name, token) and [
                x.port for x in lb.listeners] == [port]:
            return {"gatewayArn": lb.load_balancer_arn, "name": name, "status": "ACTIVE"}
    return None


def create_gateway(ctx: ApiContext, body: Body) -> Body:
    only(body, {"name", "infrastructureRoleArn", "clientToken", "deletionProtection", "configuration", "tags",
                 "propagateTags"}, "CreateGateway")
    name = fields.string(body, "name", required=True)
    _role_arn(body, required=True)
    token = fields.string(body, "clientToken")
    if len(token) > _MAX_TOKEN:
        raise invalid_parameter(f"clientToken: at most {_MAX_TOKEN} characters")
    _common(body)
    alb = _host_shared_alb(body, required=True)
    only(alb, set(_CREATE_UNSUPPORTED) | {"port", "protocol"}, "configuration.hostSharedAlb")
    for member, why in _CREATE_UNSUPPORTED.items():
        if member in alb:
            raise _unsupported(f"configuration.hostSharedAlb.{member}", why)
    protocol = alb.get("protocol", "HTTP")
    if protocol == "HTTPS":
        raise _unsupported("configuration.hostSharedAlb.protocol", "Shoal's listeners do not terminate TLS")
    if protocol != "HTTP":
        raise invalid_parameter("configuration.hostSharedAlb.protocol: must be HTTP or HTTPS")
    port = alb.get("port", _DEFAULT_PORT)
    if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
        raise invalid_parameter(f"configuration.hostSharedAlb.port: must be an integer from 1 to 65535, "
                                f"got {str(port)[:40]!r}")
    tags = _tags(body)
    if tags and body.get("propagateTags") == "NONE":
        raise _unsupported("propagateTags", "a Shoal gateway is its load balancer: its tags are the load "
                                            "balancer's; use GATEWAY")
    try:
        lb = loadbalancers.create(ctx, t.CreateLoadBalancerRequest(name=name, type="application", tags=tags,
                                                                   client_token=token))
    except ApiError as exc:
        again = _retried(ctx, name, token, port) if exc.ecs_type == "DuplicateLoadBalancerName" else None
        if again is not None:
            return again
        raise _as_ecs(exc) from None
    ref = t.LoadBalancerRef(cluster=lb.load_balancer.cluster, load_balancer=lb.load_balancer.load_balancer_arn)
    try:
        loadbalancers.create_listener(ctx, t.CreateListenerRequest(
            cluster=ref.cluster, load_balancer=ref.load_balancer, port=port, protocol="HTTP"))
    except ApiError as exc:
        # No half-made gateway: the load balancer goes with its listener's refusal.
        try:
            loadbalancers.delete(ctx, ref)
        except ApiError:
            raise EcsError("ServerException", f"name: gateway {name!r} was made without its listener and changed "
                                              "before it could be removed; delete it with DeleteGateway",
                           500) from None
        err = _as_ecs(exc)
        raise EcsError(err.ecs_type, err.message.replace("port:", "configuration.hostSharedAlb.port:", 1)) from None
    return {"gatewayArn": lb.load_balancer.load_balancer_arn, "name": name, "status": "ACTIVE"}


def update_gateway(ctx: ApiContext, body: Body) -> Body:
    """Nothing in UpdateGateway's configuration is something Shoal acts on: each member is
    refused by name; an update that changes nothing answers the gateway."""
    only(body, {"gateway", "infrastructureRoleArn", "deletionProtection", "configuration", "propagateTags"},
          "UpdateGateway")
    lb = find_gateway(ctx, fields.string(body, "gateway", required=True))
    _role_arn(body, required=False)
    _common(body)
    alb = _host_shared_alb(body, required=False)
    only(alb, set(_UPDATE_UNSUPPORTED), "configuration.hostSharedAlb")
    for member, why in _UPDATE_UNSUPPORTED.items():
        if member in alb:
            raise _unsupported(f"configuration.hostSharedAlb.{member}", why)
    if body.get("propagateTags") == "NONE" and lb.tags:
        raise _unsupported("propagateTags", "a Shoal gateway is its load balancer: its tags are the load "
                                            "balancer's")
    return {"gatewayArn": lb.load_balancer_arn, "name": lb.load_balancer_name, "status": "ACTIVE"}


def _association(ctx: ApiContext, body: Body, operation: str) -> tuple[t.LoadBalancer, str]:
    only(body, {"gateway", "cluster"}, operation)
    lb = find_gateway(ctx, fields.string(body, "gateway", required=True))
    return lb, active_cluster(ctx, fields.string(body, "cluster", required=True))


def associate_gateway_with_cluster(ctx: ApiContext, body: Body) -> Body:
    lb, name = _association(ctx, body, "AssociateGatewayWithCluster")
    if name != lb.cluster:
        raise _unsupported("cluster", f"gateway {lb.load_balancer_name!r} routes to the target groups of cluster "
                                      f"{lb.cluster!r}, where its load balancer lives; a Shoal load balancer "
                                      f"cannot serve another cluster (make one in {name!r} with shoal lb "
                                      "create --cluster or ELBv2)")
    return {"gatewayArn": lb.load_balancer_arn, "clusterArn": ctx.arns.cluster(name), "status": "ACTIVE"}


def disassociate_gateway_from_cluster(ctx: ApiContext, body: Body) -> Body:
    lb, name = _association(ctx, body, "DisassociateGatewayFromCluster")
    if name != lb.cluster:
        raise EcsError("ResourceNotFoundException", f"cluster: gateway {lb.load_balancer_name!r} is not "
                                                    f"associated with cluster {name!r}")
    raise _unsupported("cluster", f"gateway {lb.load_balancer_name!r} always serves cluster {name!r}, where its "
                                  "load balancer lives; DeleteGateway removes it")


def describe_gateway_resources(ctx: ApiContext, body: Body) -> Body:
    """One entry per listener of the gateway's load balancer, with the routes through that
    listener."""
    only(body, {"gateway", "maxResults", "nextToken"}, "DescribeGatewayResources")
    lb = find_gateway(ctx, fields.string(body, "gateway", required=True))
    limit = max_results(body, 20)
    if not 1 <= limit <= 20:
        raise invalid_parameter(f"maxResults: must be from 1 to 20, got {limit}")
    listeners = {x.listener_arn: x for x in lb.listeners}
    resp = page(sorted(listeners), limit, next_token(body))
    out: Body = {"gatewayResources": {"gatewayArn": lb.load_balancer_arn, "resources": {"hostSharedAlb": [
        {"loadBalancerArn": lb.load_balancer_arn, "listenerArn": arn,
         "gatewayRouteArns": [x["gatewayRouteArn"] for x in gateway_routes(ctx, [lb], listeners[arn])]}
        for arn in resp.arns]}}}
    return paged(out, resp)


ACTIONS = {
    "CreateGateway": create_gateway,
    "UpdateGateway": update_gateway,
    "AssociateGatewayWithCluster": associate_gateway_with_cluster,
    "DisassociateGatewayFromCluster": disassociate_gateway_from_cluster,
    "DescribeGatewayResources": describe_gateway_resources,
}

"""Who may run which ECS action: the identity an access key carries (its user and role)
judged by the gRPC API's own rules (controlplane.authz.decide), so a viewer's key may
Describe and List but not Create, Delete, Update, Run or Stop, exactly as a viewer's
certificate may on the gRPC API."""

from __future__ import annotations

from controlplane.authz import Denied, decide, record_denial
from controlplane.ecs.errors import EcsError
from shoal.security.ca import Identity

# ECS operations are judged as the gRPC method that does the same work; the ones the
# Operator has under the same name need no entry.
_OPERATOR = "/shoal.v1.Operator/"
_SAME_AS = {
    "StartTask": _OPERATOR + "RunTask",
    "ListServicesByNamespace": _OPERATOR + "ListServices",
    "ListGateways": "/shoal.v1.Traffic/DescribeLoadBalancers",
    "DescribeGateway": "/shoal.v1.Traffic/DescribeLoadBalancers",
    "CreateCapacityProvider": "/shoal.v1.Scaling/CreateCapacityProvider",
    # An update writes what a create writes: the same rule judges it.
    "UpdateCapacityProvider": "/shoal.v1.Scaling/CreateCapacityProvider",
    "DeleteCapacityProvider": "/shoal.v1.Scaling/DeleteCapacityProvider",
    "DescribeCapacityProviders": "/shoal.v1.Scaling/DescribeCapacityProviders",
    "PutClusterCapacityProviders": "/shoal.v1.Scaling/CreateCapacityProvider",
    "ExecuteCommand": "/shoal.v1.Logs/ExecuteCommand",
}


def method_for(action: str) -> str:
    return _SAME_AS.get(action, _OPERATOR + action)


def authorize(action: str, identity: Identity, key_id: str, method: str = "") -> None:
    """Raises AccessDeniedException unless ``identity`` may run ``action``, judged as the
    gRPC ``method`` (a full name; default: the Operator method of the ECS action)."""
    method = method or method_for(action)
    try:
        decide(method, identity)
    except Denied as exc:
        record_denial(exc.reason, identity, exc.message, method=method, access_key=key_id, via="ecs")
        raise EcsError("AccessDeniedException",
                       f"{identity} (access key {key_id}) is not allowed to perform {action}: {exc.message}") from None

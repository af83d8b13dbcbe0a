"""Who may run which ECS action: the identity an access key carries (its user and role)
judged by the gRPC API's own rules (controlplane.authz.decide), so a viewer's key may
Describe and List but not Create, Delete, Update, Run or Stop, exactly as a viewer's
certificate may on the gRPC API. A task's session key (its role's credentials,
controlplane/api/task_credentials.py) is judged by its role's policy instead."""

from __future__ import annotations

import re

from controlplane.api import accesskeys, roles, task_credentials
from controlplane.api.context import ApiContext
from controlplane.authz import Denied, decide, record_denial
from controlplane.ecs.errors import EcsError
from controlplane.iam.policy import allows
from shoal.arns import cluster_name
from shoal.security.ca import Identity
from shoal.v1 import accesskeys_pb2 as ak
from shoal.v1 import roles_pb2 as ro

# ECS operations are judged as the gRPC method that does the same work; the ones the
# Operator has under the same name need no entry.
_OPERATOR = "/shoal.v1.Operator/"
_SAME_AS = {
    "StartTask": _OPERATOR + "RunTask",
    "ListServicesByNamespace": _OPERATOR + "ListServices",
    "ListGateways": "/shoal.v1.Traffic/DescribeLoadBalancers",
    "DescribeGateway": "/shoal.v1.Traffic/DescribeLoadBalancers",
    "ListGatewayClusterAssociations": "/shoal.v1.Traffic/DescribeLoadBalancers",
    "DeleteGateway": "/shoal.v1.Traffic/DeleteLoadBalancer",
    "ListGatewayRoutes": "/shoal.v1.Traffic/DescribeLoadBalancers",
    "DescribeGatewayRoute": "/shoal.v1.Traffic/DescribeLoadBalancers",
    "DescribeGatewayResources": "/shoal.v1.Traffic/DescribeLoadBalancers",
    "CreateGateway": "/shoal.v1.Traffic/CreateLoadBalancer",
    # Changing a gateway or its cluster is changing its load balancer: the rule that
    # creates one judges it.
    "UpdateGateway": "/shoal.v1.Traffic/CreateLoadBalancer",
    "AssociateGatewayWithCluster": "/shoal.v1.Traffic/CreateLoadBalancer",
    "DisassociateGatewayFromCluster": "/shoal.v1.Traffic/CreateLoadBalancer",
    "CreateCapacityProvider": "/shoal.v1.Scaling/CreateCapacityProvider",
    # An update writes what a create writes: the same rule judges it.
    "UpdateCapacityProvider": "/shoal.v1.Scaling/CreateCapacityProvider",
    "DeleteCapacityProvider": "/shoal.v1.Scaling/DeleteCapacityProvider",
    "DescribeCapacityProviders": "/shoal.v1.Scaling/DescribeCapacityProviders",
    "PutClusterCapacityProviders": "/shoal.v1.Scaling/CreateCapacityProvider",
    # Attributes are part of a container instance: reading them is describing it, changing
    # them is changing it.
    "ListAttributes": _OPERATOR + "DescribeContainerInstances",
    "PutAttributes": _OPERATOR + "UpdateContainerInstancesState",
    "DeleteAttributes": _OPERATOR + "UpdateContainerInstancesState",
    "RegisterContainerInstance": _OPERATOR + "UpdateContainerInstancesState",
    "DeleteTaskDefinitions": _OPERATOR + "DeregisterTaskDefinition",
    "UpdateCluster": _OPERATOR + "CreateCluster",
    "UpdateClusterSettings": _OPERATOR + "CreateCluster",
    # Account settings decide what new clusters get.
    "PutAccountSetting": _OPERATOR + "CreateCluster",
    "PutAccountSettingDefault": _OPERATOR + "CreateCluster",
    "DeleteAccountSetting": _OPERATOR + "CreateCluster",
    "ListAccountSettings": _OPERATOR + "DescribeClusters",
    # A service's deployment history is read with the service.
    "ListServiceDeployments": _OPERATOR + "DescribeServices",
    "DescribeServiceDeployments": _OPERATOR + "DescribeServices",
    "DescribeServiceRevisions": _OPERATOR + "DescribeServices",
    "ExecuteCommand": "/shoal.v1.Logs/ExecuteCommand",
    # Task sets are part of their service: reading them is describing it, changing them is
    # updating it.
    "DescribeTaskSets": _OPERATOR + "DescribeServices",
    "CreateTaskSet": _OPERATOR + "UpdateService",
    "UpdateTaskSet": _OPERATOR + "UpdateService",
    "DeleteTaskSet": _OPERATOR + "UpdateService",
    "UpdateServicePrimaryTaskSet": _OPERATOR + "UpdateService",
    # A daemon is a DAEMON service, a daemon task definition a task definition
    # (controlplane/ecs/daemons.py): judged as the same work on those.
    "CreateDaemon": _OPERATOR + "CreateService",
    "UpdateDaemon": _OPERATOR + "UpdateService",
    "DeleteDaemon": _OPERATOR + "DeleteService",
    "DescribeDaemon": _OPERATOR + "DescribeServices",
    "ListDaemons": _OPERATOR + "ListServices",
    "ListDaemonDeployments": _OPERATOR + "DescribeServices",
    "DescribeDaemonDeployments": _OPERATOR + "DescribeServices",
    "DescribeDaemonRevisions": _OPERATOR + "DescribeServices",
    "RegisterDaemonTaskDefinition": _OPERATOR + "RegisterTaskDefinition",
    "DescribeDaemonTaskDefinition": _OPERATOR + "DescribeTaskDefinition",
    "ListDaemonTaskDefinitions": _OPERATOR + "ListTaskDefinitions",
    "DeleteDaemonTaskDefinition": _OPERATOR + "DeregisterTaskDefinition",
    # An express service is a service with its load balancer and policy (controlplane/ecs/express.py).
    "CreateExpressGatewayService": _OPERATOR + "CreateService",
    "UpdateExpressGatewayService": _OPERATOR + "UpdateService",
    "DeleteExpressGatewayService": _OPERATOR + "DeleteService",
    "DescribeExpressGatewayService": _OPERATOR + "DescribeServices",
}


def method_for(action: str) -> str:
    return _SAME_AS.get(action, _OPERATOR + action)


def authorize(action: str, identity: Identity, key_id: str, method: str = "", via: str = "ecs") -> None:
    """Raises AccessDeniedException unless ``identity`` may run ``action``, judged as the
    gRPC ``method`` (a full name; default: the Operator method of the ECS action); ``via``
    names the gateway in the refusal's log."""
    method = method or method_for(action)
    try:
        decide(method, identity)
    except Denied as exc:
        record_denial(exc.reason, identity, exc.message, method=method, access_key=key_id, via=via)
        raise EcsError("AccessDeniedException",
                       f"{identity} (access key {key_id}) is not allowed to perform {action}: {exc.message}") from None


def lookup(ctx: ApiContext, key_id: str) -> ak.AccessKey | ro.TaskCredential | None:
    """The credential an access key id names: an operator's long-term key, or a task's
    live session key (its role credentials)."""
    return accesskeys.active(ctx, key_id) or task_credentials.active(ctx, key_id)


def resource_of(ctx: ApiContext, action: str, body: dict) -> str:
    """The ARN a role's policy judges ``action`` on: the cluster it acts in for the
    operations on a cluster's services, tasks and instances (named by ``cluster``, else the
    default one), ``*`` for the rest (task definitions, capacity providers, settings)."""
    cluster = body.get("cluster")
    if isinstance(cluster, str) and cluster:
        return ctx.arns.cluster(cluster_name(cluster))
    if _CLUSTER_SCOPED.search(action) and "TaskDefinition" not in action:
        return ctx.arns.cluster("default")
    return "*"


_CLUSTER_SCOPED = re.compile(r"Service|Task|ContainerInstance|Attributes")


def authorize_role(ctx: ApiContext, service: str, action: str, cred: ro.TaskCredential, resource: str) -> None:
    """Raises AccessDeniedException unless the role of ``cred`` allows ``service:action``
    on ``resource``, in IAM's words; the policy is read now, so a deleted role denies."""
    role = roles.get(ctx, cred.role_name)
    who = f"arn:aws:sts::{ctx.arns.account}:assumed-role/{cred.role_name}/{cred.task_id}"
    name = f"{service}:{action}"
    if role is None or not allows(roles.policy_of(role), name, resource):
        why = "its role no longer exists" if role is None else f"no identity-based policy allows the {name} action"
        record_denial("role_policy", who, f"{name} on {resource}", access_key=cred.access_key_id,
                      task=cred.task_id, via=service)
        raise EcsError("AccessDeniedException",
                       f"User: {who} is not authorized to perform: {name} on resource: {resource} because {why}")

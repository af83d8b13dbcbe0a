"""The Operator gRPC service: each method hands its request to the module that owns
that resource. Time per method feeds the API latency histogram."""

from __future__ import annotations

from controlplane.api import clusters, filesystems, nodes, service_deployments, services, taskdefs, tasks
from controlplane.api.routed import Routed
from shoal.v1 import operator_pb2_grpc

# The handlers by method name; also for in-process callers (controlplane/apps.py).
ROUTES = {
    "CreateCluster": clusters.create,
    "DeleteCluster": clusters.delete,
    "DescribeClusters": clusters.describe,
    "ListClusters": clusters.list_,
    "RegisterTaskDefinition": taskdefs.register,
    "DeregisterTaskDefinition": taskdefs.deregister,
    "DescribeTaskDefinition": taskdefs.describe,
    "ListTaskDefinitions": taskdefs.list_,
    "ListTaskDefinitionFamilies": taskdefs.families,
    "RunTask": tasks.run,
    "StopTask": tasks.stop,
    "DescribeTasks": tasks.describe,
    "ListTasks": tasks.list_,
    "CreateService": services.create,
    "UpdateService": services.update,
    "DeleteService": services.delete,
    "DescribeServices": services.describe,
    "ListServices": services.list_,
    "ListContainerInstances": nodes.list_,
    "DescribeContainerInstances": nodes.describe,
    "UpdateContainerInstancesState": nodes.update_state,
    "DeregisterContainerInstance": nodes.deregister,
    "StopServiceDeployment": service_deployments.stop,
    "ContinueServiceDeployment": service_deployments.continue_,
    "GetTaskProtection": tasks.get_protection,
    "UpdateTaskProtection": tasks.update_protection,
    "CreateFileSystem": filesystems.create,
    "ListFileSystems": filesystems.list_,
    "DeleteFileSystem": filesystems.delete,
}


class OperatorService(Routed, operator_pb2_grpc.OperatorServicer, routes=ROUTES):
    pass


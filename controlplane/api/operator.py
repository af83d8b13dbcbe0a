"""The Operator gRPC service: each method hands its request to the module that owns
that resource. Time per method feeds the API latency histogram."""

from __future__ import annotations

from controlplane.api import clusters, nodes, services, taskdefs, tasks
from controlplane.api.context import ApiContext
from controlplane.errors import grpc_errors
from controlplane.metrics import API_LATENCY
from shoal.v1 import operator_pb2_grpc

_ROUTES = {
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
}


def _method(name: str, handler):
    timer = API_LATENCY.labels(method=name)

    @grpc_errors
    def call(self: OperatorService, request, context):
        with timer.time():
            return handler(self.ctx, request)

    call.__name__ = name
    return call


class OperatorService(operator_pb2_grpc.OperatorServicer):
    def __init__(self, ctx: ApiContext) -> None:
        self.ctx = ctx


for _name, _handler in _ROUTES.items():
    setattr(OperatorService, _name, _method(_name, _handler))

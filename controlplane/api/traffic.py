"""The Traffic gRPC service: each method hands its request to the module that owns that
resource (load balancers with their listeners and rules, target groups, namespaces)."""

from __future__ import annotations

from controlplane.api import loadbalancers, namespaces, registered_targets, targetgroups
from controlplane.api.context import ApiContext
from controlplane.api.routed import Routed
from shoal.v1 import traffic_pb2 as t
from shoal.v1 import traffic_pb2_grpc

ROUTES = {
    "CreateLoadBalancer": loadbalancers.create,
    "DeleteLoadBalancer": loadbalancers.delete,
    "DescribeLoadBalancers": loadbalancers.describe,
    "CreateListener": loadbalancers.create_listener,
    "DeleteListener": loadbalancers.delete_listener,
    "ModifyListener": loadbalancers.modify_listener,
    "CreateRule": loadbalancers.create_rule,
    "DeleteRule": loadbalancers.delete_rule,
    "CreateTargetGroup": targetgroups.create,
    "ModifyTargetGroup": targetgroups.modify,
    "DeleteTargetGroup": targetgroups.delete,
    "DescribeTargetGroups": targetgroups.describe,
    "DescribeTargetHealth": targetgroups.target_health,
    "CreateNamespace": namespaces.create,
    "DeleteNamespace": namespaces.delete,
    "ListNamespaces": namespaces.list_,
    "RegisterTargets": registered_targets.register,
    "DeregisterTargets": registered_targets.deregister,
}


class TrafficService(Routed, traffic_pb2_grpc.TrafficServicer, routes=ROUTES):
    pass


TRAFFIC_SERVICE_NAME = t.DESCRIPTOR.services_by_name["Traffic"].full_name


def add_traffic_service(ctx: ApiContext, server) -> None:
    traffic_pb2_grpc.add_TrafficServicer_to_server(TrafficService(ctx), server)

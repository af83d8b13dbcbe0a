"""A Traffic servicer on plain dicts, for unit tests of the ELBv2 protocol layer: the same
gRPC interface as the control plane's (``traffic_pb2_grpc.TrafficServicer``), refusing as
it does (NOT_FOUND, ALREADY_EXISTS, FAILED_PRECONDITION, INVALID_ARGUMENT naming the
field), without etcd. ``serve_fake()`` runs it on an in-process gRPC server; ``Stub``
calls it through a channel behind the gateway's ``Traffic`` interface."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from concurrent import futures
from contextlib import contextmanager
from typing import Any

import grpc

from controlplane.ecs.elbv2.errors import TrafficError
from shoal.v1 import resources_pb2 as r
from shoal.v1 import traffic_pb2 as t
from shoal.v1 import traffic_pb2_grpc

_ARN = "arn:aws:elasticloadbalancing:local:000000000000"


class FakeTraffic(traffic_pb2_grpc.TrafficServicer):
    def __init__(self) -> None:
        self.lbs: dict[str, t.LoadBalancer] = {}
        self.tgs: dict[str, t.TargetGroup] = {}
        self.targets: dict[str, list[t.TargetHealthDescription]] = {}
        self.calls: list[tuple[str, Any]] = []
        self._ids = itertools.count(1)

    def _id(self) -> str:
        return f"{next(self._ids):016x}"

    def _lb(self, ref: str, context: Any) -> t.LoadBalancer:
        for lb in self.lbs.values():
            if ref in (lb.load_balancer_arn, lb.load_balancer_name):
                return lb
        context.abort(grpc.StatusCode.NOT_FOUND, f"load_balancer: load balancer {ref!r} not found")
        raise AssertionError

    def _tg(self, ref: str, context: Any) -> t.TargetGroup:
        for tg in self.tgs.values():
            if ref in (tg.target_group_arn, tg.target_group_name):
                return tg
        context.abort(grpc.StatusCode.NOT_FOUND, f"target_group: target group {ref!r} not found")
        raise AssertionError

    def _listener(self, arn: str, context: Any) -> tuple[t.LoadBalancer, t.Listener]:
        for lb in self.lbs.values():
            for item in lb.listeners:
                if item.listener_arn == arn:
                    return lb, item
        context.abort(grpc.StatusCode.NOT_FOUND, f"listener_arn: listener {arn!r} not found")
        raise AssertionError

    def CreateLoadBalancer(self, request: t.CreateLoadBalancerRequest, context: Any) -> t.LoadBalancerResponse:
        self.calls.append(("CreateLoadBalancer", request))
        if not request.name.replace("-", "").isalnum() or len(request.name) > 32:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"name: {request.name!r} must be 1-32 letters, digits "
                                                            "and hyphens")
        if any(lb.load_balancer_name == request.name for lb in self.lbs.values()):
            context.abort(grpc.StatusCode.ALREADY_EXISTS, f"name: load balancer {request.name!r} already exists")
        lb_id = self._id()
        short = "app" if request.type != "network" else "net"
        lb = t.LoadBalancer(load_balancer_arn=f"{_ARN}:loadbalancer/{short}/{request.name}/{lb_id}",
                            load_balancer_name=request.name, type=request.type or "application", state="active",
                            created_at=time.time(), tags=request.tags, cluster="default", id=lb_id)
        self.lbs[lb.load_balancer_arn] = lb
        return t.LoadBalancerResponse(load_balancer=lb)

    def DeleteLoadBalancer(self, request: t.LoadBalancerRef, context: Any) -> t.LoadBalancerResponse:
        lb = self._lb(request.load_balancer, context)
        del self.lbs[lb.load_balancer_arn]
        return t.LoadBalancerResponse(load_balancer=lb)

    def DescribeLoadBalancers(self, request: t.DescribeLoadBalancersRequest,
                              context: Any) -> t.DescribeLoadBalancersResponse:
        if not request.load_balancers:
            return t.DescribeLoadBalancersResponse(load_balancers=list(self.lbs.values()))
        resp = t.DescribeLoadBalancersResponse()
        for ref in request.load_balancers:
            found = [lb for lb in self.lbs.values() if ref in (lb.load_balancer_arn, lb.load_balancer_name)]
            if found:
                resp.load_balancers.extend(found)
            else:
                resp.failures.append(r.Failure(arn=ref, reason="MISSING"))
        return resp

    def CreateListener(self, request: t.CreateListenerRequest, context: Any) -> t.LoadBalancerResponse:
        self.calls.append(("CreateListener", request))
        lb = self._lb(request.load_balancer, context)
        tg = self._tg(request.default_target_group, context)
        if any(x.port == request.port for other in self.lbs.values() for x in other.listeners):
            context.abort(grpc.StatusCode.ALREADY_EXISTS, f"port: a listener already holds port {request.port}")
        listener_arn = lb.load_balancer_arn.replace(":loadbalancer/", ":listener/") + "/" + self._id()
        lb.listeners.append(t.Listener(listener_arn=listener_arn, port=request.port,
                                       protocol=request.protocol or ("HTTP" if lb.type == "application" else "TCP"),
                                       default_target_group_arn=tg.target_group_arn))
        if lb.load_balancer_arn not in tg.load_balancer_arns:
            tg.load_balancer_arns.append(lb.load_balancer_arn)
        return t.LoadBalancerResponse(load_balancer=lb)

    def DeleteListener(self, request: t.ListenerRef, context: Any) -> t.LoadBalancerResponse:
        lb, item = self._listener(request.listener_arn, context)
        lb.listeners.remove(item)
        return t.LoadBalancerResponse(load_balancer=lb)

    def CreateRule(self, request: t.CreateRuleRequest, context: Any) -> t.LoadBalancerResponse:
        self.calls.append(("CreateRule", request))
        lb, item = self._listener(request.listener_arn, context)
        tg = self._tg(request.target_group, context)
        if any(x.priority == request.priority for x in item.rules):
            context.abort(grpc.StatusCode.ALREADY_EXISTS, f"priority: {request.priority} is in use")
        for pattern in request.path_patterns:
            if not pattern.startswith("/"):
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"pathPatterns: {pattern!r} must start with /")
        rule_arn = item.listener_arn.replace(":listener/", ":listener-rule/") + "/" + self._id()
        item.rules.append(t.ListenerRule(rule_arn=rule_arn, priority=request.priority,
                                         host_patterns=request.host_patterns, path_patterns=request.path_patterns,
                                         target_group_arn=tg.target_group_arn))
        return t.LoadBalancerResponse(load_balancer=lb)

    def DeleteRule(self, request: t.RuleRef, context: Any) -> t.LoadBalancerResponse:
        for lb in self.lbs.values():
            for item in lb.listeners:
                for rule in item.rules:
                    if rule.rule_arn == request.rule_arn:
                        item.rules.remove(rule)
                        return t.LoadBalancerResponse(load_balancer=lb)
        context.abort(grpc.StatusCode.NOT_FOUND, f"rule_arn: rule {request.rule_arn!r} not found")
        raise AssertionError

    def CreateTargetGroup(self, request: t.CreateTargetGroupRequest, context: Any) -> t.TargetGroupResponse:
        self.calls.append(("CreateTargetGroup", request))
        if any(tg.target_group_name == request.name for tg in self.tgs.values()):
            context.abort(grpc.StatusCode.ALREADY_EXISTS, f"name: target group {request.name!r} already exists")
        tg_id = self._id()
        check = t.HealthCheckConfig()
        check.CopyFrom(request.health_check)
        check.protocol = check.protocol or ("HTTP" if request.protocol == "HTTP" else "TCP")
        check.interval_seconds = check.interval_seconds or 30
        tg = t.TargetGroup(target_group_arn=f"{_ARN}:targetgroup/{request.name}/{tg_id}",
                           target_group_name=request.name, protocol=request.protocol, port=request.port,
                           health_check=check, created_at=time.time(), tags=request.tags, cluster="default", id=tg_id,
                           deregistration_delay_seconds=(request.deregistration_delay_seconds
                                                         if request.HasField("deregistration_delay_seconds") else 300))
        self.tgs[tg.target_group_arn] = tg
        return t.TargetGroupResponse(target_group=tg)

    def ModifyTargetGroup(self, request: t.ModifyTargetGroupRequest, context: Any) -> t.TargetGroupResponse:
        self.calls.append(("ModifyTargetGroup", request))
        tg = self._tg(request.target_group, context)
        if request.HasField("deregistration_delay_seconds"):
            tg.deregistration_delay_seconds = request.deregistration_delay_seconds
        return t.TargetGroupResponse(target_group=tg)

    def DeleteTargetGroup(self, request: t.TargetGroupRef, context: Any) -> t.TargetGroupResponse:
        tg = self._tg(request.target_group, context)
        users = [x.listener_arn for lb in self.lbs.values() for x in lb.listeners
                 if x.default_target_group_arn == tg.target_group_arn]
        if users:
            context.abort(grpc.StatusCode.FAILED_PRECONDITION,
                          f"target_group: {tg.target_group_name!r} is in use by listener {users[0]}")
        del self.tgs[tg.target_group_arn]
        return t.TargetGroupResponse(target_group=tg)

    def DescribeTargetGroups(self, request: t.DescribeTargetGroupsRequest,
                             context: Any) -> t.DescribeTargetGroupsResponse:
        groups = list(self.tgs.values())
        if request.load_balancer:
            lb = self._lb(request.load_balancer, context)
            groups = [tg for tg in groups if lb.load_balancer_arn in tg.load_balancer_arns]
        if not request.target_groups:
            return t.DescribeTargetGroupsResponse(target_groups=groups)
        resp = t.DescribeTargetGroupsResponse()
        for ref in request.target_groups:
            found = [tg for tg in groups if ref in (tg.target_group_arn, tg.target_group_name)]
            if found:
                resp.target_groups.extend(found)
            else:
                resp.failures.append(r.Failure(arn=ref, reason="MISSING"))
        return resp

    def RegisterTargets(self, request: t.RegisterTargetsRequest, context: Any) -> t.TargetGroupResponse:
        self.calls.append(("RegisterTargets", request))
        return t.TargetGroupResponse(target_group=self._tg(request.target_group, context))

    def DeregisterTargets(self, request: t.RegisterTargetsRequest, context: Any) -> t.TargetGroupResponse:
        self.calls.append(("DeregisterTargets", request))
        return t.TargetGroupResponse(target_group=self._tg(request.target_group, context))

    def DescribeTargetHealth(self, request: t.TargetGroupRef, context: Any) -> t.DescribeTargetHealthResponse:
        tg = self._tg(request.target_group, context)
        return t.DescribeTargetHealthResponse(targets=self.targets.get(tg.target_group_arn, []))


class Stub:
    """The gateway's ``Traffic`` interface over a gRPC channel."""

    def __init__(self, channel: grpc.Channel) -> None:
        self.stub = traffic_pb2_grpc.TrafficStub(channel)

    def call(self, method: str, request: Any) -> Any:
        try:
            return getattr(self.stub, method)(request, timeout=10)
        except grpc.RpcError as exc:
            raise TrafficError(exc.code(), exc.details() or "") from None


@contextmanager
def serve_fake() -> Iterator[tuple[FakeTraffic, Stub]]:
    """The fake on an in-process gRPC server (a free loopback port), and a Stub to it."""
    fake = FakeTraffic()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    traffic_pb2_grpc.add_TrafficServicer_to_server(fake, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield fake, Stub(channel)
    finally:
        channel.close()
        server.stop(None)

"""The Traffic API's unit tests' common ground (tests/unit/test_traffic_api.py and
test_traffic_service_fields.py): an in-memory store with the default cluster and two task
definitions, and the calls that make a load balancer, target group or service in it."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from controlplane.api import loadbalancers, services, targetgroups, taskdefs
from controlplane.api.context import ApiContext
from controlplane.errors import ApiError
from shoal.store.memory import MemoryStore
from shoal.v1 import operator_pb2 as op
from shoal.v1 import resources_pb2 as r
from shoal.v1 import traffic_pb2 as t

WEB = {"family": "web", "containerDefinitions": [
    {"name": "web", "image": "shoal/busybox:latest", "memory": 64,
     "portMappings": [{"containerPort": 8080, "name": "http"}, {"containerPort": 9090}]}]}
STATIC = {"family": "static", "containerDefinitions": [
    {"name": "app", "image": "shoal/busybox:latest", "memory": 64,
     "portMappings": [{"containerPort": 80, "hostPort": 8088}]}]}


def api_context() -> Iterator[ApiContext]:
    """A test's ``ctx`` fixture: the store closed after the test."""
    store = MemoryStore()
    c = ApiContext(store)
    c.ensure_default_cluster()
    for doc in (WEB, STATIC):
        taskdefs.register(c, op.RegisterTaskDefinitionRequest(json=json.dumps(doc)))
    yield c
    store.close()


def fails(fn, ctx, req, match: str, code: str | None = None) -> ApiError:
    with pytest.raises(ApiError) as err:
        fn(ctx, req)
    assert match in err.value.message, err.value.message
    if code is not None:
        assert err.value.ecs_type == code, err.value.ecs_type
    return err.value


def lb(ctx, name="web", port=8000, protocol="", lb_type="") -> t.LoadBalancer:
    loadbalancers.create(ctx, t.CreateLoadBalancerRequest(name=name, type=lb_type))
    return loadbalancers.create_listener(ctx, t.CreateListenerRequest(load_balancer=name, port=port,
                                                                      protocol=protocol)).load_balancer


def tg(ctx, name="api", port=8080, **kw) -> t.TargetGroup:
    return targetgroups.create(ctx, t.CreateTargetGroupRequest(name=name, port=port, **kw)).target_group


def service(ctx, name="web", td="web", **kw) -> r.Service:
    return services.create(ctx, op.CreateServiceRequest(service_name=name, task_definition=td, desired_count=1,
                                                        **kw)).service

"""A definition registered while the cluster's policy was wider is refused when a task is
made from it under the narrower policy (RunTask, CreateService, UpdateService, and the ECS
gateway's same calls), naming the field and the flag; not only by the node it would land
on. On the in-memory store."""

from __future__ import annotations

import json
from collections.abc import Callable

import grpc
import pytest

from controlplane.api import services, taskdefs, tasks
from controlplane.api.context import ApiContext
from controlplane.ecs.actions import ACTIONS
from controlplane.errors import ApiError
from shoal import keys
from shoal.store.memory import MemoryStore
from shoal.taskdef.policy import HostPolicy
from shoal.v1 import operator_pb2 as op
from shoal.v1 import resources_pb2 as r

PLAIN = {"family": "plain", "containerDefinitions": [{"name": "app", "image": "img", "memory": 16}]}
HOSTNET = {"family": "hostnet", "networkMode": "host",
           "containerDefinitions": [{"name": "app", "image": "img", "memory": 16}]}
REFUSAL = "taskDefinition: hostnet:1 is outside this cluster's policy: networkMode: host networking needs " \
          "--allow-host-network"


@pytest.fixture
def ctx() -> ApiContext:
    """Both definitions registered while host networking was allowed; then the operator
    restarted the control plane without --allow-host-network."""
    ctx = ApiContext(MemoryStore(), policy=HostPolicy(host_network=True))
    ctx.ensure_default_cluster()
    for doc in (PLAIN, HOSTNET):
        taskdefs.register(ctx, op.RegisterTaskDefinitionRequest(json=json.dumps(doc)))
    ctx.policy = HostPolicy()
    return ctx


def refused(call: Callable[[], object]) -> str:
    with pytest.raises(ApiError) as info:
        call()
    assert info.value.code == grpc.StatusCode.INVALID_ARGUMENT
    return info.value.message


def no_tasks(ctx: ApiContext) -> bool:
    return not ctx.store.list(keys.TASKS).kvs


def test_run_task_from_a_definition_the_policy_now_refuses_is_refused(ctx: ApiContext) -> None:
    assert refused(lambda: tasks.run(ctx, op.RunTaskRequest(cluster="default", task_definition="hostnet"))) == REFUSAL
    assert no_tasks(ctx)
    assert tasks.run(ctx, op.RunTaskRequest(cluster="default", task_definition="plain")).tasks


def test_create_and_update_service_check_the_definition_too(ctx: ApiContext) -> None:
    assert refused(lambda: services.create(ctx, op.CreateServiceRequest(
        cluster="default", service_name="s", task_definition="hostnet:1", desired_count=1))) == REFUSAL
    assert not ctx.state.services("default")
    services.create(ctx, op.CreateServiceRequest(cluster="default", service_name="s", task_definition="plain",
                                                 desired_count=1))
    assert refused(lambda: services.update(ctx, op.UpdateServiceRequest(
        cluster="default", service="s", task_definition="hostnet"))) == REFUSAL
    assert ctx.state.service("default", "s").msg.task_definition.endswith("plain:1")


def test_the_ecs_gateway_calls_meet_the_same_check(ctx: ApiContext) -> None:
    for action, body in (("RunTask", {"taskDefinition": "hostnet"}),
                         ("CreateService", {"serviceName": "e", "taskDefinition": "hostnet", "desiredCount": 1})):
        assert refused(lambda a=action, b=body: ACTIONS[a](ctx, {"cluster": "default", **b})) == REFUSAL
    assert no_tasks(ctx) and not ctx.state.services("default")


def test_the_check_follows_the_policy_not_the_registration() -> None:
    ctx = ApiContext(MemoryStore(), policy=HostPolicy(host_network=True))
    ctx.ensure_default_cluster()
    taskdefs.register(ctx, op.RegisterTaskDefinitionRequest(json=json.dumps(HOSTNET)))
    task = tasks.run(ctx, op.RunTaskRequest(cluster="default", task_definition="hostnet")).tasks[0]
    assert isinstance(task, r.Task) and task.last_status == "PROVISIONING"

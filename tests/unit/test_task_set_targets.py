"""Task sets behind target groups: CreateTaskSet's ``loadBalancers`` checked like
CreateService's, each task set's tasks targets of its own groups (in their assignments and in
the routing table), a deleted task set's targets draining through the deregistration delay,
and the ECS gateway reporting and refusing ``loadBalancers`` naming the field."""

from __future__ import annotations

import time

import pytest

from controlplane.api import targetgroups
from controlplane.api import task_sets as api
from controlplane.controllers.services import ServiceController
from controlplane.errors import ApiError
from controlplane.routing.table import build_routing_table
from shoal import keys
from shoal.v1 import operator_pb2 as op
from shoal.v1 import resources_pb2 as r
from shoal.v1 import traffic_pb2 as t
from tests.fixtures.plane import Plane, place_and_run
from tests.unit.test_ecs_api import WEB, ecs, ecs_client, gateway  # noqa: F401 (fixtures)
from tests.unit.test_task_sets import _external, _refused


def _group(ctx, name: str, delay: int = 30) -> t.TargetGroup:
    targetgroups.create(ctx, t.CreateTargetGroupRequest(name=name, port=80))
    return targetgroups.modify(ctx, t.ModifyTargetGroupRequest(target_group=name,
                                                               deregistration_delay_seconds=delay)).target_group


def _task_set(plane: Plane, group: t.TargetGroup, scale: float, external_id: str) -> r.TaskSet:
    return api.create(plane.api, "default", "web", task_definition="web", scale=r.Scale(value=scale, unit="PERCENT"),
                      launch_type="", strategy=[], external_id=external_id, tags=[],
                      load_balancers=[r.ServiceLoadBalancer(target_group_arn=group.target_group_arn,
                                                            container_name="web", container_port=80)])


def _serve(plane: Plane, groups: list[t.TargetGroup]) -> None:
    """Every running task as its agent reports it: port 80 bound, healthy in each group."""
    for i, task in enumerate(sorted(plane.tasks().values(), key=lambda x: x.id)):
        if task.last_status != "RUNNING":
            continue
        for c in task.containers:
            del c.network_bindings[:]
            c.network_bindings.add(container_port=80, host_port=32000 + i)
        del task.target_health[:]
        task.target_health.extend(r.TargetHealth(target_group_arn=g.target_group_arn, state="healthy")
                                  for g in groups)
        plane.store.put(keys.task("default", task.id), task.SerializeToString())


def _servers(plane: Plane, groups: list[t.TargetGroup]) -> dict[str, list[tuple[str, bool]]]:
    """Per group name, its servers' task ids and whether each is in rotation."""
    view = plane.view()
    table = build_routing_table("default", [x.msg for x in view.services], [x.msg for x in view.tasks.values()],
                                plane.nodes(), [], groups, [], 1, now=time.time())
    by_id = {g.id: g.target_group_name for g in groups}
    return {by_id[b.name]: sorted((s.name.rsplit("-", 1)[0], s.active) for s in b.servers)
            for b in table.backends if b.name in by_id}


def test_each_task_set_is_a_target_of_its_own_group_and_a_deleted_one_drains(plane: Plane) -> None:
    plane.node("n1", cpu=4096, memory=4096)
    blue_tg, green_tg = _group(plane.api, "blue", delay=30), _group(plane.api, "green", delay=30)
    api.create_service(plane.api, op.CreateServiceRequest(service_name="web", desired_count=2))
    blue = _task_set(plane, blue_tg, 100, "blue")
    green = _task_set(plane, green_tg, 100, "green")
    assert [x.target_group_arn for x in plane.service().task_sets[1].load_balancers] == [green_tg.target_group_arn]
    ctl = ServiceController(plane.writer, plane.api.arns)
    ctl.reconcile(plane.view())
    place_and_run(plane)
    _serve(plane, [blue_tg, green_tg])
    ctl.reconcile(plane.view())

    by_set = {ts: sorted(x.id for x in plane.tasks().values() if x.task_set_id == ts) for ts in (blue.id, green.id)}
    for task in plane.tasks().values():
        want = blue_tg if task.task_set_id == blue.id else green_tg
        assert [x.target_group_arn for x in plane.assignment(task).targets] == [want.target_group_arn]
    assert _servers(plane, [blue_tg, green_tg]) == {
        "blue": [(x, True) for x in by_set[blue.id]], "green": [(x, True) for x in by_set[green.id]]}

    with pytest.raises(ApiError) as caught:
        targetgroups.delete(plane.api, t.TargetGroupRef(target_group="blue"))
    assert f"task set {blue.id}" in caught.value.message

    # Scaled to 0 and deleted: its targets leave rotation at once and drain for the delay.
    api.update_scale(plane.api, "default", "web", blue.id, r.Scale(value=0, unit="PERCENT"))
    before = time.time()
    assert f"task set {blue.id}: stopped 2 tasks" in ctl.reconcile(plane.view())
    api.delete(plane.api, "default", "web", blue.id, force=False)
    for task_id in by_set[blue.id]:
        task = plane.task(task_id)
        assert task.desired_status == "STOPPED" and before + 29 < task.deregister_until < time.time() + 31
    assert _servers(plane, [blue_tg, green_tg]) == {
        "blue": [(x, False) for x in by_set[blue.id]], "green": [(x, True) for x in by_set[green.id]]}
    # Still draining: the DRAINING task set is kept, its tasks still listed in their group.
    assert "deleted" not in ctl.reconcile(plane.view())
    assert [ts.id for ts in plane.service().task_sets] == [blue.id, green.id]
    for task_id in by_set[blue.id]:
        plane.report(task_id, "STOPPED")
    assert f"task set {blue.id}: deleted (no tasks left)" in ctl.reconcile(plane.view())
    assert _servers(plane, [blue_tg, green_tg]) == {"blue": [], "green": [(x, True) for x in by_set[green.id]]}


def test_two_task_sets_behind_one_group_share_it(plane: Plane) -> None:
    plane.node("n1", cpu=4096, memory=4096)
    tg = _group(plane.api, "web")
    api.create_service(plane.api, op.CreateServiceRequest(service_name="web", desired_count=1))
    _task_set(plane, tg, 100, "blue")
    _task_set(plane, tg, 100, "green")
    ctl = ServiceController(plane.writer, plane.api.arns)
    ctl.reconcile(plane.view())
    place_and_run(plane)
    _serve(plane, [tg])
    assert _servers(plane, [tg]) == {"web": sorted((x, True) for x in plane.tasks())}


def test_bad_load_balancers_are_refused_and_nothing_is_written(plane: Plane) -> None:
    tg = _group(plane.api, "web")
    api.create_service(plane.api, op.CreateServiceRequest(service_name="web", desired_count=1))
    cases = [
        (r.ServiceLoadBalancer(target_group_arn=tg.target_group_arn + "x", container_name="web", container_port=80),
         "loadBalancers[0].targetGroupArn:"),
        (r.ServiceLoadBalancer(target_group_arn=tg.target_group_arn, container_name="db", container_port=80),
         "loadBalancers[0].containerName:"),
        (r.ServiceLoadBalancer(target_group_arn=tg.target_group_arn, container_name="web", container_port=81),
         "loadBalancers[0].containerPort:"),
        (r.ServiceLoadBalancer(target_group_arn=tg.target_group_arn, container_port=80),
         "loadBalancers[0].containerName:"),
        (r.ServiceLoadBalancer(container_name="web", container_port=80), "loadBalancers[0].targetGroupArn:"),
    ]
    for entry, field in cases:
        with pytest.raises(ApiError) as caught:
            api.create(plane.api, "default", "web", task_definition="web", scale=r.Scale(value=100), launch_type="",
                       strategy=[], external_id="", tags=[], load_balancers=[entry])
        assert caught.value.message.startswith(field), caught.value.message
        assert caught.value.ecs_type == "InvalidParameterException"
    assert list(plane.service().task_sets) == []


# ---- the gateway --------------------------------------------------------------------------


def test_describe_task_sets_reports_load_balancers_and_bad_ones_are_refused(gateway, ecs) -> None:  # noqa: F811
    ctx, _ = gateway
    tg = targetgroups.create(ctx, t.CreateTargetGroupRequest(name="blue", port=8080)).target_group
    _external(ecs)
    entry = {"targetGroupArn": tg.target_group_arn, "containerName": "web", "containerPort": 8080}
    made = ecs.create_task_set(cluster="default", service="ext", taskDefinition="web", loadBalancers=[entry])
    assert made["taskSet"]["loadBalancers"] == [entry]
    described = ecs.describe_task_sets(cluster="default", service="ext")["taskSets"]
    assert [ts["loadBalancers"] for ts in described] == [[entry]]

    cts = ecs.create_task_set
    for bad, field in [({**entry, "targetGroupArn": tg.target_group_arn + "0"}, "loadBalancers[0].targetGroupArn"),
                       ({**entry, "containerName": "nope"}, "loadBalancers[0].containerName"),
                       ({**entry, "containerPort": 9999}, "loadBalancers[0].containerPort")]:
        _refused(lambda bad=bad: cts(cluster="default", service="ext", taskDefinition="web", loadBalancers=[bad]),
                 "InvalidParameterException", field)
    _refused(lambda: cts(cluster="default", service="ext", taskDefinition="web",
                         serviceRegistries=[{"registryArn": "arn:x"}]), "InvalidParameterException",
             "serviceRegistries")
    assert len(ecs.describe_task_sets(cluster="default", service="ext")["taskSets"]) == 1


@pytest.mark.parametrize("grace, replaced", [(0, True), (600, False)])
def test_a_task_set_target_failing_its_group_check_is_replaced_after_the_grace_period(
        plane: Plane, grace: int, replaced: bool) -> None:
    plane.node("n1", cpu=4096, memory=4096)
    tg = _group(plane.api, "web")
    api.create_service(plane.api, op.CreateServiceRequest(service_name="web", desired_count=2,
                                                          health_check_grace_period_seconds=grace))
    ts = _task_set(plane, tg, 100, "blue")
    ctl = ServiceController(plane.writer, plane.api.arns)
    ctl.reconcile(plane.view())
    place_and_run(plane)
    _serve(plane, [tg])
    sick = sorted(plane.tasks())[0]
    task = plane.task(sick)
    task.target_health[0].state = "unhealthy"
    plane.store.put(keys.task("default", sick), task.SerializeToString())
    said = ctl.reconcile(plane.view())
    if replaced:
        assert f"task set {ts.id}: stopped 1 unhealthy tasks" in said and f"task set {ts.id}: started 1 tasks" in said
        why = f"Task failed ELB health checks in (target-group {tg.target_group_arn})"
        assert plane.task(sick).stopped_reason == why
        assert plane.task(sick).deregister_until > time.time()
    else:
        assert said == "" and plane.task(sick).desired_status == "RUNNING"


def test_an_external_services_grace_period_is_kept_and_checked(plane: Plane) -> None:
    svc = api.create_service(plane.api, op.CreateServiceRequest(service_name="web",
                                                                health_check_grace_period_seconds=30))
    assert plane.service().health_check_grace_period_seconds == svc.health_check_grace_period_seconds == 30
    with pytest.raises(ApiError) as caught:
        api.create_service(plane.api, op.CreateServiceRequest(service_name="other",
                                                              health_check_grace_period_seconds=-1))
    assert caught.value.message.startswith("healthCheckGracePeriodSeconds:")

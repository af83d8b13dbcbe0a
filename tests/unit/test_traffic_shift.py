"""Blue/green, canary and linear deployments: the configuration refused by name, the stages a
deployment passes (pure, with explicit clocks), the HAProxy weights each revision's servers
get at each step, PAUSE hooks, and the service controller carrying it out over an in-memory
store (green up in full beside blue, blue stopped only after the bake, a rollback returning
all traffic to blue)."""

from __future__ import annotations

import pytest

from controlplane import traffic_shift as ts
from controlplane.api import service_deployments
from controlplane.controllers.services import ServiceController
from controlplane.errors import ApiError
from controlplane.routing import sources
from controlplane.routing.table import build_routing_table
from shoal import keys
from shoal.v1 import operator_pb2 as op
from shoal.v1 import resources_pb2 as r
from shoalctl.cli import main
from tests.fixtures.plane import WEB, Plane, place_and_run
from tests.unit.test_routing_drain import TG, observe
from tests.unit.test_service_deployments import cli  # noqa: F401 (fixture)


def config(strategy: str, **fields) -> r.DeploymentConfiguration:
    return r.DeploymentConfiguration(strategy=strategy, minimum_healthy_percent=100, maximum_percent=200, **fields)


CANARY = config("CANARY", canary_configuration=r.CanaryConfiguration(canary_percent=10,
                                                                     canary_bake_time_in_minutes=5),
                bake_time_in_minutes=10)


@pytest.mark.parametrize("dc, lbs, field", [
    (config("SIDEWAYS"), True, "deploymentConfiguration.strategy"),
    (config("BLUE_GREEN"), False, "deploymentConfiguration.strategy"),
    (config("CANARY"), True, "deploymentConfiguration.canaryConfiguration.canaryPercent"),
    (config("CANARY", canary_configuration=r.CanaryConfiguration(canary_percent=0)), True,
     "deploymentConfiguration.canaryConfiguration.canaryPercent"),
    (config("CANARY", canary_configuration=r.CanaryConfiguration(canary_percent=100.5)), True,
     "deploymentConfiguration.canaryConfiguration.canaryPercent"),
    (config("LINEAR", linear_configuration=r.LinearConfiguration(step_percent=2)), True,
     "deploymentConfiguration.linearConfiguration.stepPercent"),
    (config("BLUE_GREEN", canary_configuration=r.CanaryConfiguration(canary_percent=5)), True,
     "deploymentConfiguration.canaryConfiguration"),
    (config("BLUE_GREEN", bake_time_in_minutes=-1), True, "deploymentConfiguration.bakeTimeInMinutes"),
    (config("ROLLING", lifecycle_hooks=[r.DeploymentLifecycleHook(target_type="PAUSE",
                                                                  lifecycle_stages=["POST_SCALE_UP"])]),
     True, "deploymentConfiguration.lifecycleHooks"),
    (config("BLUE_GREEN", lifecycle_hooks=[r.DeploymentLifecycleHook(target_type="AWS_LAMBDA",
                                                                     lifecycle_stages=["POST_SCALE_UP"])]),
     True, "deploymentConfiguration.lifecycleHooks[0].targetType"),
    (config("BLUE_GREEN", lifecycle_hooks=[r.DeploymentLifecycleHook(target_type="PAUSE",
                                                                     lifecycle_stages=["TEST_TRAFFIC_SHIFT"])]),
     True, "deploymentConfiguration.lifecycleHooks[0].lifecycleStages"),
])
def test_a_configuration_shoal_cannot_carry_out_is_refused_by_name(dc, lbs, field) -> None:
    with pytest.raises(ApiError) as caught:
        ts.check(dc, lbs)
    assert caught.value.message.startswith(field + ":")


def test_the_steps_of_each_strategy() -> None:
    assert ts.steps(config("BLUE_GREEN")) == [(100.0, 0.0)]
    assert ts.steps(CANARY) == [(10.0, 300.0), (100.0, 0.0)]
    linear = config("LINEAR", linear_configuration=r.LinearConfiguration(step_percent=30, step_bake_time_in_minutes=2))
    assert ts.steps(linear) == [(30.0, 120.0), (60.0, 120.0), (90.0, 120.0), (100.0, 0.0)]


def shifting_service(dc: r.DeploymentConfiguration) -> tuple[r.Service, r.Deployment]:
    svc = r.Service(service_name="web", desired_count=4, deployment_configuration=dc,
                    load_balancers=[r.ServiceLoadBalancer(target_group_arn="arn:tg/web")])
    svc.deployments.add(id="green", status="PRIMARY", rollout_state="IN_PROGRESS")
    svc.deployments.add(id="blue", status="ACTIVE", rollout_state="COMPLETED")
    return svc, svc.deployments[0]


def backend_weights(svc: r.Service, green: int = 4, blue: int = 4) -> dict[str, int]:
    """The weights of one backend's servers: ``green`` of the new revision, ``blue`` of the old."""
    shares = ts.shares(svc)
    servers = {f"g{i}": ("green", shares.get("green", 0.0)) for i in range(green)}
    servers |= {f"b{i}": ("blue", shares.get("blue", 0.0)) for i in range(blue)}
    return ts.weights(servers)


def green_fraction(weights: dict[str, int]) -> float:
    return sum(w for n, w in weights.items() if n.startswith("g")) / sum(weights.values())


def test_a_canarys_weights_at_each_step() -> None:
    svc, green = shifting_service(CANARY)
    t0 = 1000.0
    said = ts.advance(CANARY, green, True, green_healthy=2, desired=4, now=t0).said
    # Green is scaling up and takes no traffic yet.
    assert green.lifecycle_stage == "SCALE_UP" and said == "deployment green at SCALE_UP"
    assert set(backend_weights(svc, green=2).values()) == {0, 256} and green_fraction(backend_weights(svc)) == 0
    said = ts.advance(CANARY, green, True, green_healthy=4, desired=4, now=t0 + 30).said
    assert green.lifecycle_stage == "PRODUCTION_TRAFFIC_SHIFT" and green.traffic_percent == 10
    assert "shifted 10% of traffic to deployment green" in said
    weights = backend_weights(svc)
    assert weights == {**{f"g{i}": 28 for i in range(4)}, **{f"b{i}": 256 for i in range(4)}}
    assert green_fraction(weights) == pytest.approx(0.10, abs=0.005)
    # Uneven counts: each revision's servers together still take its share.
    assert green_fraction(backend_weights(svc, green=4, blue=2)) == pytest.approx(0.10, abs=0.005)
    # The canary holds for canaryBakeTimeInMinutes.
    assert ts.advance(CANARY, green, True, 4, 4, now=t0 + 30 + 299).said == ""
    assert green.traffic_percent == 10
    said = ts.advance(CANARY, green, True, 4, 4, now=t0 + 30 + 300).said
    assert green.traffic_percent == 100 and green.lifecycle_stage == "BAKE_TIME"
    assert "deployment green takes all traffic" in said
    assert set(backend_weights(svc).values()) == {0, 256} and green_fraction(backend_weights(svc)) == 1
    # Blue keeps running (weight 0) through the bake time, then is cleaned up.
    bake_from = green.stage_started_at
    ts.advance(CANARY, green, True, 4, 4, now=bake_from + 599)
    assert green.lifecycle_stage == "BAKE_TIME"
    ts.advance(CANARY, green, True, 4, 4, now=bake_from + 600)
    assert green.lifecycle_stage == "CLEAN_UP"


def test_linear_steps_and_blue_green_at_once() -> None:
    linear = config("LINEAR", linear_configuration=r.LinearConfiguration(step_percent=25,
                                                                         step_bake_time_in_minutes=1))
    svc, green = shifting_service(linear)
    seen = []
    now = 0.0
    ts.advance(linear, green, True, 4, 4, now=now)
    while green.lifecycle_stage == "PRODUCTION_TRAFFIC_SHIFT":
        seen.append((green.traffic_percent, round(green_fraction(backend_weights(svc)), 2)))
        now += 60
        ts.advance(linear, green, True, 4, 4, now=now)
    assert seen == [(25, 0.25), (50, 0.5), (75, 0.75)]
    assert green.traffic_percent == 100 and green.lifecycle_stage == "CLEAN_UP"  # no bake time
    bg = config("BLUE_GREEN")
    svc, green = shifting_service(bg)
    ts.advance(bg, green, True, 4, 4, now=0)
    assert green.lifecycle_stage == "CLEAN_UP" and green_fraction(backend_weights(svc)) == 1


def test_the_first_deployment_has_nothing_to_shift_from() -> None:
    svc, green = shifting_service(CANARY)
    assert "nothing to shift" in ts.advance(CANARY, green, False, 0, 4, now=0).said
    assert green.lifecycle_stage == "CLEAN_UP" and green.traffic_percent == 100


def paused(stage: str, **timeout) -> r.DeploymentConfiguration:
    return config("BLUE_GREEN", lifecycle_hooks=[r.DeploymentLifecycleHook(
        target_type="PAUSE", lifecycle_stages=[stage],
        timeout_configuration=r.DeploymentLifecycleHookTimeoutConfiguration(**timeout))])


def test_a_pause_hook_holds_its_stage_until_continued_once_before_its_deadline() -> None:
    dc = paused("POST_SCALE_UP", timeout_in_minutes=5)
    svc, green = shifting_service(dc)
    said = ts.advance(dc, green, True, 4, 4, now=0).said
    hook = ts.hook_id(green, "POST_SCALE_UP", 0)
    assert said.endswith(f"waits at POST_SCALE_UP for hook {hook} (ContinueServiceDeployment)")
    assert ts.advance(dc, green, True, 4, 4, now=60).said.startswith("deployment green waits")
    assert green_fraction(backend_weights(svc)) == 0
    with pytest.raises(ApiError, match="hookId: no hook 'nope'"):
        ts.continue_hook(green, "nope", "CONTINUE", now=60)
    assert ts.continue_hook(green, hook, "CONTINUE", now=60) == "SUCCEEDED"
    with pytest.raises(ApiError, match="is SUCCEEDED, not AWAITING_ACTION"):
        ts.continue_hook(green, hook, "CONTINUE", now=61)
    ts.advance(dc, green, True, 4, 4, now=61)
    assert green.lifecycle_stage == "CLEAN_UP"
    # Past its deadline a hook cannot be continued; its timeout action (ROLLBACK) applies.
    svc, green = shifting_service(dc)
    ts.advance(dc, green, True, 4, 4, now=0)
    with pytest.raises(ApiError, match="timed out"):
        ts.continue_hook(green, hook, "CONTINUE", now=300)
    out = ts.advance(dc, green, True, 4, 4, now=300)
    assert out.rollback.endswith("timed out.") and green.hooks[0].status == "TIMED_OUT"
    # A CONTINUE timeout action lets it go on by itself.
    dc = paused("PRE_PRODUCTION_TRAFFIC_SHIFT", timeout_in_minutes=1, action="CONTINUE")
    svc, green = shifting_service(dc)
    ts.advance(dc, green, True, 4, 4, now=0)
    assert green.lifecycle_stage == "PRE_PRODUCTION_TRAFFIC_SHIFT"
    ts.advance(dc, green, True, 4, 4, now=60)
    assert green.lifecycle_stage == "CLEAN_UP" and green.traffic_percent == 100


# ---- the service controller ------------------------------------------------------------------

def shifting(plane: Plane, dc: r.DeploymentConfiguration, count: int = 4) -> ServiceController:
    """A service attached to TG, its tasks RUNNING and healthy targets, with ``dc``."""
    plane.node("n1", cpu=16384, memory=16384)
    plane.store.put(sources.TARGETGROUPS + "default/web", TG.SerializeToString())
    svc = r.Service(service_name="web", cluster="default", status="ACTIVE", desired_count=count,
                    task_definition=plane.td.task_definition_arn, deployment_configuration=dc,
                    service_arn=plane.api.arns.service("default", "web"),
                    cluster_arn=plane.api.arns.cluster("default"),
                    load_balancers=[r.ServiceLoadBalancer(target_group_arn=TG.target_group_arn, container_name="web",
                                                          container_port=80)])
    plane.store.put(keys.service("default", "web"), svc.SerializeToString())
    ctl = ServiceController(plane.writer, plane.api.arns)
    run(plane, ctl)
    assert plane.service().deployments[0].rollout_state == "COMPLETED"
    return ctl


def run(plane: Plane, ctl: ServiceController, cycles: int = 2) -> str:
    said = []
    for _ in range(cycles):
        said.append(ctl.reconcile(plane.view()))
        for task in place_and_run(plane):
            observe(plane, task.id, "healthy")
        for task in plane.tasks().values():
            if task.desired_status == "STOPPED" and task.last_status != "STOPPED":
                plane.report(task.id, "STOPPED")
    return "; ".join(s for s in said if s)


def deploy_v2(plane: Plane) -> str:
    v2 = plane.register({**WEB, "containerDefinitions": [{**WEB["containerDefinitions"][0], "image": "busybox:2"}]})
    svc = plane.service()
    svc.task_definition = v2.task_definition_arn
    for d in svc.deployments:
        d.status = "ACTIVE"
    svc.deployments.insert(0, r.Deployment(id="ecs-svc/2", status="PRIMARY", task_definition=v2.task_definition_arn,
                                           desired_count=svc.desired_count, rollout_state="IN_PROGRESS"))
    plane.store.put(keys.service("default", "web"), svc.SerializeToString())
    return v2.task_definition_arn


def live_by_revision(plane: Plane) -> dict[str, int]:
    out: dict[str, int] = {}
    for task in plane.tasks().values():
        if task.desired_status == "RUNNING" and task.last_status == "RUNNING":
            out[task.task_definition_arn] = out.get(task.task_definition_arn, 0) + 1
    return out


def routed_share(plane: Plane, td: str) -> float:
    """The share of new requests ``td``'s servers get in the routing table."""
    view = plane.view()
    table = build_routing_table("default", [s.msg for s in view.services], [t.msg for t in view.tasks.values()],
                                [n.msg for n in view.nodes.values()], [], [TG], [], 1, now=0)
    tasks = plane.tasks()
    weights = {s.name: (s.weight if s.HasField("weight") else 1) for s in table.backends[0].servers if s.active}
    total = sum(weights.values())
    return sum(w for name, w in weights.items() if tasks[name.rsplit("-", 1)[0]].task_definition_arn == td) / total


def test_a_blue_green_deployment_brings_green_up_in_full_then_switches_and_cleans_up(plane: Plane) -> None:
    ctl = shifting(plane, config("BLUE_GREEN"))
    v1 = plane.td.task_definition_arn
    v2 = deploy_v2(plane)
    said = run(plane, ctl, cycles=1)
    assert "started 4 tasks" in said and "stopped" not in said
    assert live_by_revision(plane) == {v1: 4, v2: 4} and routed_share(plane, v2) == 0
    said = run(plane, ctl, cycles=1)
    # All green healthy: the switch and (no bake time) the clean-up in one cycle.
    assert "shifted 100% of traffic" in said and "stopped 4 replaced tasks" in said
    assert live_by_revision(plane) == {v2: 4} and routed_share(plane, v2) == 1
    run(plane, ctl)
    assert [(d.task_definition, d.rollout_state) for d in plane.service().deployments] == [(v2, "COMPLETED")]


def test_a_canary_takes_its_share_through_the_routing_table_and_blue_waits(plane: Plane, monkeypatch) -> None:
    ctl = shifting(plane, CANARY)
    v2 = deploy_v2(plane)
    run(plane, ctl, cycles=2)
    assert routed_share(plane, v2) == pytest.approx(0.10, abs=0.005)
    assert len(live_by_revision(plane)) == 2  # blue keeps all its tasks during the canary
    stage = plane.service().deployments[0]
    assert (stage.lifecycle_stage, stage.traffic_percent) == ("PRODUCTION_TRAFFIC_SHIFT", 10)
    entry = max(plane.service().service_deployments, key=lambda e: e.created_at)
    assert entry.lifecycle_stage == "PRODUCTION_TRAFFIC_SHIFT"
    assert entry.target_service_revision.requested_production_traffic_weight == 10


def test_a_rollback_during_the_shift_returns_all_traffic_to_blue(plane: Plane) -> None:
    ctl = shifting(plane, CANARY)
    v1 = plane.td.task_definition_arn
    v2 = deploy_v2(plane)
    run(plane, ctl, cycles=2)
    assert routed_share(plane, v2) > 0
    entry = max(plane.service().service_deployments, key=lambda e: e.created_at)
    service_deployments.stop(plane.api, op.StopServiceDeploymentRequest(
        service_deployment_arn=entry.service_deployment_arn))
    assert routed_share(plane, v1) == 1  # at once, before any task stops
    run(plane, ctl, cycles=3)
    assert live_by_revision(plane) == {v1: 4}
    svc = plane.service()
    assert svc.task_definition == v1 and svc.deployments[0].rollout_state == "COMPLETED"
    assert max(svc.service_deployments, key=lambda e: e.created_at).status == "ROLLBACK_SUCCESSFUL"


def test_a_paused_deployment_waits_for_continue_service_deployment(plane: Plane) -> None:
    ctl = shifting(plane, paused("POST_SCALE_UP"))
    v2 = deploy_v2(plane)
    said = run(plane, ctl, cycles=3)
    assert "waits at POST_SCALE_UP" in said and routed_share(plane, v2) == 0
    entry = max(plane.service().service_deployments, key=lambda e: e.created_at)
    (hook,) = entry.lifecycle_hook_details
    assert (hook.status, hook.target_type) == ("AWAITING_ACTION", "PAUSE")

    def cont(**fields) -> None:
        service_deployments.continue_(plane.api, op.ContinueServiceDeploymentRequest(
            service_deployment_arn=entry.service_deployment_arn, **fields))

    with pytest.raises(ApiError, match="action: CONTINUE or ROLLBACK"):
        cont(hook_id=hook.hook_id, action="MAYBE")
    cont(hook_id=hook.hook_id)
    with pytest.raises(ApiError, match="SUCCEEDED, not AWAITING_ACTION"):
        cont(hook_id=hook.hook_id)  # continued twice
    run(plane, ctl, cycles=2)
    assert routed_share(plane, v2) == 1 and live_by_revision(plane) == {v2: 4}


def test_the_circuit_breaker_during_a_canary_returns_all_traffic_to_blue(plane: Plane) -> None:
    dc = r.DeploymentConfiguration()
    dc.CopyFrom(CANARY)
    dc.deployment_circuit_breaker.enable = dc.deployment_circuit_breaker.rollback = True
    ctl = shifting(plane, dc)
    v1 = plane.td.task_definition_arn
    v2 = deploy_v2(plane)
    run(plane, ctl, cycles=2)
    assert routed_share(plane, v2) == pytest.approx(0.10, abs=0.005)
    # Three canary tasks die (the threshold for 4 desired).
    for task in [t for t in plane.tasks().values() if t.task_definition_arn == v2][:3]:
        plane.report(task.id, "STOPPED", stop_code="EssentialContainerExited", stopped_reason="crashed")
    said = ctl.reconcile(plane.view())
    assert "circuit breaker tripped" in said and f"rolling back to {v1}" in said
    assert routed_share(plane, v1) == 1
    run(plane, ctl, cycles=3)
    assert live_by_revision(plane) == {v1: 4}
    entry = max(plane.service().service_deployments, key=lambda e: e.created_at)
    assert entry.status == "ROLLBACK_SUCCESSFUL" and entry.deployment_circuit_breaker.status == "TRIGGERED"


def test_the_cli_sets_a_strategy_and_continues_a_paused_deployment(plane: Plane, cli, capsys) -> None:  # noqa: F811
    ctl = shifting(plane, config("ROLLING"))
    assert main.main(["service", "update", "web", "--strategy", "CANARY", "--canary-percent", "150"]) == 1
    assert "deploymentConfiguration.canaryConfiguration.canaryPercent" in capsys.readouterr().err
    assert main.main(["service", "update", "web", "--strategy", "CANARY", "--canary-percent", "20",
                      "--canary-minutes", "0", "--pause-at", "POST_SCALE_UP"]) == 0
    dc = plane.service().deployment_configuration
    assert (dc.strategy, dc.canary_configuration.canary_percent, list(dc.lifecycle_hooks[0].lifecycle_stages)) == \
        ("CANARY", 20, ["POST_SCALE_UP"])
    assert main.main(["service", "continue", "web"]) == 1
    assert "no deployment waits at a hook" in capsys.readouterr().err
    v2 = deploy_v2(plane)
    run(plane, ctl, cycles=2)
    assert routed_share(plane, v2) == 0
    assert main.main(["service", "continue", "web"]) == 0
    assert "at POST_SCALE_UP: CONTINUE" in capsys.readouterr().out
    run(plane, ctl, cycles=2)
    assert live_by_revision(plane) == {v2: 4} and routed_share(plane, v2) == 1

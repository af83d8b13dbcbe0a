"""Critical daemons: the pure decision (a run of failures with nothing RUNNING for the
grace drains the node; a scheduler's stop or a RUNNING task ends the run; an activation
forgets what came before) and the daemon controller carrying it out on the in-memory store:
the failing node drained with its reason and a service event, its replicas moved away, a
healthy, non-critical or already-draining node left alone, and the API's refusals."""

from __future__ import annotations

import time

import grpc
import pytest

from controlplane.api import nodes as node_api
from controlplane.api import services
from controlplane.controllers.critical import GRACE_SECONDS, drain_reason, failing_since
from controlplane.controllers.daemons import node_of
from controlplane.controllers.services import ServiceController
from controlplane.ecs import actions
from controlplane.errors import ApiError
from shoal import keys
from shoal.v1 import operator_pb2 as op
from shoal.v1 import resources_pb2 as r
from shoalctl.cli import main
from tests.fixtures.plane import Plane, place_and_run, stop_told
from tests.unit.test_service_deployments import cli  # noqa: F401 (a fixture)

AGENT = {"family": "agent", "containerDefinitions": [
    {"name": "agent", "image": "busybox", "cpu": 128, "memory": 256}]}
NOW = 10_000.0


def stopped(at: float, code: str = "EssentialContainerExited", exit_code: int | None = 1) -> r.Task:
    t = r.Task(last_status="STOPPED", stopped_at=at, stop_code=code)
    c = t.containers.add(name="agent")
    if exit_code is not None:
        c.exit_code = exit_code
    return t


# ---- the pure decision -------------------------------------------------------------------------


def test_a_run_of_failures_starts_at_its_first_failure() -> None:
    runs = [stopped(NOW - 100), stopped(NOW - 50, "TaskFailedToStart", None), stopped(NOW - 10)]
    assert failing_since(runs) == NOW - 100
    # A task stopped by the scheduler (a deployment) ends the run; so does a clean exit.
    assert failing_since([stopped(NOW - 100), stopped(NOW - 60, "ServiceSchedulerInitiated", 137),
                          stopped(NOW - 10)]) == NOW - 10
    assert failing_since([stopped(NOW - 100), stopped(NOW - 60, exit_code=0)]) is None
    # A task RUNNING again: not failing, whatever came before.
    assert failing_since([*runs, r.Task(last_status="RUNNING")]) is None
    assert failing_since([]) is None
    # Failures before the node was last activated are forgotten.
    assert failing_since(runs, after=NOW - 60) == NOW - 50


def test_drain_only_after_the_grace() -> None:
    node = r.ContainerInstance(id="n1")
    assert drain_reason("agent", node, [stopped(NOW - GRACE_SECONDS + 1)], NOW) == ""
    why = drain_reason("agent", node, [stopped(NOW - GRACE_SECONDS)], NOW)
    assert "critical daemon agent" in why and "n1" in why
    # A task still starting does not stop the clock: only RUNNING does.
    assert drain_reason("agent", node, [stopped(NOW - 90), r.Task(last_status="PROVISIONING")], NOW) != ""
    node.activated_at = NOW - 30
    assert drain_reason("agent", node, [stopped(NOW - 90)], NOW) == ""


# ---- the controller ----------------------------------------------------------------------------


def critical_service(plane: Plane, critical: bool = True) -> ServiceController:
    plane.register(AGENT)
    services.create(plane.api, op.CreateServiceRequest(
        cluster="default", service_name="agent", task_definition="agent:1", scheduling_strategy="DAEMON",
        daemon_critical=critical))
    return ServiceController(plane.writer, plane.api.arns)


def daemon_on(plane: Plane, node: str) -> r.Task:
    (t,) = [t for t in plane.tasks().values() if t.service_name == "agent" and node_of(t) == node
            and t.last_status != "STOPPED"]
    return t


def fail(plane: Plane, task: r.Task, ago: float) -> None:
    """The agent's report of a daemon whose essential container exited with code 1."""
    plane.report(task.id, "STOPPED", stop_code="EssentialContainerExited", stopped_at=time.time() - ago)
    t = plane.task(task.id)
    for c in t.containers:
        c.exit_code = 1
    plane.store.put(keys.task("default", t.id), t.SerializeToString())


def node(plane: Plane, name: str) -> r.ContainerInstance:
    return next(n for n in plane.nodes() if n.id == name)


def test_a_failing_critical_daemon_drains_its_node_after_the_grace(plane: Plane) -> None:
    for n in ("n1", "n2"):
        plane.node(n, memory=2048)
    services.create(plane.api, op.CreateServiceRequest(
        cluster="default", service_name="web", task_definition="web:1", desired_count=2))
    replicas = ServiceController(plane.writer, plane.api.arns)
    ctl = critical_service(plane)
    ctl.reconcile(plane.view())
    replicas.reconcile(plane.view())
    place_and_run(plane)
    assert ctl.reconcile(plane.view()) == ""  # healthy: nothing to do

    fail(plane, daemon_on(plane, "n1"), ago=5)
    said = ctl.reconcile(plane.view())  # within the grace: a new task, no drain
    assert "drained" not in said and node(plane, "n1").status == "ACTIVE"
    # The replacement fails too and nothing has run there since the first failure, 90 s ago.
    place_and_run(plane)
    first = [t for t in plane.tasks().values() if t.service_name == "agent" and t.node_id == "n1"
             and t.last_status == "STOPPED"][0]
    plane.report(first.id, "STOPPED", stopped_at=time.time() - 90)
    fail(plane, daemon_on(plane, "n1"), ago=1)
    said = ctl.reconcile(plane.view())
    assert "drained n1: critical daemon failing" in said
    n1 = node(plane, "n1")
    assert n1.status == "DRAINING" and "critical daemon agent failed on container instance n1" in n1.status_reason
    assert any("drained container instance n1" in e.message for e in plane.service("agent").events)
    assert node(plane, "n2").status == "ACTIVE"
    # The drain moves the replicas away as any drain does.
    n1_web = [t for t in plane.tasks().values() if t.service_name == "web" and t.node_id == "n1"]
    assert n1_web
    for _ in range(3):  # within minimumHealthyPercent: started on n2, then stopped on n1
        replicas.reconcile(plane.view())
        place_and_run(plane)
    assert all(plane.task(t.id).desired_status == "STOPPED" for t in n1_web)
    # Already draining: no second event.
    events = len(plane.service("agent").events)
    assert "drained" not in ctl.reconcile(plane.view())
    assert len(plane.service("agent").events) == events

    # Back only by an operator's activate, which forgets the failures before it.
    node_api.update_state(plane.api, op.UpdateContainerInstancesStateRequest(
        cluster="default", container_instances=["n1"], status="ACTIVE"))
    assert "drained" not in ctl.reconcile(plane.view())
    n1 = node(plane, "n1")
    assert n1.status == "ACTIVE" and n1.status_reason == ""
    # Failing again after the activation (as if it were 200 s ago): drained again.
    n1.activated_at = time.time() - 200
    plane.store.put(keys.node("default", "n1"), n1.SerializeToString())
    stop_told(plane)  # the drain's stops, done by the agent
    ctl.reconcile(plane.view())
    place_and_run(plane)
    fail(plane, daemon_on(plane, "n1"), ago=90)
    assert "drained n1" in ctl.reconcile(plane.view())
    assert node(plane, "n1").status == "DRAINING"


def test_a_failing_daemon_that_is_not_critical_drains_nothing(plane: Plane) -> None:
    plane.node("n1", memory=2048)
    ctl = critical_service(plane, critical=False)
    ctl.reconcile(plane.view())
    place_and_run(plane)
    fail(plane, daemon_on(plane, "n1"), ago=600)
    assert "drained" not in ctl.reconcile(plane.view())
    assert node(plane, "n1").status == "ACTIVE"


def test_critical_is_refused_on_a_replica_service(plane: Plane) -> None:
    with pytest.raises(ApiError) as e:
        services.create(plane.api, op.CreateServiceRequest(
            cluster="default", service_name="web", task_definition="web:1", desired_count=1, daemon_critical=True))
    assert e.value.code == grpc.StatusCode.INVALID_ARGUMENT and str(e.value.message).startswith("daemonCritical")
    assert plane.store.get(keys.service("default", "web")) is None
    services.create(plane.api, op.CreateServiceRequest(
        cluster="default", service_name="web", task_definition="web:1", desired_count=1))
    with pytest.raises(ApiError, match="daemonCritical"):
        services.update(plane.api, op.UpdateServiceRequest(cluster="default", service="web", daemon_critical=True))
    assert not plane.service("web").daemon_critical


def test_update_marks_a_daemon_critical(plane: Plane) -> None:
    critical_service(plane, critical=False)
    services.update(plane.api, op.UpdateServiceRequest(cluster="default", service="agent", daemon_critical=True))
    assert plane.service("agent").daemon_critical


def test_the_cli_marks_a_daemon_critical_and_refuses_a_replica(plane: Plane, cli, capsys) -> None:  # noqa: F811
    plane.register(AGENT)
    assert main.main(["service", "create", "agent", "--taskdef", "agent:1", "--daemon", "--critical"]) == 0
    assert plane.service("agent").daemon_critical
    assert main.main(["service", "update", "agent", "--no-critical"]) == 0
    assert not plane.service("agent").daemon_critical
    capsys.readouterr()
    assert main.main(["service", "create", "web", "--taskdef", "web:1", "--desired", "1", "--critical"]) != 0
    assert "daemonCritical" in capsys.readouterr().err
    assert plane.store.get(keys.service("default", "web")) is None


def test_the_ecs_wire_carries_daemon_critical_as_a_shoal_extension(plane: Plane) -> None:
    plane.register(AGENT)
    out = actions.create_service(plane.api, {"cluster": "default", "serviceName": "agent",
                                             "taskDefinition": "agent:1", "schedulingStrategy": "DAEMON",
                                             "daemonCritical": True})
    assert plane.service("agent").daemon_critical
    # Shoal's own fields stay out of ECS's Service shape (botocore's model has no such member).
    assert "daemonCritical" not in out["service"]
    with pytest.raises(ApiError, match="daemonCritical"):
        actions.create_service(plane.api, {"cluster": "default", "serviceName": "web", "taskDefinition": "web:1",
                                           "desiredCount": 1, "daemonCritical": True})
    assert plane.store.get(keys.service("default", "web")) is None


# ---- the per-service grace ---------------------------------------------------------------------


def test_a_daemons_own_grace_decides_when_its_node_drains(plane: Plane) -> None:
    plane.node("n1", memory=2048)
    plane.register(AGENT)
    services.create(plane.api, op.CreateServiceRequest(
        cluster="default", service_name="agent", task_definition="agent:1", scheduling_strategy="DAEMON",
        daemon_critical=True, daemon_critical_grace_seconds=300))
    ctl = ServiceController(plane.writer, plane.api.arns)
    ctl.reconcile(plane.view())
    place_and_run(plane)
    # 120 s failed: past the default (60 s) but within this service's 300 s.
    fail(plane, daemon_on(plane, "n1"), ago=120)
    assert "drained" not in ctl.reconcile(plane.view())
    assert node(plane, "n1").status == "ACTIVE"
    # Shortened to 100 s: the same failure now drains the node.
    services.update(plane.api, op.UpdateServiceRequest(cluster="default", service="agent",
                                                       daemon_critical_grace_seconds=100))
    assert "drained n1" in ctl.reconcile(plane.view())
    n1 = node(plane, "n1")
    assert n1.status == "DRAINING" and "within 100s" in n1.status_reason


@pytest.mark.parametrize("grace", [5, 86_401, -1])
def test_a_grace_out_of_bounds_is_refused(plane: Plane, grace: int) -> None:
    plane.register(AGENT)
    with pytest.raises(ApiError, match="daemonCriticalGraceSeconds: must be between 10 and 86400"):
        services.create(plane.api, op.CreateServiceRequest(
            cluster="default", service_name="agent", task_definition="agent:1", scheduling_strategy="DAEMON",
            daemon_critical=True, daemon_critical_grace_seconds=grace))
    assert plane.store.get(keys.service("default", "agent")) is None


def test_a_grace_without_critical_is_refused_not_kept(plane: Plane) -> None:
    critical_service(plane, critical=False)
    with pytest.raises(ApiError, match="daemonCriticalGraceSeconds: only a critical daemon"):
        services.update(plane.api, op.UpdateServiceRequest(cluster="default", service="agent",
                                                           daemon_critical_grace_seconds=120))
    assert plane.service("agent").daemon_critical_grace_seconds == 0
    services.update(plane.api, op.UpdateServiceRequest(cluster="default", service="agent", daemon_critical=True,
                                                       daemon_critical_grace_seconds=120))
    assert plane.service("agent").daemon_critical_grace_seconds == 120
    # No longer critical: the grace goes with it.
    services.update(plane.api, op.UpdateServiceRequest(cluster="default", service="agent", daemon_critical=False))
    assert plane.service("agent").daemon_critical_grace_seconds == 0


def test_the_cli_sets_a_critical_grace(plane: Plane, cli, capsys) -> None:  # noqa: F811
    plane.register(AGENT)
    assert main.main(["service", "create", "agent", "--taskdef", "agent:1", "--daemon", "--critical",
                      "--critical-grace", "45"]) == 0
    assert plane.service("agent").daemon_critical_grace_seconds == 45
    capsys.readouterr()
    assert main.main(["service", "update", "agent", "--critical-grace", "3"]) != 0
    assert "daemonCriticalGraceSeconds" in capsys.readouterr().err
    assert plane.service("agent").daemon_critical_grace_seconds == 45

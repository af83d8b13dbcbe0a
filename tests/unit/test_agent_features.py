"""Container-level features on the agent side, against the in-memory runtime: specs carry
volumes, volumesFrom, ulimits, init and capabilities; dependsOn conditions; the restart
policy; container output for `shoal logs`."""

from __future__ import annotations

import time

import pytest

from agent import dependencies, restarts, spec, volumes
from agent.agent import Agent, AgentConfig
from agent.hollow import HollowRuntime
from agent.logs import LogRelay, hollow_lines
from agent.outbox import Outbox
from agent.reconcile import plan, sync_observed
from agent.runtime import ContainerInfo, Mount, Ulimit
from agent.tasks import LocalContainer, LocalTask
from shoal.v1 import agent_pb2
from shoal.v1 import resources_pb2 as r
from tests.fakegateway import assignment
from tests.waiting import wait_for


def featured() -> r.TaskAssignment:
    a = assignment("t" * 32, [
        r.ContainerDefinition(
            name="app", image="img", volumes_from=[r.VolumeFrom(source_container="data", read_only=True)],
            mount_points=[r.MountPoint(source_volume="scratch", container_path="/s"),
                          r.MountPoint(source_volume="cache", container_path="/c", read_only=True),
                          r.MountPoint(source_volume="host", container_path="/h")],
            ulimits=[r.Ulimit(name="nofile", soft_limit=100, hard_limit=200)],
            linux_parameters=r.LinuxParameters(init_process_enabled=True, capabilities=r.KernelCapabilities(
                add=["CAP_NET_ADMIN"], drop=["mknod"])),
        ),
        r.ContainerDefinition(name="data", image="img", essential=False),
    ])
    a.task_definition.volumes.extend([
        r.Volume(name="scratch"),
        r.Volume(name="cache", docker_volume_configuration=r.DockerVolumeConfiguration(
            scope="shared", autoprovision=True, driver="local", labels={"team": "a"})),
        r.Volume(name="host", host=r.HostVolumeProperties(source_path="/srv/data")),
        r.Volume(name="lookup", docker_volume_configuration=r.DockerVolumeConfiguration(scope="shared")),
    ])
    return a


def test_spec_carries_volumes_volumes_from_ulimits_init_and_capabilities() -> None:
    built = spec.build(featured(), node_id="n1")
    assert [c.name for c, _ in built] == ["data", "app"], "volumesFrom sources are created first"
    app = built[1][1]
    assert app.mounts == (Mount(f"shoal-{'t' * 32}-scratch", "/s"), Mount("cache", "/c", True),
                          Mount("/srv/data", "/h"))
    assert app.volumes_from == (f"{spec.container_name('t' * 32, 'data')}:ro",)
    assert app.ulimits == (Ulimit("nofile", 100, 200),)
    assert app.init and app.cap_add == ("NET_ADMIN",) and app.cap_drop == ("MKNOD",)


def test_volume_sources_scope_and_autoprovision() -> None:
    by_name, needed = volumes.sources(featured(), "n1")
    assert by_name["host"] == "/srv/data"
    made = {v.name: v for v in needed}
    scratch = made[f"shoal-{'t' * 32}-scratch"]
    assert scratch.create and scratch.labels[volumes.LABEL_SCOPE] == "task" and scratch.labels["shoal.node"] == "n1"
    assert made["cache"].create and made["cache"].labels == {"team": "a", volumes.LABEL_SCOPE: "shared"}
    assert not made["lookup"].create, "a shared volume without autoprovision must exist already"


@pytest.mark.parametrize("condition,info,expected", [
    ("START", ContainerInfo("x", "x", {}, state="running"), (True, "")),
    ("COMPLETE", ContainerInfo("x", "x", {}, state="exited", exit_code=9), (True, "")),
    ("SUCCESS", ContainerInfo("x", "x", {}, state="running"), (False, "")),
    ("SUCCESS", ContainerInfo("x", "x", {}, state="exited", exit_code=0), (True, "")),
    ("SUCCESS", ContainerInfo("x", "x", {}, state="exited", exit_code=3), (False, "exited with code 3")),
    ("HEALTHY", ContainerInfo("x", "x", {}, state="running", health="HEALTHY"), (True, "")),
    ("HEALTHY", ContainerInfo("x", "x", {}, state="running", health="UNHEALTHY"), (False, "is unhealthy")),
])
def test_condition_state(condition, info, expected) -> None:
    assert dependencies.condition_state(condition, info) == expected


def _dependent_task(rt: HollowRuntime, condition: str) -> tuple[LocalTask, r.ContainerDefinition]:
    task = LocalTask("t1")
    for name in ("init", "app"):
        task.containers[name] = LocalContainer(name)
    init_id = rt.create(spec.ContainerSpec(name="init", image="img", labels={}))
    rt.start(init_id)
    task.containers["init"].runtime_id = init_id
    cdef = r.ContainerDefinition(name="app", depends_on=[r.ContainerDependency(container_name="init",
                                                                                 condition=condition)])
    return task, cdef


def test_failed_success_dependency_names_the_container_and_code() -> None:
    rt = HollowRuntime()
    task, cdef = _dependent_task(rt, "SUCCESS")
    rt.exit(task.containers["init"].runtime_id, 3)
    with pytest.raises(dependencies.DependencyFailed, match="depends on init .SUCCESS., but init exited with code 3"):
        dependencies.wait_for_dependencies(rt, task, cdef, 5, lambda: False, poll=0.01)


def test_dependency_wait_times_out_and_can_be_cancelled() -> None:
    rt = HollowRuntime()
    task, cdef = _dependent_task(rt, "COMPLETE")
    with pytest.raises(dependencies.DependencyFailed, match="DependencyTimeout: container app waited"):
        dependencies.wait_for_dependencies(rt, task, cdef, 0.05, lambda: False, poll=0.01)
    with pytest.raises(dependencies.Cancelled):
        dependencies.wait_for_dependencies(rt, task, cdef, 5, lambda: True, poll=0.01)


def test_start_timeout_comes_from_the_container_definition() -> None:
    td = r.TaskDefinition(container_definitions=[r.ContainerDefinition(name="a", start_timeout=7),
                                                 r.ContainerDefinition(name="b")])
    assert dependencies.start_timeouts(td, 120) == {"a": 7.0, "b": 120}


def test_agent_stops_task_whose_success_dependency_fails() -> None:
    rt = HollowRuntime()
    agent = Agent(AgentConfig(node_id="n1"), rt)
    a = assignment("t1", [
        r.ContainerDefinition(name="init", image="img", essential=False),
        r.ContainerDefinition(name="app", image="img",
                              depends_on=[r.ContainerDependency(container_name="init", condition="SUCCESS")]),
    ])
    agent.apply_assignments(agent_pb2.Assignments(revision=1, tasks=[a]))
    # The hollow init "exits" with 4 as soon as it runs.
    rt._emit = lambda c, action: rt.exit(c.info.id, 4) if action == "start" and c.spec.name.endswith("init") else None
    agent.run_cycle()
    task = agent.tasks["t1"]
    assert task.last_status == "STOPPED" and task.stop_code == "TaskFailedToStart"
    assert "init exited with code 4" in task.stopped_reason
    assert task.containers["app"].last_status == "STOPPED"


def test_restart_policy_decisions() -> None:
    c = LocalContainer("app", restart_policy=r.RestartPolicy(enabled=True, ignored_exit_codes=[0],
                                                             restart_attempt_period=60), started_at=100.0)
    assert restarts.decide(c, 0, 1000) == (False, "restart policy: exit code 0 is ignored")
    assert restarts.decide(c, 1, 1000) == (True, "")
    ok, why = restarts.decide(c, 1, 130)
    assert not ok and "within the 60s restartAttemptPeriod" in why
    assert restarts.decide(c, 1, 130, cap=10) == (True, "")
    c.restart_count, c.last_restart_at = 1, 990.0
    assert not restarts.decide(c, 1, 1000)[0], "at most once per period since the last restart"
    assert restarts.decide(LocalContainer("x"), 1, 1000) == (False, "")


def test_exited_container_with_a_restart_policy_is_restarted_in_place() -> None:
    rt = HollowRuntime()
    agent = Agent(AgentConfig(node_id="n1", restart_period_cap=0), rt)
    a = assignment("t1", [r.ContainerDefinition(name="app", image="img",
                                                restart_policy=r.RestartPolicy(enabled=True))])
    agent.apply_assignments(agent_pb2.Assignments(revision=1, tasks=[a]))
    agent.run_cycle()
    cid = agent.tasks["t1"].containers["app"].runtime_id
    rt.exit(cid, 1)
    assert "restarting containers of 1 task" in agent.run_cycle()
    c = agent.tasks["t1"].containers["app"]
    assert rt.inspect(cid).state == "running" and c.runtime_id == cid
    assert c.restart_count == 1 and c.reason == "restarted 1 time (restart policy)"
    assert agent.tasks["t1"].last_status == "RUNNING"


def test_sync_leaves_restartable_container_running_and_plans_a_restart() -> None:
    task = LocalTask("t1", last_status="RUNNING")
    task.containers["app"] = LocalContainer("app", runtime_id="c1", last_status="RUNNING",
                                            restart_policy=r.RestartPolicy(enabled=True))
    observed = {"t1": [ContainerInfo("c1", "n", {"shoal.task": "t1"}, state="exited", exit_code=2)]}
    sync_observed({"t1": task}, observed, now=1000.0)
    assert task.containers["app"].restart_pending and task.containers["app"].last_status == "RUNNING"
    p = plan({"t1": assignment("t1")}, {"t1": task}, observed, now=1000.0, gc_delay=30)
    assert [(x.kind, x.container_ids) for x in p.actions] == [("restart", ("app",))]


# ---- logs ---------------------------------------------------------------------------------

def test_hollow_lines_tail_since_and_follow() -> None:
    start = time.time() - 5.5
    lines = list(hollow_lines("c", start, lambda: True, follow=False))
    assert len(lines) == 5 and lines[0] == b"c: hollow line 0\n"
    assert list(hollow_lines("c", start, lambda: True, follow=False, tail=2)) == lines[3:]
    assert list(hollow_lines("c", start, lambda: True, follow=False, since=start + 3.2)) == lines[4:]
    stream = hollow_lines("c", time.time(), lambda: True, follow=True, interval=0.01)
    it = iter(stream)
    assert next(it) == b"c: hollow line 0\n"
    stream.close()
    assert list(it) == []


def test_log_relay_streams_then_cancels() -> None:
    rt = HollowRuntime()
    agent = Agent(AgentConfig(node_id="n1"), rt)
    agent.apply_assignments(agent_pb2.Assignments(revision=1, tasks=[assignment("t1")]))
    agent.run_cycle()
    outbox = Outbox()
    relay = LogRelay(agent)

    def ask(**kw) -> None:
        relay.handle(agent_pb2.ControlMessage(log_request=agent_pb2.LogRequest(request_id="r1", task_id="t1", **kw)),
                     outbox)

    ask(container="nope")
    refused = outbox.take(timeout=5).log_chunk
    assert refused.error.startswith("container: task t1 has no container 'nope'")
    ask(follow=True)
    first = outbox.take(timeout=5).log_chunk
    assert first.request_id == "r1" and first.data.startswith(b"shoal-")
    assert relay.active() == 1
    relay.handle(agent_pb2.ControlMessage(cancel_logs=agent_pb2.CancelLogs(request_id="r1")), outbox)
    wait_for(lambda: relay.active() == 0, 5, "the cancelled read to end", interval=0.01)

"""The agent's pure decisions: sync of observed containers, then the plan."""

from agent import reconcile
from agent.runtime import LABEL_CONTAINER, LABEL_ESSENTIAL, LABEL_TASK, ContainerInfo
from agent.tasks import LocalContainer, LocalTask
from tests.fakegateway import assignment


def info(task_id: str, cid: str, state: str = "running", exit_code: int | None = None, name: str = "main",
         essential: bool = True) -> ContainerInfo:
    return ContainerInfo(id=cid, name=f"shoal-{task_id}-{name}", state=state, exit_code=exit_code,
                         labels={LABEL_TASK: task_id, LABEL_CONTAINER: name,
                                 LABEL_ESSENTIAL: "true" if essential else "false"})


def running(task_id: str, cid: str = "c1", name: str = "main", essential: bool = True) -> LocalTask:
    t = LocalTask(task_id=task_id, last_status="RUNNING")
    t.containers[name] = LocalContainer(name=name, runtime_id=cid, last_status="RUNNING", essential=essential)
    return t


def test_nothing_started_or_removed_before_first_assignment_set():
    tasks = {"t1": running("t1")}
    p = reconcile.plan(None, tasks, {"t1": [info("t1", "c1")]}, now=0, gc_delay=0)
    assert p.actions == []
    assert "nothing to do" in p.sentence or "waiting" in p.sentence


def test_new_running_task_is_started_once_and_busy_tasks_left_alone():
    a = assignment("t1")
    p = reconcile.plan({"t1": a}, {}, {}, now=0, gc_delay=30)
    assert [(x.kind, x.task_id) for x in p.actions] == [("start", "t1")]
    assert "starting 1 task" in p.sentence
    busy = reconcile.plan({"t1": a}, {}, {}, now=0, gc_delay=30, busy={"t1"})
    assert busy.actions == [] and "1 busy" in busy.sentence


def test_task_absent_from_set_is_removed_without_report():
    p = reconcile.plan({}, {"t1": running("t1")}, {"t1": [info("t1", "c1")]}, now=0, gc_delay=30)
    assert p.of("remove") == [reconcile.Action("remove", "t1", container_ids=("c1",))]


def test_desired_stopped_stops_with_control_plane_reason():
    a = assignment("t1", desired="STOPPED")
    a.task.stop_code, a.task.stopped_reason = "UserInitiated", "stopped by alice"
    p = reconcile.plan({"t1": a}, {"t1": running("t1")}, {"t1": [info("t1", "c1")]}, now=0, gc_delay=30)
    assert p.of("stop") == [reconcile.Action("stop", "t1", "UserInitiated", "stopped by alice")]


def test_essential_exit_stops_task_non_essential_does_not():
    tasks = {"t1": running("t1")}
    tasks["t1"].containers["side"] = LocalContainer(name="side", runtime_id="c2", last_status="RUNNING",
                                                    essential=False)
    observed = {"t1": [info("t1", "c1"), info("t1", "c2", "exited", 3, "side", essential=False)]}
    changed = reconcile.sync_observed(tasks, observed)
    assert changed == {"t1"}
    assert tasks["t1"].containers["side"].exit_code == 3
    p = reconcile.plan({"t1": assignment("t1")}, tasks, observed, now=0, gc_delay=30)
    assert p.actions == []
    observed["t1"][0] = info("t1", "c1", "exited", 1)
    reconcile.sync_observed(tasks, observed)
    p = reconcile.plan({"t1": assignment("t1")}, tasks, observed, now=0, gc_delay=30)
    assert [(x.kind, x.stop_code) for x in p.actions] == [("stop", "EssentialContainerExited")]


def test_stopped_task_is_collected_after_gc_delay_and_never_restarted():
    t = running("t1")
    t.mark_stopped("EssentialContainerExited", "Essential container in task exited", now=100)
    observed = {"t1": [info("t1", "c1", "exited", 0)]}
    a = assignment("t1")  # the control plane has not caught up: still desired RUNNING
    assert reconcile.plan({"t1": a}, {"t1": t}, observed, now=110, gc_delay=30).actions == []
    p = reconcile.plan({"t1": a}, {"t1": t}, observed, now=131, gc_delay=30)
    assert [x.kind for x in p.actions] == ["gc"]
    assert reconcile.plan({"t1": a}, {"t1": t}, {}, now=200, gc_delay=30).actions == []


def test_unknown_task_the_control_plane_thinks_running_is_reported_lost_not_restarted():
    a = assignment("t1", last_status="RUNNING")
    p = reconcile.plan({"t1": a}, {}, {}, now=0, gc_delay=30)
    assert [x.kind for x in p.actions] == ["report_stopped"]


def test_half_started_containers_without_record_are_removed():
    p = reconcile.plan({"t1": assignment("t1")}, {}, {"t1": [info("t1", "c1", "created")]}, now=0, gc_delay=30)
    assert [x.kind for x in p.actions] == ["remove"]


def test_container_removed_behind_our_back_counts_as_stopped():
    tasks = {"t1": running("t1")}
    assert reconcile.sync_observed(tasks, {}) == {"t1"}
    assert tasks["t1"].containers["main"].last_status == "STOPPED"

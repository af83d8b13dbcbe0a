"""One writer per record: the table in controlplane/writers.py (and docs/architecture.md),
the guard that enforces it, the gateway's narrow observed-fields write, and the one-way flow
of a task (API wish -> leader decision -> agent observation) on the in-memory store."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from controlplane.api import task_reports, taskdefs, tasks
from controlplane.api.agent_stream import AgentStream, Outbox
from controlplane.api.agents import AgentGatewayService
from controlplane.api.context import ApiContext
from controlplane.assignments import AssignmentFeed
from controlplane.cache import Cache
from controlplane.controllers.assignments import AssignmentController
from controlplane.controllers.gc import TaskGC
from controlplane.controllers.loop import ControllerLoop
from controlplane.controllers.nodes import NodeController
from controlplane.controllers.placement import PlacementController
from controlplane.controllers.services import ServiceController
from controlplane.controllers.view import View, Writer
from controlplane.state import decode
from controlplane.writers import WRITERS, StrayWrite, WriterCheck
from shoal import keys
from shoal.election import Election
from shoal.replica_lease import ReplicaLease
from shoal.store.base import Delete, Put
from shoal.store.memory import MemoryStore
from shoal.v1 import agent_pb2
from shoal.v1 import operator_pb2 as op
from shoal.v1 import resources_pb2 as r
from tests.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]


# ---- the guard -------------------------------------------------------------------------


def _write_as(module: str, code: str, **names) -> None:
    """Runs ``code`` as if it were a line of ``module``: the guard names writers by module."""
    exec(compile(code, f"<{module}>", "exec"), {"__name__": module, "keys": keys, **names})


@pytest.fixture
def guarded() -> Iterator[WriterCheck]:
    store = WriterCheck(MemoryStore())
    yield store
    store.close()


def test_a_stray_write_from_a_module_the_table_does_not_name_is_refused(guarded: WriterCheck) -> None:
    # What StopTask did before: the API writing the node's assignment itself.
    for code in ('store.put(keys.assignment("n1", "t1"), b"x")',
                 'store.txn([], [Put(keys.task("default", "t1"), b"x"), Put(keys.assignment("n1", "t1"), b"x")])',
                 'store.delete(keys.assignment("n1", "t1"))'):
        with pytest.raises(StrayWrite, match="controlplane.api.tasks wrote /shoal/v1/assignments/n1/t1"):
            _write_as("controlplane.api.tasks", code, store=guarded, Put=Put)
    assert guarded.get(keys.task("default", "t1")) is None  # nothing of the refused txn landed
    # The gateway may write a task's observed fields, never a node's assignments.
    with pytest.raises(StrayWrite):
        _write_as("controlplane.api.task_reports", 'store.put(keys.assignment("n1", "t1"), b"x")', store=guarded)
    # A delete by prefix covers every kind under it.
    with pytest.raises(StrayWrite):
        _write_as("controlplane.api.scaling", 'store.txn([], [Delete(keys.PREFIX, prefix=True)])',
                  store=guarded, Delete=Delete)


def test_the_named_writer_passes_and_unlisted_prefixes_are_not_checked(guarded: WriterCheck) -> None:
    _write_as("controlplane.controllers.view", 'store.put(keys.assignment("n1", "t1"), b"x")', store=guarded)
    _write_as("controlplane.api.tasks", 'store.put(keys.task("default", "t1"), b"x")', store=guarded)
    _write_as("controlplane.api.tasks", 'store.put("/shoal/v1/secrets/x", b"x")', store=guarded)
    assert guarded.get(keys.assignment("n1", "t1")).value == b"x"


def test_the_architecture_doc_names_the_same_writers_as_the_table() -> None:
    doc = (ROOT / "docs" / "architecture.md").read_text()
    named: dict[str, set[str]] = {}
    for line in doc.splitlines():
        m = re.match(r"\| `(/shoal/v1/[a-z-]+/)[^`]*` \|.*\|(.*)\|$", line)
        if m:
            # Paths are under controlplane/ unless they say shoal/ (the core: leader election).
            named[m[1]] = {(p if p.startswith("shoal/") else "controlplane/" + p).replace("/", ".")
                           for p in re.findall(r"`([a-z_/]+)\.py`", m[2])}
    assert named == {prefix: set(allowed) for prefix, allowed in WRITERS.items()}


# ---- the gateway's narrow write --------------------------------------------------------


def _placed_task() -> r.Task:
    task = r.Task(id="t1", cluster="default", task_arn="arn:t1", task_definition_arn="arn:td:1",
                  last_status="PENDING", desired_status="RUNNING", node_id="n1", group="family:web",
                  container_instance_arn="arn:n1", cpu="128", memory="64", version=3, service_name="web")
    task.containers.add(name="web", image="busybox", last_status="PENDING", container_arn="arn:c")
    task.containers[0].network_bindings.add(container_port=80, host_port=32768, protocol="tcp")
    return task


def _spec(task: r.Task) -> r.Task:
    """``task`` without its observed fields."""
    spec = r.Task()
    spec.CopyFrom(task)
    for f in task_reports.OBSERVED_TASK_FIELDS - {"containers"}:
        spec.ClearField(f)
    for c in spec.containers:
        for f in task_reports.OBSERVED_CONTAINER_FIELDS:
            c.ClearField(f)
    return spec


def test_a_report_changes_observed_fields_only() -> None:
    stored = _placed_task()
    change = agent_pb2.TaskStateChange(task_id="t1", last_status="STOPPED", stopped_reason="exited",
                                       stop_code="EssentialContainerExited", at=100.0)
    change.containers.add(name="web", last_status="STOPPED", exit_code=137, runtime_id="abc", image="evil",
                          container_arn="arn:other")
    new = task_reports.observed_update(stored, change)
    assert new is not None
    assert new.last_status == "STOPPED" and new.stopped_at == 100.0 and new.stop_code == "EssentialContainerExited"
    assert new.containers[0].exit_code == 137 and new.containers[0].runtime_id == "abc"
    assert new.desired_status == "RUNNING"  # the leader's to change, not the agent's
    assert _spec(new) == _spec(stored)
    assert new.version == stored.version + 1
    assert task_reports.observed_update(new, change) is None  # the same report again: no write


def test_whatever_the_merge_does_desire_and_placement_come_from_the_stored_record(monkeypatch) -> None:
    def rogue_merge(task: r.Task, change: agent_pb2.TaskStateChange) -> None:
        task.last_status = "RUNNING"
        task.desired_status = "STOPPED"
        task.node_id = "elsewhere"
        task.service_name = ""
        task.containers[0].image = "evil"
        task.containers[0].exit_code = 0

    monkeypatch.setattr(task_reports, "_merge", rogue_merge)
    stored = _placed_task()
    new = task_reports.observed_update(stored, agent_pb2.TaskStateChange(task_id="t1", last_status="RUNNING"))
    assert new.last_status == "RUNNING" and new.containers[0].exit_code == 0
    assert _spec(new) == _spec(stored)


def test_an_observed_field_the_report_leaves_unset_stays_unset() -> None:
    stored = _placed_task()
    new = task_reports.observed_update(stored, agent_pb2.TaskStateChange(task_id="t1", last_status="RUNNING"))
    assert new is not None and new.last_status == "RUNNING"
    assert not new.containers[0].HasField("exit_code")  # no exit code is not exit code 0
    exited = task_reports.observed_update(new, agent_pb2.TaskStateChange(
        task_id="t1", last_status="STOPPED", containers=[r.Container(name="web", exit_code=0)]))
    assert exited is not None and exited.containers[0].HasField("exit_code")


def test_a_merge_that_changes_only_what_is_not_observed_writes_nothing(monkeypatch) -> None:
    def rogue_merge(task: r.Task, change: agent_pb2.TaskStateChange) -> None:
        task.desired_status = "STOPPED"
        task.containers[0].image = "evil"

    monkeypatch.setattr(task_reports, "_merge", rogue_merge)
    assert task_reports.observed_update(_placed_task(), agent_pb2.TaskStateChange(task_id="t1")) is None


# ---- the flow of one task, every write through the guard -------------------------------

WEB = {"family": "web", "containerDefinitions": [{"name": "web", "image": "busybox", "memory": 64, "cpu": 128,
                                                   "portMappings": [{"containerPort": 80}]}]}


@dataclass
class Plane:
    store: WriterCheck
    ctx: ApiContext
    gateway: AgentGatewayService
    loop: ControllerLoop
    stream: AgentStream
    assigner: AssignmentController

    def cycle_until(self, condition, what: str):
        def step():
            said = self.loop.cycle()
            assert "cycle failed" not in said, said
            return condition()
        return wait_for(step, 10, what, interval=0.02)

    def task(self, task_id: str) -> r.Task:
        return self.ctx.state.task("default", task_id).msg

    def assignment(self, task_id: str) -> r.TaskAssignment | None:
        kv = self.store.get(keys.assignment(self.stream.node_id, task_id))
        return decode(r.TaskAssignment, kv.value) if kv else None

    def report(self, task_id: str, status: str, stream: AgentStream | None = None, **kw) -> None:
        """Sends an agent's report and waits until its batch is written."""
        written = self.gateway._apply_task_state(stream or self.stream, agent_pb2.TaskStateChange(
            task_id=task_id, last_status=status, **kw))
        assert written is not None and written.wait(5), "the report's batch written"

    def run(self) -> str:
        return tasks.run(self.ctx, op.RunTaskRequest(cluster="default", task_definition="web")).tasks[0].id


@pytest.fixture
def plane() -> Iterator[Plane]:
    store = WriterCheck(MemoryStore())
    ctx = ApiContext(store)
    ctx.ensure_default_cluster()
    lease = ReplicaLease(store, 60)
    lease.keep_alive_once()
    feed = AssignmentFeed(store)
    gateway = AgentGatewayService(ctx, feed, lease, 60)
    node_id = gateway.RegisterNode(agent_pb2.RegisterNodeRequest(
        cluster="default", hostname="h1", cpu_units=1024, memory_mib=1024), None).node_id
    # The stream's outbox (unused here) belongs to an event loop, as in the replica.
    events = asyncio.new_event_loop()
    stream = AgentStream(node_id=node_id, cluster="default", outbox=Outbox(events))
    gateway._put_alive(stream)
    cache = Cache(store, on_change=lambda: None)
    cache.start()
    writer = Writer(store, Election(store, lease, "me"), cache)
    assigner = AssignmentController(writer)
    loop = ControllerLoop(writer.election, cache, [
        NodeController(writer, grace=0), ServiceController(writer, ctx.arns), assigner,
        PlacementController(writer), TaskGC(writer, 3600)], resync=60)
    taskdefs.register(ctx, op.RegisterTaskDefinitionRequest(json=json.dumps(WEB)))
    yield Plane(store, ctx, gateway, loop, stream, assigner)
    cache.close()
    store.close()
    events.close()


def test_stop_task_is_a_wish_the_leader_carries_to_the_node(plane: Plane) -> None:
    tid = plane.run()
    plane.cycle_until(lambda: plane.assignment(tid) is not None, "the task placed and assigned")
    plane.report(tid, "RUNNING")
    assert plane.task(tid).last_status == "RUNNING"

    stopped = tasks.stop(plane.ctx, op.StopTaskRequest(cluster="default", task=tid, reason="done")).task
    assert stopped.desired_status == "STOPPED" and stopped.stopped_reason == "done"
    assert stopped.last_status == "RUNNING"
    # The API wrote the wish only: the node's assignment is the leader's to change.
    assert plane.assignment(tid).task.desired_status == "RUNNING"
    plane.cycle_until(lambda: plane.assignment(tid).task.desired_status == "STOPPED", "the node told to stop")

    plane.report(tid, "STOPPED", stopped_reason="ignored: the user's reason came first")
    plane.cycle_until(lambda: plane.assignment(tid) is None, "the assignment removed once STOPPED")
    task = plane.task(tid)
    assert (task.last_status, task.desired_status, task.stopped_reason) == ("STOPPED", "STOPPED", "done")


def test_a_task_that_stops_by_itself_is_settled_by_the_leader(plane: Plane) -> None:
    tid = plane.run()
    plane.cycle_until(lambda: plane.assignment(tid) is not None, "the task placed and assigned")
    plane.report(tid, "STOPPED", stopped_reason="Essential container in task exited",
                 stop_code="EssentialContainerExited")
    reported = plane.task(tid)
    assert reported.last_status == "STOPPED" and reported.desired_status == "RUNNING"
    plane.cycle_until(lambda: plane.assignment(tid) is None, "the assignment removed")
    task = plane.task(tid)
    assert task.desired_status == "STOPPED" and task.stop_code == "EssentialContainerExited"


def test_a_task_stopped_before_placement_is_stopped_by_the_leader(plane: Plane) -> None:
    tid = plane.run()
    tasks.stop(plane.ctx, op.StopTaskRequest(cluster="default", task=tid))
    assert plane.task(tid).last_status == "PROVISIONING"
    plane.cycle_until(lambda: plane.task(tid).last_status == "STOPPED", "the unplaced task STOPPED")
    assert plane.assignment(tid) is None


def test_an_assignment_whose_task_is_gone_is_removed(plane: Plane) -> None:
    orphan = r.TaskAssignment(task=r.Task(id="gone", node_id=plane.stream.node_id))
    _write_as("controlplane.controllers.view", "store.put(key, value)", store=plane.store,
              key=keys.assignment(plane.stream.node_id, "gone"), value=orphan.SerializeToString())
    plane.cycle_until(lambda: plane.assignment("gone") is None, "the orphan assignment removed")


def test_an_agent_cannot_report_another_nodes_task(plane: Plane) -> None:
    tid = plane.run()
    plane.cycle_until(lambda: plane.assignment(tid) is not None, "the task placed and assigned")
    plane.report(tid, "STOPPED", stream=AgentStream(node_id="intruder", cluster="default",
                                                    outbox=plane.stream.outbox))
    assert plane.task(tid).last_status == "PENDING"


def test_an_assignment_seen_before_its_task_stays(plane: Plane) -> None:
    tid = plane.run()
    plane.cycle_until(lambda: plane.assignment(tid) is not None, "the task placed and assigned")
    # As after a failover, when the assignment's watch event came before its task's.
    view = View.read(plane.assigner.writer.cache)
    del view.tasks[tid]
    assert plane.assigner.reconcile(view) == ""
    assert plane.assignment(tid) is not None

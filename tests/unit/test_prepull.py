"""Pre-pull: the leader's pure decision (which nodes pull which deployment's images), the
controller that keeps the intents equal to it, the assignment feed that carries them to
the agents, and the agent's puller (once per intent, credentials for that intent, a report
either way, the image cache told)."""

from __future__ import annotations

import queue

import pytest

from agent.hollow import HollowRuntime
from agent.image_cache import CacheSettings, ImageCache
from agent.prepull import PrePuller
from controlplane.assignments import AssignmentFeed
from controlplane.controllers.prepull import PrePullController
from controlplane.controllers.view import View
from controlplane.prepull import wanted
from controlplane.scheduler.model import PROVIDER_ATTRIBUTE
from controlplane.state import Record
from shoal import keys
from shoal.store.memory import MemoryStore
from shoal.v1 import agent_pb2
from shoal.v1 import resources_pb2 as r
from tests.waiting import wait_for

ARN = "arn:aws:ecs:local:000000000000:task-definition/web:2"
OLD = "arn:aws:ecs:local:000000000000:task-definition/web:1"
TD = r.TaskDefinition(task_definition_arn=ARN, family="web", revision=2, container_definitions=[
    r.ContainerDefinition(name="app", image="reg:5000/web:v2"),
    r.ContainerDefinition(name="side", image="busybox"),
    r.ContainerDefinition(name="again", image="busybox")])


def node(name: str, cluster: str = "default", status: str = "ACTIVE", zone: str = "a",
         cpu: int = 1024, memory: int = 1024) -> r.ContainerInstance:
    n = r.ContainerInstance(id=name, cluster=cluster, status=status, cpu_units=cpu, memory_mib=memory)
    n.attributes.add(name="ecs.availability-zone", value=zone)
    return n


def service(desired: int = 3, running: int = 0, rollout: str = "IN_PROGRESS", status: str = "ACTIVE",
            strategy: str = "REPLICA", constraints: tuple[tuple[str, str], ...] = ()) -> r.Service:
    svc = r.Service(cluster="default", service_name="web", status=status, scheduling_strategy=strategy,
                    desired_count=desired)
    svc.deployments.add(id="ecs-svc/new", status="PRIMARY", task_definition=ARN, desired_count=desired,
                        running_count=running, rollout_state=rollout, created_at=100.0)
    svc.deployments.add(id="ecs-svc/old", status="ACTIVE", task_definition=OLD, desired_count=0,
                        rollout_state="COMPLETED")
    for kind, expression in constraints:
        svc.placement_constraints.add(type=kind, expression=expression)
    return svc


def task(task_id: str, on: str, td: str = ARN, last: str = "RUNNING") -> r.Task:
    return r.Task(id=task_id, cluster="default", node_id=on, task_definition_arn=td, last_status=last)


NODES = [node(f"n{i}") for i in range(1, 6)]
ALIVE = {n.id for n in NODES}


def decide(services, nodes=NODES, tasks=(), alive=ALIVE, max_nodes: int = 3) -> dict[str, r.PrePull]:
    return wanted(services, nodes, tasks, alive, {ARN: TD}, max_nodes)


def test_a_new_deployment_prepulls_its_images_on_as_many_nodes_as_it_has_tasks_to_start() -> None:
    got = decide([service(desired=2)])
    assert len(got) == 2 and len({p.node_id for p in got.values()}) == 2, "one node per task"
    for key, p in got.items():
        assert key == keys.prepull(p.node_id, "ecs-svc/new")
        assert list(p.images) == ["busybox", "reg:5000/web:v2"], "each image once"
        assert (p.cluster, p.service, p.deployment_id, p.task_definition_arn) == ("default", "web", "ecs-svc/new", ARN)
    assert decide([service(desired=2)]) == got, "the same inputs, the same nodes (no churn between cycles)"


def test_the_count_is_bounded_and_only_the_tasks_still_to_start_count() -> None:
    assert len(decide([service(desired=50)])) == 3
    assert len(decide([service(desired=50)], max_nodes=1)) == 1
    assert len(decide([service(desired=4, running=3)])) == 1
    assert decide([service(desired=3, running=3, rollout="COMPLETED")]) == {}, "steady: nothing to pull ahead"
    # A scale-up of a completed deployment is a deployment starting tasks too.
    assert len(decide([service(desired=5, running=3, rollout="COMPLETED")])) == 2


def test_only_nodes_the_scheduler_would_accept_are_told() -> None:
    nodes = [node("ok"), node("draining", status="DRAINING"), node("gone"), node("other", cluster="other"),
             node("zone-b", zone="b")]
    alive = {"ok", "draining", "other", "zone-b"}
    got = decide([service(desired=5)], nodes=nodes, alive=alive)
    assert {p.node_id for p in got.values()} == {"ok", "zone-b"}
    got = decide([service(desired=5, constraints=(("memberOf", "attribute:ecs.availability-zone == b"),))],
                 nodes=nodes, alive=alive)
    assert {p.node_id for p in got.values()} == {"zone-b"}, "the service's own constraints apply"


def test_fargate_nodes_pull_only_for_fargate_services() -> None:
    serverless = node("f1")
    serverless.attributes.add(name=PROVIDER_ATTRIBUTE, value="serverless")
    nodes = [node("ok"), serverless]
    alive = {"ok", "f1"}
    ordinary = decide([service(desired=5)], nodes=nodes, alive=alive)
    assert {p.node_id for p in ordinary.values()} == {"f1", "ok"}, "without a Fargate provider every node is plain"
    ordinary = wanted([service(desired=5)], nodes, (), alive, {ARN: TD}, 3, frozenset({"serverless"}))
    assert {p.node_id for p in ordinary.values()} == {"ok"}, "Fargate capacity is not shared"
    svc = service(desired=5)
    svc.launch_type = "FARGATE"
    on_fargate = wanted([svc], nodes, (), alive, {ARN: TD}, 3, frozenset({"serverless"}))
    assert {p.node_id for p in on_fargate.values()} == {"f1"}


def test_resources_do_not_matter_but_nodes_that_already_run_the_definition_are_passed_over() -> None:
    # A full node frees room as a rolling update stops its old tasks: it is told all the same.
    full = [node("full", cpu=0, memory=0)]
    assert {p.node_id for p in decide([service(desired=1)], nodes=full, alive={"full"}).values()} == {"full"}
    nodes = [node("a"), node("b"), node("c")]
    tasks = [task("t1", "a"), task("t2", "b", td=OLD), task("t3", "c", last="STOPPED")]
    got = decide([service(desired=3, running=1)], nodes=nodes, tasks=tasks, alive={"a", "b", "c"})
    assert {p.node_id for p in got.values()} == {"b", "c"}, "a runs the new definition: it has the images"


@pytest.mark.parametrize("svc", [service(rollout="FAILED"), service(status="DRAINING"),
                                 service(strategy="DAEMON")], ids=["failed", "draining", "daemon"])
def test_no_prepull_for_failed_deleted_or_daemon_services(svc: r.Service) -> None:
    assert decide([svc]) == {}


def test_an_unknown_definition_or_no_primary_gives_nothing() -> None:
    assert wanted([service()], NODES, (), ALIVE, {}) == {}
    svc = service()
    del svc.deployments[0]
    assert decide([svc]) == {}


# ---- the controller ---------------------------------------------------------------------------


class RecordingWriter:
    def __init__(self) -> None:
        self.commits: list[tuple[list, list, list]] = []

    def commit(self, compares, puts, deletes=()) -> int:
        self.commits.append((list(compares), list(puts), list(deletes)))
        return 1


def view_of(services: list[r.Service], prepulls: dict[str, r.PrePull] | None = None) -> View:
    v = View(services=[Record(s, 1, keys.service(s.cluster, s.service_name)) for s in services],
             nodes={n.id: Record(n, 1, keys.node(n.cluster, n.id)) for n in NODES}, alive=set(ALIVE),
             taskdefs={ARN: TD})
    v.prepulls = dict(prepulls or {})
    return v


def test_the_controller_writes_what_is_wanted_and_withdraws_what_is_not() -> None:
    writer = RecordingWriter()
    ctl = PrePullController(writer)  # type: ignore[arg-type]
    said = ctl.reconcile(view_of([service(desired=2)]))
    [(_, puts, deletes)] = writer.commits
    assert len(puts) == 2 and deletes == [] and said.startswith("pre-pull: ") and "for web" in said
    held = dict(puts)
    writer.commits.clear()
    assert ctl.reconcile(view_of([service(desired=2)], held)) == "" and writer.commits == [], "level: no rewrite"
    said = ctl.reconcile(view_of([service(desired=2, running=2, rollout="COMPLETED")], held))
    assert writer.commits == [([], [], list(held))]
    assert said == "withdrew 2 pre-pull intent(s)"


# ---- the feed -----------------------------------------------------------------------------------


def test_the_feed_carries_each_nodes_intents_with_its_assignments(memory_store: MemoryStore) -> None:
    intent = r.PrePull(cluster="default", service="web", deployment_id="d1", images=["x:1"], node_id="n1")
    memory_store.put(keys.prepull("n1", "d1"), intent.SerializeToString())
    feed = AssignmentFeed(memory_store)
    feed.start()
    try:
        got: queue.Queue = queue.Queue()
        feed.subscribe("n1", got.put)
        assert [p.deployment_id for p in got.get_nowait().prepull] == ["d1"]
        assert not feed.current("n2").prepull, "another node's intent is not its"
        second = r.PrePull(deployment_id="d2", images=["y:1"])
        rev = memory_store.put(keys.prepull("n1", "d2"), second.SerializeToString())
        update = got.get(timeout=5)
        assert sorted(p.deployment_id for p in update.prepull) == ["d1", "d2"] and update.revision == rev
        memory_store.delete(keys.prepull("n1", "d1"))
        update = got.get(timeout=5)
        assert [p.deployment_id for p in update.prepull] == ["d2"] and update.revision > rev
    finally:
        feed.close()


# ---- the agent's puller ---------------------------------------------------------------------------


def intent(deployment: str, *images: str) -> r.PrePull:
    return r.PrePull(cluster="default", service="web", deployment_id=deployment, images=list(images))


def test_the_puller_pulls_each_missing_image_once_with_its_intents_credentials() -> None:
    rt = HollowRuntime(missing_images={"reg/app:1", "reg/app:2"}, unpullable={"reg/bad:1"})
    cache = ImageCache(rt, CacheSettings())  # type: ignore[arg-type]
    asked: list[str] = []
    reports: queue.Queue = queue.Queue()

    def creds(i: r.PrePull) -> dict[str, dict[str, str]]:
        asked.append(i.deployment_id)
        return {"reg/app:1": {"registrytoken": "tok"}}

    puller = PrePuller(rt, creds, reports.put, cache)
    try:
        assert puller.apply([intent("d1", "reg/app:1", "present:1")]) == "pre-pull queued reg/app:1, present:1"
        done = [reports.get(timeout=5), reports.get(timeout=5)]
        assert [(d.image, d.ok) for d in done] == [("reg/app:1", True), ("present:1", True)]
        assert rt.pulls == ["reg/app:1"], "a present image is not pulled"
        assert rt.pull_auths == [{"registrytoken": "tok"}]
        assert asked == ["d1"] and cache.tracked() == {"reg/app:1"}, "the cache keeps it like any pulled image"
        assert puller.apply([intent("d1", "reg/app:1", "present:1")]) == "", "the same set again: nothing to do"
        puller.apply([intent("d2", "reg/bad:1")])
        failed = reports.get(timeout=5)
        assert not failed.ok and failed.error.startswith("CannotPullContainerError: pull image reg/bad:1:")
        assert "denied" in failed.error
        # Withdrawn, then named again (a new cycle's pick): tried again.
        puller.apply([])
        puller.apply([intent("d1", "reg/app:1")])
        assert reports.get(timeout=5).ok and rt.pulls == ["reg/app:1", "reg/bad:1"], "present by now: no pull"
    finally:
        puller.stop()


def test_a_credentials_refusal_is_reported_not_raised() -> None:
    rt = HollowRuntime(missing_images={"reg/app:1"})

    def refused(_i: r.PrePull) -> dict[str, dict[str, str]]:
        raise RuntimeError("PERMISSION_DENIED: no pre-pull of deployment d1 is meant for node n2")

    reports: list[agent_pb2.PrePullReport] = []
    puller = PrePuller(rt, refused, reports.append, None)
    try:
        puller.apply([intent("d1", "reg/app:1")])
        wait_for(lambda: reports, 5, "the report")
        assert not reports[0].ok and "PERMISSION_DENIED" in reports[0].error and rt.pulls == []
    finally:
        puller.stop()

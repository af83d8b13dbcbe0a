"""Fargate capacity is never shared (controlplane/scheduler/filters.py ``FargateFilter``): a
node of a Fargate capacity provider takes FARGATE tasks only, a FARGATE task only such a
node, each refusal recorded under the filter's name; DAEMON services do not cover Fargate
nodes, as ECS runs no daemon on Fargate. The pure scheduler first, then the leader's
controllers through the ECS gateway with boto3 (in-memory store)."""

from __future__ import annotations

from controlplane import placement_input
from controlplane.scheduler import PROVIDER_ATTRIBUTE, NodeState, PlacementRequest, Snapshot, apply_plan, schedule
from controlplane.scheduler.daemon import eligible_nodes, place_daemon
from shoal.v1 import resources_pb2 as r
from tests.unit.test_capacity_placement import Leader
from tests.unit.test_ecs_api import ecs, gateway  # noqa: F401 (fixtures)
from tests.unit.test_fargate import SMALL, fargate_provider

PLAIN = {"family": "plain", "containerDefinitions": [
    {"name": "web", "image": "shoal/busybox:latest", "essential": True, "cpu": 128, "memory": 128}]}


def nodes(*spec: tuple[str, bool]) -> Snapshot:
    return Snapshot(nodes=[NodeState(name, cpu_units=4096, memory_mib=4096, fargate=fg) for name, fg in spec])


def ask(count: int = 1, fargate: bool = False, group: str = "family:web") -> PlacementRequest:
    return PlacementRequest(count=count, cpu=256, memory=512, group=group, fargate=fargate)


# ---- the pure scheduler --------------------------------------------------------------------------


def test_an_ordinary_task_never_lands_on_fargate_capacity() -> None:
    s = nodes(("f1", True), ("h1", False), ("f2", True))
    plan = schedule(s, ask(count=3))
    assert {p.node_id for p in plan.placements} == {"h1"} and plan.unplaced == 0
    assert plan.filter_counts["notFargateCapacity"] == 2


def test_an_ordinary_task_waits_rather_than_take_an_idle_fargate_node() -> None:
    plan = schedule(nodes(("f1", True), ("f2", True)), ask())
    assert plan.placements == [] and plan.unplaced == 1
    assert "2 nodes refused by notFargateCapacity" in plan.reason
    assert plan.filter_counts["notFargateCapacity"] == 2


def test_a_fargate_task_lands_only_on_fargate_capacity() -> None:
    plan = schedule(nodes(("h1", False), ("f1", True)), ask(count=2, fargate=True))
    assert [p.node_id for p in plan.placements] == ["f1", "f1"]
    plan = schedule(nodes(("h1", False)), ask(fargate=True))
    assert plan.unplaced == 1 and "1 node refused by fargateCapacity" in plan.reason


def test_without_fargate_nodes_the_filter_is_left_out() -> None:
    plan = schedule(nodes(("h1", False)), ask())
    assert [p.node_id for p in plan.placements] == ["h1"] and "notFargateCapacity" not in plan.filter_counts


def test_the_feasibility_memo_keeps_fargate_and_ordinary_requests_apart() -> None:
    # Same group and resources: only the launch type differs, so the memo must not reuse one
    # request's feasible nodes for the other.
    s = nodes(("h1", False), ("f1", True))
    ordinary = schedule(s, ask())
    apply_plan(s, ask(), ordinary)
    fargate = schedule(s, ask(fargate=True))
    assert [p.node_id for p in ordinary.placements] == ["h1"]
    assert [p.node_id for p in fargate.placements] == ["f1"]


def test_daemons_do_not_cover_fargate_nodes() -> None:
    s = nodes(("h1", False), ("f1", True), ("h2", False))
    assert eligible_nodes(s, []) == ["h1", "h2"]
    # Pinned onto a Fargate node anyway, a daemon task is refused there, saying by what.
    plan = place_daemon(s, ask(group="service:agent"), "f1")
    assert plan.unplaced == 1 and "refused by notFargateCapacity" in plan.reason


def test_the_snapshot_marks_the_fargate_providers_nodes_and_the_request_its_launch_type() -> None:
    def node(name: str, provider: str) -> r.ContainerInstance:
        n = r.ContainerInstance(id=name, status="ACTIVE", cpu_units=1024, memory_mib=1024)
        if provider:
            n.attributes.add(name=PROVIDER_ATTRIBUTE, value=provider)
        return n
    snap = placement_input.snapshot([node("f1", "serverless"), node("h1", "onprem"), node("h2", "")], [],
                                    {"f1", "h1", "h2"}, frozenset({"serverless"}))
    assert [(n.id, n.fargate) for n in snap.nodes] == [("f1", True), ("h1", False), ("h2", False)]
    needs = placement_input.Needs(cpu=256, memory=512, fixed_ports=[], dynamic_ports=0)
    assert placement_input.request(r.Task(launch_type="FARGATE"), needs).fargate
    assert not placement_input.request(r.Task(launch_type="EXTERNAL"), needs).fargate


# ---- through the gateway and the leader's controllers --------------------------------------------


def test_an_ec2_task_waits_for_non_fargate_capacity(gateway, ecs) -> None:  # noqa: F811
    ctx, _ = gateway
    ld = Leader(ctx)
    fargate_provider(ctx)
    ld.node("f1", "serverless")
    ecs.register_task_definition(**PLAIN)
    arn = ecs.run_task(taskDefinition="plain", launchType="EC2")["tasks"][0]["taskArn"]
    ld.cycle()
    (task,) = ld.live("")
    assert task.node_id == "" and "refused by notFargateCapacity" in task.placement_message
    ld.node("h1", "")
    ld.cycle()
    described = ecs.describe_tasks(tasks=[arn])["tasks"][0]
    assert (described["lastStatus"], described["containerInstanceArn"].rsplit("/", 1)[-1]) == ("RUNNING", "h1")


def test_a_daemon_service_skips_fargate_nodes_while_fargate_tasks_run_there(gateway, ecs) -> None:  # noqa: F811
    ctx, _ = gateway
    ld = Leader(ctx)
    fargate_provider(ctx)
    ld.node("f1", "serverless")
    ld.node("h1", "")
    ecs.register_task_definition(**PLAIN)
    ecs.register_task_definition(**SMALL)
    ecs.create_service(serviceName="agent", taskDefinition="plain", schedulingStrategy="DAEMON", launchType="EC2")
    ecs.run_task(taskDefinition="small", launchType="FARGATE")
    ld.cycle()
    ld.cycle()
    assert [t.node_id for t in ld.live("agent")] == ["h1"]
    assert ecs.describe_services(services=["agent"])["services"][0]["desiredCount"] == 1
    assert [t.node_id for t in ld.live("")] == ["f1"]

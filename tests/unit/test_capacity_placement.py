"""Placement by capacity provider strategy, as ECS places it: a task given a provider goes
only to that provider's nodes (the ``shoal.capacity-provider`` attribute), and the refusal
is named; a service's tasks are given providers base first, then by weight, counting the
deployment's live tasks; UpdateService changes the strategy with a new deployment. The
scheduler alone, then the leader's controllers through the ECS gateway with boto3."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from controlplane.cache import Cache
from controlplane.controllers.placement import PlacementController
from controlplane.controllers.services import ServiceController
from controlplane.controllers.view import View, Writer
from controlplane.scheduler import PROVIDER_ATTRIBUTE, NodeState, PlacementRequest, Snapshot, apply_plan, schedule
from controlplane.state import decode
from shoal import keys
from shoal.election import Election
from shoal.replica_lease import ReplicaLease
from shoal.v1 import resources_pb2 as r
from tests.unit.test_ecs_api import WEB, ecs, gateway  # noqa: F401 (fixtures)


def node(id: str, provider: str = "", cpu: int = 4096) -> NodeState:
    attrs = {PROVIDER_ATTRIBUTE: provider} if provider else {}
    return NodeState(id=id, cpu_units=cpu, memory_mib=8192, attributes=attrs)


def req(provider: str, count: int = 1, cpu: int = 128) -> PlacementRequest:
    return PlacementRequest(count=count, cpu=cpu, memory=128, group="service:web", capacity_provider=provider)


# ---- the scheduler -----------------------------------------------------------------------------


def test_a_task_given_a_provider_lands_only_on_that_providers_nodes() -> None:
    snap = Snapshot([node("plain"), node("a1", "a"), node("b1", "b"), node("a2", "a")])
    plan = schedule(snap, req("a", count=4))
    assert {p.node_id for p in plan.placements} == {"a1", "a2"} and plan.unplaced == 0
    # No provider: any node, as before.
    assert {p.node_id for p in schedule(snap, req("", count=4)).placements} == {"plain", "a1", "b1", "a2"}


def test_the_provider_filter_records_why_each_node_was_refused() -> None:
    snap = Snapshot([node("plain"), node("b1", "b"), node("a1", "a", cpu=64)])
    plan = schedule(snap, req("a"))
    assert plan.unplaced == 1
    assert plan.filter_counts["capacityProvider(a)"] == 2 and plan.filter_counts["cpu"] == 1
    assert "2 nodes refused by capacityProvider(a), 1 by cpu" in plan.reason
    # A provider with no node at all says so by name.
    assert "3 nodes refused by capacityProvider(c)" in schedule(snap, req("c")).reason


def test_two_providers_in_one_snapshot_do_not_share_a_feasibility_memo() -> None:
    snap = Snapshot([node("a1", "a", cpu=256), node("b1", "b", cpu=256)])
    first = schedule(snap, req("a", count=2))
    apply_plan(snap, req("a", count=2), first)
    # Same group, resources and constraints: only the provider differs.
    second = schedule(snap, req("b", count=3))
    assert [p.node_id for p in first.placements] == ["a1", "a1"]
    assert [p.node_id for p in second.placements] == ["b1", "b1"] and second.unplaced == 1
    assert "1 node refused by capacityProvider(b), 1 by cpu" in second.reason


# ---- the controllers, through the ECS gateway --------------------------------------------------


class Leader:
    """The leader's service and placement controllers over the gateway's store."""

    def __init__(self, ctx) -> None:
        self.ctx = ctx
        self.lease = ReplicaLease(ctx.store, 10.0)
        self.lease.keep_alive_once()
        election = Election(ctx.store, self.lease, "leader")
        assert election.campaign().startswith("became leader")
        self.writer = Writer(ctx.store, election, Cache(ctx.store, on_change=lambda: None))

    def view(self) -> View:
        cache = Cache(self.ctx.store, on_change=lambda: None)
        cache.start()
        try:
            return View.read(cache)
        finally:
            cache.close()

    def node(self, name: str, provider: str) -> None:
        n = r.ContainerInstance(id=name, cluster="default", status="ACTIVE", hostname=name, cpu_units=8192,
                                memory_mib=8192, container_instance_arn=self.ctx.arns.node("default", name),
                                registered_at=time.time(), agent_connected=True)
        n.attributes.add(name=PROVIDER_ATTRIBUTE, value=provider)
        self.ctx.store.put(keys.node("default", name), n.SerializeToString())
        self.ctx.store.put(keys.alive(name), b"127.0.0.1:1")

    def cycle(self) -> None:
        """One service cycle, one placement cycle, and every placed task reported RUNNING."""
        ServiceController(self.writer, self.ctx.arns).reconcile(self.view())
        PlacementController(self.writer).reconcile(self.view())
        for kv in self.ctx.store.list(keys.TASKS).kvs:
            t = decode(r.Task, kv.value)
            if t.node_id and t.last_status == "PENDING" and t.desired_status == "RUNNING":
                t.last_status = "RUNNING"
                t.started_at = time.time()
                self.ctx.store.put(kv.key, t.SerializeToString())
            elif t.desired_status == "STOPPED" and t.last_status != "STOPPED":
                t.last_status = "STOPPED"
                t.stopped_at = time.time()
                self.ctx.store.put(kv.key, t.SerializeToString())

    def live(self, service: str = "web") -> list[r.Task]:
        return [t for t in (decode(r.Task, kv.value) for kv in self.ctx.store.list(keys.TASKS).kvs)
                if t.service_name == service and t.last_status != "STOPPED"]


@pytest.fixture
def leader(gateway, ecs) -> Leader:  # noqa: F811
    ctx, _ = gateway
    ld = Leader(ctx)
    for name in ("onprem", "burst"):
        ecs.create_capacity_provider(name=name, autoScalingGroupProvider={"autoScalingGroupArn": "local"})
    for name, provider in (("h1", "onprem"), ("h2", "onprem"), ("b1", "burst"), ("b2", "burst")):
        ld.node(name, provider)
    ecs.register_task_definition(**WEB)
    return ld


def placed_by_provider(ld: Leader, nodes_of: dict[str, str]) -> Counter[str]:
    live = ld.live()
    assert all(t.node_id for t in live), [t.placement_message for t in live]
    for t in live:
        # Each task is on a node of the provider it was given.
        assert nodes_of[t.node_id] == t.capacity_provider_name, (t.node_id, t.capacity_provider_name)
    return Counter(t.capacity_provider_name for t in live)


NODES = {"h1": "onprem", "h2": "onprem", "b1": "burst", "b2": "burst"}


def test_create_service_places_base_first_then_by_weight(leader, ecs) -> None:  # noqa: F811
    ecs.put_cluster_capacity_providers(cluster="default", capacityProviders=["onprem", "burst"],
                                       defaultCapacityProviderStrategy=[])
    strategy = [{"capacityProvider": "onprem", "base": 2, "weight": 1},
                {"capacityProvider": "burst", "base": 0, "weight": 3}]
    ecs.create_service(serviceName="web", taskDefinition="web", desiredCount=6, capacityProviderStrategy=strategy)
    leader.cycle()
    # 2 for the base, then the other 4 shared 1:3.
    assert placed_by_provider(leader, NODES) == {"onprem": 3, "burst": 3}
    ecs.update_service(service="web", desiredCount=10)
    leader.cycle()
    # Scale-out counts the tasks already running: 2 + 8 shared 1:3 is 2 + 2 + 6.
    assert placed_by_provider(leader, NODES) == {"onprem": 4, "burst": 6}
    running = {t["capacityProviderName"] for t in ecs.describe_tasks(
        tasks=ecs.list_tasks(serviceName="web")["taskArns"])["tasks"]}
    assert running == {"onprem", "burst"}


def test_the_clusters_default_strategy_applies_when_none_is_given(leader, ecs) -> None:  # noqa: F811
    ecs.put_cluster_capacity_providers(cluster="default", capacityProviders=["onprem", "burst"],
                                       defaultCapacityProviderStrategy=[{"capacityProvider": "burst", "weight": 1}])
    svc = ecs.create_service(serviceName="web", taskDefinition="web", desiredCount=3)["service"]
    assert svc["capacityProviderStrategy"] == [{"capacityProvider": "burst", "weight": 1, "base": 0}]
    leader.cycle()
    assert placed_by_provider(leader, NODES) == {"burst": 3}
    # A launch type instead: no provider, any node.
    ecs.create_service(serviceName="ec2", taskDefinition="web", desiredCount=2, launchType="EXTERNAL")
    leader.cycle()
    assert {t.capacity_provider_name for t in leader.live("ec2")} == {""}


def test_update_service_moves_the_tasks_with_a_new_deployment(leader, ecs) -> None:  # noqa: F811
    ecs.put_cluster_capacity_providers(cluster="default", capacityProviders=["onprem", "burst"],
                                       defaultCapacityProviderStrategy=[])
    ecs.create_service(serviceName="web", taskDefinition="web", desiredCount=4,
                       capacityProviderStrategy=[{"capacityProvider": "onprem", "weight": 1}])
    leader.cycle()
    assert placed_by_provider(leader, NODES) == {"onprem": 4}
    first = ecs.describe_services(services=["web"])["services"][0]["deployments"][0]["id"]
    new = [{"capacityProvider": "burst", "weight": 1, "base": 1}]
    svc = ecs.update_service(service="web", capacityProviderStrategy=new)["service"]
    assert svc["capacityProviderStrategy"] == new
    primary = svc["deployments"][0]
    assert primary["status"] == "PRIMARY" and primary["id"] != first and primary["capacityProviderStrategy"] == new
    assert [d["status"] for d in svc["deployments"]] == ["PRIMARY", "ACTIVE"]
    for _ in range(6):
        leader.cycle()
    assert placed_by_provider(leader, NODES) == {"burst": 4}
    # The same strategy again starts nothing.
    again = ecs.update_service(service="web", capacityProviderStrategy=new)["service"]
    assert again["deployments"][0]["id"] == primary["id"]


def test_update_service_refuses_a_bad_strategy_and_keeps_the_old_one(leader, ecs) -> None:  # noqa: F811
    ecs.put_cluster_capacity_providers(cluster="default", capacityProviders=["onprem"],
                                       defaultCapacityProviderStrategy=[])
    ecs.create_service(serviceName="web", taskDefinition="web", desiredCount=1,
                       capacityProviderStrategy=[{"capacityProvider": "onprem", "weight": 1}])
    for strategy, words in (
        ([{"capacityProvider": "burst", "weight": 1}], "capacityProviderStrategy[0].capacityProvider: 'burst' is "
                                                        "not one of the cluster's capacity providers"),
        ([{"capacityProvider": "onprem", "weight": 0}], "capacityProviderStrategy: at least one capacity provider "
                                                         "must have a weight greater than 0"),
    ):
        with pytest.raises(ecs.exceptions.InvalidParameterException) as caught:
            ecs.update_service(service="web", capacityProviderStrategy=strategy)
        assert caught.value.response["Error"]["Message"].startswith(words)
    svc = ecs.describe_services(services=["web"])["services"][0]
    assert svc["capacityProviderStrategy"] == [{"capacityProvider": "onprem", "weight": 1, "base": 0}]
    assert len(svc["deployments"]) == 1
    with pytest.raises(ecs.exceptions.InvalidParameterException, match="daemon scheduling strategy"):
        ecs.create_service(serviceName="d", taskDefinition="web", schedulingStrategy="DAEMON",
                           capacityProviderStrategy=[{"capacityProvider": "onprem", "weight": 1}])


def test_run_task_is_placed_on_its_providers_nodes(leader, ecs) -> None:  # noqa: F811
    ecs.put_cluster_capacity_providers(cluster="default", capacityProviders=["onprem", "burst"],
                                       defaultCapacityProviderStrategy=[])
    ecs.run_task(taskDefinition="web", count=5, capacityProviderStrategy=[
        {"capacityProvider": "burst", "base": 1, "weight": 1}, {"capacityProvider": "onprem", "weight": 1}])
    PlacementController(leader.writer).reconcile(leader.view())
    tasks = [decode(r.Task, kv.value) for kv in leader.ctx.store.list(keys.TASKS).kvs]
    assert Counter(t.capacity_provider_name for t in tasks) == {"burst": 3, "onprem": 2}
    assert all(t.node_id and NODES[t.node_id] == t.capacity_provider_name for t in tasks)

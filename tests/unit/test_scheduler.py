"""schedule(): every filter, every strategy, chained strategies, the ECS documentation
examples, reasons for what could not be placed, and purity."""

from __future__ import annotations

import copy
from collections import Counter

import pytest

from controlplane.scheduler import (
    DRAINING,
    INACTIVE,
    NodeState,
    PlacementInputError,
    PlacementRequest,
    Plan,
    Snapshot,
    default_strategies,
    schedule,
)

ZONES = ("us-east-1a", "us-east-1b", "us-east-1c")
SPREAD_ZONE = ("spread", "attribute:ecs.availability-zone")


def node(id: str, zone: str = "us-east-1a", kind: str = "m5.large", cpu: int = 2048, mem: int = 8192,
         **kw: object) -> NodeState:
    attrs = {"ecs.availability-zone": zone, "ecs.instance-type": kind, "ecs.os-type": "linux"}
    attrs.update(kw.pop("attributes", {}))  # type: ignore[arg-type]
    return NodeState(id=id, cpu_units=cpu, memory_mib=mem, attributes=attrs, **kw)  # type: ignore[arg-type]


def req(count: int = 1, cpu: int = 128, memory: int = 256, **kw: object) -> PlacementRequest:
    kw.setdefault("group", "service:web")
    kw.setdefault("strategies", [("spread", "instanceId")])
    return PlacementRequest(count=count, cpu=cpu, memory=memory, **kw)  # type: ignore[arg-type]


def nodes_of(plan: Plan) -> list[str]:
    return [p.node_id for p in plan.placements]


def zone_counts(plan: Plan, snap: Snapshot) -> Counter[str]:
    zone = {n.id: n.attributes["ecs.availability-zone"] for n in snap.nodes}
    return Counter(zone[p.node_id] for p in plan.placements)


# --- filters ------------------------------------------------------------------------------

def test_only_active_connected_nodes_take_tasks() -> None:
    snap = Snapshot([node("a", status=DRAINING), node("b", status=INACTIVE), node("c", connected=False),
                     node("d")])
    plan = schedule(snap, req(count=2))
    assert nodes_of(plan) == ["d", "d"]
    plan = schedule(Snapshot(snap.nodes[:3]), req())
    assert plan.unplaced == 1
    assert plan.filter_counts["status"] == 2
    assert plan.filter_counts["agentConnected"] == 1
    assert "2 nodes refused by status, 1 by agentConnected" in plan.reason


def test_cpu_filter_counts_earlier_tasks_of_the_plan() -> None:
    snap = Snapshot([node("a", cpu=1024, used_cpu=512), node("b", cpu=1024)])
    plan = schedule(snap, req(count=4, cpu=512))
    assert sorted(nodes_of(plan)) == ["a", "b", "b"]
    assert plan.unplaced == 1
    assert plan.filter_counts["cpu"] == 2
    assert plan.reason.endswith("Reasons: 2 nodes refused by cpu")


def test_memory_filter() -> None:
    snap = Snapshot([node("small", mem=512), node("big", mem=4096, used_memory=3584)])
    plan = schedule(snap, req(count=2, memory=512))
    assert nodes_of(plan) == ["small", "big"]
    plan = schedule(snap, req(count=1, memory=1024))
    assert plan.unplaced == 1
    assert plan.filter_counts == {"status": 0, "agentConnected": 0, "cpu": 0, "memory": 2}


def test_fixed_host_port_must_be_free() -> None:
    snap = Snapshot([node("a", used_ports={80}), node("b")])
    plan = schedule(snap, req(count=2, fixed_ports=[80]))
    assert nodes_of(plan) == ["b"]
    assert plan.unplaced == 1
    assert "2 nodes refused by ports" in plan.reason


def test_dynamic_ports_never_clash_on_one_node() -> None:
    n = node("a", used_ports={32768, 32770}, dynamic_port_low=32768, dynamic_port_high=32775)
    plan = schedule(Snapshot([n]), req(count=3, fixed_ports=[32771], dynamic_ports=2,
                                       strategies=[("binpack", "memory")]))
    # The fixed port 32771 makes each task after the first refused by ports: one task only.
    assert len(plan.placements) == 1
    assert plan.placements[0].dynamic_ports == [32769, 32772]
    plan = schedule(Snapshot([n]), req(count=3, dynamic_ports=2, strategies=[("binpack", "memory")]))
    ports = [p for pl in plan.placements for p in pl.dynamic_ports]
    assert ports == [32769, 32771, 32772, 32773, 32774, 32775]
    assert not set(ports) & n.used_ports


def test_dynamic_port_range_exhaustion_is_a_reason() -> None:
    n = node("a", used_ports={40000}, dynamic_port_low=40000, dynamic_port_high=40003)
    plan = schedule(Snapshot([n]), req(count=3, dynamic_ports=2))
    assert len(plan.placements) == 1
    assert plan.unplaced == 2
    assert plan.filter_counts["dynamicPorts"] == 1
    assert "1 node refused by dynamicPorts" in plan.reason


def test_ports_outside_the_dynamic_range_do_not_count_against_it() -> None:
    n = node("a", used_ports={22, 80, 443}, dynamic_port_low=50000, dynamic_port_high=50001)
    plan = schedule(Snapshot([n]), req(count=1, dynamic_ports=2))
    assert plan.placements[0].dynamic_ports == [50000, 50001]


def test_distinct_instance_one_task_of_the_group_per_node() -> None:
    snap = Snapshot([node("a", groups=Counter({"service:web": 1})), node("b"), node("c"),
                     node("d", groups=Counter({"service:other": 3}))])
    plan = schedule(snap, req(count=4, constraints=[("distinctInstance", "")]))
    assert sorted(nodes_of(plan)) == ["b", "c", "d"]
    assert plan.unplaced == 1
    assert plan.filter_counts["distinctInstance"] == 4


def test_member_of_instance_type() -> None:
    snap = Snapshot([node("a", kind="t2.small"), node("b", kind="m5.large"), node("c", kind="t2.small")])
    expr = "attribute:ecs.instance-type == t2.small"
    plan = schedule(snap, req(count=4, constraints=[("memberOf", expr)]))
    assert Counter(nodes_of(plan)) == {"a": 2, "c": 2}
    plan = schedule(Snapshot([snap.nodes[1]]), req(constraints=[("memberOf", expr)]))
    assert plan.reason.endswith(f"Reasons: 1 node refused by memberOf({expr})")


def test_member_of_zone_list() -> None:
    snap = Snapshot([node(f"n{i}", zone=ZONES[i % 3]) for i in range(6)])
    plan = schedule(snap, req(count=6, constraints=[
        ("memberOf", "attribute:ecs.availability-zone in [us-east-1a, us-east-1b]")]))
    assert zone_counts(plan, snap) == {"us-east-1a": 3, "us-east-1b": 3}


def test_member_of_task_group_affinity() -> None:
    snap = Snapshot([node("a"), node("b", groups=Counter({"service:production": 1})), node("c")])
    plan = schedule(snap, req(count=2, constraints=[("memberOf", "task:group == service:production")]))
    assert nodes_of(plan) == ["b", "b"]


def test_member_of_negated_wildcard() -> None:
    snap = Snapshot([node("a", kind="t2.small"), node("b", kind="t2.micro"), node("c", kind="m5.large")])
    plan = schedule(snap, req(count=2, constraints=[("memberOf", "not(attribute:ecs.instance-type =~ t2.*)")]))
    assert nodes_of(plan) == ["c", "c"]


def test_dynamic_member_of_is_rechecked_as_tasks_land() -> None:
    snap = Snapshot([node("a", running_tasks_count=1), node("b")])
    plan = schedule(snap, req(count=5, constraints=[("memberOf", "runningTasksCount < 2")]))
    assert Counter(nodes_of(plan)) == {"a": 1, "b": 2}
    assert plan.unplaced == 2
    assert "2 nodes refused by memberOf(runningTasksCount < 2)" in plan.reason


def test_anti_affinity_with_own_group_spreads_one_per_node() -> None:
    snap = Snapshot([node("a"), node("b")])
    plan = schedule(snap, req(count=3, constraints=[("memberOf", "task:group != service:web")],
                              strategies=[("binpack", "memory")]))
    assert nodes_of(plan) == ["a", "b"]
    assert plan.unplaced == 1


def test_every_filter_named_in_one_reason() -> None:
    snap = Snapshot([
        node("drain", status=DRAINING),
        node("cpu", cpu=64),
        node("mem", mem=128),
        node("port", used_ports={443}),
        node("dyn", dynamic_port_low=33000, dynamic_port_high=33000),
        node("grp", groups=Counter({"service:web": 1})),
        node("kind", kind="t2.small"),
    ])
    plan = schedule(snap, req(count=1, fixed_ports=[443], dynamic_ports=2, constraints=[
        ("distinctInstance", ""), ("memberOf", "attribute:ecs.instance-type =~ m5.*")]))
    assert plan.unplaced == 1
    assert plan.reason == (
        "unable to place a task because no container instance met all of its requirements. Reasons: "
        "1 node refused by status, 1 by cpu, 1 by memory, 1 by ports, 1 by dynamicPorts, "
        "1 by distinctInstance, 1 by memberOf(attribute:ecs.instance-type =~ m5.*)"
    )


def test_empty_cluster_reason() -> None:
    plan = schedule(Snapshot([]), req(count=2))
    assert plan.unplaced == 2
    assert plan.reason == "unable to place a task because no container instances were found in the cluster"


# --- strategies ---------------------------------------------------------------------------

def test_spread_by_zone_balances_scale_out() -> None:
    snap = Snapshot([node(f"n{i}", zone=ZONES[i % 3]) for i in range(9)])
    plan = schedule(snap, req(count=7, strategies=[SPREAD_ZONE]))
    assert sorted(zone_counts(plan, snap).values()) == [2, 2, 3]


def test_spread_by_zone_fills_the_emptiest_zone_first() -> None:
    snap = Snapshot([node("a1", zone="us-east-1a", groups=Counter({"service:web": 3})),
                     node("b1", zone="us-east-1b", groups=Counter({"service:web": 1})),
                     node("c1", zone="us-east-1c")])
    plan = schedule(snap, req(count=5, strategies=[SPREAD_ZONE]))
    assert nodes_of(plan) == ["c1", "b1", "c1", "b1", "c1"]


def test_spread_does_not_count_tasks_on_draining_nodes() -> None:
    snap = Snapshot([node("a-old", zone="us-east-1a", status=DRAINING, groups=Counter({"service:web": 5})),
                     node("a1", zone="us-east-1a"), node("b1", zone="us-east-1b")])
    plan = schedule(snap, req(count=2, strategies=[SPREAD_ZONE]))
    assert sorted(nodes_of(plan)) == ["a1", "b1"]


def test_spread_by_attribute_treats_missing_as_its_own_value() -> None:
    snap = Snapshot([node("r1", attributes={"rack": "r1"}), node("r1b", attributes={"rack": "r1"}),
                     node("none"), node("none2")])
    plan = schedule(snap, req(count=4, strategies=[("spread", "attribute:rack")]))
    # Within a value nothing breaks the tie but snapshot order: the first listed node.
    assert nodes_of(plan) == ["r1", "none", "r1", "none"]


@pytest.mark.parametrize("field", ["instanceId", "host"])
def test_spread_by_instance(field: str) -> None:
    snap = Snapshot([node("a", groups=Counter({"service:web": 2})), node("b"), node("c")])
    plan = schedule(snap, req(count=5, strategies=[("spread", field)]))
    assert Counter(nodes_of(plan)) == {"b": 2, "c": 2, "a": 1}


def test_binpack_memory_fills_the_fullest_node_first() -> None:
    snap = Snapshot([node("empty", mem=4096), node("half", mem=4096, used_memory=2048),
                     node("full", mem=4096, used_memory=4000)])
    plan = schedule(snap, req(count=5, memory=1024, strategies=[("binpack", "memory")]))
    assert nodes_of(plan) == ["half", "half", "empty", "empty", "empty"]


def test_binpack_cpu() -> None:
    snap = Snapshot([node("a", cpu=4096), node("b", cpu=4096, used_cpu=3072)])
    plan = schedule(snap, req(count=3, cpu=512, strategies=[("binpack", "cpu")]))
    assert nodes_of(plan) == ["b", "b", "a"]


def test_random_is_deterministic_per_seed_and_uses_every_node() -> None:
    snap = Snapshot([node(f"n{i}") for i in range(5)])
    plan1 = schedule(snap, req(count=50, strategies=[("random", "")], seed=42))
    plan2 = schedule(snap, req(count=50, strategies=[("random", "")], seed=42))
    plan3 = schedule(snap, req(count=50, strategies=[("random", "")], seed=7))
    assert nodes_of(plan1) == nodes_of(plan2)
    assert nodes_of(plan1) != nodes_of(plan3)
    assert set(nodes_of(plan1)) == {f"n{i}" for i in range(5)}
    unseeded = [nodes_of(schedule(snap, req(count=10, strategies=[("random", "")]))) for _ in range(2)]
    assert unseeded[0] == unseeded[1]


# --- chains -------------------------------------------------------------------------------

def test_ecs_example_spread_zone_then_binpack_memory() -> None:
    snap = Snapshot([
        node("a-empty", zone="us-east-1a", mem=8192),
        node("a-packed", zone="us-east-1a", mem=8192, used_memory=6144),
        node("b-empty", zone="us-east-1b", mem=8192),
        node("b-packed", zone="us-east-1b", mem=8192, used_memory=4096),
    ])
    plan = schedule(snap, req(count=4, memory=1024, strategies=[SPREAD_ZONE, ("binpack", "memory")]))
    assert nodes_of(plan) == ["a-packed", "b-packed", "a-packed", "b-packed"]


def test_binpack_then_spread_breaks_binpack_ties_by_zone() -> None:
    snap = Snapshot([node("a1", zone="us-east-1a", groups=Counter({"service:web": 1})),
                     node("a2", zone="us-east-1a"), node("b1", zone="us-east-1b")])
    plan = schedule(snap, req(count=1, strategies=[("binpack", "memory"), SPREAD_ZONE]))
    assert nodes_of(plan) == ["b1"]


def test_zone_then_instance_spread_is_the_service_default() -> None:
    assert default_strategies(True) == [SPREAD_ZONE, ("spread", "instanceId")]
    assert default_strategies(False) == [("random", "")]
    snap = Snapshot([node(f"n{i}", zone=ZONES[i % 3]) for i in range(6)])
    plan = schedule(snap, req(count=6, strategies=[]))
    assert sorted(nodes_of(plan)) == [f"n{i}" for i in range(6)]


def test_random_first_makes_later_strategies_moot() -> None:
    snap = Snapshot([node(f"n{i}") for i in range(4)])
    plan = schedule(snap, req(count=20, strategies=[("random", ""), ("binpack", "memory")], seed=3))
    assert len(set(nodes_of(plan))) > 1


def test_spread_zone_then_random_stays_balanced() -> None:
    snap = Snapshot([node(f"n{i}", zone=ZONES[i % 3]) for i in range(12)])
    plan = schedule(snap, req(count=9, strategies=[SPREAD_ZONE, ("random", "")], seed=1))
    assert set(zone_counts(plan, snap).values()) == {3}


# --- purity and input errors ----------------------------------------------------------------

def test_schedule_does_not_mutate_the_snapshot() -> None:
    snap = Snapshot([node("a", used_ports={32768}, groups=Counter({"service:web": 1})), node("b")])
    before = copy.deepcopy(snap)
    plan = schedule(snap, req(count=6, fixed_ports=[80], dynamic_ports=2,
                              constraints=[("memberOf", "task:group exists or runningTasksCount < 9")],
                              strategies=[SPREAD_ZONE, ("binpack", "memory")]))
    assert plan.placements
    assert snap == before
    assert schedule(snap, req(count=6, fixed_ports=[80], dynamic_ports=2)) == schedule(
        snap, req(count=6, fixed_ports=[80], dynamic_ports=2))


def test_invalid_requests_raise_errors_naming_the_field() -> None:
    snap = Snapshot([node("a")])
    with pytest.raises(PlacementInputError) as info:
        schedule(snap, req(constraints=[("memberOf", "attribute:x ==")],
                           strategies=[("binpack", "disk"), ("spread", "attribute:")]))
    assert info.value.errors == [
        "placementConstraints[0].expression: unexpected end of expression, expected a value after '=='"
        " at column 15",
        "placementStrategy[0].field: binpack needs cpu or memory, not 'disk'",
        "placementStrategy[1].field: spread needs instanceId, host or attribute:<name>, not 'attribute:'",
    ]
    with pytest.raises(PlacementInputError, match="cpu: must be a whole number"):
        schedule(snap, req(cpu=-1))
    with pytest.raises(PlacementInputError, match="host port 80 is listed twice"):
        schedule(snap, req(fixed_ports=[80, 80]))
    assert isinstance(PlacementInputError(["x"]), ValueError)


def test_count_zero_places_nothing() -> None:
    plan = schedule(Snapshot([node("a")]), req(count=0))
    assert plan.placements == [] and plan.unplaced == 0 and plan.reason == ""

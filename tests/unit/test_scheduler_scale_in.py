"""choose_to_stop(): scale-in by the same strategies, so spread stays balanced."""

from __future__ import annotations

from collections import Counter

from controlplane.scheduler import DRAINING, NodeState, PlacementRequest, Snapshot, choose_to_stop, schedule

ZONES = ("us-east-1a", "us-east-1b", "us-east-1c")
SPREAD_ZONE = ("spread", "attribute:ecs.availability-zone")


def node(id: str, zone: str = "us-east-1a", **kw: object) -> NodeState:
    return NodeState(id=id, cpu_units=4096, memory_mib=8192,
                     attributes={"ecs.availability-zone": zone}, **kw)  # type: ignore[arg-type]


def test_spread_scale_in_stops_from_the_most_loaded_zone() -> None:
    snap = Snapshot([node("a1", "us-east-1a"), node("a2", "us-east-1a"), node("b1", "us-east-1b"),
                     node("c1", "us-east-1c")])
    tasks = [("t1", "a1"), ("t2", "a1"), ("t3", "a2"), ("t4", "b1"), ("t5", "b1"), ("t6", "c1")]
    stop = choose_to_stop(snap, tasks, 2, [SPREAD_ZONE, ("spread", "instanceId")])
    # Zone a has 3: stop there first, from its busiest node a1. Then zones a and b tie at 2
    # and spread(instanceId) breaks the tie: b1 holds 2 tasks, more than any node of zone a.
    assert stop == ["t1", "t4"]
    left = Counter(n for t, n in tasks if t not in stop)
    assert left == {"a1": 1, "a2": 1, "b1": 1, "c1": 1}


def test_spread_stays_balanced_through_scale_out_and_scale_in() -> None:
    snap = Snapshot([node(f"n{i}", ZONES[i % 3]) for i in range(9)])
    plan = schedule(snap, PlacementRequest(count=12, cpu=128, memory=128, group="service:web",
                                           strategies=[SPREAD_ZONE, ("spread", "instanceId")]))
    zone = {n.id: n.attributes["ecs.availability-zone"] for n in snap.nodes}
    tasks = [(f"t{i}", p.node_id) for i, p in enumerate(plan.placements)]
    assert set(Counter(zone[n] for _, n in tasks).values()) == {4}
    for n_stop in (3, 6, 9):
        stop = set(choose_to_stop(snap, tasks, n_stop, [SPREAD_ZONE, ("spread", "instanceId")]))
        per_zone = Counter(zone[n] for t, n in tasks if t not in stop)
        assert max(per_zone.values()) - min(per_zone.values()) == 0, per_zone
        assert len(stop) == n_stop


def test_default_scale_in_balances_zones_then_instances() -> None:
    snap = Snapshot([node("a1", "us-east-1a"), node("b1", "us-east-1b")])
    tasks = [("t1", "a1"), ("t2", "a1"), ("t3", "a1"), ("t4", "b1")]
    assert choose_to_stop(snap, tasks, 2, []) == ["t1", "t2"]


def test_binpack_scale_in_empties_the_least_packed_node() -> None:
    snap = Snapshot([node("packed", used_memory=7000), node("loose", used_memory=1000),
                     node("mid", used_memory=4000)])
    tasks = [("t1", "packed"), ("t2", "loose"), ("t3", "loose"), ("t4", "mid")]
    assert choose_to_stop(snap, tasks, 3, [("binpack", "memory")]) == ["t2", "t3", "t4"]


def test_tasks_on_unusable_nodes_go_first() -> None:
    snap = Snapshot([node("ok"), node("drain", status=DRAINING), node("gone", connected=False)])
    tasks = [("t1", "ok"), ("t2", "drain"), ("t3", "ok"), ("t4", "unknown"), ("t5", "gone")]
    assert choose_to_stop(snap, tasks, 3, [("spread", "instanceId")]) == ["t2", "t4", "t5"]
    assert choose_to_stop(snap, tasks, 2, [("spread", "instanceId")]) == ["t2", "t4"]


def test_edge_counts() -> None:
    snap = Snapshot([node("a")])
    tasks = [("t1", "a"), ("t2", "a")]
    assert choose_to_stop(snap, tasks, 0, []) == []
    assert choose_to_stop(snap, [], 3, []) == []
    assert choose_to_stop(snap, tasks, 5, []) == ["t1", "t2"]


def test_random_scale_in_is_deterministic() -> None:
    snap = Snapshot([node(f"n{i}") for i in range(6)])
    tasks = [(f"t{i}", f"n{i % 6}") for i in range(30)]
    first = choose_to_stop(snap, tasks, 10, [("random", "")])
    assert first == choose_to_stop(snap, tasks, 10, [("random", "")])
    assert len(set(first)) == 10

"""Properties of schedule() over random clusters: it never over-commits cpu, memory or
ports, never uses an unusable node, explains every refusal, and leaves its input alone."""

from __future__ import annotations

import copy
from collections import Counter, defaultdict

from hypothesis import given, settings
from hypothesis import strategies as hs

from controlplane.scheduler import NodeState, PlacementRequest, Snapshot, schedule

ZONES = ("us-east-1a", "us-east-1b", "us-east-1c")
STRATEGIES = [
    ("spread", "attribute:ecs.availability-zone"),
    ("spread", "instanceId"),
    ("binpack", "memory"),
    ("binpack", "cpu"),
    ("random", ""),
]
CONSTRAINTS = [
    ("distinctInstance", ""),
    ("memberOf", "attribute:ecs.instance-type =~ m5.*"),
    ("memberOf", "runningTasksCount < 4"),
    ("memberOf", "not(task:group == service:web) or attribute:ecs.availability-zone != us-east-1c"),
]


@hs.composite
def nodes(draw: hs.DrawFn, i: int) -> NodeState:
    cpu = draw(hs.sampled_from([512, 1024, 2048]))
    mem = draw(hs.sampled_from([512, 1024, 4096]))
    low = draw(hs.sampled_from([32768, 40000]))
    return NodeState(
        id=f"n{i}",
        status=draw(hs.sampled_from(["ACTIVE", "ACTIVE", "ACTIVE", "DRAINING", "INACTIVE"])),
        connected=draw(hs.booleans() | hs.just(True)),
        cpu_units=cpu,
        memory_mib=mem,
        used_cpu=draw(hs.integers(0, cpu + 256)),  # sometimes already over-committed
        used_memory=draw(hs.integers(0, mem)),
        used_ports=draw(hs.sets(hs.sampled_from([80, 443, low, low + 1, low + 3]), max_size=4)),
        attributes={"ecs.availability-zone": draw(hs.sampled_from(ZONES)),
                    "ecs.instance-type": draw(hs.sampled_from(["t2.small", "m5.large"]))},
        running_tasks_count=draw(hs.integers(0, 5)),
        groups=Counter({"service:web": draw(hs.integers(0, 2))}),
        dynamic_port_low=low,
        dynamic_port_high=low + draw(hs.integers(0, 6)),
    )


@hs.composite
def scenarios(draw: hs.DrawFn) -> tuple[Snapshot, PlacementRequest]:
    n = draw(hs.integers(0, 12))
    snap = Snapshot([draw(nodes(i)) for i in range(n)])
    request = PlacementRequest(
        count=draw(hs.integers(0, 25)),
        cpu=draw(hs.sampled_from([0, 128, 512])),
        memory=draw(hs.sampled_from([64, 256, 1024])),
        fixed_ports=draw(hs.sampled_from([[], [80], [443, 8080]])),
        dynamic_ports=draw(hs.integers(0, 3)),
        group="service:web",
        constraints=draw(hs.lists(hs.sampled_from(CONSTRAINTS), max_size=2, unique=True)),
        strategies=draw(hs.lists(hs.sampled_from(STRATEGIES), max_size=3)),
        seed=draw(hs.integers(0, 10)),
    )
    return snap, request


@settings(max_examples=250, deadline=None)
@given(scenarios())
def test_never_over_commits_and_explains_refusals(scenario: tuple[Snapshot, PlacementRequest]) -> None:
    snap, request = scenario
    before = copy.deepcopy(snap)
    plan = schedule(snap, request)
    assert snap == before, "the snapshot was mutated"
    assert plan == schedule(snap, request), "not deterministic"

    assert len(plan.placements) + plan.unplaced == request.count
    by_id = {n.id: n for n in snap.nodes}
    per_node: dict[str, list[list[int]]] = defaultdict(list)
    for p in plan.placements:
        per_node[p.node_id].append(p.dynamic_ports)
    for node_id, port_lists in per_node.items():
        n = by_id[node_id]
        k = len(port_lists)
        assert n.status == "ACTIVE" and n.connected
        assert request.cpu == 0 or n.used_cpu + k * request.cpu <= n.cpu_units
        assert n.used_memory + k * request.memory <= n.memory_mib
        taken = [p for ports in port_lists for p in ports] + request.fixed_ports * k
        assert len(taken) == len(set(taken)), "a host port was handed out twice"
        assert not set(taken) & n.used_ports
        for ports in port_lists:
            assert len(ports) == request.dynamic_ports
            assert all(n.dynamic_port_low <= p <= n.dynamic_port_high for p in ports)
        if ("distinctInstance", "") in request.constraints:
            assert k == 1 and n.groups["service:web"] == 0

    if plan.unplaced:
        assert plan.reason.startswith("unable to place a task")
        assert sum(plan.filter_counts.values()) == len(snap.nodes)


@settings(max_examples=60, deadline=None)
@given(hs.integers(1, 30), hs.integers(3, 15))
def test_zone_spread_stays_within_one_task(count: int, n_nodes: int) -> None:
    snap = Snapshot([NodeState(id=f"n{i}", cpu_units=8192, memory_mib=65536,
                               attributes={"ecs.availability-zone": ZONES[i % 3]}) for i in range(n_nodes)])
    plan = schedule(snap, PlacementRequest(count=count, cpu=64, memory=64, group="service:web",
                                           strategies=[STRATEGIES[0], ("binpack", "memory")]))
    zone = {n.id: n.attributes["ecs.availability-zone"] for n in snap.nodes}
    per_zone = Counter({z: 0 for z in ZONES})
    per_zone.update(zone[p.node_id] for p in plan.placements)
    assert max(per_zone.values()) - min(per_zone.values()) <= 1

"""The memoized path (one snapshot, plans counted in with apply_plan) gives the same plans,
refusal counts and reasons as planning each request on a fresh snapshot built from scratch."""

from __future__ import annotations

import copy

from hypothesis import given, seed, settings
from hypothesis import strategies as hs

from controlplane.scheduler import NodeState, PlacementRequest, Plan, Snapshot, apply_plan, schedule
from tests.unit.test_scheduler_properties import CONSTRAINTS, STRATEGIES, nodes

# Constraints whose answer a placement can turn from no to yes, so the memo must add nodes
# back as well as drop them.
GAINING = [("memberOf", "task:group == service:api"), ("memberOf", "runningTasksCount > 2")]


@hs.composite
def requests(draw: hs.DrawFn) -> PlacementRequest:
    return PlacementRequest(
        count=draw(hs.integers(0, 4)),
        cpu=draw(hs.sampled_from([0, 128, 512])),
        memory=draw(hs.sampled_from([64, 256, 1024])),
        fixed_ports=draw(hs.sampled_from([[], [80]])),
        dynamic_ports=draw(hs.integers(0, 2)),
        group=draw(hs.sampled_from(["service:web", "service:api"])),
        constraints=draw(hs.lists(hs.sampled_from(CONSTRAINTS + GAINING), max_size=2, unique=True)),
        strategies=draw(hs.lists(hs.sampled_from(STRATEGIES), max_size=2)
                        | hs.just([STRATEGIES[0], ("binpack", "memory")])),
        seed=draw(hs.integers(0, 3)),
    )


def count_in_by_hand(nodes_: list[NodeState], request: PlacementRequest, plan: Plan) -> None:
    """What a control plane's next snapshot would hold once the plan is committed."""
    by_id = {n.id: n for n in nodes_}
    for p in plan.placements:
        n = by_id[p.node_id]
        n.used_cpu += request.cpu
        n.used_memory += request.memory
        n.used_ports.update(request.fixed_ports, p.dynamic_ports)
        n.groups[request.group] += 1
        n.running_tasks_count += 1


@seed(11)
@settings(max_examples=300, deadline=None)
@given(hs.integers(0, 10).flatmap(lambda n: hs.tuples(*(nodes(i) for i in range(n)))),
       hs.lists(requests(), min_size=1, max_size=3),
       hs.lists(hs.integers(0, 2), min_size=1, max_size=10))
def test_memoized_plans_match_plans_from_scratch(start: tuple[NodeState, ...], pool: list[PlacementRequest],
                                                 picks: list[int]) -> None:
    """A few request shapes asked again and again, as a control plane's RunTasks do."""
    reqs = [pool[k % len(pool)] for k in picks]
    live = Snapshot(copy.deepcopy(list(start)))
    plain = copy.deepcopy(list(start))
    for request in reqs:
        plan = schedule(live, request)
        assert plan == schedule(Snapshot(copy.deepcopy(plain)), request)
        apply_plan(live, request, plan)
        count_in_by_hand(plain, request, plan)
        assert live.nodes == plain


def test_a_placement_can_make_a_node_feasible_again() -> None:
    snap = Snapshot([NodeState(id="a", cpu_units=1024, memory_mib=1024),
                     NodeState(id="b", cpu_units=1024, memory_mib=1024)])
    follow = PlacementRequest(count=1, cpu=0, memory=64, group="service:web",
                              constraints=[("memberOf", "task:group == service:api")])
    refused = schedule(snap, follow)
    assert refused.unplaced == 1 and refused.filter_counts["memberOf(task:group == service:api)"] == 2
    api = PlacementRequest(count=1, cpu=0, memory=64, group="service:api", strategies=[("binpack", "memory")])
    api_plan = schedule(snap, api)
    apply_plan(snap, api, api_plan)
    placed = schedule(snap, follow)
    assert [p.node_id for p in placed.placements] == [p.node_id for p in api_plan.placements]
    assert placed.filter_counts["memberOf(task:group == service:api)"] == 1

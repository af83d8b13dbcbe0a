"""A snapshot's memo of what each request shape finds feasible, so one-task-per-call planning
does not filter every node afresh.

The first request of a shape (group, resources, ports, constraints) runs the filter chain
over every node and records, per node, the first filter that refused it (Nomad's
``FilterNode(option, reason)`` kept per node, so the refusal counts stay exact). Later
requests of that shape start from a copy of the feasible list. ``apply_plan`` counts a
committed plan into the snapshot and re-judges only the nodes the plan touched, in every
memoized shape: a placement can make a node infeasible (resources, ports, distinctInstance)
or feasible (a memberOf on ``task:group`` or ``runningTasksCount``).

A snapshot with a memo must change only through ``apply_plan``: the memo cannot see a
``NodeState`` edited behind its back.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from controlplane.scheduler.filters import Filter
from controlplane.scheduler.model import PlacementRequest, Plan, Snapshot
from controlplane.scheduler.rankers import SpreadBuckets
from controlplane.scheduler.state import PlanState

ShapeKey = tuple


def shape_key(request: PlacementRequest) -> ShapeKey:
    """What decides feasibility; count, strategies and seed do not."""
    return (request.group, request.cpu, request.memory, tuple(request.fixed_ports), request.dynamic_ports,
            tuple(request.constraints), request.capacity_provider, request.fargate)


@dataclass
class Shape:
    group: str
    filters: list[Filter]
    refused_by: list[int]  # per node: the index of the first filter that refused it, -1 if feasible
    feasible: list[int]  # in snapshot order
    refused: dict[str, int]
    spread: dict[str, SpreadBuckets] = field(default_factory=dict)

    def judge(self, st: PlanState, i: int) -> None:
        """Re-run the chain on node ``i`` and move it between feasible and refused."""
        new = next((k for k, f in enumerate(self.filters) if not f.keep(st, [i])), -1)
        old = self.refused_by[i]
        if new == old:
            return
        self.refused_by[i] = new
        if old >= 0:
            self.refused[self.filters[old].name] -= 1
        else:
            del self.feasible[bisect.bisect_left(self.feasible, i)]
            for buckets in self.spread.values():
                buckets.remove(i)
        if new >= 0:
            self.refused[self.filters[new].name] += 1
        else:
            bisect.insort(self.feasible, i)
            for buckets in self.spread.values():
                buckets.add(st, i)


class SnapshotIndex:
    """Flat per-node figures shared by every request of the snapshot, and one ``Shape`` per
    request shape seen."""

    def __init__(self, snapshot: Snapshot) -> None:
        nodes = snapshot.nodes
        self.nodes = nodes
        self.size = len(nodes)
        self.position: dict[str, int] = {}  # node id -> index, made by the first apply
        self.free_cpu = [n.cpu_units - n.used_cpu for n in nodes]
        self.free_memory = [n.memory_mib - n.used_memory for n in nodes]
        # Whether any node is Fargate capacity (else the Fargate filter could refuse nothing).
        self.fargate = any(n.fargate for n in nodes)
        self.states: dict[str, PlanState] = {}
        self.shapes: dict[ShapeKey, Shape] = {}

    def state(self, group: str) -> PlanState:
        """The snapshot as it stands, seen by requests of ``group``; plans fork it."""
        st = self.states.get(group)
        if st is None:
            st = self.states[group] = PlanState(self.nodes, group, self.free_cpu, self.free_memory,
                                                [n.groups.get(group, 0) for n in self.nodes])
        return st

    def shape(self, request: PlacementRequest, filters: list[Filter]) -> Shape:
        key = shape_key(request)
        shape = self.shapes.get(key)
        if shape is None:
            shape = self.shapes[key] = self._filter_all(request.group, filters)
        return shape

    def spread(self, shape: Shape, name: str) -> SpreadBuckets:
        buckets = shape.spread.get(name)
        if buckets is None:
            buckets = shape.spread[name] = SpreadBuckets(name, self.state(shape.group), shape.feasible)
        return buckets

    def _filter_all(self, group: str, filters: list[Filter]) -> Shape:
        st = self.state(group)
        refused_by = [-1] * self.size
        refused = dict.fromkeys((f.name for f in filters), 0)
        cands = list(range(self.size))
        for k, f in enumerate(filters):
            kept = f.keep(st, cands)
            if len(kept) != len(cands):
                still = set(kept)
                for i in cands:
                    if i not in still:
                        refused_by[i] = k
                refused[f.name] += len(cands) - len(kept)
            cands = kept
        return Shape(group, filters, refused_by, cands, refused)

    def apply(self, request: PlacementRequest, plan: Plan) -> None:
        touched: dict[int, int] = {}
        if not self.position:
            self.position = {n.id: i for i, n in enumerate(self.nodes)}
        for p in plan.placements:
            i = self.position[p.node_id]
            node = self.nodes[i]
            node.used_cpu += request.cpu
            node.used_memory += request.memory
            node.used_ports.update(request.fixed_ports)
            node.used_ports.update(p.dynamic_ports)
            node.groups[request.group] += 1
            node.running_tasks_count += 1
            self.free_cpu[i] -= request.cpu
            self.free_memory[i] -= request.memory
            touched[i] = touched.get(i, 0) + 1
        if not touched:
            return
        own = self.states.get(request.group)
        if own is not None:
            for i, k in touched.items():
                own.group_count[i] += k
        for shape in self.shapes.values():
            if shape.group == request.group:
                st = self.state(shape.group)
                for buckets in shape.spread.values():
                    for i, k in touched.items():
                        for _ in range(k):
                            buckets.placed(st, i)
        for shape in self.shapes.values():
            st = self.state(shape.group)
            for i in touched:
                shape.judge(st, i)


def index_of(snapshot: Snapshot) -> SnapshotIndex:
    index = snapshot.index
    if not isinstance(index, SnapshotIndex) or index.nodes is not snapshot.nodes or index.size != len(snapshot.nodes):
        index = snapshot.index = SnapshotIndex(snapshot)
    return index


def apply_plan(snapshot: Snapshot, request: PlacementRequest, plan: Plan) -> None:
    """Count a committed ``plan`` for ``request`` into ``snapshot``: its nodes' used
    resources, ports, group and task counts, and every memoized shape. Call it with the
    placements that were committed, so the next ``schedule`` on this snapshot sees them."""
    index_of(snapshot).apply(request, plan)

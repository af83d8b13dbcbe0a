"""``schedule(snapshot, request) -> Plan``: filter, rank, place one task at a time.

The feasible set of a request shape is computed once per snapshot (``scheduler.index``) and
copied per request; after each placement only the chosen node can change (more used, one more
task of the group), so only it is re-checked. Nodes a filter refused never change during a
plan, so the per-filter refusal counts stay exact.
"""

from __future__ import annotations

import bisect
import zlib

from controlplane.scheduler.filters import Filter, build_filters
from controlplane.scheduler.index import index_of
from controlplane.scheduler.model import Placement, PlacementRequest, Plan, Snapshot
from controlplane.scheduler.rankers import Ranker, build_rankers
from controlplane.scheduler.validation import (
    DISTINCT_INSTANCE,
    MAX_CONSTRAINTS,
    MAX_STRATEGIES,
    PlacementInputError,
    default_strategies,
    parse_constraint,
    parse_strategy,
    validate_placement,
)

NO_NODES = "unable to place a task because no container instances were found in the cluster"
NO_FIT = "unable to place a task because no container instance met all of its requirements"


def _check_request(request: PlacementRequest) -> None:
    errors = []
    for name in ("count", "cpu", "memory", "dynamic_ports"):
        value = getattr(request, name)
        if not isinstance(value, int) or value < 0:
            errors.append(f"{name}: must be a whole number >= 0, not {value!r}")
    seen: set[int] = set()
    for p in request.fixed_ports:
        if not isinstance(p, int) or not 0 < p < 65536:
            errors.append(f"fixed_ports: {p!r} is not a port number (1-65535)")
        elif p in seen:
            errors.append(f"fixed_ports: host port {p} is listed twice")
        seen.add(p)
    if len(request.constraints) > MAX_CONSTRAINTS or len(request.strategies) > MAX_STRATEGIES:
        errors.extend(validate_placement(request.constraints, request.strategies))
    if errors:
        raise PlacementInputError(errors)


class Planner:
    """Places the request's tasks one at a time (``place_one``) against a private overlay of
    the snapshot. Raises ``PlacementInputError`` for invalid requests."""

    def __init__(self, snapshot: Snapshot, request: PlacementRequest) -> None:
        _check_request(request)
        errors: list[str] = []
        member_of = []
        distinct = False
        for i, (kind, expression) in enumerate(request.constraints):
            try:
                expr = parse_constraint(i, kind, expression)
            except PlacementInputError as e:
                errors.extend(e.errors)
                continue
            if kind == DISTINCT_INSTANCE:
                distinct = True
            elif expr is not None:
                member_of.append((expression, expr))
        pairs = request.strategies or default_strategies(request.group.startswith("service:"))
        strategies = []
        for i, (kind, field) in enumerate(pairs):
            try:
                strategies.append(parse_strategy(i, kind, field))
            except PlacementInputError as e:
                errors.extend(e.errors)
        if errors:
            raise PlacementInputError(errors)

        self.request = request
        self.fixed_ports = list(request.fixed_ports)
        self.avoid = set(request.fixed_ports)
        index = index_of(snapshot)
        shape = index.shape(request, build_filters(request, member_of, distinct, index.fargate))
        self.st = index.state(request.group).fork()
        self.filters: list[Filter] = shape.filters
        self.recheck = [f for f in self.filters if not f.static]
        self.refused: dict[str, int] = dict(shape.refused)
        self.feasible = shape.feasible.copy()
        seed = request.seed if request.seed is not None else zlib.crc32(request.group.encode())
        self.rankers: list[Ranker] = build_rankers(strategies, lambda name: index.spread(shape, name), seed)

    def choose(self) -> int | None:
        cands = self.feasible
        if not cands:
            return None
        full = True
        for ranker in self.rankers:
            if len(cands) == 1:
                break
            cands = ranker.narrow(self.st, cands, full)
            full = False
        return min(cands)  # ties go to the node listed first in the snapshot

    def place_one(self) -> Placement | None:
        """Plan one more task; None when no node can take it (see ``reason``)."""
        i = self.choose()
        if i is None:
            return None
        st, request = self.st, self.request
        ports = st.pick_dynamic_ports(i, request.dynamic_ports, self.avoid) if request.dynamic_ports else []
        st.place(i, request.cpu, request.memory, self.fixed_ports + ports)
        for ranker in self.rankers:
            ranker.placed(st, i)
        for f in self.recheck:
            if not f.keep(st, [i]):
                self.refused[f.name] += 1
                del self.feasible[bisect.bisect_left(self.feasible, i)]
                for ranker in self.rankers:
                    ranker.dropped(st, i)
                break
        return Placement(st.nodes[i].id, ports)

    def reason(self) -> str:
        if not self.st.nodes:
            return NO_NODES
        parts = [(name, n) for name, n in self.refused.items() if n]
        if not parts:
            return NO_FIT
        first_name, first_n = parts[0]
        words = [f"{first_n} node{'s' if first_n != 1 else ''} refused by {first_name}"]
        words += [f"{n} by {name}" for name, n in parts[1:]]
        return f"{NO_FIT}. Reasons: {', '.join(words)}"


def schedule(snapshot: Snapshot, request: PlacementRequest) -> Plan:
    """Place ``request.count`` tasks, each seeing the ones before it. Pure: the snapshot is
    not modified and the same inputs (and seed) give the same plan. Raises
    ``PlacementInputError`` (a ValueError naming the field) for invalid requests."""
    planner = Planner(snapshot, request)
    placements: list[Placement] = []
    for _ in range(request.count):
        placement = planner.place_one()
        if placement is None:
            break
        placements.append(placement)
    unplaced = request.count - len(placements)
    return Plan(placements, unplaced, planner.reason() if unplaced else "", dict(planner.refused))

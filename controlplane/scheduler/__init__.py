"""Shoal's pure placement engine, at Amazon ECS fidelity: ``schedule(snapshot, request)``
runs a chain of feasibility filters (status, resources, ports, distinctInstance, memberOf
with the Cluster Query Language) and then the user's strategies as chained rankers;
``choose_to_stop`` picks scale-in victims by the same strategies; ``apply_plan`` counts a
committed plan into the snapshot, so one-task-per-call planning stays incremental. Nothing
here does I/O."""

from controlplane.scheduler.cql import CQLError, Expr, parse
from controlplane.scheduler.index import apply_plan
from controlplane.scheduler.model import (
    ACTIVE,
    DRAINING,
    INACTIVE,
    PROVIDER_ATTRIBUTE,
    NodeState,
    Placement,
    PlacementRequest,
    Plan,
    Snapshot,
)
from controlplane.scheduler.planner import Planner, schedule
from controlplane.scheduler.scale_in import choose_to_stop
from controlplane.scheduler.validation import PlacementInputError, default_strategies, validate_placement

__all__ = [
    "ACTIVE",
    "DRAINING",
    "INACTIVE",
    "PROVIDER_ATTRIBUTE",
    "CQLError",
    "Expr",
    "NodeState",
    "Placement",
    "PlacementInputError",
    "PlacementRequest",
    "Plan",
    "Planner",
    "Snapshot",
    "apply_plan",
    "choose_to_stop",
    "default_strategies",
    "parse",
    "schedule",
    "validate_placement",
]

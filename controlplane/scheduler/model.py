"""The scheduler's inputs and outputs: plain data, no behaviour.

The caller builds a ``Snapshot`` from the store; ``schedule`` reads it and never changes its
nodes (planning several tasks keeps its own copy-on-write overlay), so the same snapshot can
be planned against again after a conflict. The caller counts a committed plan in with
``apply_plan``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

ACTIVE = "ACTIVE"
DRAINING = "DRAINING"
INACTIVE = "INACTIVE"
# The attribute naming a node's capacity provider: set by the node provider that launched it
# (autoscaler/providers), or at registration (`shoal node install-script --capacity-provider`).
PROVIDER_ATTRIBUTE = "shoal.capacity-provider"


@dataclass
class NodeState:
    """One container instance as the scheduler sees it. ``groups`` counts live tasks per
    task group ("service:web", "family:nginx"); ``used_ports`` holds host ports taken by any
    protocol."""

    id: str
    status: str = ACTIVE
    connected: bool = True
    cpu_units: int = 0
    memory_mib: int = 0
    used_cpu: int = 0
    used_memory: int = 0
    used_ports: set[int] = field(default_factory=set)
    attributes: dict[str, str] = field(default_factory=dict)
    registered_at: float = 0.0
    running_tasks_count: int = 0
    groups: Counter[str] = field(default_factory=Counter)
    dynamic_port_low: int = 32768
    dynamic_port_high: int = 60999
    # On a Fargate capacity provider: takes FARGATE tasks only (FargateFilter).
    fargate: bool = False


@dataclass
class Snapshot:
    """``index`` is the scheduler's memo of this snapshot (``scheduler.index``), made by the
    first ``schedule`` call and reused by the next while the snapshot changes only through
    ``apply_plan``. It is not part of the snapshot's value."""

    nodes: list[NodeState]
    index: object = field(default=None, compare=False, repr=False)


@dataclass
class PlacementRequest:
    """``count`` identical tasks of one ``group``. ``constraints`` are (type, expression)
    pairs, ``strategies`` (type, field) pairs in the user's order; an empty strategy list
    means the ECS default (see ``default_strategies``). ``seed`` drives the random strategy;
    None derives one from the group so planning stays deterministic. ``capacity_provider``:
    the provider the task was given by its capacity provider strategy; only that provider's
    nodes (``PROVIDER_ATTRIBUTE``) may take it. ``fargate``: a FARGATE task; only Fargate
    nodes take one, and they take nothing else."""

    count: int
    cpu: int
    memory: int
    fixed_ports: list[int] = field(default_factory=list)
    dynamic_ports: int = 0
    group: str = ""
    constraints: list[tuple[str, str]] = field(default_factory=list)
    strategies: list[tuple[str, str]] = field(default_factory=list)
    seed: int | None = None
    capacity_provider: str = ""
    fargate: bool = False


@dataclass
class Placement:
    node_id: str
    dynamic_ports: list[int] = field(default_factory=list)


@dataclass
class Plan:
    """``filter_counts`` maps each feasibility filter to the nodes it refused at the last
    decision taken (the failing one when ``unplaced`` > 0); ``reason`` explains an unplaced
    remainder and is empty when everything was placed."""

    placements: list[Placement]
    unplaced: int
    reason: str
    filter_counts: dict[str, int]

"""Feasibility filters, in the order ECS applies them: the node must be usable, have the
resources, then satisfy the constraints. Each takes the surviving candidates and returns
those it keeps, so the planner records how many nodes each one refused (Nomad's
``FilterNode(option, reason)``).

``static`` filters judge only what a plan cannot change (status, attributes); the rest are
re-run on a node after a task is planned onto it.
"""

from __future__ import annotations

from controlplane.scheduler import cql
from controlplane.scheduler.model import ACTIVE, PROVIDER_ATTRIBUTE, PlacementRequest
from controlplane.scheduler.state import PlanState


class Filter:
    name = "filter"
    static = False

    def keep(self, st: PlanState, cands: list[int]) -> list[int]:
        raise NotImplementedError


class ActiveFilter(Filter):
    name = "status"
    static = True

    def keep(self, st: PlanState, cands: list[int]) -> list[int]:
        nodes = st.nodes
        return [i for i in cands if nodes[i].status == ACTIVE]


class ConnectedFilter(Filter):
    name = "agentConnected"
    static = True

    def keep(self, st: PlanState, cands: list[int]) -> list[int]:
        nodes = st.nodes
        return [i for i in cands if nodes[i].connected]


class CapacityProviderFilter(Filter):
    """ECS places a task given a capacity provider only on that provider's instances (its
    auto scaling group's); a Shoal node belongs to the provider its attribute names."""

    static = True

    def __init__(self, provider: str) -> None:
        self.provider = provider
        self.name = f"capacityProvider({provider})"

    def keep(self, st: PlanState, cands: list[int]) -> list[int]:
        nodes, want = st.nodes, self.provider
        return [i for i in cands if nodes[i].attributes.get(PROVIDER_ATTRIBUTE) == want]


class FargateFilter(Filter):
    """ECS never shares Fargate capacity with EC2 or EXTERNAL tasks: a node of a Fargate
    capacity provider takes FARGATE tasks only, and a FARGATE task only such a node."""

    static = True

    def __init__(self, fargate: bool) -> None:
        self.fargate = fargate
        self.name = "fargateCapacity" if fargate else "notFargateCapacity"

    def keep(self, st: PlanState, cands: list[int]) -> list[int]:
        nodes, want = st.nodes, self.fargate
        return [i for i in cands if nodes[i].fargate == want]


class CpuFilter(Filter):
    name = "cpu"

    def __init__(self, need: int) -> None:
        self.need = need

    def keep(self, st: PlanState, cands: list[int]) -> list[int]:
        free, need = st.free_cpu, self.need
        return [i for i in cands if free[i] >= need]


class MemoryFilter(Filter):
    name = "memory"

    def __init__(self, need: int) -> None:
        self.need = need

    def keep(self, st: PlanState, cands: list[int]) -> list[int]:
        free, need = st.free_memory, self.need
        return [i for i in cands if free[i] >= need]


class PortsFilter(Filter):
    """Every fixed host port of the task must be free on the node."""

    name = "ports"

    def __init__(self, ports: list[int]) -> None:
        self.ports = ports

    def keep(self, st: PlanState, cands: list[int]) -> list[int]:
        ports, taken = self.ports, st.port_taken
        return [i for i in cands if not any(taken(i, p) for p in ports)]


class DynamicPortsFilter(Filter):
    """Enough free ports in the node's dynamic range, not counting the task's fixed ones."""

    name = "dynamicPorts"

    def __init__(self, need: int, fixed: list[int]) -> None:
        self.need = need
        self.fixed = set(fixed)

    def keep(self, st: PlanState, cands: list[int]) -> list[int]:
        nodes, extra = st.nodes, st.extra_ports
        # A lower bound on what is free first (every taken port counted as if in range); the
        # exact count only for the few nodes near exhaustion.
        want = self.need + len(self.fixed)
        return [
            i for i in cands
            if (n := nodes[i]).dynamic_port_high - n.dynamic_port_low + 1 - len(n.used_ports)
            - len(extra.get(i, ())) >= want or self._exact(st, i)
        ]

    def _exact(self, st: PlanState, i: int) -> bool:
        node = st.nodes[i]
        low, high = node.dynamic_port_low, node.dynamic_port_high
        return high - low + 1 - st.taken_in_range(i, low, high, self.fixed) >= self.need


class DistinctInstanceFilter(Filter):
    """ECS distinctInstance: no other task of the same group on the node."""

    name = "distinctInstance"

    def keep(self, st: PlanState, cands: list[int]) -> list[int]:
        count = st.group_count
        return [i for i in cands if count[i] == 0]


class MemberOfFilter(Filter):
    def __init__(self, expression: str, expr: cql.Expr) -> None:
        self.name = f"memberOf({expression.strip()})"
        self.expr = expr
        self.static = not expr.dynamic

    def keep(self, st: PlanState, cands: list[int]) -> list[int]:
        predicate = self.expr.predicate
        if not st.added:
            nodes = st.nodes
            return [i for i in cands if predicate(nodes[i])]
        view = st.view
        return [i for i in cands if predicate(view(i))]


def build_filters(request: PlacementRequest, member_of: list[tuple[str, cql.Expr]],
                  distinct: bool, fargate_nodes: bool) -> list[Filter]:
    """The chain for one request, leaving out filters that could refuse nothing
    (``fargate_nodes``: whether the snapshot has any Fargate node)."""
    chain: list[Filter] = [ActiveFilter(), ConnectedFilter()]
    if request.capacity_provider:
        chain.append(CapacityProviderFilter(request.capacity_provider))
    if fargate_nodes or request.fargate:
        chain.append(FargateFilter(request.fargate))
    if request.cpu > 0:
        chain.append(CpuFilter(request.cpu))
    if request.memory > 0:
        chain.append(MemoryFilter(request.memory))
    if request.fixed_ports:
        chain.append(PortsFilter(list(request.fixed_ports)))
    if request.dynamic_ports > 0:
        chain.append(DynamicPortsFilter(request.dynamic_ports, list(request.fixed_ports)))
    if distinct:
        chain.append(DistinctInstanceFilter())
    chain.extend(MemberOfFilter(text, expr) for text, expr in member_of)
    return chain

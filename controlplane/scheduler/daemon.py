"""DAEMON services: one task per eligible node. Two pure decisions: which nodes are
eligible (ACTIVE, connected, not Fargate capacity, matching the service's memberOf
constraints), and whether a daemon task fits on the one node it is pinned to, judged by the
same filter chain as any task so an unplaced daemon says which filter refused its node.

A daemon task names its node with a constraint ``memberOf(ec2InstanceId == <node>)``
(``pin``); a daemon that does not fit is not placed elsewhere, and its cpu/memory are
reserved on its node (``reserve``) so replica tasks placed later cannot take that room."""

from __future__ import annotations

from controlplane.scheduler.filters import build_filters
from controlplane.scheduler.index import apply_plan, index_of
from controlplane.scheduler.model import ACTIVE, Placement, PlacementRequest, Plan, Snapshot
from controlplane.scheduler.planner import NO_FIT, NO_NODES
from controlplane.scheduler.validation import PlacementInputError, parse_constraint

PIN = "ec2InstanceId == "
MEMBER_OF = "memberOf"


def pin(node_id: str) -> tuple[str, str]:
    """The constraint that ties a daemon task to its node."""
    return (MEMBER_OF, PIN + node_id)


def pinned_node(constraints: list[tuple[str, str]]) -> str:
    """The node a daemon task is tied to, or '' for a task placed by the strategies."""
    for kind, expression in constraints:
        if kind == MEMBER_OF and expression.startswith(PIN):
            return expression[len(PIN):]
    return ""


def eligible_nodes(snapshot: Snapshot, constraints: list[tuple[str, str]]) -> list[str]:
    """The nodes that must run one task of a daemon service, in snapshot order: ACTIVE,
    agent connected, not Fargate capacity (ECS runs no daemon on Fargate), and matching every
    memberOf constraint (resources do not count: a node without room keeps its daemon
    unplaced and reserved, it is not skipped)."""
    exprs = []
    for i, (kind, expression) in enumerate(constraints):
        expr = parse_constraint(i, kind, expression)
        if kind == MEMBER_OF and expr is not None:
            exprs.append(expr)
    return [n.id for n in snapshot.nodes
            if n.status == ACTIVE and n.connected and not n.fargate and all(e.predicate(n) for e in exprs)]


def place_daemon(snapshot: Snapshot, request: PlacementRequest, node_id: str) -> Plan:
    """Plan one daemon task onto ``node_id`` only: a placement when the node passes every
    filter, else unplaced with the filter that refused it. Pure, like ``schedule``."""
    if request.count != 1:
        raise PlacementInputError([f"count: a daemon task is placed one at a time, not {request.count}"])
    index = index_of(snapshot)
    at = next((i for i, n in enumerate(snapshot.nodes) if n.id == node_id), None)
    if at is None:
        return Plan([], 1, NO_NODES, {})
    member_of = []
    for i, (kind, expression) in enumerate(request.constraints):
        expr = parse_constraint(i, kind, expression)
        if expr is not None:
            member_of.append((expression, expr))
    filters = build_filters(request, member_of, distinct=False, fargate_nodes=index.fargate)
    st = index.state(request.group).fork()
    for f in filters:
        if not f.keep(st, [at]):
            return Plan([], 1, f"{NO_FIT}. Reasons: 1 node refused by {f.name}", {f.name: 1})
    ports = st.pick_dynamic_ports(at, request.dynamic_ports, set(request.fixed_ports)) if request.dynamic_ports else []
    return Plan([Placement(node_id, ports)], 0, "", {f.name: 0 for f in filters})


def reserve(snapshot: Snapshot, request: PlacementRequest, node_id: str) -> None:
    """Count an unplaced daemon task's cpu and memory as used on its node, so no later
    request of this snapshot places into the room the daemon waits for."""
    room = PlacementRequest(count=1, cpu=request.cpu, memory=request.memory, group=request.group)
    apply_plan(snapshot, room, Plan([Placement(node_id)], 0, "", {}))

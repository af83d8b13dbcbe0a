"""Between our records and the pure scheduler: validation of user placement input, and
the scheduler's snapshot built from nodes and the tasks on them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from controlplane.errors import invalid
from controlplane.fargate import LAUNCH_TYPE as FARGATE
from controlplane.scheduler import PROVIDER_ATTRIBUTE, NodeState, PlacementRequest, Snapshot, validate_placement
from controlplane.taskspec import Needs, is_live
from shoal.v1 import resources_pb2 as r


def check_placement(
    constraints: Sequence[r.PlacementConstraint], strategies: Sequence[r.PlacementStrategy]
) -> None:
    errors = validate_placement(
        [(c.type, c.expression) for c in constraints], [(s.type, s.field) for s in strategies]
    )
    if errors:
        raise invalid("; ".join(errors))


def snapshot(nodes: Iterable[r.ContainerInstance], tasks: Iterable[r.Task], alive: set[str],
             fargate: frozenset[str] = frozenset()) -> Snapshot:
    """``alive``: nodes whose agents hold a stream now (the liveness keys); ``fargate``: the
    names of the capacity providers marked Fargate, whose nodes take FARGATE tasks only."""
    states: dict[str, NodeState] = {}
    for n in nodes:
        attributes = {a.name: a.value for a in n.attributes}
        states[n.id] = NodeState(
            id=n.id,
            status=n.status,
            connected=n.id in alive,
            cpu_units=n.cpu_units,
            memory_mib=n.memory_mib,
            used_cpu=0,
            used_memory=0,
            used_ports=set(),
            attributes=attributes,
            registered_at=n.registered_at,
            running_tasks_count=0,
            groups=Counter(),
            dynamic_port_low=n.dynamic_port_low or 32768,
            dynamic_port_high=n.dynamic_port_high or 60999,
            fargate=attributes.get(PROVIDER_ATTRIBUTE, "") in fargate,
        )
    for t in tasks:
        node = states.get(t.node_id)
        if node is None or not is_live(t):
            continue
        node.used_cpu += int(t.cpu or 0)
        node.used_memory += int(t.memory or 0)
        node.running_tasks_count += 1
        node.groups[t.group] += 1
        for c in t.containers:
            node.used_ports.update(b.host_port for b in c.network_bindings if b.host_port)
    return Snapshot(nodes=list(states.values()))


def request(task: r.Task, needs: Needs, count: int = 1) -> PlacementRequest:
    return PlacementRequest(
        count=count,
        cpu=needs.cpu,
        memory=needs.memory,
        fixed_ports=list(needs.fixed_ports),
        dynamic_ports=needs.dynamic_ports,
        group=task.group,
        constraints=[(c.type, c.expression) for c in task.placement_constraints],
        strategies=[(s.type, s.field) for s in task.placement_strategy],
        capacity_provider=task.capacity_provider_name,
        fargate=task.launch_type == FARGATE,
    )

"""The planner's copy-on-write view of a snapshot: what the nodes have left once the tasks
planned so far are counted, kept in flat lists indexed by the node's position so the hot
path reads ints instead of walking objects. The caller's ``NodeState`` objects are never
written."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from controlplane.scheduler.model import NodeState


@dataclass
class NodeView:
    """A node with this plan's tasks added, shaped like ``NodeState`` for CQL evaluation."""

    id: str
    attributes: Mapping[str, str]
    registered_at: float
    connected: bool
    running_tasks_count: int
    groups: Mapping[str, int]


class PlanState:
    """``free_cpu``, ``free_memory`` and ``group_count`` (tasks of the request's group per
    node, the planned ones included) may be shared with the snapshot's index: a plan works on
    a ``fork``, the index's own state has nothing planned (``added`` stays empty)."""

    def __init__(self, nodes: list[NodeState], group: str, free_cpu: list[int], free_memory: list[int],
                 group_count: list[int]) -> None:
        self.nodes = nodes
        self.group = group
        self.free_cpu = free_cpu
        self.free_memory = free_memory
        self.group_count = group_count
        self.added: dict[int, int] = {}
        self.extra_ports: dict[int, set[int]] = {}

    def fork(self) -> PlanState:
        """A private copy to plan on: copying three flat lists is a memcpy, far cheaper than
        recomputing them from the nodes."""
        st = PlanState(self.nodes, self.group, self.free_cpu.copy(), self.free_memory.copy(),
                       self.group_count.copy())
        st.added = dict(self.added)
        st.extra_ports = {i: set(p) for i, p in self.extra_ports.items()}
        return st

    def port_taken(self, i: int, port: int) -> bool:
        if port in self.nodes[i].used_ports:
            return True
        extra = self.extra_ports.get(i)
        return extra is not None and port in extra

    def taken_in_range(self, i: int, low: int, high: int, also: set[int]) -> int:
        node = self.nodes[i]
        taken = {p for p in node.used_ports if low <= p <= high}
        taken.update(p for p in self.extra_ports.get(i, ()) if low <= p <= high)
        taken.update(p for p in also if low <= p <= high)
        return len(taken)

    def pick_dynamic_ports(self, i: int, count: int, avoid: set[int]) -> list[int]:
        """The lowest ``count`` free ports of the node's dynamic range, skipping ``avoid``
        (the task's own fixed ports). Feasibility was checked, so enough exist."""
        node = self.nodes[i]
        chosen: list[int] = []
        port = node.dynamic_port_low
        while len(chosen) < count and port <= node.dynamic_port_high:
            if port not in avoid and not self.port_taken(i, port):
                chosen.append(port)
            port += 1
        return chosen

    def place(self, i: int, cpu: int, memory: int, ports: list[int]) -> None:
        self.free_cpu[i] -= cpu
        self.free_memory[i] -= memory
        self.group_count[i] += 1
        self.added[i] = self.added.get(i, 0) + 1
        if ports:
            self.extra_ports.setdefault(i, set()).update(ports)

    def view(self, i: int) -> NodeState | NodeView:
        """The node as CQL should see it now: the original object while nothing is planned on
        it, else an overlay with the planned tasks counted."""
        node = self.nodes[i]
        added = self.added.get(i, 0)
        if not added:
            return node
        groups = Counter(node.groups)
        groups[self.group] += added
        return NodeView(node.id, node.attributes, node.registered_at, node.connected,
                        node.running_tasks_count + added, groups)

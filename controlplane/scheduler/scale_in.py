"""``choose_to_stop``: which tasks of a group go on scale-in, by the group's strategies
read in reverse, so stopping keeps what placing built.

- Tasks on nodes that are unknown, not ACTIVE or disconnected go first: they are the least
  useful wherever the strategies would put them.
- spread (attribute or instance): stop from the value / node holding the most tasks of the
  group, so the survivors stay balanced (ECS keeps zones balanced the same way).
- binpack: stop from the node with the most of the resource left, emptying the least packed
  nodes first so they can be released.
- random: any candidate node, from a seed derived from the candidates (deterministic).

Strategies chain as in placement; remaining ties go to the node listed first in the
snapshot, and on a node the task listed first in ``candidates`` stops first.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Sequence

from controlplane.scheduler.model import ACTIVE, Snapshot
from controlplane.scheduler.validation import Strategy, default_strategies, parse_strategy


def choose_to_stop(
    snapshot: Snapshot,
    candidates: Sequence[tuple[str, str]],
    count: int,
    strategies: Sequence[tuple[str, str]],
) -> list[str]:
    """``count`` task ids from ``candidates`` ((task_id, node_id) of one group) to stop."""
    if count <= 0 or not candidates:
        return []
    parsed = [parse_strategy(i, k, f) for i, (k, f) in enumerate(strategies or default_strategies(True))]
    index = {node.id: i for i, node in enumerate(snapshot.nodes)}
    by_node: dict[str, list[str]] = {}
    for task_id, node_id in candidates:
        by_node.setdefault(node_id, []).append(task_id)

    def usable(node_id: str) -> bool:
        i = index.get(node_id)
        return i is not None and snapshot.nodes[i].status == ACTIVE and snapshot.nodes[i].connected

    chosen: list[str] = [t for t, n in candidates if not usable(n)][:count]
    for node_id in [n for n in by_node if not usable(n)]:
        del by_node[node_id]
    seed = zlib.crc32("\n".join(sorted(t for t, _ in candidates)).encode())
    rng = random.Random(seed)
    while len(chosen) < count and by_node:
        node_id = _pick_node(snapshot, index, by_node, parsed, rng)
        tasks = by_node[node_id]
        chosen.append(tasks.pop(0))
        if not tasks:
            del by_node[node_id]
    return chosen


def _pick_node(snapshot: Snapshot, index: dict[str, int], by_node: dict[str, list[str]],
               strategies: list[Strategy], rng: random.Random) -> str:
    nodes = sorted(by_node, key=index.__getitem__)
    for s in strategies:
        if len(nodes) == 1:
            break
        if s.kind == "random":
            return rng.choice(nodes)
        if s.kind == "spread_instance":
            key = {n: len(by_node[n]) for n in nodes}
        elif s.kind == "spread_attribute":
            value = {n: snapshot.nodes[index[n]].attributes.get(s.key, "") for n in nodes}
            per_value: dict[str, int] = {}
            for n, tasks in by_node.items():
                v = snapshot.nodes[index[n]].attributes.get(s.key, "")
                per_value[v] = per_value.get(v, 0) + len(tasks)
            key = {n: per_value[value[n]] for n in nodes}
        else:
            node_of = {n: snapshot.nodes[index[n]] for n in nodes}
            key = {
                n: (nd.cpu_units - nd.used_cpu) if s.key == "cpu" else (nd.memory_mib - nd.used_memory)
                for n, nd in node_of.items()
            }
        best = max(key.values())
        nodes = [n for n in nodes if key[n] == best]
    return nodes[0]

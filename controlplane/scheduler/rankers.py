"""Placement strategies as rankers. Each narrows the feasible nodes to the ones it likes
best; the planner chains them in the user's order, so the first picks the best set, the next
breaks its ties, and so on (ECS semantics). What is left after the chain goes to the node
listed first in the snapshot.

Spread by attribute keeps per-value task counts and per-value buckets of feasible nodes, so
its first-in-chain narrowing costs the number of attribute values, not of nodes.
"""

from __future__ import annotations

import bisect
import random

from controlplane.scheduler.model import ACTIVE
from controlplane.scheduler.state import PlanState
from controlplane.scheduler.validation import Strategy


class Ranker:
    def narrow(self, st: PlanState, cands: list[int], full: bool) -> list[int]:
        """The best of ``cands`` (never empty); ``full`` says cands is every feasible node.
        The result may be an internal list: callers only read it."""
        raise NotImplementedError

    def placed(self, st: PlanState, i: int) -> None:
        """A task of the group was planned onto node ``i``."""

    def dropped(self, st: PlanState, i: int) -> None:
        """Node ``i`` is no longer feasible for this request."""


def _lowest(values: list[int], cands: list[int]) -> list[int]:
    best = min(map(values.__getitem__, cands))
    return [i for i in cands if values[i] == best]


class BinpackRanker(Ranker):
    """Least remaining cpu or memory first: fill nodes before opening new ones."""

    def __init__(self, key: str) -> None:
        self.key = key

    def narrow(self, st: PlanState, cands: list[int], full: bool) -> list[int]:
        return _lowest(st.free_cpu if self.key == "cpu" else st.free_memory, cands)


class SpreadInstanceRanker(Ranker):
    """Fewest tasks of the group on the node first."""

    def narrow(self, st: PlanState, cands: list[int], full: bool) -> list[int]:
        return _lowest(st.group_count, cands)


class SpreadAttributeRanker(Ranker):
    """Fewest tasks of the group among nodes sharing the attribute's value first; a node
    without the attribute counts as the value "". Tasks on nodes that are not ACTIVE are
    not counted: they are being drained away and must not skew the balance."""

    def __init__(self, name: str, st: PlanState, feasible: list[int]) -> None:
        self.name = name
        nodes = st.nodes
        # Values of feasible nodes only: the others are never ranked.
        self.values: dict[int, str] = {i: nodes[i].attributes.get(name, "") for i in feasible}
        self.counts: dict[str, int] = dict.fromkeys(self.values.values(), 0)
        for i, count in enumerate(st.group_count):
            if count and (node := nodes[i]).status == ACTIVE:
                value = node.attributes.get(name, "")
                self.counts[value] = self.counts.get(value, 0) + count
        self.buckets: dict[str, list[int]] = {}
        for i in feasible:
            self.buckets.setdefault(self.values[i], []).append(i)

    def narrow(self, st: PlanState, cands: list[int], full: bool) -> list[int]:
        counts = self.counts
        if full:
            best = min(counts[v] for v in self.buckets)
            tied = [b for v, b in self.buckets.items() if counts[v] == best]
            return tied[0] if len(tied) == 1 else sorted(i for b in tied for i in b)
        values = self.values
        keys = [counts[values[i]] for i in cands]
        best = min(keys)
        return [i for i, k in zip(cands, keys, strict=True) if k == best]

    def placed(self, st: PlanState, i: int) -> None:
        self.counts[self.values[i]] += 1

    def dropped(self, st: PlanState, i: int) -> None:
        value = self.values[i]
        bucket = self.buckets[value]
        del bucket[bisect.bisect_left(bucket, i)]
        if not bucket:
            del self.buckets[value]


class RandomRanker(Ranker):
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def narrow(self, st: PlanState, cands: list[int], full: bool) -> list[int]:
        return [self.rng.choice(cands)]


def build_rankers(strategies: list[Strategy], st: PlanState, feasible: list[int], seed: int) -> list[Ranker]:
    rankers: list[Ranker] = []
    for s in strategies:
        if s.kind == "binpack":
            rankers.append(BinpackRanker(s.key))
        elif s.kind == "spread_instance":
            rankers.append(SpreadInstanceRanker())
        elif s.kind == "spread_attribute":
            rankers.append(SpreadAttributeRanker(s.key, st, feasible))
        else:
            rankers.append(RandomRanker(seed))
            break  # random leaves one node: later strategies have nothing to break
    return rankers

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
from collections.abc import Callable

from controlplane.scheduler.model import ACTIVE
from controlplane.scheduler.state import PlanState
from controlplane.scheduler.validation import Strategy


class Ranker:
    def narrow(self, st: PlanState, cands: list[int], full: bool) -> list[int]:
        """The best of ``cands`` (never empty); ``full`` says cands is every feasible node.
        The result may be an internal list: callers only read it. It need not be in snapshot
        order (sorting a large tie would cost more than the ranking); rankers whose answer
        depends on the order sort it themselves."""
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


class SpreadBuckets:
    """For one group and attribute: the attribute's value per feasible node, the group's task
    count per value, and the feasible nodes per value in snapshot order. A node without the
    attribute counts as the value "". Tasks on nodes that are not ACTIVE are not counted: they
    are being drained away and must not skew the balance. Built once per snapshot and request
    shape, then kept true by ``add``/``remove``/``placed`` as the snapshot's index changes."""

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

    def placed(self, st: PlanState, i: int) -> None:
        node = st.nodes[i]
        if node.status == ACTIVE:
            value = node.attributes.get(self.name, "")
            self.counts[value] = self.counts.get(value, 0) + 1

    def add(self, st: PlanState, i: int) -> None:
        value = self.values[i] = st.nodes[i].attributes.get(self.name, "")
        self.counts.setdefault(value, 0)
        bisect.insort(self.buckets.setdefault(value, []), i)

    def remove(self, i: int) -> None:
        value = self.values.pop(i)
        bucket = self.buckets[value]
        del bucket[bisect.bisect_left(bucket, i)]
        if not bucket:
            del self.buckets[value]


class SpreadAttributeRanker(Ranker):
    """Fewest tasks of the group among nodes sharing the attribute's value first (see
    ``SpreadBuckets``). Works on copies of the shared buckets, made when first changed."""

    def __init__(self, shared: SpreadBuckets) -> None:
        self.values = shared.values  # only read: a plan never makes a node feasible
        self.counts = dict(shared.counts)
        self.buckets = dict(shared.buckets)
        self.owned: set[str] = set()

    def narrow(self, st: PlanState, cands: list[int], full: bool) -> list[int]:
        counts = self.counts
        if full:
            best = min(counts[v] for v in self.buckets)
            tied = [b for v, b in self.buckets.items() if counts[v] == best]
            return tied[0] if len(tied) == 1 else [i for b in tied for i in b]
        values = self.values
        keys = [counts[values[i]] for i in cands]
        best = min(keys)
        return [i for i, k in zip(cands, keys, strict=True) if k == best]

    def placed(self, st: PlanState, i: int) -> None:
        self.counts[self.values[i]] += 1

    def dropped(self, st: PlanState, i: int) -> None:
        value = self.values[i]
        if value not in self.owned:
            self.buckets[value] = list(self.buckets[value])
            self.owned.add(value)
        bucket = self.buckets[value]
        del bucket[bisect.bisect_left(bucket, i)]
        if not bucket:
            del self.buckets[value]


class RandomRanker(Ranker):
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def narrow(self, st: PlanState, cands: list[int], full: bool) -> list[int]:
        return [self.rng.choice(sorted(cands))]


def build_rankers(strategies: list[Strategy], spread: Callable[[str], SpreadBuckets], seed: int) -> list[Ranker]:
    """``spread(name)`` gives the shared buckets for a spread over attribute ``name``."""
    rankers: list[Ranker] = []
    for s in strategies:
        if s.kind == "binpack":
            rankers.append(BinpackRanker(s.key))
        elif s.kind == "spread_instance":
            rankers.append(SpreadInstanceRanker())
        elif s.kind == "spread_attribute":
            rankers.append(SpreadAttributeRanker(spread(s.key)))
        else:
            rankers.append(RandomRanker(seed))
            break  # random leaves one node: later strategies have nothing to break
    return rankers

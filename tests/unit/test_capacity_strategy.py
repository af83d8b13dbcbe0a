"""Spreading tasks over a capacity provider strategy as ECS documents it."""

from __future__ import annotations

from collections import Counter

from controlplane.capacity_strategy import assign
from shoal.v1 import resources_pb2 as r


def item(name: str, weight: int, base: int = 0) -> r.CapacityProviderStrategyItem:
    return r.CapacityProviderStrategyItem(capacity_provider=name, weight=weight, base=base)


def test_base_first_then_weight_on_the_rest() -> None:
    # ECS's example: A base 1 weight 1, B weight 4, six tasks: A 2, B 4.
    picks = assign([item("A", 1, base=1), item("B", 4)], 6)
    assert picks[0] == "A" and Counter(picks) == {"A": 2, "B": 4}


def test_weights_share_and_zero_weight_gets_only_its_base() -> None:
    assert Counter(assign([item("A", 1), item("B", 3)], 8)) == {"A": 2, "B": 6}
    assert Counter(assign([item("A", 0, base=2), item("B", 1)], 5)) == {"A": 2, "B": 3}


def test_tasks_already_running_count() -> None:
    assert assign([item("A", 1), item("B", 1)], 2, {"A": 3}) == ["B", "B"]

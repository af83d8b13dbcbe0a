"""ECS's capacity provider strategies (base/weight items), checked as ECS checks them:
known providers only, each once, weights 0-1000 and not all zero, bases 0-100000 and at most
one item with a base. Shared by PutClusterCapacityProviders' default strategy and, later,
the strategies of RunTask and CreateService."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from controlplane.errors import invalid
from shoal.v1 import resources_pb2 as r

MAX_WEIGHT = 1000
MAX_BASE = 100_000
MAX_ITEMS = 20
# ECS's own providers: served by the cluster's Fargate capacity provider (controlplane/fargate.py).
FARGATE = frozenset({"FARGATE", "FARGATE_SPOT"})


def check(items: Sequence[r.CapacityProviderStrategyItem], allowed: Collection[str], field: str) -> None:
    if len(items) > MAX_ITEMS:
        raise invalid(f"{field}: at most {MAX_ITEMS} items")
    seen: set[str] = set()
    with_base = 0
    for i, item in enumerate(items):
        where = f"{field}[{i}]"
        name = item.capacity_provider
        if not name:
            raise invalid(f"{where}.capacityProvider: required")
        if name in FARGATE and name not in allowed:
            raise invalid(f"{where}.capacityProvider: {name} is not one of the cluster's capacity providers: "
                          "add it with PutClusterCapacityProviders once the cluster has a Fargate provider")
        if name not in allowed:
            raise invalid(f"{where}.capacityProvider: {name[:255]!r} is not one of the cluster's capacity providers "
                          f"({', '.join(sorted(allowed)) or 'none'})")
        if name in seen:
            raise invalid(f"{where}.capacityProvider: {name!r} is listed twice")
        seen.add(name)
        if not 0 <= item.weight <= MAX_WEIGHT:
            raise invalid(f"{where}.weight: must be between 0 and {MAX_WEIGHT}")
        if not 0 <= item.base <= MAX_BASE:
            raise invalid(f"{where}.base: must be between 0 and {MAX_BASE}")
        with_base += item.base > 0
    if with_base > 1:
        raise invalid(f"{field}: only one capacity provider may have a base")
    if items and not any(item.weight for item in items):
        raise invalid(f"{field}: at least one capacity provider must have a weight greater than 0")


def assign(items: Sequence[r.CapacityProviderStrategyItem], count: int, already: Mapping[str, int] = {}) -> list[str]:
    """The capacity provider of each of ``count`` new tasks, as ECS spreads them: the item
    with a base gets tasks until it has ``base``; the tasks beyond the bases are shared by
    weight, each going to the provider furthest below its share. ``already``: tasks each
    provider has. The strategy must have passed ``check``."""
    have = {item.capacity_provider: already.get(item.capacity_provider, 0) for item in items}
    total_weight = sum(item.weight for item in items)
    weighted = [item for item in items if item.weight]

    def beyond(item: r.CapacityProviderStrategyItem) -> int:
        return max(0, have[item.capacity_provider] - item.base)

    out = []
    for _ in range(count):
        short = [item for item in items if have[item.capacity_provider] < item.base]
        if short:
            pick = short[0]
        else:
            shared = sum(beyond(item) for item in items) + 1
            pick = max(weighted, key=lambda item: item.weight / total_weight * shared - beyond(item))
        have[pick.capacity_provider] += 1
        out.append(pick.capacity_provider)
    return out


def for_request(items: Sequence[r.CapacityProviderStrategyItem], launch_type: str, cluster: r.Cluster,
                field: str = "capacityProviderStrategy") -> list[r.CapacityProviderStrategyItem]:
    """The strategy a RunTask or CreateService uses: its own (checked against the cluster's
    capacity providers), else the cluster's default unless it named a launch type."""
    if items and launch_type:
        raise invalid(f"{field}: give either launchType or capacityProviderStrategy, not both")
    if items:
        check(items, cluster.capacity_providers, field)
        return list(items)
    return [] if launch_type else list(cluster.default_capacity_provider_strategy)

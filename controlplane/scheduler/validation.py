"""User placement input checked and normalised: ECS constraint and strategy pairs become
``Strategy`` values and compiled CQL, and every mistake becomes a sentence naming its field."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from controlplane.scheduler import cql

# ECS's own limits per task or service.
MAX_CONSTRAINTS = 10
MAX_STRATEGIES = 5

DISTINCT_INSTANCE = "distinctInstance"
MEMBER_OF = "memberOf"
ZONE_ATTRIBUTE = "ecs.availability-zone"


class PlacementInputError(ValueError):
    """Invalid constraints or strategies; ``errors`` holds one sentence per mistake."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class Strategy:
    """``kind`` is "binpack" (key "cpu" or "memory"), "spread_instance", "spread_attribute"
    (key the attribute name) or "random"."""

    kind: str
    key: str = ""


def default_strategies(is_service: bool) -> list[tuple[str, str]]:
    """What ECS uses when the user gives no strategy: services spread over zones and then
    instances; RunTask places at random."""
    if is_service:
        return [("spread", f"attribute:{ZONE_ATTRIBUTE}"), ("spread", "instanceId")]
    return [("random", "")]


def parse_strategy(index: int, kind: str, field: str) -> Strategy:
    where = f"placementStrategy[{index}]"
    if kind == "binpack":
        key = (field or "").strip().lower()
        if key not in ("cpu", "memory"):
            raise PlacementInputError([f"{where}.field: binpack needs cpu or memory, not {field!r}"])
        return Strategy("binpack", key)
    if kind == "spread":
        text = (field or "").strip()
        if text.lower() in ("instanceid", "host"):
            return Strategy("spread_instance")
        if text.startswith("attribute:") and text[len("attribute:"):].strip():
            return Strategy("spread_attribute", text[len("attribute:"):].strip())
        raise PlacementInputError(
            [f"{where}.field: spread needs instanceId, host or attribute:<name>, not {field!r}"]
        )
    if kind == "random":
        return Strategy("random")
    raise PlacementInputError([f"{where}.type: unknown strategy {kind!r} (want binpack, spread or random)"])


def parse_constraint(index: int, kind: str, expression: str) -> cql.Expr | None:
    """The compiled expression of a memberOf constraint, None for distinctInstance."""
    where = f"placementConstraints[{index}]"
    if kind == DISTINCT_INSTANCE:
        if (expression or "").strip():
            raise PlacementInputError([f"{where}.expression: distinctInstance takes no expression"])
        return None
    if kind == MEMBER_OF:
        if not (expression or "").strip():
            raise PlacementInputError([f"{where}.expression: memberOf needs a cluster query expression"])
        try:
            return cql.compiled(expression)
        except cql.CQLError as e:
            raise PlacementInputError([f"{where}.expression: {e}"]) from None
    raise PlacementInputError(
        [f"{where}.type: unknown constraint {kind!r} (want distinctInstance or memberOf)"]
    )


def validate_placement(
    constraints: Sequence[tuple[str, str]], strategies: Sequence[tuple[str, str]]
) -> list[str]:
    """Every mistake in the user's placement input, one sentence each; empty when valid."""
    errors: list[str] = []
    if len(constraints) > MAX_CONSTRAINTS:
        errors.append(f"placementConstraints: at most {MAX_CONSTRAINTS} constraints, got {len(constraints)}")
    if len(strategies) > MAX_STRATEGIES:
        errors.append(f"placementStrategy: at most {MAX_STRATEGIES} strategies, got {len(strategies)}")
    for i, (kind, expression) in enumerate(constraints):
        try:
            parse_constraint(i, kind, expression)
        except PlacementInputError as e:
            errors.extend(e.errors)
    for i, (kind, field) in enumerate(strategies):
        try:
            parse_strategy(i, kind, field)
        except PlacementInputError as e:
            errors.extend(e.errors)
    return errors

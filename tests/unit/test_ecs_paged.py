"""controlplane.ecs.shapes.paged: the nextToken every ECS list answer carries, or leaves out."""

from __future__ import annotations

from controlplane.api.paging import page
from controlplane.ecs.shapes import paged

ITEMS = ["a", "b", "c"]


def test_a_page_before_the_last_carries_the_token_that_reads_on() -> None:
    first = paged({"things": ["a", "b"]}, page(ITEMS, 2, ""))
    assert first["things"] == ["a", "b"] and first["nextToken"]
    rest = page(ITEMS, 2, first["nextToken"])
    assert list(rest.arns) == ["c"]
    assert paged({"things": list(rest.arns)}, rest) == {"things": ["c"]}, "the last page has no nextToken"


def test_a_single_page_has_no_token() -> None:
    assert paged({"things": ITEMS}, page(ITEMS, 0, "")) == {"things": ITEMS}

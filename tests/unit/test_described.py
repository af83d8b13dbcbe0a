"""controlplane.api.described: the found list and MISSING failures every Describe* answers."""

from __future__ import annotations

import pytest

from controlplane.api.described import described
from controlplane.errors import not_found
from shoal.errors import ApiError

KNOWN = {"a": 1, "c": 3, "zero": 0}


def test_found_in_the_order_asked_and_each_unknown_ref_missing_as_given() -> None:
    found, failures = described(["c", "b", "a", "arn:x/d"], KNOWN.get)
    assert found == [3, 1]
    assert [(f.arn, f.reason) for f in failures] == [("b", "MISSING"), ("arn:x/d", "MISSING")]


def test_a_falsy_entry_is_found_not_missing() -> None:
    assert described(["zero"], KNOWN.get) == ([0], [])


def test_a_ref_asked_twice_is_answered_twice() -> None:
    found, failures = described(["a", "a", "b", "b"], KNOWN.get)
    assert found == [1, 1]
    assert [f.arn for f in failures] == ["b", "b"]


def _refusing(ref: str) -> int:
    if ref not in KNOWN:
        raise not_found(f"thing: {ref!r} not found")
    return KNOWN[ref]


def test_a_finder_that_refuses_unknown_names_counts_as_missing_only_when_told() -> None:
    found, failures = described(["a", "b"], _refusing, missing_on=ApiError)
    assert found == [1]
    assert [f.arn for f in failures] == ["b"]
    with pytest.raises(ApiError, match="'b' not found"):
        described(["a", "b"], _refusing)

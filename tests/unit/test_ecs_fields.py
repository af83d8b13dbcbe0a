"""The request-member checks every JSON service of the gateway shares: each refusal names the
member by its path and carries the calling service's error."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from controlplane.ecs import fields
from controlplane.ecs.appscaling import invalid as appscaling_invalid
from controlplane.ecs.errors import EcsError


@pytest.mark.parametrize("check, body, message", [
    (lambda b: fields.required(b, "cluster"), {"cluster": ""}, "cluster: required"),
    (lambda b: fields.string(b, "name", required=True), {}, "name: required"),
    (lambda b: fields.string(b, "name", where="a[0]"), {"name": 3}, "a[0].name: must be a string"),
    (lambda b: fields.integer(b, "n", lo=1, hi=10), {"n": 11}, "n: must be a whole number from 1 to 10, got 11"),
    (lambda b: fields.integer(b, "n"), {"n": True}, "n: must be a whole number, got True"),
    (lambda b: fields.number(b, "x", required=True), {}, "x: required"),
    (lambda b: fields.number(b, "x"), {"x": float("inf")}, "x: must be a finite number, got inf"),
    (lambda b: fields.boolean(b, "on"), {"on": "true"}, "on: must be true or false, got 'true'"),
    (lambda b: fields.choice(b, "s", ("A", "B")), {"s": "C"}, "s: must be A or B, got 'C'"),
    (lambda b: fields.choice(b, "s", ("A", "B", "C")), {"s": "D"}, "s: must be one of A, B, C, got 'D'"),
    (lambda b: fields.strings(b, "l"), {"l": ["a", 1]}, "l: must be a list of strings"),
    (lambda b: fields.only(b, {"a"}, "not here", where="p"), {"a": 1, "z": 2}, "p.z: not here"),
    (lambda b: fields.only(b["p"], {"a"}, "not here", where="p"), {"p": []}, "p: must be an object"),
])
def test_a_bad_member_is_refused_by_its_path(check: Callable[[dict[str, Any]], Any], body: dict[str, Any],
                                             message: str) -> None:
    with pytest.raises(EcsError) as err:
        check(body)
    assert (err.value.ecs_type, err.value.message) == ("InvalidParameterException", message)


def test_the_error_is_the_calling_services() -> None:
    with pytest.raises(EcsError) as err:
        fields.integer({"MaxResults": "5"}, "MaxResults", appscaling_invalid, lo=1, hi=50)
    assert err.value.ecs_type == "ValidationException" and err.value.message.startswith("MaxResults: ")


def test_good_and_absent_members_pass() -> None:
    body = {"s": "x", "n": 3, "on": True, "l": ["a"], "c": "A", "f": 1.5}
    assert (fields.string(body, "s"), fields.integer(body, "n", lo=1, hi=3), fields.boolean(body, "on"),
            fields.strings(body, "l"), fields.choice(body, "c", ("A", "B")), fields.number(body, "f")) == (
        "x", 3, True, ["a"], "A", 1.5)
    assert (fields.string({}, "s"), fields.integer({}, "n"), fields.boolean({"on": None}, "on"),
            fields.strings({}, "l"), fields.choice({}, "c", ("A",)), fields.number({}, "f")) == (
        "", None, False, [], None, None)

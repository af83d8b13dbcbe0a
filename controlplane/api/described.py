"""The answer every Describe* call gives for a list of names or ARNs: what each one names, in
the order asked, and ECS's failure ``{arn, reason: "MISSING"}`` for each that names nothing
(a missing entry is an answer, not an error, so one bad ARN does not sink the others)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from shoal.v1 import resources_pb2 as r

T = TypeVar("T")

MISSING = "MISSING"


def described(refs: Iterable[str], find: Callable[[str], T | None],
              missing_on: type[Exception] | tuple[type[Exception], ...] = ()) -> tuple[list[T], list[r.Failure]]:
    """``find(ref)`` for each ref: what it returns, or a MISSING failure naming the ref as
    given when it returns None or raises one of ``missing_on`` (for finders that refuse an
    unknown name rather than answer None)."""
    found: list[T] = []
    failures: list[r.Failure] = []
    for ref in refs:
        try:
            entry = find(ref)
        except missing_on:
            entry = None
        if entry is None:
            failures.append(r.Failure(arn=ref, reason=MISSING))
        else:
            found.append(entry)
    return found, failures

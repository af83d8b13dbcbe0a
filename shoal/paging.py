"""Reading a whole listing through the Operator API as ECS pages it: a List* call answers
one page of ARNs and a nextToken, a Describe* call takes a bounded batch of them (10
services, 100 tasks or container instances)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

T = TypeVar("T")


def every_page(call: Callable[[Any], Any], request: Any) -> list[str]:
    """The ARNs of every page ``call`` answers for ``request``, following nextToken (set on
    ``request`` as it goes)."""
    arns: list[str] = []
    while True:
        resp = call(request)
        arns += resp.arns
        if not resp.next_token:
            return arns
        request.next_token = resp.next_token


def batches(items: Sequence[T], most: int) -> Iterator[Sequence[T]]:
    """``items`` in runs of at most ``most``, in order: one Describe* call each."""
    for i in range(0, len(items), most):
        yield items[i:i + most]

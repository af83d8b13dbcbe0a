"""ECS-style pagination: maxResults (1-100, default 100) and an opaque nextToken that
names the last item returned, so pages stay stable while items are added. ``page_lazy``
pages a sequence whose items are filtered as they are read, and reads no further than the
page needs: ListTasks over a 5,000-task service reads ~100 tasks a page, not 5,000."""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from typing import TypeVar

from controlplane.errors import invalid
from shoal.v1 import operator_pb2 as op

T = TypeVar("T")


def _limit(max_results: int) -> int:
    if max_results < 0 or max_results > 100:
        raise invalid("maxResults: must be between 1 and 100")
    return max_results or 100


def _after(next_token: str) -> str:
    try:
        return base64.urlsafe_b64decode(next_token.encode()).decode()
    except Exception as exc:
        raise invalid("nextToken: not a token this API returned") from exc


def _token(item: str) -> str:
    return base64.urlsafe_b64encode(item.encode()).decode()


def page(items: list[str], max_results: int, next_token: str) -> op.ListResponse:
    limit = _limit(max_results)
    start = 0
    if next_token:
        after = _after(next_token)
        # Items come in the store's key order, which is not always string order (":10"
        # sorts before ":9"): resume right after the exact item, else after its sort place.
        try:
            start = items.index(after) + 1
        except ValueError:
            start = next((i for i, item in enumerate(items) if item > after), len(items))
    chunk = items[start : start + limit]
    token = ""
    if start + limit < len(items) and chunk:
        token = _token(chunk[-1])
    return op.ListResponse(arns=chunk, next_token=token)


def page_lazy(seq: Sequence[T], pick: Callable[[T], str | None], max_results: int, next_token: str,
              find: Callable[[str], int | None]) -> op.ListResponse:
    """The page ``page`` returns for ``[pick(x) for x in seq if pick(x) is not None]``,
    without picking past the page's end. ``find(item)`` is the index in ``seq`` where
    ``item`` would be (or None): the token's exact item is found there, not by a scan."""
    limit = _limit(max_results)
    start, after = 0, ""
    if next_token:
        after = _after(next_token)
        at = find(after)
        if at is not None and 0 <= at < len(seq) and pick(seq[at]) == after:
            start, after = at + 1, ""
        # Else the item has gone (or no longer passes the filter): resume at its sort place.
    chunk: list[str] = []
    for i in range(start, len(seq)):
        item = pick(seq[i])
        if item is None or (after and not item > after):
            continue
        after = ""  # the first item past the sort place; the rest follow in sequence order
        chunk.append(item)
        if len(chunk) > limit:
            return op.ListResponse(arns=chunk[:limit], next_token=_token(chunk[limit - 1]))
    return op.ListResponse(arns=chunk)

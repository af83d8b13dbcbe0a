"""ECS-style pagination: maxResults (1-100, default 100) and an opaque nextToken that
names the last item returned, so pages stay stable while items are added."""

from __future__ import annotations

import base64

from controlplane.errors import invalid
from shoal.v1 import operator_pb2 as op


def page(items: list[str], max_results: int, next_token: str) -> op.ListResponse:
    if max_results < 0 or max_results > 100:
        raise invalid("maxResults: must be between 1 and 100")
    limit = max_results or 100
    start = 0
    if next_token:
        try:
            after = base64.urlsafe_b64decode(next_token.encode()).decode()
        except Exception as exc:
            raise invalid("nextToken: not a token this API returned") from exc
        # Items come in the store's key order, which is not always string order (":10"
        # sorts before ":9"): resume right after the exact item, else after its sort place.
        try:
            start = items.index(after) + 1
        except ValueError:
            start = next((i for i, item in enumerate(items) if item > after), len(items))
    chunk = items[start : start + limit]
    token = ""
    if start + limit < len(items) and chunk:
        token = base64.urlsafe_b64encode(chunk[-1].encode()).decode()
    return op.ListResponse(arns=chunk, next_token=token)

"""shoal.paging: every page of a List* call, and Describe* batches."""

from __future__ import annotations

from shoal.paging import batches, every_page
from shoal.v1 import operator_pb2 as op


def test_every_page_follows_next_token_to_the_end() -> None:
    pages = {"": (["a", "b"], "t1"), "t1": (["c"], "t2"), "t2": (["d"], "")}
    asked: list[str] = []

    def list_tasks(req: op.ListTasksRequest) -> op.ListResponse:
        asked.append(req.next_token)
        arns, token = pages[req.next_token]
        return op.ListResponse(arns=arns, next_token=token)

    assert every_page(list_tasks, op.ListTasksRequest(cluster="c")) == ["a", "b", "c", "d"]
    assert asked == ["", "t1", "t2"]


def test_batches_keep_order_and_bound_each_run() -> None:
    assert [list(b) for b in batches(list("abcde"), 2)] == [["a", "b"], ["c", "d"], ["e"]]
    assert list(batches([], 10)) == []

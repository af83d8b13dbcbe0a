"""``page_lazy`` (ListTasks' paging as it reads) against ``page`` over the same filtered
list: same pages and tokens for every filter, page size and token (fixed seed), and it reads
no further than the page it returns."""

from __future__ import annotations

import base64
import bisect
import random

import pytest

from controlplane.api.paging import page, page_lazy
from controlplane.errors import ApiError

SEED = 1106


def token(item: str) -> str:
    return base64.urlsafe_b64encode(item.encode()).decode()


def lazy(seq: list[tuple[str, bool]], max_results: int, next_token: str):
    keys = [name for name, _ in seq]
    return page_lazy(seq, lambda x: x[0] if x[1] else None, max_results, next_token,
                     lambda item: bisect.bisect_left(keys, item))


@pytest.mark.parametrize("case", range(200))
def test_lazy_pages_match_the_eager_ones(case: int) -> None:
    rnd = random.Random(SEED * 1000 + case)
    # Names in sequence order; ":10" before ":9" as etcd orders keys, so the sort place matters.
    names = sorted({f"t:{rnd.randrange(40)}" for _ in range(rnd.randrange(0, 30))})
    seq = [(name, rnd.random() < 0.7) for name in names]
    wanted = [name for name, keep in seq if keep]
    max_results = rnd.choice([0, 1, 2, 3, 7, 100])
    tokens = [""] + [token(name) for name in names] + [token("t:0"), token("t:99"), token("zzz")]
    for next_token in tokens:
        assert lazy(seq, max_results, next_token) == page(wanted, max_results, next_token), (case, next_token)


def test_following_the_tokens_lists_every_item_once() -> None:
    seq = [(f"t:{i:03}", i % 3 != 0) for i in range(250)]
    got, next_token = [], ""
    while True:
        resp = lazy(seq, 7, next_token)
        got.extend(resp.arns)
        next_token = resp.next_token
        if not next_token:
            break
    assert got == [name for name, keep in seq if keep]


def test_a_page_reads_only_as_far_as_it_needs() -> None:
    read: list[int] = []
    seq = list(range(5000))

    def pick(i: int) -> str:
        read.append(i)
        return f"{i:05}"

    resp = page_lazy(seq, pick, 100, "", lambda item: int(item))
    assert len(resp.arns) == 100 and resp.next_token
    assert len(read) == 101  # the page and one more, to know there is a next page
    read.clear()
    resp = page_lazy(seq, pick, 100, resp.next_token, lambda item: int(item))
    assert resp.arns[0] == "00100"
    assert len(read) == 102  # the token's item (checked where find says it is), then the page


@pytest.mark.parametrize("max_results, next_token, field", [(101, "", "maxResults"), (-1, "", "maxResults"),
                                                             (10, "_w==", "nextToken"), (10, "YQ", "nextToken")])
def test_bad_paging_input_names_the_field(max_results: int, next_token: str, field: str) -> None:
    with pytest.raises(ApiError, match=field):
        lazy([("a", True)], max_results, next_token)

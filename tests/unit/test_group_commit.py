"""Group commit (shoal/store/group_commit.py): many records' compare-and-set updates in a few
transactions under etcd's limits, a record that changed under its writer losing only its own
update, and the batcher that gathers what many threads submit; on the in-memory store (which
enforces etcd's limits) and on a real etcd."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import pytest

from shoal.store import group_commit
from shoal.store.base import MAX_TXN_OPS, Compare, Delete, Put, Store, StoreError
from shoal.store.group_commit import Batcher, Update
from shoal.store.memory import MemoryStore
from tests.fixtures.etcd import FakeClock, StoreUnderTest
from tests.waiting import wait_for


class Counting:
    """Counts the transactions and single writes ``store`` is asked for, and their sizes."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.txns: list[tuple[int, int]] = []  # (compares, ops) of each transaction tried
        self.cases = 0

    def txn(self, compares: Sequence[Compare], ops: Sequence[Put | Delete]) -> int:
        self.txns.append((len(compares), len(ops)))
        return self.store.txn(compares, ops)

    def cas(self, key: str, value: bytes, mod_revision: int, lease: int = 0) -> int:
        self.cases += 1
        return self.store.cas(key, value, mod_revision, lease)


def test_updates_land_together_under_the_limits_and_stay_compare_and_set(any_store: StoreUnderTest) -> None:
    store = any_store.store
    n = 3 * MAX_TXN_OPS + 7
    revisions = [store.put(f"/gc/{i:04d}", b"old") for i in range(n)]
    counting = Counting(store)
    landed = group_commit.commit(counting, [  # type: ignore[arg-type]
        Update(f"/gc/{i:04d}", f"new{i}".encode(), revisions[i]) for i in range(n)])
    assert None not in landed
    assert all(store.get(f"/gc/{i:04d}").value == f"new{i}".encode() for i in range(n))
    # Four transactions, none over etcd's limits (the store would have refused it), no single writes.
    assert len(counting.txns) == 4 and counting.cases == 0
    assert all(c <= MAX_TXN_OPS and o <= MAX_TXN_OPS for c, o in counting.txns)
    # Each update was still a compare-and-set: replaying them now loses every one.
    again = group_commit.commit(store, [Update(f"/gc/{i:04d}", b"stale", revisions[i]) for i in range(5)])
    assert again == [None] * 5 and store.get("/gc/0000").value == b"new0"


def test_a_record_that_moved_on_loses_only_its_own_update(any_store: StoreUnderTest) -> None:
    store = any_store.store
    revisions = [store.put(f"/gc/{k}", b"old") for k in "abc"]
    store.put("/gc/b", b"someone else's")  # b moved on since its writer read it
    counting = Counting(store)
    landed = group_commit.commit(counting, [  # type: ignore[arg-type]
        Update(f"/gc/{k}", b"mine", rev) for k, rev in zip("abc", revisions, strict=True)])
    assert landed[0] is not None and landed[1] is None and landed[2] is not None
    assert [store.get(f"/gc/{k}").value for k in "abc"] == [b"mine", b"someone else's", b"mine"]
    # The failed transaction, then one compare-and-set each.
    assert len(counting.txns) == 1 and counting.cases == 3


def test_a_create_only_update_and_a_store_error() -> None:
    store = MemoryStore(clock=FakeClock())
    store.put("/gc/there", b"x")
    assert group_commit.commit(store, [Update("/gc/new", b"v", 0), Update("/gc/there", b"v", 0)])[1] is None
    assert store.get("/gc/new").value == b"v"
    store.close()
    with pytest.raises(StoreError):
        group_commit.commit(Broken(), [Update("/gc/a", b"v", 1), Update("/gc/b", b"v", 1)])


class Broken(MemoryStore):
    def txn(self, compares: Sequence[Compare], ops: Sequence[Put | Delete]) -> int:
        raise StoreError("etcd unreachable")


def test_the_batcher_gathers_concurrent_submits_in_order_and_answers_each() -> None:
    flushed: list[list[int]] = []
    gate, holding = threading.Event(), threading.Event()

    def flush(items: list[int]) -> list[int]:
        if not flushed:
            holding.set()
            gate.wait(5)  # hold the first batch while the others arrive
        flushed.append(items)
        return [i * 10 for i in items]

    batcher: Batcher[int, int] = Batcher(flush, max_items=8)
    answers: dict[int, int] = {}
    threads = [threading.Thread(target=lambda i=i: answers.__setitem__(i, batcher.submit(i))) for i in range(20)]
    threads[0].start()
    # The first submit is being flushed (held at the gate) before the rest arrive.
    assert holding.wait(5), "the first batch taken"
    for t in threads[1:]:
        t.start()
    wait_for(lambda: batcher._queue.qsize() == 19, 5, "the other submits queued")
    gate.set()
    for t in threads:
        t.join(5)
    assert answers == {i: i * 10 for i in range(20)}
    assert flushed[0] == [0]
    # What arrived meanwhile went out in batches of at most max_items, in arrival order.
    assert [len(b) for b in flushed[1:]] == [8, 8, 3]
    rest = [i for b in flushed[1:] for i in b]
    assert sorted(rest) == list(range(1, 20))


def test_a_failed_flush_reaches_every_submitter_of_its_batch() -> None:
    def flush(items: list[str]) -> list[None]:
        if "bad" in items:
            raise StoreError("etcd unreachable")
        return [None] * len(items)

    batcher: Batcher[str, None] = Batcher(flush)
    with pytest.raises(StoreError, match="unreachable"):
        batcher.submit("bad")
    assert batcher.submit("good") is None  # the batcher goes on

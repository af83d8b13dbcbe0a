"""The contract of ``shoal.store.update.update`` (its docstring), on the in-memory store."""

from __future__ import annotations

import pytest

from controlplane.errors import ApiError
from controlplane.state import State
from shoal.store.base import KV, Conflict
from shoal.store.memory import MemoryStore
from shoal.store.update import BACKOFF_FIRST, BACKOFF_MAX, retrying, update
from shoal.v1 import resources_pb2 as r

K = "/t/k"


@pytest.fixture
def store():
    s = MemoryStore()
    yield s
    s.close()


def test_absent_key_is_created_and_present_key_is_compared_on_its_revision(store) -> None:
    kv = update(store, K, lambda cur: b"one" if cur is None else None)
    assert kv is not None and kv.value == b"one"
    assert store.get(K).mod_revision == kv.mod_revision
    kv2 = update(store, K, lambda cur: cur.value + b"+two")
    assert kv2.value == b"one+two" and kv2.mod_revision > kv.mod_revision
    assert kv2.create_revision == store.get(K).create_revision


def test_none_means_no_change_and_writes_nothing(store) -> None:
    rev = store.put(K, b"v")
    assert update(store, K, lambda cur: None) == store.get(K)
    assert store.get(K).mod_revision == rev
    assert update(store, "/t/absent", lambda cur: None) is None
    assert store.get("/t/absent") is None


def test_a_lost_race_re_reads_and_mutates_the_fresh_value(store) -> None:
    store.put(K, b"0")
    seen: list[bytes] = []

    def increment(cur: KV | None) -> bytes:
        seen.append(cur.value)
        if len(seen) == 1:
            store.put(K, b"10")  # another writer lands between our read and our write
        return str(int(cur.value) + 1).encode()

    slept: list[float] = []
    kv = update(store, K, increment, sleep=slept.append)
    assert seen == [b"0", b"10"]
    assert kv.value == b"11" and store.get(K).value == b"11"
    assert len(slept) == 1 and 0 <= slept[0] <= BACKOFF_MAX


def test_a_racing_creator_makes_the_create_a_compare_on_the_new_key(store) -> None:
    calls: list[KV | None] = []

    def create_or_append(cur: KV | None) -> bytes:
        calls.append(cur)
        if cur is None:
            store.put(K, b"theirs")
            return b"mine"
        return cur.value + b"+mine"

    update(store, K, create_or_append, sleep=lambda s: None)
    assert calls[0] is None and calls[1].value == b"theirs"
    assert store.get(K).value == b"theirs+mine"


def test_gives_up_with_conflict_after_the_limit(store) -> None:
    store.put(K, b"0")
    calls = []

    def always_raced(cur: KV | None) -> bytes:
        calls.append(1)
        store.put(K, b"x")
        return b"lost"

    with pytest.raises(Conflict):
        update(store, K, always_raced, attempts=4, sleep=lambda s: None)
    assert len(calls) == 4
    assert store.get(K).value == b"x"


def test_mutate_raising_writes_nothing(store) -> None:
    rev = store.put(K, b"v")

    def refuse(cur: KV | None) -> bytes:
        raise ValueError("no")

    with pytest.raises(ValueError):
        update(store, K, refuse)
    assert store.get(K).mod_revision == rev


def test_lost_races_back_off_exponentially_up_to_the_cap() -> None:
    def lose() -> None:
        raise Conflict("someone else won")

    slept: list[float] = []
    with pytest.raises(Conflict, match="lost 40 races"):
        retrying(lose, attempts=40, sleep=slept.append)
    assert len(slept) == 39
    assert BACKOFF_FIRST / 2 <= slept[0] <= BACKOFF_FIRST
    assert all(BACKOFF_MAX / 2 <= s <= BACKOFF_MAX for s in slept[10:]), "capped, and still spread out"


def test_state_update_is_typed_and_names_the_field_when_out_of_retries(store) -> None:
    state = State(store)
    rec = state.update("/t/c", r.Cluster, lambda c: r.Cluster(cluster_name="a") if c is None else None)
    assert rec.msg.cluster_name == "a"

    def rename(c: r.Cluster | None) -> r.Cluster:
        c.status = "ACTIVE"
        return c

    assert state.update("/t/c", r.Cluster, rename).msg.status == "ACTIVE"
    assert state.load("/t/c", r.Cluster).msg == r.Cluster(cluster_name="a", status="ACTIVE")

    def always_raced(c: r.Cluster | None) -> r.Cluster:
        store.put("/t/c", b"")
        return r.Cluster(cluster_name="lost")

    with pytest.raises(ApiError, match="clusterName: concurrent updates; try again"):
        state.update("/t/c", r.Cluster, always_raced, field="clusterName")
    with pytest.raises(Conflict):
        state.update("/t/c", r.Cluster, always_raced)

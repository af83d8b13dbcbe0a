"""The one contract suite both stores pass (the contract is base.py's docstrings).

Each test runs against ``MemoryStore`` (time driven by a fake clock) and ``EtcdStore`` on a
real etcd (marked integration; leases expire in real time). The end of the file checks the
etcd launcher itself: a failed start reports why, and a 3-member cluster survives losing one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from shoal.store.base import (
    KV,
    MAX_REQUEST_BYTES,
    MAX_TXN_OPS,
    Compare,
    Conflict,
    Delete,
    Event,
    Put,
    Store,
    StoreError,
)
from shoal.store.etcd import EtcdStore, parse_endpoints
from shoal.store.memory import MemoryStore
from shoalctl.local.etcd import EtcdProcess, client_urls, start_etcd_cluster
from tests.fixtures.etcd import FakeClock, StoreUnderTest
from tests.waiting import wait_for

P = "/contract/"


@dataclass
class Harness:
    """A store plus the one thing the two kinds differ in: how time passes."""

    store: Store
    clock: FakeClock | None = None
    # How long to wait for something the store does on its own (watch delivery, expiry).
    deadline: float = 5.0

    def let_leases_expire(self, seconds: float) -> None:
        """Moves past ``seconds``; with etcd time passes by itself while the test waits."""
        if self.clock is not None:
            self.clock.advance(seconds)
            assert isinstance(self.store, MemoryStore)
            self.store.expire_leases()

    def keep_alive_for(self, lease: int, seconds: float, check: Callable[[], None]) -> None:
        """Refreshes ``lease`` every half second for ``seconds`` (real or fake), running
        ``check`` after each refresh."""
        if self.clock is not None:
            assert isinstance(self.store, MemoryStore)
            for _ in range(int(seconds / 0.5)):
                self.clock.advance(0.5)
                self.store.expire_leases()
                assert self.store.refresh_lease(lease)
                check()
            return
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            assert self.store.refresh_lease(lease)
            check()
            # Paces the keepalive, as a real holder would; nothing is being waited for.
            time.sleep(0.5)


@pytest.fixture
def harness(any_store: StoreUnderTest) -> Harness:
    if any_store.clock is not None:
        return Harness(any_store.store, any_store.clock)
    return Harness(any_store.store, deadline=15.0)


@dataclass
class Recorder:
    """Collects watch batches; thread-safe because the store calls it from its own thread."""

    batches: list[list[Event]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, events: list[Event]) -> None:
        with self.lock:
            self.batches.append(list(events))

    def events(self) -> list[Event]:
        with self.lock:
            return [e for b in self.batches for e in b]

    def summary(self) -> list[tuple[str, str, int]]:
        return [(e.kind, e.kv.key, e.kv.mod_revision) for e in self.events()]

    def ended(self) -> bool:
        with self.lock:
            return any(b == [] for b in self.batches)


def head(store: Store) -> int:
    return store.list(P).revision


# -- get / put / list -------------------------------------------------------------------


def test_put_get_revisions(harness: Harness) -> None:
    s = harness.store
    assert s.get(P + "a") is None
    r1 = s.put(P + "a", b"1")
    assert s.get(P + "a") == KV(P + "a", b"1", mod_revision=r1, create_revision=r1)
    r2 = s.put(P + "a", b"2")
    assert r2 == r1 + 1
    assert s.get(P + "a") == KV(P + "a", b"2", mod_revision=r2, create_revision=r1)
    assert head(s) == r2


def test_list_sorted_under_prefix_with_revision(harness: Harness) -> None:
    s = harness.store
    for key in ("c", "a", "b/x", "b"):
        s.put(P + key, key.encode())
    last = s.put("/elsewhere/z", b"z")
    listing = s.list(P)
    assert [kv.key for kv in listing.kvs] == [P + "a", P + "b", P + "b/x", P + "c"]
    assert [kv.value for kv in listing.kvs] == [b"a", b"b", b"b/x", b"c"]
    assert listing.revision == last
    assert s.list(P + "nothing/").kvs == []


# -- create / cas / delete ------------------------------------------------------------------


def test_create_only(harness: Harness) -> None:
    s = harness.store
    r = s.create(P + "k", b"first")
    with pytest.raises(Conflict):
        s.create(P + "k", b"second")
    assert s.get(P + "k") == KV(P + "k", b"first", r, r)
    assert head(s) == r, "a lost create must not write"
    s.delete(P + "k")
    r2 = s.create(P + "k", b"again")
    assert s.get(P + "k") == KV(P + "k", b"again", r2, r2)


def test_cas_on_mod_revision(harness: Harness) -> None:
    s = harness.store
    r1 = s.cas(P + "k", b"v1", 0)  # 0: only if absent
    with pytest.raises(Conflict):
        s.cas(P + "k", b"v1-again", 0)
    r2 = s.cas(P + "k", b"v2", r1)
    assert r2 == r1 + 1
    with pytest.raises(Conflict):
        s.cas(P + "k", b"stale", r1)
    assert s.get(P + "k") == KV(P + "k", b"v2", r2, r1)
    assert head(s) == r2


def test_delete(harness: Harness) -> None:
    s = harness.store
    r = s.put(P + "k", b"v")
    before = head(s)
    assert s.delete(P + "missing") is False
    assert head(s) == before, "deleting nothing must not take a revision"
    with pytest.raises(Conflict):
        s.delete(P + "k", mod_revision=r - 1)
    assert s.get(P + "k") is not None
    assert s.delete(P + "k", mod_revision=r) is True
    assert s.get(P + "k") is None
    assert head(s) == before + 1
    with pytest.raises(Conflict):
        s.delete(P + "k", mod_revision=r)
    assert s.delete(P + "k") is False


# -- txn ---------------------------------------------------------------------------------


def test_txn_applies_all_at_one_revision(harness: Harness) -> None:
    s = harness.store
    r_old = s.put(P + "old", b"o")
    s.put(P + "gone", b"g")
    s.put(P + "dir/1", b"1")
    s.put(P + "dir/2", b"2")
    rev = s.txn(
        [Compare(P + "new", 0, on_create=True), Compare(P + "old", r_old)],
        [
            Put(P + "new", b"n"),
            Put(P + "old", b"o2"),
            Delete(P + "gone"),
            Delete(P + "dir/", prefix=True),
        ],
    )
    assert rev == head(s)
    assert s.get(P + "new") == KV(P + "new", b"n", rev, rev)
    assert s.get(P + "old") == KV(P + "old", b"o2", rev, r_old)
    assert s.get(P + "gone") is None
    assert s.list(P + "dir/").kvs == []


def test_txn_all_or_nothing(harness: Harness) -> None:
    s = harness.store
    r_a = s.put(P + "a", b"a")
    s.put(P + "b", b"b")
    before = head(s)
    cases = [
        [Compare(P + "a", r_a), Compare(P + "b", 0, on_create=True)],  # b exists
        [Compare(P + "a", r_a + 100)],  # stale mod_revision
        [Compare(P + "missing", 1, on_create=True)],  # absent key has create_revision 0
    ]
    for compares in cases:
        with pytest.raises(Conflict):
            s.txn(compares, [Put(P + "a", b"changed"), Delete(P + "b"), Put(P + "c", b"c")])
        assert head(s) == before
        assert s.get(P + "a") == KV(P + "a", b"a", r_a, r_a)
        assert s.get(P + "b") is not None
        assert s.get(P + "c") is None


def test_txn_refuses_to_write_a_key_twice(harness: Harness) -> None:
    s = harness.store
    before = head(s)
    with pytest.raises(StoreError):
        s.txn([], [Put(P + "k", b"1"), Put(P + "k", b"2")])
    with pytest.raises(StoreError):
        s.txn([], [Put(P + "d/k", b"1"), Delete(P + "d/", prefix=True)])
    assert head(s) == before


def test_txn_limits_are_etcds(harness: Harness) -> None:
    """128 compares and 128 ops pass; one more of either, or a request over 1.5 MiB, is
    refused whole (a StoreError, not a Conflict: retrying cannot help)."""
    s = harness.store
    full = [Put(f"{P}n/{i:03d}", b"v") for i in range(MAX_TXN_OPS)]
    absent = [Compare(f"{P}c/{i:03d}", 0, on_create=True) for i in range(MAX_TXN_OPS)]
    rev = s.txn(absent, full)
    assert len(s.list(P + "n/").kvs) == MAX_TXN_OPS
    assert {kv.mod_revision for kv in s.list(P + "n/").kvs} == {rev}
    before = head(s)
    too_big = [
        (absent, [*full, Put(P + "n/extra", b"v")]),
        ([*absent, Compare(P + "c/extra", 0, on_create=True)], [Put(P + "x", b"v")]),
        ([], [Put(P + "big/1", b"x" * (MAX_REQUEST_BYTES // 2)), Put(P + "big/2", b"x" * (MAX_REQUEST_BYTES // 2))]),
    ]
    for compares, ops in too_big:
        with pytest.raises(StoreError) as refused:
            s.txn(compares, ops)
        assert not isinstance(refused.value, Conflict)
        assert head(s) == before
    assert s.get(P + "n/extra") is None and s.get(P + "x") is None and s.list(P + "big/").kvs == []


def test_conflict_is_a_store_error(harness: Harness) -> None:
    harness.store.put(P + "k", b"v")
    with pytest.raises(StoreError):
        harness.store.create(P + "k", b"v")


# -- leases ------------------------------------------------------------------------------


def test_lease_expiry_deletes_keys(harness: Harness) -> None:
    s = harness.store
    lease = s.grant_lease(1)
    assert lease != 0
    s.put(P + "leased", b"v", lease=lease)
    s.put(P + "kept", b"v")
    assert s.get(P + "leased").lease == lease  # type: ignore[union-attr]
    harness.let_leases_expire(3)
    wait_for(lambda: s.get(P + "leased") is None, harness.deadline, "the leased key to expire")
    assert s.get(P + "kept") is not None
    assert s.refresh_lease(lease) is False, "an expired lease must not come back"


def test_refresh_keeps_keys(harness: Harness) -> None:
    s = harness.store
    lease = s.grant_lease(2)
    s.put(P + "leased", b"v", lease=lease)

    def still_there() -> None:
        assert s.get(P + "leased") is not None

    harness.keep_alive_for(lease, 4, still_there)
    s.revoke_lease(lease)


def test_revoke_deletes_keys(harness: Harness) -> None:
    s = harness.store
    lease = s.grant_lease(30)
    s.put(P + "a", b"v", lease=lease)
    s.put(P + "b", b"v", lease=lease)
    s.revoke_lease(lease)
    assert s.list(P).kvs == []
    assert s.refresh_lease(lease) is False
    s.revoke_lease(lease)  # unknown leases are ignored


def test_rewrite_without_lease_unbinds(harness: Harness) -> None:
    s = harness.store
    lease = s.grant_lease(30)
    s.put(P + "k", b"leased", lease=lease)
    s.put(P + "k", b"free")
    s.revoke_lease(lease)
    assert s.get(P + "k") is not None


def test_put_with_unknown_lease_fails(harness: Harness) -> None:
    lease = harness.store.grant_lease(30)
    harness.store.revoke_lease(lease)
    with pytest.raises(StoreError):
        harness.store.put(P + "k", b"v", lease=lease)
    assert harness.store.get(P + "k") is None


# -- watches -----------------------------------------------------------------------------


def test_watch_from_revision_sees_puts_and_deletes_in_order(harness: Harness) -> None:
    s = harness.store
    r1 = s.put(P + "a", b"1")
    r2 = s.put(P + "b", b"2")
    rec = Recorder()
    cancel = s.watch(P, r2, rec)  # starts in the past: r1 is not wanted, r2 is
    try:
        assert s.delete(P + "b")
        r3 = head(s)
        r4 = s.put("/elsewhere/x", b"x")  # not under the prefix
        r5 = s.txn([], [Put(P + "c", b"3"), Delete(P + "a")])
        want = [
            ("put", P + "b", r2),
            ("delete", P + "b", r3),
            ("put", P + "c", r5),
            ("delete", P + "a", r5),
        ]
        wait_for(lambda: len(rec.events()) >= len(want), harness.deadline, "four watch events")
        assert rec.summary() == want
        assert r1 < r2 < r3 < r4 < r5
        puts = [e for e in rec.events() if e.kind == "put"]
        assert puts[0].kv == KV(P + "b", b"2", r2, r2)
        deletes = [e for e in rec.events() if e.kind == "delete"]
        assert all(e.kv.value == b"" for e in deletes)
    finally:
        cancel()


def test_watch_from_listing_misses_nothing(harness: Harness) -> None:
    s = harness.store
    s.put(P + "before", b"x")
    listing = s.list(P)
    rec = Recorder()
    cancel = s.watch(P, listing.revision + 1, rec)
    try:
        r = s.put(P + "after", b"y")
        wait_for(lambda: rec.events(), harness.deadline, "the put after the listing")
        assert rec.summary() == [("put", P + "after", r)]
    finally:
        cancel()


def test_watch_cancel_stops_delivery(harness: Harness) -> None:
    s = harness.store
    rec = Recorder()
    cancel = s.watch(P + "w/", head(s) + 1, rec)
    s.put(P + "w/1", b"1")
    wait_for(lambda: rec.events(), harness.deadline, "the first event")
    cancel()
    s.put(P + "w/2", b"2")
    # A second watch that sees a later write proves the store has delivered past w/2.
    probe = Recorder()
    cancel_probe = s.watch(P, head(s) + 1, probe)
    try:
        s.put(P + "probe", b"p")
        wait_for(lambda: probe.events(), harness.deadline, "the probe event")
        assert [key for _, key, _ in rec.summary()] == [P + "w/1"]
    finally:
        cancel_probe()


def test_callback_may_call_the_store(harness: Harness) -> None:
    s = harness.store
    seen: list[KV | None] = []

    def callback(events: list[Event]) -> None:
        seen.append(s.get(events[0].kv.key))

    cancel = s.watch(P, head(s) + 1, callback)
    try:
        s.put(P + "k", b"v")
        wait_for(lambda: seen, harness.deadline, "the callback's read")
        assert seen[0] is not None and seen[0].value == b"v"
    finally:
        cancel()


def test_lease_expiry_produces_delete_events(harness: Harness) -> None:
    s = harness.store
    lease = s.grant_lease(1)
    r = s.put(P + "alive", b"v", lease=lease)
    rec = Recorder()
    cancel = s.watch(P, r + 1, rec)
    try:
        harness.let_leases_expire(3)
        wait_for(lambda: rec.events(), harness.deadline, "the lease's delete event")
        [event] = rec.events()
        assert event.kind == "delete" and event.kv.key == P + "alive" and event.kv.mod_revision > r
    finally:
        cancel()


def test_watch_from_compacted_revision_ends_with_empty_batch(harness: Harness) -> None:
    s = harness.store
    first = s.put(P + "k", b"0")
    for i in range(5):
        s.put(P + "k", str(i).encode())
    if isinstance(s, EtcdStore):
        s._client.compact(head(s))
    else:
        # Push the early revisions out of the memory store's history.
        for i in range(10_001):
            s.put(P + "filler", str(i).encode())
    rec = Recorder()
    cancel = s.watch(P, first, rec)
    try:
        wait_for(rec.ended, harness.deadline, "the empty batch that tells the watcher to re-list")
        s.put(P + "k", b"after")
        # A second watch that sees a later write proves the store has delivered past "after".
        probe = Recorder()
        cancel_probe = s.watch(P, head(s) + 1, probe)
        try:
            s.put(P + "probe", b"p")
            wait_for(lambda: probe.events(), harness.deadline, "the probe event")
        finally:
            cancel_probe()
        assert rec.batches == [[]], "an ended watch delivered more"
    finally:
        cancel()


# -- memory-only details (clock-driven) --------------------------------------------------


def test_memory_lease_ttl_rounds_up_to_whole_seconds() -> None:
    clock = FakeClock()
    s = MemoryStore(clock=clock)
    try:
        lease = s.grant_lease(0.2)
        s.put(P + "k", b"v", lease=lease)
        clock.advance(0.9)
        s.expire_leases()
        assert s.get(P + "k") is not None
        clock.advance(0.2)
        assert s.refresh_lease(lease) is False
        assert s.get(P + "k") is None
    finally:
        s.close()


def test_memory_store_starts_at_revision_one_and_expires_in_real_time() -> None:
    s = MemoryStore()
    try:
        assert s.list("").revision == 1
        lease = s.grant_lease(1)
        s.put(P + "k", b"v", lease=lease)
        wait_for(lambda: s.get(P + "k") is None, 10, "the background expiry")
    finally:
        s.close()


def test_memory_store_is_closed_after_close() -> None:
    s = MemoryStore()
    s.close()
    with pytest.raises(StoreError):
        s.get(P + "k")


def test_parse_endpoints() -> None:
    assert parse_endpoints("http://10.0.0.1:2379, https://h:2380") == [
        ("10.0.0.1", 2379, False),
        ("h", 2380, True),
    ]
    assert parse_endpoints(["127.0.0.1:4001"]) == [("127.0.0.1", 4001, False)]
    for bad in ("", "ftp://h:1", "http://h:99999"):
        with pytest.raises(ValueError, match="etcd endpoint"):
            parse_endpoints(bad)


# -- the etcd launcher -------------------------------------------------------------------


@pytest.mark.integration
def test_etcd_start_failure_reports_the_log(tmp_path: Path) -> None:
    # A file where the data dir should be: etcd refuses it and exits.
    (tmp_path / "data").write_text("not a directory")
    proc = EtcdProcess(tmp_path / "data", name="broken")
    with pytest.raises(RuntimeError, match="etcd broken exited") as info:
        proc.start(timeout=30)
    assert "data" in str(info.value).split("\n", 1)[1], "the error carries the log's tail"
    assert not proc.running


@pytest.mark.integration
def test_etcd_cluster_survives_losing_one_member(tmp_path: Path) -> None:
    members = start_etcd_cluster(tmp_path, size=3, die_with_parent=True)
    store = EtcdStore(client_urls(members), timeout=5)
    try:
        store.put("/ha/k", b"v")
        rec = Recorder()
        store.watch("/ha/", 0, rec)
        # Kill the member the store talks to, so the store has to fail over.
        [victim] = [m for m in members if m.client_url.endswith("//" + store.current_endpoint)]
        victim.kill()
        assert not victim.running
        wait_for(rec.ended, 30, "the watch on the dead member to end with an empty batch")
        # The other two hold quorum (electing a new leader first if the victim led).
        kv = wait_for(lambda: store.get("/ha/k"), 30, "a read through the surviving members")
        assert kv.value == b"v"
        assert store.current_endpoint not in victim.client_url
        wait_for(lambda: store.put("/ha/k2", b"w"), 30, "a write through the surviving members")
        # The killed member rejoins from its data dir and catches up.
        victim.start(timeout=60)
        only_victim = EtcdStore(victim.client_url, timeout=5)
        try:
            got = wait_for(lambda: only_victim.get("/ha/k2"), 30, "the rejoined member to catch up")
            assert got.value == b"w"
        finally:
            only_victim.close()
    finally:
        store.close()
        for m in members:
            m.stop()

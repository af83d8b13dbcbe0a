"""Leader election on the in-memory store and on a real etcd: campaign, the fence, and
resign as one fenced transaction that never deletes a successor's key."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from shoal.election import Election
from shoal.replica_lease import ReplicaLease
from shoal.store.base import Compare, Conflict, Delete, Put, Store
from shoal.store.memory import MemoryStore
from tests.fixtures.etcd import FakeClock, StoreUnderTest


@pytest.fixture
def store(any_store: StoreUnderTest) -> Store:
    return any_store.store


def replica(store: Store, name: str) -> Election:
    lease = ReplicaLease(store, 10)
    lease.keep_alive_once()
    return Election(store, lease, name)


def test_campaign_resign_and_successor(store: Store) -> None:
    a, b = replica(store, "a"), replica(store, "b")
    assert a.campaign().startswith("became leader")
    assert b.campaign() == "following a"
    store.txn([a.fence()], [Put("/fenced", b"a")])
    with pytest.raises(Conflict):
        store.txn([b.fence()], [Put("/fenced", b"b")])
    assert a.resign() == "resigned leadership"
    assert store.get(a.key) is None and not a.is_leader()
    assert b.campaign().startswith("became leader")
    assert a.resign() == "not leading; nothing to resign"
    assert store.get(b.key).value == b"b"


def test_a_deposed_leader_resigning_leaves_its_successors_key(store: Store) -> None:
    a, b = replica(store, "a"), replica(store, "b")
    assert a.campaign().startswith("became leader")
    # a's lease ends (a frozen replica, say); b takes over before a notices.
    store.revoke_lease(a.lease.lease_id)
    assert b.campaign().startswith("became leader")
    assert a.resign() == "resigned: leadership had already passed to another replica"
    assert store.get(b.key).value == b"b" and b.is_leader()


class Interleaved(MemoryStore):
    """Runs ``between`` once, right after the next transaction: the moment another replica's
    write could land between two calls of a resign that is not one transaction."""

    def __init__(self) -> None:
        super().__init__(clock=FakeClock())
        self.between = None

    def txn(self, compares: Sequence[Compare], ops: Sequence[Put | Delete]) -> int:
        rev = super().txn(compares, ops)
        step, self.between = self.between, None
        if step is not None:
            step()
        return rev


def test_resign_is_one_transaction() -> None:
    store = Interleaved()
    try:
        a, b = replica(store, "a"), replica(store, "b")
        assert a.campaign().startswith("became leader")

        def successor() -> None:
            store.revoke_lease(a.lease.lease_id)
            assert b.campaign().startswith("became leader")

        store.between = successor
        a.resign()
        assert store.get(b.key) is not None, "a resigning deleted b's leader key"
        assert b.is_leader()
    finally:
        store.close()

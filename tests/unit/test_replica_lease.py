"""When a replica counts itself cut off from etcd (and sends its agents away): after a
failed refresh and half a TTL, or near the lease's end; never only because a refresh is
slow, which under load would turn 1,000 connecting agents into a reconnect storm."""

from __future__ import annotations

import pytest

from shoal.replica_lease import ReplicaLease
from shoal.store.base import StoreError
from shoal.store.memory import MemoryStore
from tests.fixtures.etcd import FakeClock

TTL = 6.0


def lease() -> tuple[ReplicaLease, MemoryStore, FakeClock]:
    clock = FakeClock()
    store = MemoryStore(clock=clock)
    replica = ReplicaLease(store, TTL, clock=clock)
    replica.keep_alive_once()
    return replica, store, clock


def test_a_slow_refresh_is_not_a_cut() -> None:
    replica, _, clock = lease()
    clock.advance(TTL * 0.7)  # the ttl/3 refresh is late: a busy replica, not a lost etcd
    assert not replica.cut_off()


def test_a_failed_refresh_and_half_a_ttl_is_a_cut(monkeypatch: pytest.MonkeyPatch) -> None:
    replica, store, clock = lease()

    def unreachable(*_args: object) -> bool:
        raise StoreError("etcd out of reach")

    monkeypatch.setattr(store, "refresh_lease", unreachable)
    clock.advance(TTL / 3)
    replica.keep_alive_once()
    assert not replica.cut_off()
    clock.advance(TTL / 6 + 0.1)
    assert replica.cut_off()
    monkeypatch.undo()
    replica.keep_alive_once()
    assert not replica.cut_off()


def test_near_the_end_of_the_lease_is_a_cut_whatever_the_reason() -> None:
    replica, _, clock = lease()
    clock.advance(TTL * 0.81)
    assert replica.cut_off()

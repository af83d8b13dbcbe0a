"""The etcd store rides out what etcd goes through: its leader member killed during a stream
of writes and reads (an election on the two left), and a write whose reply is lost after it
applied (its retry must not report its own write as a conflict)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import grpc
import pyetcd
import pytest

from shoal.store.base import Compare, Conflict, Delete, Put
from shoal.store.etcd import EtcdStore
from shoalctl.local.etcd import EtcdProcess, client_urls, start_etcd_cluster
from tests.fixtures.etcd import RpcError
from tests.waiting import wait_for

pytestmark = pytest.mark.integration



def lose_reply(etcd_store: EtcdStore, monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """The next transaction reaches etcd and applies, but its reply is lost on the way back
    (etcd's "request timed out", a cut link): what the client edge sees in an election."""
    send = etcd_store._send_txn
    lost: list[object] = []

    def send_and_lose(req: object) -> object:
        resp = send(req)
        if not lost:
            lost.append(resp)
            raise RpcError(grpc.StatusCode.UNAVAILABLE, "etcdserver: request timed out")
        return resp

    monkeypatch.setattr(etcd_store, "_send_txn", send_and_lose)
    return lost


@pytest.fixture
def lose_next_reply(etcd_store: EtcdStore, monkeypatch: pytest.MonkeyPatch) -> list[object]:
    return lose_reply(etcd_store, monkeypatch)


def test_a_create_whose_reply_was_lost_is_reported_applied(etcd_store: EtcdStore, lose_next_reply: list) -> None:
    revision = etcd_store.create("/t/a", b"mine", 0)
    kv = etcd_store.get("/t/a")
    assert lose_next_reply, "the first try's reply was lost"
    assert kv is not None and kv.value == b"mine" and kv.mod_revision == revision
    # Written once: the retry wrote nothing more.
    assert etcd_store.list("/t/").revision == revision


def test_a_cas_whose_reply_was_lost_is_reported_applied(etcd_store: EtcdStore, monkeypatch: pytest.MonkeyPatch) -> None:
    first = etcd_store.create("/t/a", b"v1")
    lost = lose_reply(etcd_store, monkeypatch)
    revision = etcd_store.cas("/t/a", b"v2", first)
    assert lost
    kv = etcd_store.get("/t/a")
    assert kv is not None and kv.value == b"v2" and kv.mod_revision == revision


def test_a_txn_whose_reply_was_lost_is_reported_applied_at_its_revision(
    etcd_store: EtcdStore, lose_next_reply: list
) -> None:
    revision = etcd_store.txn([Compare("/t/a", 0, on_create=True)], [Put("/t/a", b"1"), Put("/t/b", b"2")])
    assert lose_next_reply
    a, b = etcd_store.get("/t/a"), etcd_store.get("/t/b")
    assert a is not None and b is not None and a.mod_revision == b.mod_revision == revision


def test_a_delete_whose_reply_was_lost_is_reported_done(etcd_store: EtcdStore, monkeypatch: pytest.MonkeyPatch) -> None:
    revision = etcd_store.create("/t/a", b"v1")
    lost = lose_reply(etcd_store, monkeypatch)
    assert etcd_store.delete("/t/a", mod_revision=revision) is True
    assert lost and etcd_store.get("/t/a") is None


def test_a_lost_reply_does_not_turn_someone_elses_win_into_ours(
    etcd_store: EtcdStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    etcd_store.create("/t/a", b"theirs")
    lost = lose_reply(etcd_store, monkeypatch)
    with pytest.raises(Conflict):
        etcd_store.create("/t/a", b"mine")
    assert lost
    # Same bytes, bound to another lease: not ours either.
    lease = etcd_store.grant_lease(30)
    with pytest.raises(Conflict):
        etcd_store.create("/t/a", b"theirs", lease)


def test_without_a_lost_reply_identical_bytes_still_conflict(etcd_store: EtcdStore) -> None:
    etcd_store.create("/t/a", b"same")
    with pytest.raises(Conflict):
        etcd_store.create("/t/a", b"same")
    with pytest.raises(Conflict):
        etcd_store.txn([Compare("/t/a", 0, on_create=True)], [Put("/t/a", b"same"), Delete("/t/none")])


# -- a real three-member etcd losing its leader -------------------------------------------


@pytest.fixture
def three_members(tmp_path: Path) -> Iterator[list[EtcdProcess]]:
    members = start_etcd_cluster(tmp_path / "etcd", 3, timeout=90, die_with_parent=True)
    try:
        yield members
    finally:
        for m in members:
            m.kill()


def leader_of(members: list[EtcdProcess]) -> EtcdProcess:
    for m in members:
        client = pyetcd.client(host=m.host, port=m.client_port, timeout=5)
        try:
            leader = client.status().leader
        finally:
            client.close()
        if leader is not None:
            return next(x for x in members if x.client_url in leader.client_urls)
    raise AssertionError("no member names a leader")


def test_killing_the_etcd_leader_fails_no_store_call_and_loses_none(
    three_members: list[EtcdProcess], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="shoal.store")
    store = EtcdStore(client_urls(three_members), timeout=5)  # the default retry window
    leader = leader_of(three_members)
    # Talk to the leader first, so its death is felt as a refused connection as well as
    # the election on the other two.
    store._client._current_endpoint_label = f"{leader.host}:{leader.client_port}"
    done, errors, writes = threading.Event(), [], [0]
    counter = store.create("/t/counter", b"0")
    lease = store.grant_lease(30)
    store.put("/t/held", b"by the lease", lease)

    def stream() -> None:
        # Create-only puts, reads of each back, and a compare-and-set counter: a lost write
        # leaves a gap, a duplicated one a conflict or a counter ahead of the count.
        nonlocal counter
        i = 0
        while not done.is_set():
            try:
                store.create(f"/t/k{i:05d}", str(i).encode())
                kv = store.get(f"/t/k{i:05d}")
                assert kv is not None and kv.value == str(i).encode(), (i, kv)
                counter = store.cas("/t/counter", str(i + 1).encode(), counter)
            except Exception as exc:
                errors.append((i, exc))
                return
            i += 1
            writes[0] = i

    worker = threading.Thread(target=stream, daemon=True)
    worker.start()
    wait_for(lambda: writes[0] >= 30 or errors, 60, "writes before the kill")
    before = writes[0]
    leader.kill()
    # The stream goes on past the election on the two left.
    wait_for(lambda: writes[0] >= before + 50 or errors, 120, "writes after the leader was killed")
    done.set()
    worker.join(60)
    assert not worker.is_alive()
    assert errors == [], errors
    n = writes[0]
    kvs = store.list("/t/k").kvs
    assert [kv.key for kv in kvs] == [f"/t/k{i:05d}" for i in range(n)]
    assert [kv.value for kv in kvs] == [str(i).encode() for i in range(n)]
    assert store.get("/t/counter").value == str(n).encode()  # type: ignore[union-attr]
    # The lease granted before the election is kept alive after it, with its key.
    assert store.refresh_lease(lease)
    assert store.get("/t/held") is not None
    store.close()
    outages = [r.getMessage() for r in caplog.records if "answered again" in r.getMessage()]
    print(f"{n} writes ({before} before the kill); outages: {outages}")
    assert outages, "the kill was felt and logged"

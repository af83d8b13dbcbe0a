"""The etcd store's retry policy: transient errors (an election's UNAVAILABLE, a dead member,
every endpoint marked failed) are tried again with the shared backoff until the window is
spent; anything else surfaces at once; an outage logs one line, when it ends."""

from __future__ import annotations

import logging

import grpc
import pytest
from pyetcd import exceptions as etcd_exc

from shoal.store.etcd_retry import DEFAULT_RETRY_WINDOW, GaveUp, Retrier, describe, is_transient
from tests.fixtures.etcd import FakeClock, RpcError


def pyetcd_error(code: grpc.StatusCode, details: str) -> Exception:
    """pyetcd's translation of a gRPC error: its own class, the gRPC error as context."""
    cls = {grpc.StatusCode.UNAVAILABLE: etcd_exc.ConnectionFailedError,
           grpc.StatusCode.DEADLINE_EXCEEDED: etcd_exc.ConnectionTimeoutError}[code]
    try:
        raise RpcError(code, details)
    except RpcError:
        try:
            raise cls()
        except cls as exc:
            return exc


class Edge:
    """A client edge that fails with ``errors`` in turn, then answers."""

    def __init__(self, errors: list[Exception], clock: FakeClock, cost: float = 0.0) -> None:
        self.errors, self.clock, self.cost, self.calls = list(errors), clock, cost, 0

    def __call__(self) -> str:
        self.calls += 1
        self.clock.advance(self.cost)
        if self.errors:
            raise self.errors.pop(0)
        return "answer"


def retrier(clock: FakeClock, window: float = 4.0, **kw: object) -> tuple[Retrier, list[float]]:
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.advance(seconds)

    return Retrier(window, clock=clock, sleep=sleep, **kw), slept  # type: ignore[arg-type]


def test_an_election_is_ridden_out_with_backoff() -> None:
    clock = FakeClock()
    r, slept = retrier(clock)
    errors = [pyetcd_error(grpc.StatusCode.UNAVAILABLE, "etcdserver: leader changed"),
              pyetcd_error(grpc.StatusCode.UNAVAILABLE, "etcdserver: no leader"),
              pyetcd_error(grpc.StatusCode.DEADLINE_EXCEEDED, "context deadline exceeded"),
              pyetcd_error(grpc.StatusCode.UNAVAILABLE, "etcdserver: no leader")]
    edge = Edge(errors, clock)
    assert r.run(edge) == "answer"
    assert edge.calls == 5
    assert len(slept) == 4 and all(0 < s <= 0.5 for s in slept)
    # The shared backoff: 50 ms doubled per retry, drawn from the upper half.
    assert slept[0] <= 0.05 and 0.2 <= slept[3] <= 0.4


def test_gives_up_once_the_window_is_spent_with_the_last_error() -> None:
    clock = FakeClock()
    r, slept = retrier(clock, window=2.0)
    start = clock()
    edge = Edge([pyetcd_error(grpc.StatusCode.UNAVAILABLE, "etcdserver: no leader")] * 1000, clock, cost=0.01)
    with pytest.raises(GaveUp, match="no leader") as info:
        r.run(edge)
    assert isinstance(info.value.last, etcd_exc.ConnectionFailedError)
    # No try starts after the window; the last one may run its own length past it.
    # (The window opens when the first try fails, one try's length after the start.)
    assert clock() - start <= 2.0 + 2 * 0.01
    # It did keep trying for (most of) the window, not once.
    assert clock() - start > 1.0 and edge.calls > 3


def test_the_default_window_outlasts_a_write_held_for_a_dead_leader() -> None:
    # The leader dies: its connection is refused at once, the next member holds the write
    # until etcd's request timeout (~5 s), and by then a leader is elected.
    clock = FakeClock()
    r, _ = retrier(clock, window=DEFAULT_RETRY_WINDOW)
    hung = pyetcd_error(grpc.StatusCode.UNAVAILABLE,
                        "etcdserver: request timed out, possibly due to previous leader failure")

    class Hangs(Edge):
        def __call__(self) -> str:
            if self.calls == 1:
                clock.advance(5.0)
            return super().__call__()

    edge = Hangs([pyetcd_error(grpc.StatusCode.UNAVAILABLE, "connection refused"), hung], clock)
    assert r.run(edge) == "answer"
    assert edge.calls == 3


def test_a_zero_window_tries_once() -> None:
    clock = FakeClock()
    r, slept = retrier(clock, window=0.0)
    edge = Edge([pyetcd_error(grpc.StatusCode.UNAVAILABLE, "x")], clock)
    with pytest.raises(GaveUp):
        r.run(edge)
    assert edge.calls == 1 and slept == []


@pytest.mark.parametrize("error", [
    etcd_exc.PreconditionFailedError(),
    RpcError(grpc.StatusCode.PERMISSION_DENIED, "etcdserver: permission denied"),
    RpcError(grpc.StatusCode.INVALID_ARGUMENT, "etcdserver: too many operations in txn request"),
    ValueError("Trying to use a failed node"),
])
def test_other_errors_surface_at_once(error: Exception) -> None:
    clock = FakeClock()
    r, slept = retrier(clock)
    edge = Edge([error], clock)
    with pytest.raises(type(error)):
        r.run(edge)
    assert edge.calls == 1 and slept == []
    assert not is_transient(error)


def test_every_endpoint_failed_lets_them_all_be_tried_again() -> None:
    clock = FakeClock()
    reset: list[int] = []
    r, _ = retrier(clock, on_exhausted=lambda: reset.append(1))
    edge = Edge([etcd_exc.NoServerAvailableError("No endpoint available and not failed")] * 2, clock)
    assert r.run(edge) == "answer"
    assert reset == [1, 1]


def test_each_transient_error_is_reported_to_the_caller() -> None:
    # The store uses this to know that a write's reply was lost (it may have applied).
    clock = FakeClock()
    r, _ = retrier(clock)
    seen: list[BaseException] = []
    raw = RpcError(grpc.StatusCode.UNAVAILABLE, "etcdserver: request timed out")
    edge = Edge([raw], clock)
    r.run(edge, on_transient=seen.append)
    assert seen == [raw]


def test_one_outage_logs_one_line_when_it_ends(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    r, _ = retrier(clock, where=lambda: "127.0.0.1:2379")
    caplog.set_level(logging.INFO, logger="shoal.store.etcd_retry")
    assert r.run(Edge([], clock)) == "answer"
    assert caplog.records == [], "no outage, no line"
    errors = [pyetcd_error(grpc.StatusCode.UNAVAILABLE, "etcdserver: leader changed")] + [
        pyetcd_error(grpc.StatusCode.UNAVAILABLE, "etcdserver: no leader")] * 5
    # Two calls fail through one outage (a give-up included), a third ends it.
    r.window = 0.0
    with pytest.raises(GaveUp):
        r.run(Edge(errors[:1], clock))
    assert caplog.records == []
    r.window = 4.0
    assert r.run(Edge(errors[1:], clock)) == "answer"
    assert len(caplog.records) == 1
    line = caplog.records[0].getMessage()
    assert "leader changed" in line and "5 retries" in line, line
    # The next outage is its own line.
    assert r.run(Edge(errors[1:2], clock)) == "answer"
    assert len(caplog.records) == 2 and "0 retries" in caplog.records[1].getMessage()


def test_describe_names_etcds_message_not_pyetcds_empty_one() -> None:
    assert describe(pyetcd_error(grpc.StatusCode.UNAVAILABLE, "etcdserver: no leader")) == \
        "UNAVAILABLE: etcdserver: no leader"


def test_a_negative_window_is_refused() -> None:
    with pytest.raises(ValueError, match="retry window"):
        Retrier(-1)

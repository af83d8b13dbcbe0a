"""Endpoint lists and the failover stub the CLI, tests and chaos use to reach replicas."""

from __future__ import annotations

import grpc
import pytest

from shoal.endpoints import FailoverStub, parse_endpoints
from shoal.retry import backoff


class _Error(grpc.RpcError):
    def __init__(self, code: grpc.StatusCode) -> None:
        self._code = code

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._code.name


class _Channel:
    def __init__(self, target: str) -> None:
        self.target = target
        self.closed = False

    def close(self) -> None:
        self.closed = True


class _Replicas:
    """Fake channels: each target answers, is down (UNAVAILABLE) or refuses."""

    def __init__(self, behaviour: dict[str, str]) -> None:
        self.behaviour = behaviour
        self.calls: list[str] = []
        self.opened: list[str] = []

    def open(self, target: str) -> _Channel:
        self.opened.append(target)
        return _Channel(target)

    def stub_class(self, chan: _Channel) -> object:
        replicas = self
        channel = chan.target

        class Stub:
            def Ping(self, request: str, timeout: float | None = None) -> str:
                replicas.calls.append(channel)
                what = replicas.behaviour[channel]
                if what == "down":
                    raise _Error(grpc.StatusCode.UNAVAILABLE)
                if what == "refuse":
                    raise _Error(grpc.StatusCode.INVALID_ARGUMENT)
                return f"{channel}:{request}:{timeout}"

        return Stub()


def test_parse_endpoints_accepts_lists_and_names_the_bad_part() -> None:
    assert parse_endpoints(" a:1, b:2 ,") == ["a:1", "b:2"]
    assert parse_endpoints("[::1]:7400") == ["[::1]:7400"]
    with pytest.raises(ValueError, match="endpoint: 'a:x'"):
        parse_endpoints("a:1,a:x")
    with pytest.raises(ValueError, match="at least one"):
        parse_endpoints(" , ")


def test_backoff_is_capped_and_jittered() -> None:
    values = [backoff(attempt, 0.2, 5.0) for attempt in range(30)]
    assert all(0.1 <= d <= 5.0 for d in values)
    assert values[0] <= 0.2 and max(values[-10:]) >= 2.5  # grows to the cap
    assert len({round(v, 6) for v in values[-10:]}) > 1  # jittered
    assert backoff(0, 1.0, 1.0) >= 0.5


def test_failover_moves_past_an_unavailable_replica_and_sticks_to_the_good_one() -> None:
    fake = _Replicas({"a:1": "down", "b:2": "up"})
    stub = FailoverStub(["a:1", "b:2"], fake.open, fake.stub_class, timeout=3)
    assert stub.Ping("x") == "b:2:x:3"
    assert stub.Ping("y", timeout=1) == "b:2:y:1"
    assert fake.calls == ["a:1", "b:2", "b:2"], "the good replica is remembered"
    fake.behaviour["b:2"] = "down"
    fake.behaviour["a:1"] = "up"
    assert stub.Ping("z") == "a:1:z:3"
    assert fake.opened == ["a:1", "b:2", "a:1"], "a failed replica's channel is made afresh (no gRPC backoff)"


def test_an_answer_that_is_a_refusal_is_never_retried_elsewhere() -> None:
    fake = _Replicas({"a:1": "refuse", "b:2": "up"})
    stub = FailoverStub(["a:1", "b:2"], fake.open, fake.stub_class)
    with pytest.raises(grpc.RpcError):
        stub.Ping("x")
    assert fake.calls == ["a:1"]


def test_all_down_raises_the_last_unavailable_after_the_rounds() -> None:
    fake = _Replicas({"a:1": "down", "b:2": "down"})
    stub = FailoverStub(["a:1", "b:2"], fake.open, fake.stub_class, rounds=2, patience=5)
    with pytest.raises(grpc.RpcError) as err:
        stub.Ping("x")
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE
    assert len(fake.calls) == 4

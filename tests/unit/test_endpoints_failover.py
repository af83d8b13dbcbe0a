"""Endpoint lists, the failover stub and the one connection helper the CLI, the agent, the
autoscaler, tests and chaos use to reach replicas."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent import futures
from pathlib import Path

import grpc
import pytest

from autoscaler.api import ControlPlane
from shoal.endpoints import Connection, FailoverStub, PlaintextRefused, insecure_from_env, parse_endpoints
from shoal.netutil import free_port
from shoal.retry import backoff
from shoal.security.channels import ClientTLS
from shoal.v1 import operator_pb2 as op
from shoal.v1 import operator_pb2_grpc
from shoal.v1 import resources_pb2 as r

ROOT = Path(__file__).resolve().parents[2]


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


# ---- the one connection helper: no silent plaintext, failover for the autoscaler too --------

def test_a_client_without_a_ca_refuses_plaintext_unless_told_insecure() -> None:
    with pytest.raises(PlaintextRefused) as err:
        Connection(["cp:7400"], None)
    message = str(err.value)
    assert "\n" not in message and "--insecure" in message and "cp:7400" in message
    with pytest.raises(PlaintextRefused, match="pass --my-flag"):
        Connection(["cp:7400"], None, flag="--my-flag")
    assert Connection(["cp:7400"], None, insecure=True).plaintext
    assert not Connection(["cp:7400"], ClientTLS(ca=b"x")).plaintext
    assert insecure_from_env({"SHOAL_INSECURE": "1"}) and not insecure_from_env({})


@pytest.mark.parametrize("argv", [["-m", "shoalctl", "task", "list"], ["-m", "autoscaler"]])
def test_the_cli_and_the_autoscaler_say_which_flag_allows_plaintext(argv: list[str], tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOAL_")}
    env.update(PYTHONPATH=str(ROOT), SHOAL_STATE_DIR=str(tmp_path), SHOAL_ENDPOINT=f"127.0.0.1:{free_port()}")
    done = subprocess.run([sys.executable, *argv], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "over plaintext" in lines[0] and "--insecure" in lines[0], done.stderr


class _Operator(operator_pb2_grpc.OperatorServicer):
    def ListContainerInstances(self, request, context):  # noqa: N802 (gRPC naming)
        return op.ListResponse(arns=["arn:aws:ecs:local:0:container-instance/default/n1"])

    def DescribeContainerInstances(self, request, context):  # noqa: N802
        return op.DescribeContainerInstancesResponse(container_instances=[
            r.ContainerInstance(id=arn.rsplit("/", 1)[-1]) for arn in request.container_instances])


def test_the_autoscaler_fails_over_to_the_replica_that_answers() -> None:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    operator_pb2_grpc.add_OperatorServicer_to_server(_Operator(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    down = f"127.0.0.1:{free_port()}"  # nothing listens there
    cp = ControlPlane(Connection([down, f"127.0.0.1:{port}"], None, insecure=True), timeout=5)
    try:
        assert [n.id for n in cp.nodes("default")] == ["n1"]
        assert [n.id for n in cp.nodes("default")] == ["n1"]  # and stays with the replica that answered
    finally:
        cp.close()
        server.stop(None)

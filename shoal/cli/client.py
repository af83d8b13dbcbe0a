"""How the CLI reaches the control plane: endpoint from --endpoint, SHOAL_ENDPOINT, or
the config file `shoal up` writes (<state dir>/config.json; state dir from
SHOAL_STATE_DIR, default ~/.shoal). gRPC errors become one line on stderr."""

from __future__ import annotations

import json
import os
from pathlib import Path

import grpc

from shoal.cli.errors import CliError
from shoal.v1 import operator_pb2_grpc

DEFAULT_ENDPOINT = "127.0.0.1:7400"


def state_dir() -> Path:
    return Path(os.environ.get("SHOAL_STATE_DIR") or Path.home() / ".shoal")


def load_config() -> dict:
    path = state_dir() / "config.json"
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot read {path}: {exc}") from exc


def endpoint(flag: str | None) -> str:
    return flag or os.environ.get("SHOAL_ENDPOINT") or load_config().get("endpoint") or DEFAULT_ENDPOINT


class Client:
    """Operator stub whose calls raise CliError with the server's message."""

    def __init__(self, target: str, timeout: float = 30.0) -> None:
        self.target = target
        self.timeout = timeout
        self.channel = grpc.insecure_channel(target)
        self._stub = operator_pb2_grpc.OperatorStub(self.channel)

    def __getattr__(self, name: str):
        method = getattr(self._stub, name)

        def call(request):
            try:
                return method(request, timeout=self.timeout)
            except grpc.RpcError as exc:
                raise CliError(describe_rpc_error(exc, self.target)) from None

        return call


def describe_rpc_error(exc: grpc.RpcError, target: str) -> str:
    code = exc.code() if hasattr(exc, "code") else None
    details = exc.details() if hasattr(exc, "details") else str(exc)
    if code == grpc.StatusCode.UNAVAILABLE:
        return f"cannot reach the control plane at {target} ({details}); is it running? (`shoal up`)"
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return f"the control plane at {target} did not answer in time"
    return details or str(code)


def connect(args) -> Client:
    return Client(endpoint(getattr(args, "endpoint", None)))

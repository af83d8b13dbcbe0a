"""How the CLI reaches the control plane: endpoint from --endpoint, SHOAL_ENDPOINT, or
the config file `shoal up` writes (<state dir>/config.json; state dir from
SHOAL_STATE_DIR, default ~/.shoal). Any of these may list several replicas
("h1:7400,h2:7400"): a call that finds one unavailable goes to the next (see
shoal/endpoints.py). Credentials: SHOAL_CA/SHOAL_CERT/SHOAL_KEY, else the config file's
ca/cert/key (the admin identity `shoal up` made); with none the CLI refuses to go out over
plaintext unless told so (`shoal --insecure ...`, SHOAL_INSECURE=1, or `"insecure": true` in
the config of a cluster started --insecure). gRPC errors become one line on stderr."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc

from shoal.endpoints import Connection, PlaintextRefused, insecure_from_env, parse_endpoints
from shoal.errors import rpc_status
from shoal.security.channels import ClientTLS, TlsConfigError
from shoal.v1 import operator_pb2_grpc
from shoalctl.cli.errors import CliError
from shoalctl.cli.output import add_output_flag

DEFAULT_ENDPOINT = "127.0.0.1:7400"
# Set by `shoal --insecure`: this invocation may talk plaintext to an --insecure control plane.
_insecure_flag = False


def allow_plaintext(allowed: bool) -> None:
    global _insecure_flag
    _insecure_flag = allowed


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


def client_tls() -> ClientTLS | None:
    try:
        return ClientTLS.from_env(load_config())
    except TlsConfigError as exc:
        raise CliError(str(exc)) from None


def connection(target: str) -> Connection:
    """The CLI's way to the replicas in ``target`` ("h1:p1,h2:p2"), with this user's
    credentials; raises CliError for a bad endpoint or a plaintext the user did not ask for."""
    try:
        targets = parse_endpoints(target)
    except ValueError as exc:
        raise CliError(f"{exc} (from --endpoint, SHOAL_ENDPOINT or config.json)") from None
    insecure = _insecure_flag or insecure_from_env() or load_config().get("insecure") is True
    try:
        return Connection(targets, client_tls(), insecure=insecure, flag="--insecure (shoal --insecure COMMAND)")
    except PlaintextRefused as exc:
        raise CliError(str(exc)) from None


class Client:
    """Operator stub (or ``stub_class``'s) over one or more replicas ("h1:p1,h2:p2"),
    failing over between them; its calls raise CliError with the server's message."""

    def __init__(self, target: str, timeout: float = 30.0, stub_class: type = operator_pb2_grpc.OperatorStub) -> None:
        conn = connection(target)
        self.targets = conn.targets
        self.target = ",".join(self.targets)
        self.timeout = timeout
        self._stub = conn.stub(stub_class, patience=timeout)

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)

        def call(request):
            try:
                return self._stub.call(name, request, timeout=self.timeout)
            except grpc.RpcError as exc:
                raise CliError(describe_rpc_error(exc, self.target)) from None

        return call

    def close(self) -> None:
        self._stub.close()


def describe_rpc_error(exc: grpc.RpcError, target: str) -> str:
    code, details = rpc_status(exc)
    if code == grpc.StatusCode.UNAVAILABLE:
        hint = "is it running? (`shoal up`)"
        if not os.environ.get("SHOAL_CA") and not load_config().get("ca"):
            hint += "; with TLS on (the default) set SHOAL_CA, SHOAL_CERT and SHOAL_KEY (see `shoal user create`)"
        return f"cannot reach the control plane at {target} ({details}); {hint}"
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return f"the control plane at {target} did not answer in time"
    return details or str(code)


def connect(args, stub_class: type = operator_pb2_grpc.OperatorStub) -> Client:
    """A client of ``stub_class``'s API at the command's --endpoint (or the default one)."""
    return Client(endpoint(getattr(args, "endpoint", None)), stub_class=stub_class)


def caller(stub_class: type = operator_pb2_grpc.OperatorStub) -> Callable[..., Any]:
    """``call(args, method, request)``: one call of ``method`` on a client of ``stub_class``'s
    API at the command's --endpoint, the client closed after it."""
    def call(args, method: str, request):
        client = connect(args, stub_class)
        try:
            return getattr(client, method)(request)
        finally:
            client.close()
    return call


def add_target_flags(p: argparse.ArgumentParser, *, cluster: bool = False, output: bool = False) -> None:
    """The flags of a command that calls the control plane: --endpoint, and --cluster and
    -o when it takes them; ``connect`` reads --endpoint."""
    if cluster:
        p.add_argument("--cluster", default="default", help="cluster name (default: default)")
    p.add_argument("--endpoint", help="control plane HOST:PORT (default: $SHOAL_ENDPOINT or `shoal up`'s)")
    if output:
        add_output_flag(p)


def add_verb(group, name: str, func: Callable[[argparse.Namespace], object], helptext: str, *,
             cluster: bool = False, output: bool = False) -> argparse.ArgumentParser:
    """The command ``name`` in ``group`` (a subparsers action): runs ``func`` and takes the
    flags of ``add_target_flags``; its own flags are added to what it returns."""
    p = group.add_parser(name, help=helptext)
    add_target_flags(p, cluster=cluster, output=output)
    p.set_defaults(func=func)
    return p

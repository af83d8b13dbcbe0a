"""`shoal fs create|list|delete` against the Operator gRPC service in-process on an in-memory
store: errors reach the user naming the field; writes are admin-only, listing is a read."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from controlplane.api.context import ApiContext
from controlplane.api.operator import OperatorService
from controlplane.authz import Denied, decide
from shoal.security.ca import Identity
from shoal.store.memory import MemoryStore
from shoal.v1 import operator_pb2_grpc
from shoalctl.cli import filesystems
from shoalctl.cli.errors import CliError
from tests.fixtures.cli_server import cli_server, run_noun


@pytest.fixture
def server(monkeypatch, tmp_path) -> Iterator[str]:
    store = MemoryStore()
    try:
        with cli_server(monkeypatch, tmp_path, lambda srv: operator_pb2_grpc.add_OperatorServicer_to_server(
                OperatorService(ApiContext(store)), srv)) as endpoint:
            yield endpoint
    finally:
        store.close()


def shoal(endpoint: str, *argv: str) -> None:
    run_noun(filesystems.register, "fs", endpoint, *argv)


def test_create_list_delete(server, tmp_path, capsys) -> None:
    shoal(server, "create", "shared", "--nfs", "10.0.0.5:/srv/share", "--options", "nfsvers=4.1,hard",
          "--options", "timeo=600")
    assert '"efsVolumeConfiguration": {"fileSystemId": "shared"}' in capsys.readouterr().out
    shoal(server, "create", "lab", "--bind", str(tmp_path))
    capsys.readouterr()
    shoal(server, "list")
    out = capsys.readouterr().out
    assert "nfs 10.0.0.5:/srv/share (nfsvers=4.1,hard,timeo=600)" in out and f"bind {tmp_path}" in out
    shoal(server, "delete", "lab")
    assert "deleted file system lab" in capsys.readouterr().out
    shoal(server, "list", "-o", "json")
    listed = json.loads(capsys.readouterr().out)
    assert [x["fileSystemId"] for x in listed] == ["shared"]
    assert listed[0]["nfs"] == {"host": "10.0.0.5", "export": "/srv/share", "options": ["nfsvers=4.1", "hard",
                                                                                        "timeo=600"]}


def test_bad_input_is_refused_naming_the_field(server) -> None:
    with pytest.raises(CliError, match="options: 'addr=1.2.3.4': Shoal writes the server address itself"):
        shoal(server, "create", "x", "--nfs", "h:/a", "--options", "addr=1.2.3.4")
    with pytest.raises(CliError, match="bind: '/var/run/docker.sock' is never mountable"):
        shoal(server, "create", "x", "--bind", "/var/run/docker.sock")
    with pytest.raises(CliError, match="no file system 'x'"):
        shoal(server, "delete", "x")


@pytest.mark.parametrize("method", ["CreateFileSystem", "DeleteFileSystem"])
def test_writes_are_admin_only_and_listing_is_a_read(method: str) -> None:
    decide(f"/shoal.v1.Operator/{method}", Identity("admin", "alice"))
    for who in (Identity("viewer", "bob"), Identity("node", "n1")):
        with pytest.raises(Denied):
            decide(f"/shoal.v1.Operator/{method}", who)
    decide("/shoal.v1.Operator/ListFileSystems", Identity("viewer", "bob"))

"""`shoal accesskey create|list|delete` against the AccessKeys gRPC service in-process on
an in-memory store."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from controlplane.api.accesskeys import AccessKeysService, active, owner
from controlplane.api.context import ApiContext
from controlplane.errors import ApiError
from shoal.security.ca import Identity
from shoal.store.memory import MemoryStore
from shoal.v1 import accesskeys_pb2 as ak
from shoal.v1 import accesskeys_pb2_grpc
from shoalctl.cli import accesskeys
from shoalctl.cli.errors import CliError
from tests.fixtures.cli_server import cli_server, run_noun


def secret_for(ctx: ApiContext, key_id: str) -> str | None:
    key = active(ctx, key_id)
    return key.secret_access_key if key is not None else None


@pytest.fixture
def server(monkeypatch, tmp_path) -> Iterator[tuple[str, ApiContext]]:
    store = MemoryStore()
    ctx = ApiContext(store)
    try:
        with cli_server(monkeypatch, tmp_path,
                        lambda srv: accesskeys_pb2_grpc.add_AccessKeysServicer_to_server(AccessKeysService(ctx), srv)
                        ) as endpoint:
            yield endpoint, ctx
    finally:
        store.close()


def shoal(endpoint: str, *argv: str) -> None:
    run_noun(accesskeys.register, "accesskey", endpoint, *argv)


def test_create_list_delete(server, capsys) -> None:
    endpoint, ctx = server
    shoal(endpoint, "create", "--description", "ci runner", "--user", "ci", "--role", "viewer")
    lines = capsys.readouterr().out.splitlines()
    key_id = lines[0].removeprefix("export AWS_ACCESS_KEY_ID=")
    secret = lines[1].removeprefix("export AWS_SECRET_ACCESS_KEY=")
    assert secret_for(ctx, key_id) == secret

    shoal(endpoint, "list", "-o", "json")
    listed = json.loads(capsys.readouterr().out)
    assert [(k["AccessKeyId"], k["Status"], k["Description"], k["User"], k["Role"]) for k in listed] == [
        (key_id, "Active", "ci runner", "ci", "viewer")]
    assert secret not in json.dumps(listed)

    shoal(endpoint, "delete", key_id)
    assert capsys.readouterr().out.strip() == f"deleted {key_id}"
    assert secret_for(ctx, key_id) is None
    with pytest.raises(CliError, match="no access key"):
        shoal(endpoint, "delete", key_id)
    with pytest.raises(CliError, match="accessKeyId"):
        shoal(endpoint, "delete", "nonsense")


def test_a_key_needs_an_owner_and_a_role(server) -> None:
    endpoint, _ = server
    # This in-process server authenticates nobody (like --insecure): there is no caller.
    with pytest.raises(CliError, match="user: .*name its user and role"):
        shoal(endpoint, "create")
    with pytest.raises(CliError, match="role: a key for another user"):
        shoal(endpoint, "create", "--user", "bob")
    with pytest.raises(CliError, match="user: 1-64 letters"):
        shoal(endpoint, "create", "--user", "bad name", "--role", "viewer")


def test_the_callers_own_key_carries_the_callers_role() -> None:
    admin, viewer = Identity("admin", "alice"), Identity("viewer", "vic")
    assert owner(ak.CreateAccessKeyRequest(), admin) == admin
    assert owner(ak.CreateAccessKeyRequest(), viewer) == viewer
    # An admin may hand itself a read-only key, and name another user's.
    assert owner(ak.CreateAccessKeyRequest(role="viewer"), admin) == Identity("viewer", "alice")
    assert owner(ak.CreateAccessKeyRequest(user="bob", role="admin"), admin) == Identity("admin", "bob")
    with pytest.raises(ApiError, match="may not issue itself an admin key"):
        owner(ak.CreateAccessKeyRequest(role="admin"), viewer)
    with pytest.raises(ApiError, match="role: want admin or viewer"):
        owner(ak.CreateAccessKeyRequest(role="root"), admin)
    with pytest.raises(ApiError, match="not an operator"):
        owner(ak.CreateAccessKeyRequest(), Identity("node", "n1"))

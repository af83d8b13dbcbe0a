"""`shoal accesskey create|list|delete` against the AccessKeys gRPC service in-process on
an in-memory store."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from concurrent import futures

import grpc
import pytest

from controlplane.api.accesskeys import AccessKeysService, secret_for
from controlplane.api.context import ApiContext
from shoal.store.memory import MemoryStore
from shoal.v1 import accesskeys_pb2_grpc
from shoalctl.cli import accesskeys
from shoalctl.cli.errors import CliError


@pytest.fixture
def server() -> Iterator[tuple[str, ApiContext]]:
    store = MemoryStore()
    ctx = ApiContext(store)
    srv = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    accesskeys_pb2_grpc.add_AccessKeysServicer_to_server(AccessKeysService(ctx), srv)
    port = srv.add_insecure_port("127.0.0.1:0")
    srv.start()
    try:
        yield f"127.0.0.1:{port}", ctx
    finally:
        srv.stop(None)
        store.close()


def shoal(endpoint: str, *argv: str) -> None:
    parser = argparse.ArgumentParser()
    accesskeys.register(parser.add_subparsers(dest="noun", required=True))
    args = parser.parse_args(["accesskey", *argv, "--endpoint", endpoint])
    args.func(args)


def test_create_list_delete(server, capsys) -> None:
    endpoint, ctx = server
    shoal(endpoint, "create", "--description", "ci runner")
    lines = capsys.readouterr().out.splitlines()
    key_id = lines[0].removeprefix("export AWS_ACCESS_KEY_ID=")
    secret = lines[1].removeprefix("export AWS_SECRET_ACCESS_KEY=")
    assert secret_for(ctx, key_id) == secret

    shoal(endpoint, "list", "-o", "json")
    listed = json.loads(capsys.readouterr().out)
    assert [(k["AccessKeyId"], k["Status"], k["Description"]) for k in listed] == [(key_id, "Active", "ci runner")]
    assert secret not in json.dumps(listed)

    shoal(endpoint, "delete", key_id)
    assert capsys.readouterr().out.strip() == f"deleted {key_id}"
    assert secret_for(ctx, key_id) is None
    with pytest.raises(CliError, match="no access key"):
        shoal(endpoint, "delete", key_id)
    with pytest.raises(CliError, match="accessKeyId"):
        shoal(endpoint, "delete", "nonsense")

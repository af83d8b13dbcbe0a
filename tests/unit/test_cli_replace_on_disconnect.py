"""`shoal service create/update --replace-on-disconnect` against a real operator API on the
in-memory store: the flag reaches the service, and its refusal without a tolerance is a clear
error naming the field, nothing half-applied."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent import futures

import grpc
import pytest

from controlplane.api import taskdefs
from controlplane.api.context import ApiContext
from controlplane.api.operator import OperatorService
from shoal.store.memory import MemoryStore
from shoal.v1 import operator_pb2 as op
from shoal.v1 import operator_pb2_grpc
from shoalctl.cli import main

WEB = {"family": "web", "containerDefinitions": [{"name": "web", "image": "shoal/busybox:latest", "memory": 64}]}


@pytest.fixture
def ctx(monkeypatch, tmp_path) -> Iterator[ApiContext]:
    monkeypatch.setenv("SHOAL_INSECURE", "1")
    monkeypatch.setenv("SHOAL_STATE_DIR", str(tmp_path))
    for name in ("SHOAL_CA", "SHOAL_CERT", "SHOAL_KEY"):
        monkeypatch.delenv(name, raising=False)
    store = MemoryStore()
    context = ApiContext(store)
    context.ensure_default_cluster()
    taskdefs.register(context, op.RegisterTaskDefinitionRequest(json=json.dumps(WEB)))
    srv = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    operator_pb2_grpc.add_OperatorServicer_to_server(OperatorService(context), srv)
    port = srv.add_insecure_port("127.0.0.1:0")
    srv.start()
    monkeypatch.setenv("SHOAL_ENDPOINT", f"127.0.0.1:{port}")
    try:
        yield context
    finally:
        srv.stop(None)
        store.close()


def test_the_flag_reaches_the_service_and_needs_a_tolerance(ctx: ApiContext, capsys) -> None:
    assert main.main(["service", "create", "web", "--taskdef", "web", "--desired", "0",
                      "--replace-on-disconnect"]) == 1
    assert "replaceOnDisconnect: needs a disconnectToleranceSeconds above 0" in capsys.readouterr().err
    assert ctx.state.service("default", "web") is None
    assert main.main(["service", "create", "web", "--taskdef", "web", "--desired", "0",
                      "--disconnect-tolerance", "60s", "--replace-on-disconnect"]) == 0
    svc = ctx.state.service("default", "web").msg
    assert (svc.disconnect_tolerance_seconds, svc.replace_on_disconnect) == (60, True)
    assert main.main(["service", "update", "web", "--no-replace-on-disconnect"]) == 0
    assert not ctx.state.service("default", "web").msg.replace_on_disconnect

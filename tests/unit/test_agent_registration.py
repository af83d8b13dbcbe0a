"""RegisterNode on the in-memory store: a node reconnecting with what it registered before
writes nothing (no transaction, no watch event per reconnect); a change is written."""

from __future__ import annotations

import grpc
import pytest

from controlplane.api.agent_registration import Registration
from controlplane.api.context import ApiContext
from shoal import keys
from shoal.store.memory import MemoryStore
from shoal.v1 import agent_pb2
from shoal.v1 import resources_pb2 as r


def request(node_id: str = "", memory_mib: int = 1024) -> agent_pb2.RegisterNodeRequest:
    return agent_pb2.RegisterNodeRequest(
        cluster="default", node_id=node_id, hostname="h1", cpu_units=1024, memory_mib=memory_mib,
        attributes=[r.Attribute(name="ecs.os-type", value="linux"), r.Attribute(name="zone", value="z1")],
        dynamic_port_low=32768, dynamic_port_high=60999)


def registration() -> tuple[Registration, ApiContext]:
    ctx = ApiContext(MemoryStore())
    ctx.ensure_default_cluster()
    reg = Registration()
    reg.ctx, reg.ttl, reg.refusal_if_cut_off = ctx, 10.0, lambda: None
    return reg, ctx


def test_registering_again_unchanged_writes_nothing_and_a_change_is_written() -> None:
    reg, ctx = registration()
    node_id = reg.RegisterNode(request(), None).node_id
    key = keys.node("default", node_id)
    first = ctx.store.get(key)
    assert first is not None

    again = reg.RegisterNode(request(node_id), None)
    assert again.node_id == node_id
    assert again.container_instance_arn == ctx.arns.node("default", node_id)
    assert ctx.store.get(key).mod_revision == first.mod_revision

    reg.RegisterNode(request(node_id, memory_mib=2048), None)
    changed = ctx.store.get(key)
    assert changed.mod_revision > first.mod_revision
    assert r.ContainerInstance.FromString(changed.value).memory_mib == 2048


class Aborted(Exception):
    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


class Context:
    """What RegisterNode's error wrapper uses of a servicer context."""

    def set_trailing_metadata(self, _metadata) -> None:
        pass

    def abort(self, code: grpc.StatusCode, message: str) -> None:
        raise Aborted(code, message)


@pytest.mark.parametrize("field, value, said", [
    # Every node's proxy config takes a node's address as its tasks' servers: text that is no
    # address, or an IPv6 zone carrying a newline, would stop every proxy of the cluster.
    ("address", "web.internal", "address: 'web.internal' is not an IP address"),
    ("address", "fd00::1%x\n    bind 0.0.0.0:22", "address: 'fd00::1%x\\n    bind 0.0.0.0:22' is not an IP address"),
    ("address", "169.254.169.254", "address: 169.254.169.254 is a cloud metadata"),
    ("address", "0.0.0.0", "address: 0.0.0.0 is a cloud metadata, multicast or unspecified"),
    ("metrics_port", 70000, "metricsPort: must be 0-65535"),
    ("proxy_metrics_port", -1, "proxyMetricsPort: must be 0-65535"),
])
def test_a_node_registering_a_bad_address_or_port_is_refused_naming_the_field(field, value, said) -> None:
    reg, ctx = registration()
    req = request()
    setattr(req, field, value)
    with pytest.raises(Aborted) as err:
        reg.RegisterNode(req, Context())
    assert err.value.code == grpc.StatusCode.INVALID_ARGUMENT and said in err.value.message, err.value.message
    assert not list(ctx.state.nodes("default"))

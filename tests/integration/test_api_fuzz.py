"""Hostile payloads at the real gRPC API (a control plane process with TLS on, called as an
admin so that validation, not authorization, is what refuses them): random bytes as a
serialized request, and well-formed requests with random field values, for every unary
method of Operator, Scaling, AccessKeys and Security. Every answer must be OK or a clean
client error (never INTERNAL, UNKNOWN or a dropped connection), and a refused call must
write nothing to etcd. Each fuzz test fails unless at least MIN_CASES of its own cases
reached the control plane; the numbers run are printed (pytest -s)."""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterator

import grpc
import pytest
from google.protobuf import descriptor as d
from google.protobuf import message_factory
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shoal.security.channels import client_channel
from shoal.store.etcd import EtcdStore
from shoal.v1 import accesskeys_pb2, operator_pb2, scaling_pb2, security_pb2
from tests.integration.test_security import Plane

pytestmark = pytest.mark.integration

CLEAN = {
    grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.ALREADY_EXISTS, grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.OUT_OF_RANGE,
    grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.ABORTED,
}
CASES: collections.Counter = collections.Counter()
BACKGROUND = ("/shoal/v1/leader/", "/shoal/v1/alive/")

METHODS = [
    (f"/{svc.full_name}/{m.name}", message_factory.GetMessageClass(m.input_type),
     message_factory.GetMessageClass(m.output_type))
    for module, name in ((operator_pb2, "Operator"), (scaling_pb2, "Scaling"), (accesskeys_pb2, "AccessKeys"),
                         (security_pb2, "Security"))
    for svc in [module.DESCRIPTOR.services_by_name[name]]
    for m in svc.methods
    if not m.client_streaming and not m.server_streaming
    # Rotation succeeds on any input by design: it would only churn the CA here.
    and m.name != "RotateCA"
]

_TEXT = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", "default", "web", "../../etc", "a" * 300, "arn:aws:ecs:local:0:cluster/default",
                     "web:1", "{}", '{"family": "x", "containerDefinitions": []}', "attribute:x == y",
                     "memberOf(attribute:ecs.availability-zone in [a])", "\x00", "*"]),
)
_INT_RANGES = {
    d.FieldDescriptor.TYPE_INT32: (-2**31, 2**31 - 1), d.FieldDescriptor.TYPE_SINT32: (-2**31, 2**31 - 1),
    d.FieldDescriptor.TYPE_SFIXED32: (-2**31, 2**31 - 1), d.FieldDescriptor.TYPE_UINT32: (0, 2**32 - 1),
    d.FieldDescriptor.TYPE_FIXED32: (0, 2**32 - 1), d.FieldDescriptor.TYPE_INT64: (-2**63, 2**63 - 1),
    d.FieldDescriptor.TYPE_SINT64: (-2**63, 2**63 - 1), d.FieldDescriptor.TYPE_SFIXED64: (-2**63, 2**63 - 1),
    d.FieldDescriptor.TYPE_UINT64: (0, 2**64 - 1), d.FieldDescriptor.TYPE_FIXED64: (0, 2**64 - 1),
}


def _scalar(f: d.FieldDescriptor) -> st.SearchStrategy:
    if f.type == d.FieldDescriptor.TYPE_STRING:
        return _TEXT
    if f.type == d.FieldDescriptor.TYPE_BYTES:
        return st.binary(max_size=40)
    if f.type == d.FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    if f.type in (d.FieldDescriptor.TYPE_DOUBLE, d.FieldDescriptor.TYPE_FLOAT):
        return st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=32),
                         st.sampled_from([0.0, -1.0, 1e308, 59.9]))
    if f.type == d.FieldDescriptor.TYPE_ENUM:
        return st.sampled_from([v.number for v in f.enum_type.values])
    low, high = _INT_RANGES[f.type]
    return st.one_of(st.integers(low, high), st.sampled_from([0, 1, -1, 65535, 65536, 1024, 100000]).filter(
        lambda v: low <= v <= high))


def messages(desc: d.Descriptor, depth: int = 0) -> st.SearchStrategy:
    """Well-formed messages of ``desc`` with random values in random fields."""
    cls = message_factory.GetMessageClass(desc)
    optional: dict[str, st.SearchStrategy] = {}
    for f in desc.fields:
        if f.type == d.FieldDescriptor.TYPE_MESSAGE:
            if f.message_type.GetOptions().map_entry:
                kf, vf = f.message_type.fields_by_name["key"], f.message_type.fields_by_name["value"]
                if vf.type == d.FieldDescriptor.TYPE_MESSAGE:
                    continue
                optional[f.name] = st.dictionaries(_scalar(kf), _scalar(vf), max_size=3)
                continue
            if depth >= 3:
                continue
            inner = messages(f.message_type, depth + 1)
            optional[f.name] = st.lists(inner, max_size=2) if f.is_repeated else inner
        else:
            optional[f.name] = st.lists(_scalar(f), max_size=3) if f.is_repeated else _scalar(f)

    def build(values: dict) -> object:
        msg = cls()
        for name, value in values.items():
            f = desc.fields_by_name[name]
            target = getattr(msg, name) if f.is_repeated or f.type == f.TYPE_MESSAGE else None
            if isinstance(value, dict):
                target.update(value)
            elif isinstance(value, list):
                target.extend(value)
            elif f.type == f.TYPE_MESSAGE:
                target.CopyFrom(value)
            else:
                setattr(msg, name, value)
        return msg

    return st.fixed_dictionaries({}, optional=optional).map(build)


@pytest.fixture(scope="module")
def plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Plane]:
    p = Plane(tmp_path_factory.mktemp("fuzz"))
    try:
        yield p
    finally:
        p.stop()
        print(f"\nAPI fuzz cases run: {dict(CASES)} (total {sum(CASES.values())})")


class Caller:
    def __init__(self, plane: Plane) -> None:
        self.plane = plane
        self.channel = client_channel(plane.endpoint, plane.admin)
        self.store = EtcdStore(plane.etcd.client_url, timeout=10)

    def dump(self) -> dict[str, int]:
        """Every key and its mod revision, but for what a replica writes on its own
        (leadership; the ECS default cluster at start-up)."""
        return {kv.key: kv.mod_revision for kv in self.store.list("/").kvs
                if not kv.key.startswith(BACKGROUND)}

    def call(self, method: str, payload: bytes, kind: str) -> None:
        before = self.dump()
        fn = self.channel.unary_unary(method, request_serializer=None, response_deserializer=None)
        try:
            fn(payload, timeout=30)
            code, details = grpc.StatusCode.OK, ""
        except grpc.RpcError as exc:
            code, details = exc.code(), exc.details()
        CASES[kind] += 1
        assert code in CLEAN, f"{method} answered {code.name}: {details!r} to {payload[:200]!r}"
        if code != grpc.StatusCode.OK:
            after = self.dump()
            changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
            assert not changed, f"{method} refused ({code.name}: {details}) but wrote {changed}"
        log = self.plane.log_path.read_text(errors="replace")
        assert "Traceback" not in log, f"{method} made the control plane log a traceback:\n{log[-3000:]}"


@pytest.fixture(scope="module")
def caller(plane: Plane) -> Iterator[Caller]:
    c = Caller(plane)
    try:
        yield c
    finally:
        c.channel.close()
        c.store.close()


_FUZZ = settings(max_examples=1000, deadline=None, suppress_health_check=list(HealthCheck), derandomize=False)
# Hypothesis stops early when it runs out of new inputs; fewer than this many cases means the
# fuzzing did not really happen (a strategy that can only draw a handful of values, say).
MIN_CASES = 100


def fuzz(caller: Caller, kind: str, run: Callable[[], None]) -> None:
    """Runs the Hypothesis test ``run`` and checks that it really sent ``MIN_CASES`` calls."""
    before = CASES[kind]
    run()
    ran = CASES[kind] - before
    assert ran >= MIN_CASES, f"only {ran} {kind} cases reached the control plane"


def test_random_bytes_as_requests(caller: Caller) -> None:
    @_FUZZ
    @given(method=st.sampled_from(METHODS), payload=st.binary(max_size=300))
    def run(method, payload: bytes) -> None:
        caller.call(method[0], payload, "random bytes")

    fuzz(caller, "random bytes", run)


def test_random_field_values(caller: Caller) -> None:
    @_FUZZ
    @given(data=st.data())
    def run(data) -> None:
        name, request_cls, _ = data.draw(st.sampled_from(METHODS))
        request = data.draw(messages(request_cls.DESCRIPTOR))
        caller.call(name, request.SerializeToString(), "random fields")

    fuzz(caller, "random fields", run)


def test_oversized_request_is_refused_by_the_server(plane: Plane) -> None:
    name = "/shoal.v1.Operator/RegisterTaskDefinition"
    payload = operator_pb2.RegisterTaskDefinitionRequest(json="x" * (5 * 1024 * 1024)).SerializeToString()
    # A client that would send it (ours refuses to, over 4 MiB): the server's limit holds.
    with client_channel(plane.endpoint, plane.admin, [("grpc.max_send_message_length", 64 << 20)]) as ch:
        fn = ch.unary_unary(name, request_serializer=None, response_deserializer=None)
        with pytest.raises(grpc.RpcError) as err:
            fn(payload, timeout=30)
    assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED

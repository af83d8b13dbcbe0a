"""Who may call what, checked on every gRPC call by a server interceptor.

The caller's identity is the common name of its client certificate, and counts only if a
cluster CA's key signed that certificate (see ``pki.TrustState.identity_of``):

- ``shoal:node:<id>``: the AgentGateway, GetTaskSecrets and RenewNodeCertificate, and only as itself: RegisterNode's
  node_id and the stream's Hello must name the node of the certificate (Kubernetes'
  NodeRestriction). Which tasks it may report or read is checked where tasks are looked up
  (controlplane/api/agents.py, controlplane/api/security.py).
- ``shoal:admin:<name>``: everything operators do.
- ``shoal:viewer:<name>``: Describe*, List* and Get* calls only.
- ``shoal:replica:<name>``: another control plane replica (relaying a call): as an admin.
- anyone (no identity): JoinNode (the token is the credential) and health checks.

The same interceptor turns a request that does not decode (random or malformed bytes) into
INVALID_ARGUMENT instead of gRPC's INTERNAL, on every method, with or without TLS.

Every denial is answered PERMISSION_DENIED (known identity, wrong call) or UNAUTHENTICATED
(no identity), logged with the identity, and counted in ``shoal_auth_denied_total{reason}``.
Handlers read the caller with ``current_identity()``.
"""

from __future__ import annotations

import contextvars
import itertools
import logging
from collections.abc import Callable, Iterator

import grpc
from prometheus_client import Counter

from controlplane.metrics import REGISTRY
from shoal.logs import kv
from shoal.security.ca import CertError, Identity, load_cert

log = logging.getLogger(__name__)

AUTH_DENIED = Counter("shoal_auth_denied_total", "Calls refused by authentication or authorization, by reason",
                      ["reason"], registry=REGISTRY)

PUBLIC = frozenset({
    "/shoal.v1.Security/JoinNode",
    "/grpc.health.v1.Health/Check",
    "/grpc.health.v1.Health/Watch",
})
NODE_ONLY = frozenset({"/shoal.v1.Security/GetTaskSecrets", "/shoal.v1.Security/RenewNodeCertificate"})
ANY_IDENTITY = frozenset({"/shoal.v1.Security/WhoAmI"})
REGISTER_NODE = "/shoal.v1.AgentGateway/RegisterNode"
CONNECT = "/shoal.v1.AgentGateway/Connect"
_READ_PREFIXES = ("Describe", "List", "Get")

_identity: contextvars.ContextVar[Identity | None] = contextvars.ContextVar("shoal_identity", default=None)


class Denied(Exception):
    def __init__(self, code: grpc.StatusCode, reason: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message


def current_identity() -> Identity | None:
    """The identity of the caller whose handler runs in this thread."""
    return _identity.get()


def record_denial(reason: str, identity: Identity | str | None, what: str, **fields: object) -> None:
    """Counts and logs one refusal (also for checks made inside handlers)."""
    AUTH_DENIED.labels(reason).inc()
    log.warning(f"denied: {what}", extra=kv(identity=str(identity or "anonymous"), reason=reason, **fields))


def decide(method: str, identity: Identity | None) -> None:
    """Raises Denied unless ``identity`` may call ``method`` (a full name, /pkg.Service/Method)."""
    if method in PUBLIC:
        return
    if identity is None:
        raise Denied(grpc.StatusCode.UNAUTHENTICATED, "no_identity",
                     f"{method} needs a client certificate issued by the cluster CA "
                     "(operators: SHOAL_CA/SHOAL_CERT/SHOAL_KEY or `shoal up`'s config; nodes: join with a token)")
    if method in ANY_IDENTITY:
        return
    service, _, name = method.lstrip("/").partition("/")
    if service == "shoal.v1.AgentGateway" or method in NODE_ONLY:
        if identity.role != "node":
            raise Denied(grpc.StatusCode.PERMISSION_DENIED, "not_a_node",
                         f"{method} is for nodes; {identity} is an operator identity")
        return
    if identity.role == "node":
        raise Denied(grpc.StatusCode.PERMISSION_DENIED, "node_not_operator",
                     f"{identity} may only use the agent gateway, not {method}")
    if identity.role in ("admin", "replica"):
        return
    if identity.role == "viewer" and name.startswith(_READ_PREFIXES) and method not in NODE_ONLY:
        return
    raise Denied(grpc.StatusCode.PERMISSION_DENIED, "read_only",
                 f"{identity} is a viewer: it may only read (Describe*, List*, Get*); {name} needs an admin")


class _Undecodable:
    """What a request that does not parse turns into (gRPC itself would answer INTERNAL)."""

    def __init__(self, error: Exception) -> None:
        self.error = error


def _tolerant(deserializer):
    if deserializer is None:
        return None

    def deserialize(data: bytes):
        try:
            return deserializer(data)
        except Exception as exc:  # protobuf's DecodeError, or whatever else a hostile payload provokes
            return _Undecodable(exc)

    return deserialize


def _malformed(method: str, context: grpc.ServicerContext) -> None:
    AUTH_DENIED.labels("malformed_request").inc()
    context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"request: not a valid message for {method}")


def _checked(requests: Iterator, method: str, context: grpc.ServicerContext) -> Iterator:
    for request in requests:
        if isinstance(request, _Undecodable):
            _malformed(method, context)
        yield request


class Authorizer(grpc.ServerInterceptor):
    """``identify(pem)`` maps a client certificate (PEM) to an identity or None. Without it
    (an --insecure control plane) every call is allowed and only malformed requests are
    refused."""

    def __init__(self, identify: Callable[[bytes], Identity | None] | None) -> None:
        self._identify = identify

    def identity(self, context: grpc.ServicerContext) -> Identity | None:
        if self._identify is None:
            return None
        pems = context.auth_context().get("x509_pem_cert") or []
        if not pems:
            return None
        try:
            return self._identify(bytes(pems[0]))
        except CertError:
            return None

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        kw = {"request_deserializer": _tolerant(handler.request_deserializer),
              "response_serializer": handler.response_serializer}
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(self._wrap_unary(method, handler.unary_unary), **kw)
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(self._wrap_unary(method, handler.unary_stream), **kw)
        if handler.stream_unary is not None:
            return grpc.stream_unary_rpc_method_handler(self._wrap_stream(method, handler.stream_unary), **kw)
        return grpc.stream_stream_rpc_method_handler(self._wrap_stream(method, handler.stream_stream), **kw)

    def _admit(self, method: str, context: grpc.ServicerContext) -> Identity | None:
        if self._identify is None:
            _identity.set(None)
            return None
        identity = self.identity(context)
        try:
            decide(method, identity)
        except Denied as exc:
            self._deny(exc, identity, method, context)
        _identity.set(identity)
        return identity

    def _deny(self, exc: Denied, identity: Identity | None, method: str, context: grpc.ServicerContext) -> None:
        record_denial(exc.reason, identity, exc.message, method=method, peer=context.peer())
        context.abort(exc.code, exc.message)

    def _wrap_unary(self, method: str, behavior):
        def wrapped(request, context):
            identity = self._admit(method, context)
            if isinstance(request, _Undecodable):
                _malformed(method, context)
            if method == REGISTER_NODE and identity is not None and request.node_id != identity.name:
                self._deny(Denied(grpc.StatusCode.PERMISSION_DENIED, "not_self",
                                  f"nodeId: {identity} may only register as itself, not as "
                                  f"{request.node_id or '(empty)'!r}"), identity, method, context)
            return behavior(request, context)

        return wrapped

    def _wrap_stream(self, method: str, behavior):
        def wrapped(request_iterator: Iterator, context):
            identity = self._admit(method, context)
            request_iterator = _checked(request_iterator, method, context)
            if method == CONNECT and identity is not None:
                first = next(request_iterator, None)
                if first is None:
                    return iter(())
                claimed = first.hello.node_id if first.WhichOneof("body") == "hello" else ""
                if claimed != identity.name:
                    self._deny(Denied(grpc.StatusCode.PERMISSION_DENIED, "not_self",
                                      f"hello.nodeId: {identity} may only connect as itself, not as "
                                      f"{claimed or '(empty)'!r}"), identity, method, context)
                request_iterator = itertools.chain([first], request_iterator)
            return behavior(request_iterator, context)

        return wrapped


def identify_with(identity_of: Callable) -> Callable[[bytes], Identity | None]:
    """Adapts ``TrustState.identity_of`` (which takes a parsed certificate) to PEM input."""

    def identify(pem: bytes) -> Identity | None:
        return identity_of(load_cert(pem))

    return identify

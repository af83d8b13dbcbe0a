"""Who may call what, checked on every gRPC call by a server interceptor.

The caller's identity is the subject of its client certificate, and counts only if a
cluster CA's key signed that certificate (see ``pki.TrustState.identity_of``). Every method
needs one permission (``PERMISSIONS``, by method, never guessed from its name); a method
not listed there needs ``admin``:

- ``public``: anyone, no identity: JoinNode (the token is the credential) and health checks.
- ``node``: the AgentGateway, GetTaskSecrets, GetTaskPullCredentials, GetTaskRoleCredentials and
  RenewNodeCertificate; only nodes, and only
  as themselves and in their own cluster: RegisterNode and the stream's Hello must name the
  node of the certificate and the cluster its join token bound it to (Kubernetes'
  NodeRestriction). Which tasks it may report or read is checked where tasks are looked up
  (controlplane/api/agents.py, controlplane/api/security.py).
- ``read``: reading cluster state (Describe*/List* of clusters, services, tasks, nodes,
  task definitions, scaling, load balancers, target groups and their targets' health,
  namespaces, tokens, access keys): viewers and admins.
- ``logs``: streaming a task's output (GetTaskLogs); ``secrets``: listing secrets. Admins,
  and viewers granted them (``shoal user create NAME --role viewer --grant logs``), as
  Nomad's ``read-logs`` capability and AWS's separate ``logs:*`` actions do it: reading a
  service does not imply reading what its containers print.
- ``exec``: running a command in a task's container (ExecuteCommand and ExecuteInteractive, `shoal exec`): admins,
  and viewers granted it (``--grant exec``); granting ``logs`` does not grant it.
- ``admin``: everything else operators do: admins, and other replicas (``shoal:replica:``)
  relaying a call.
- ``any``: any identity (WhoAmI).

The same interceptor turns a request that does not decode (random or malformed bytes) into
INVALID_ARGUMENT instead of gRPC's INTERNAL, on every method, with or without TLS.

An operator certificate issued before its user's revocation (`shoal user revoke`,
controlplane/revocations.py) is refused on every call (reason ``revoked``), and an operator's
open streams are held so that a revocation cancels them.

Every denial is answered PERMISSION_DENIED (known identity, wrong call) or UNAUTHENTICATED
(no identity), logged with the identity, and counted in ``shoal_auth_denied_total{reason}``.
Handlers read the caller with ``current_identity()``.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import AsyncIterator, Callable

import grpc
import grpc.aio
from prometheus_client import Counter

from controlplane.loop_server import SyncCall
from controlplane.metrics import REGISTRY
from controlplane.revocations import OPERATOR_ROLES, Revocations
from shoal.arns import cluster_name
from shoal.errors import ApiError
from shoal.logs import kv
from shoal.security import ca as ca_mod
from shoal.security.ca import CertError, Identity

log = logging.getLogger(__name__)

AUTH_DENIED = Counter("shoal_auth_denied_total", "Calls refused by authentication or authorization, by reason",
                      ["reason"], registry=REGISTRY)

REGISTER_NODE = "/shoal.v1.AgentGateway/RegisterNode"
CONNECT = "/shoal.v1.AgentGateway/Connect"


def _methods(service: str, permission: str, names: str) -> dict[str, str]:
    return {f"/shoal.v1.{service}/{name}": permission for name in names.split()}


PERMISSIONS: dict[str, str] = {
    "/grpc.health.v1.Health/Check": "public",
    "/grpc.health.v1.Health/Watch": "public",
    **_methods("Security", "public", "JoinNode"),
    **_methods("Security", "any", "WhoAmI"),
    **_methods("AgentGateway", "node", "RegisterNode Connect"),
    **_methods("Security", "node", "GetTaskSecrets RenewNodeCertificate"),
    **_methods("Operator", "read", "DescribeClusters ListClusters DescribeTaskDefinition ListTaskDefinitions "
                                   "ListTaskDefinitionFamilies DescribeTasks ListTasks DescribeServices ListServices "
                                   "ListContainerInstances DescribeContainerInstances GetTaskProtection "
                                   "ListFileSystems"),
    **_methods("Scaling", "read", "DescribeScalableTargets DescribeScalingPolicies DescribeScheduledActions "
                                  "DescribeScalingActivities DescribeCapacityProviders"),
    **_methods("Traffic", "read", "DescribeLoadBalancers DescribeTargetGroups DescribeTargetHealth "
                                  "ListNamespaces"),
    **_methods("Security", "read", "ListJoinTokens ListRevokedOperators"),
    **_methods("AccessKeys", "read", "ListAccessKeys"),
    **_methods("Events", "read", "ListEvents WatchEvents"),
    # A link logs in as its maker, with the maker's own role: reading is enough to ask.
    **_methods("Console", "read", "CreateConsoleLink"),
    **_methods("Logs", "logs", "GetTaskLogs"),
    **_methods("Logs", "exec", "ExecuteCommand ExecuteInteractive"),
    **_methods("Security", "secrets", "ListSecrets"),
    **_methods("Registry", "read", "GetLoginCredential ListRepositories ListImages DescribeRepository"),
    **_methods("Registry", "node", "GetTaskPullCredentials"),
    # Roles are admin-only (the default); a node asks for its own tasks' role credentials.
    **_methods("Roles", "node", "GetTaskRoleCredentials"),
}
# What each operator role may do; a viewer's grants (ca.GRANTS) add to its own.
ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "admin": frozenset({"read", "logs", "secrets", "exec", "admin"}),
    "replica": frozenset({"read", "logs", "secrets", "exec", "admin"}),
    "viewer": frozenset({"read"}),
}

_identity: contextvars.ContextVar[Identity | None] = contextvars.ContextVar("shoal_identity", default=None)


class Denied(Exception):
    def __init__(self, code: grpc.StatusCode, reason: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message


def current_identity() -> Identity | None:
    """The identity of the caller whose handler runs here (set per call, carried to the
    thread a synchronous handler runs in)."""
    return _identity.get()


def record_denial(reason: str, identity: Identity | str | None, what: str, **fields: object) -> None:
    """Counts and logs one refusal (also for checks made inside handlers)."""
    AUTH_DENIED.labels(reason).inc()
    log.warning(f"denied: {what}", extra=kv(identity=str(identity or "anonymous"), reason=reason, **fields))


def decide_or_raise(method: str, identity: Identity | None, **fields: object) -> None:
    """``decide`` for a caller outside gRPC (the console): a refusal is recorded with
    ``fields`` (where it came from) and raised as ApiError with its status and message."""
    try:
        decide(method, identity)
    except Denied as exc:
        record_denial(exc.reason, identity, exc.message, method=method, **fields)
        raise ApiError(exc.code, exc.message) from None


def permission(method: str) -> str:
    """The permission ``method`` (a full name, /pkg.Service/Method) needs."""
    return PERMISSIONS.get(method, "admin")


def decide(method: str, identity: Identity | None) -> None:
    """Raises Denied unless ``identity`` may call ``method`` (a full name, /pkg.Service/Method)."""
    needed = permission(method)
    if needed == "public":
        return
    if identity is None:
        raise Denied(grpc.StatusCode.UNAUTHENTICATED, "no_identity",
                     f"{method} needs a client certificate issued by the cluster CA "
                     "(operators: SHOAL_CA/SHOAL_CERT/SHOAL_KEY or `shoal up`'s config; nodes: join with a token)")
    if needed == "any":
        return
    if needed == "node":
        if identity.role != "node":
            raise Denied(grpc.StatusCode.PERMISSION_DENIED, "not_a_node",
                         f"{method} is for nodes; {identity} is an operator identity")
        return
    if identity.role == "node":
        raise Denied(grpc.StatusCode.PERMISSION_DENIED, "node_not_operator",
                     f"{identity} may only use the agent gateway, not {method}")
    if needed in ROLE_PERMISSIONS.get(identity.role, frozenset()) | identity.grants:
        return
    name = method.rsplit("/", 1)[-1]
    if needed in ca_mod.GRANTS:
        raise Denied(grpc.StatusCode.PERMISSION_DENIED, f"no_{needed}_grant",
                     f"{identity} is a viewer without the {needed!r} permission, which {name} needs; "
                     f"an admin can issue one with `shoal user create NAME --role viewer --grant {needed}`")
    raise Denied(grpc.StatusCode.PERMISSION_DENIED, "read_only",
                 f"{identity} is a viewer: it may only read state; {name} needs an admin")


def check_node_cluster(identity: Identity | None, cluster: str, field: str) -> None:
    """Raises Denied unless a node ``identity`` names ``cluster`` (name or ARN; empty:
    default), the cluster its join token bound it to."""
    if identity is None or identity.role != "node":
        return
    wanted = cluster_name(cluster)
    if wanted != identity.cluster:
        raise Denied(grpc.StatusCode.PERMISSION_DENIED, "other_cluster",
                     f"{field}: {identity} joined cluster {identity.cluster!r} and may not register or connect "
                     f"into {wanted[:64]!r}; join that cluster with a token made by "
                     f"`shoal token create --cluster {wanted[:64]}`")


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


async def _checked(requests: AsyncIterator, method: str, context: grpc.aio.ServicerContext) -> AsyncIterator:
    async for request in requests:
        if isinstance(request, _Undecodable):
            AUTH_DENIED.labels("malformed_request").inc()
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"request: not a valid message for {method}")
        yield request


async def _prepend(first: object | None, rest: AsyncIterator) -> AsyncIterator:
    """``rest``, after ``first`` if the check already took it off the stream."""
    if first is not None:
        yield first
    async for request in rest:
        yield request


class Authorizer(grpc.aio.ServerInterceptor):
    """``identify(pem)`` maps a client certificate (PEM) to an identity or None. Without it
    (an --insecure control plane) every call is allowed and only malformed requests are
    refused. ``revocations``: the replica's operator tombstones (None: nothing is revoked).
    It runs on the server's event loop (controlplane/loop_server.py), in front of every handler."""

    def __init__(self, identify: Callable[[bytes], Identity | None] | None,
                 revocations: Revocations | None = None) -> None:
        self._identify = identify
        self._revocations = revocations

    def identity(self, context: grpc.aio.ServicerContext) -> Identity | None:
        if self._identify is None:
            return None
        pems = context.auth_context().get("x509_pem_cert") or []
        if not pems:
            return None
        try:
            return self._identify(bytes(pems[0]))
        except CertError:
            return None

    async def intercept_service(self, continuation, handler_call_details):
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        kw = {"request_deserializer": _tolerant(handler.request_deserializer),
              "response_serializer": handler.response_serializer}
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(self._wrap_unary(method, handler.unary_unary), **kw)
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(self._wrap_unary_stream(method, handler.unary_stream), **kw)
        if handler.stream_unary is not None:
            return grpc.stream_unary_rpc_method_handler(self._wrap_stream_unary(method, handler.stream_unary), **kw)
        return grpc.stream_stream_rpc_method_handler(self._wrap_stream(method, handler.stream_stream), **kw)

    async def _admit(self, method: str, context: grpc.aio.ServicerContext, request: object = None) -> None:
        """Ends the call unless the caller may make it; sets ``current_identity()`` for it."""
        identity: Identity | None = None
        try:
            if self._identify is not None:
                identity = self.identity(context)
                decide(method, identity)
            if identity is not None and self._revocations is not None and self._revocations.revoked(identity):
                raise Denied(grpc.StatusCode.UNAUTHENTICATED, "revoked",
                             f"{identity}: this certificate was revoked (`shoal user revoke`); "
                             f"an admin can issue a new one with `shoal user create {identity.name}`")
            if isinstance(request, _Undecodable):
                AUTH_DENIED.labels("malformed_request").inc()
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"request: not a valid message for {method}")
            if method == REGISTER_NODE and identity is not None:
                if request.node_id != identity.name:  # type: ignore[attr-defined]
                    raise Denied(grpc.StatusCode.PERMISSION_DENIED, "not_self",
                                 f"nodeId: {identity} may only register as itself, not as "
                                 f"{request.node_id or '(empty)'!r}")  # type: ignore[attr-defined]
                check_node_cluster(identity, request.cluster, "cluster")  # type: ignore[attr-defined]
        except Denied as exc:
            record_denial(exc.reason, identity, exc.message, method=method, peer=context.peer())
            await context.abort(exc.code, exc.message)
        _identity.set(identity)

    def _hold(self, context: grpc.aio.ServicerContext) -> None:
        """Holds an operator's stream, so that its user's revocation cancels it."""
        identity = current_identity()
        if self._revocations is not None and identity is not None and identity.role in OPERATOR_ROLES:
            self._revocations.hold(identity, SyncCall.of(context))

    def _wrap_unary(self, method: str, behavior):
        async def wrapped(request, context: grpc.aio.ServicerContext):
            await self._admit(method, context, request)
            return await behavior(request, context)

        return wrapped

    def _wrap_unary_stream(self, method: str, behavior):
        async def wrapped(request, context: grpc.aio.ServicerContext):
            await self._admit(method, context, request)
            self._hold(context)
            async for reply in behavior(request, context):
                yield reply

        return wrapped

    def _wrap_stream_unary(self, method: str, behavior):
        async def wrapped(request_iterator: AsyncIterator, context: grpc.aio.ServicerContext):
            await self._admit(method, context)
            return await behavior(_checked(request_iterator, method, context), context)

        return wrapped

    def _wrap_stream(self, method: str, behavior):
        async def wrapped(request_iterator: AsyncIterator, context: grpc.aio.ServicerContext):
            await self._admit(method, context)
            self._hold(context)
            requests = _checked(request_iterator, method, context)
            identity = current_identity()
            if method == CONNECT and identity is not None:
                # The node may connect only as itself, in its own cluster.
                first = await anext(requests, None)
                if first is None:
                    return
                try:
                    claimed = first.hello.node_id if first.WhichOneof("body") == "hello" else ""
                    if claimed != identity.name:
                        raise Denied(grpc.StatusCode.PERMISSION_DENIED, "not_self",
                                     f"hello.nodeId: {identity} may only connect as itself, not as "
                                     f"{claimed or '(empty)'!r}")
                    check_node_cluster(identity, first.hello.cluster, "hello.cluster")
                except Denied as exc:
                    record_denial(exc.reason, identity, exc.message, method=method, peer=context.peer())
                    await context.abort(exc.code, exc.message)
                requests = _prepend(first, requests)
            async for reply in behavior(requests, context):
                yield reply

        return wrapped

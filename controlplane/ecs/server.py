"""The ECS-compatible HTTP gateway: `aws ecs --endpoint-url https://HOST:PORT ...` and
``boto3.client("ecs", endpoint_url=..., verify=<ca.crt>)`` drive Shoal through it. It runs
inside a control plane replica (``--ecs-listen``) and serves on the replica's ApiContext, so
each ECS operation runs the same code as the gRPC Operator. Every request must carry a valid
Signature V4 made with an access key that Shoal issued (``shoal accesskey create``), and the
key's user and role must allow the operation. The same port speaks ELBv2's Query protocol
(``aws elbv2``, boto3's ``elbv2``): a form-encoded request without X-Amz-Target goes to
``controlplane.ecs.elbv2``, every other request is ECS's.

Served by Hypercorn (ASGI) on an asyncio loop of its own: connections, TLS handshakes and
reading requests cost no thread, so a slow client holds no worker; a complete request is
handed to a bounded pool of worker threads (the handlers block on etcd). A connection that
has not sent a complete request head within ``timeout`` seconds is closed (Hypercorn's
idle timer, which only a complete request stops), and so is one whose body takes longer."""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from hypercorn.asyncio import serve as hypercorn_serve
from hypercorn.config import Config

from controlplane.api import accesskeys
from controlplane.api.context import ApiContext
from controlplane.ecs import (
    account,
    appscaling,
    capacity,
    daemons,
    deployments,
    ecr,
    express,
    gateway_writes,
    gateways,
    ingress,
    instances,
    protocol,
    sigv4,
    task_sets,
)
from controlplane.ecs.access import authorize, authorize_role, lookup, resource_of
from controlplane.ecs.actions import ACTIONS as ECS_ACTIONS
from controlplane.ecs.elbv2 import gateway as elbv2
from controlplane.ecs.elbv2 import xml
from controlplane.ecs.elbv2.traffic import InProcess, Traffic
from controlplane.ecs.errors import EcsError, to_ecs_error
from controlplane.ecs.replay import ReplayCache
from controlplane.metrics import API_LATENCY
from shoal import logs
from shoal.v1.roles_pb2 import TaskCredential

# How much of an oversized body is read and dropped before the 413, as a multiple of the limit.
_DRAIN_LIMIT = 16

log = logging.getLogger(__name__)

# Answered with guidance only (how to do it the Shoal way): not counted as served.
GUIDANCE_ONLY = frozenset({"RegisterContainerInstance", "ExecuteCommand"})
ACTIONS = {**ECS_ACTIONS, **ingress.ACTIONS, **capacity.ACTIONS, **instances.ACTIONS, **account.ACTIONS,
           **deployments.ACTIONS, **task_sets.ACTIONS, **gateways.ACTIONS, **gateway_writes.ACTIONS,
           **daemons.ACTIONS, **express.ACTIONS}
_KNOWN = frozenset(ACTIONS)
# The operations that change nothing, so are served again when a signature is seen again
# (sigv4.verify); any operation not named here is a write to the replay check.
READS = frozenset({
    "DescribeCapacityProviders", "DescribeClusters", "DescribeContainerInstances", "DescribeDaemon",
    "DescribeDaemonDeployments", "DescribeDaemonRevisions", "DescribeDaemonTaskDefinition",
    "DescribeExpressGatewayService", "DescribeGateway", "DescribeGatewayResources", "DescribeGatewayRoute",
    "DescribeServiceDeployments", "DescribeServiceRevisions", "DescribeServices", "DescribeTaskDefinition",
    "DescribeTaskSets", "DescribeTasks", "GetTaskProtection", "ListAccountSettings", "ListAttributes",
    "ListClusters", "ListContainerInstances", "ListDaemonDeployments", "ListDaemonTaskDefinitions", "ListDaemons",
    "ListGatewayClusterAssociations", "ListGatewayRoutes", "ListGateways", "ListServiceDeployments",
    "ListServices", "ListServicesByNamespace", "ListTagsForResource", "ListTaskDefinitionFamilies",
    "ListTaskDefinitions", "ListTasks",
})
_IS_READ = sigv4.reads_by_target(protocol.TARGET_PREFIX, READS)
SSL_SHUTDOWN_SECONDS = 1.0


@dataclass(frozen=True)
class Limits:
    """``workers``: threads running operations at once (more requests wait for one);
    ``timeout``: seconds a client has for its TLS handshake, its request head and its body,
    and that an idle keep-alive connection stays open; ``max_body``: bytes, larger is 413."""

    workers: int = 16
    timeout: float = 10.0
    max_body: int = protocol.MAX_BODY_BYTES


class _Config(Config):
    """Hypercorn's configuration with a TLS context built here (from the cluster CA or the
    operator's files) instead of one it loads from its own certfile/keyfile settings."""

    def __init__(self, tls: ssl.SSLContext | None) -> None:
        super().__init__()
        self._tls = tls

    @property
    def ssl_enabled(self) -> bool:
        return self._tls is not None

    def create_ssl_context(self) -> ssl.SSLContext | None:
        return self._tls


class _Loop(asyncio.SelectorEventLoop):
    """An event loop whose TLS connections, once closed, wait at most a second for the
    client's close_notify (asyncio's default is 30 s, and an idle keep-alive client never
    sends one), so the gateway stops promptly. Hypercorn opens its servers through
    ``create_server`` and offers no setting for this. ``serving`` is set once the server is
    open and its start-up is over."""

    def __init__(self, serving: threading.Event) -> None:
        super().__init__()
        self.set_exception_handler(_connection_ended)
        self._serving = serving

    async def create_server(self, *args: Any, **kwargs: Any) -> asyncio.Server:
        if kwargs.get("ssl") is not None:
            kwargs.setdefault("ssl_shutdown_timeout", SSL_SHUTDOWN_SECONDS)
        server = await super().create_server(*args, **kwargs)
        # On the loop's next turn, which comes after hypercorn has logged "Running on …":
        # start() returns only then, so no start-up line is written after its caller went
        # on (into a test's next phase, whose output capture it would miss).
        self.call_soon(self._serving.set)
        return server


def _connection_ended(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    # A client that vanished, or one still connected when the gateway stops (its TLS
    # shutdown times out), is no error of ours: one line at debug, not a traceback.
    exc = context.get("exception")
    if isinstance(exc, TimeoutError | ConnectionError | ssl.SSLError):
        log.debug("ECS connection ended: %s", exc or context.get("message"))
        return
    loop.default_exception_handler(context)


class EcsGateway:
    """A running gateway; ``address`` is where it listens, ``url`` how clients reach it,
    ``close()`` stops it."""

    def __init__(self, host: str, port: int, ctx: ApiContext, tls: ssl.SSLContext | None,
                 limits: Limits = Limits(), traffic: Traffic | None = None) -> None:
        self.ctx = ctx
        # What ELBv2 actions call: this replica's Traffic handlers, unless a test gives another.
        self.traffic = traffic or InProcess(ctx)
        self.tls = tls
        self.limits = limits
        self.replays = ReplayCache(sigv4.MAX_SKEW_SECONDS)
        self._sock = _bind(host, port)
        bound = self._sock.getsockname()[1]
        self.address = f"[{host}]:{bound}" if ":" in host else f"{host}:{bound}"
        self.url = ("https://" if tls is not None else "http://") + self.address
        self._pool = ThreadPoolExecutor(max_workers=limits.workers, thread_name_prefix="ecs")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._serving = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ecs-gateway", daemon=True)

    def start(self) -> EcsGateway:
        self._thread.start()
        self._serving.wait(10)
        log.info("ECS gateway serving", extra=logs.kv(url=self.url, workers=self.limits.workers,
                                                      timeout=self.limits.timeout))
        return self

    def close(self) -> None:
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(10)
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _run(self) -> None:
        with asyncio.Runner(loop_factory=lambda: _Loop(self._serving)) as runner:
            runner.run(self._serve())

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        config = _Config(self.tls)
        # Hypercorn takes over the socket bound in __init__ (so a bad address fails there).
        config.bind = [f"fd://{self._sock.detach()}"]
        config.keep_alive_timeout = self.limits.timeout
        # A backstop only, later than the body deadline in ``app`` so that one answers 408 first.
        config.read_timeout = int(self.limits.timeout) + 2
        config.ssl_handshake_timeout = self.limits.timeout
        config.graceful_timeout = 1.0
        config.h11_max_incomplete_size = 16 * 1024
        config.include_server_header = False
        config.accesslog = None
        config.errorlog = log
        await hypercorn_serve(self.app, config, shutdown_trigger=self._stopping.wait, mode="asgi")

    async def app(self, scope: dict, receive: Any, send: Any) -> None:
        """The ASGI application."""
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        started = time.monotonic()
        headers: dict[str, list[str]] = {}
        for key, value in scope["headers"]:
            headers.setdefault(key.decode("latin-1").lower(), []).append(value.decode("latin-1"))
        client = (scope.get("client") or ("-",))[0]
        query = elbv2.is_elbv2((headers.get("content-type") or [None])[0], (headers.get("x-amz-target") or [None])[0])
        try:
            raw = await asyncio.wait_for(self._body(headers, receive), self.limits.timeout)
        except (EcsError, TimeoutError) as exc:
            err = exc if isinstance(exc, EcsError) else EcsError(
                "RequestTimeoutException", f"request body not received within {self.limits.timeout:g} s", 408)
            _log_request("-", err.status, err.message, started, client)
            if query:
                await self._reply_xml(send, *elbv2.error_body(err), close=True)
            else:
                await self._reply(send, err.status, err.body(), close=True)
            return
        req = sigv4.Request(scope["method"], scope["raw_path"].decode("latin-1"),
                            scope["query_string"].decode("latin-1"), headers, raw)
        loop = asyncio.get_running_loop()
        if query:
            status, data, name = await loop.run_in_executor(self._pool, elbv2.handle, self.ctx, self.traffic, req,
                                                            self.replays)
            _log_request(name, status, "" if status == 200 else data.decode(errors="replace"), started, client,
                         "elbv2")
            await self._reply_xml(send, status, data)
            return
        status, body, name = await loop.run_in_executor(self._pool, handle, self.ctx, req, self.replays)
        _log_request(name, status, body.get("message", ""), started, client)
        await self._reply(send, status, body)

    async def _body(self, headers: dict[str, list[str]], receive: Any) -> bytes:
        limit = self.limits.max_body
        too_large = EcsError("SerializationException", f"request body must be at most {limit} bytes", 413)
        declared = (headers.get("content-length") or [""])[0]
        chunks: list[bytes] | None = None if declared.isdigit() and int(declared) > limit else []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise EcsError("SerializationException", "client went away before the body was complete")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                chunks = None
            if chunks is not None:
                chunks.append(chunk)
            # An oversized body is read on (up to a bound; the read timeout covers a slow
            # sender) and dropped, so a client still sending it hears the 413 instead of a
            # connection reset mid-upload.
            if not message.get("more_body") or size > _DRAIN_LIMIT * limit:
                if chunks is None:
                    raise too_large
                return b"".join(chunks)

    async def _reply(self, send: Any, status: int, body: dict, close: bool = False) -> None:
        headers = []
        if status != 200 and "__type" in body:
            headers.append((b"x-amzn-errortype", body["__type"].encode()))
        await self._send(send, status, protocol.encode(body), protocol.CONTENT_TYPE, headers, close)

    async def _reply_xml(self, send: Any, status: int, data: bytes, close: bool = False) -> None:
        await self._send(send, status, data, xml.CONTENT_TYPE, [], close)

    async def _send(self, send: Any, status: int, data: bytes, content_type: str, extra: list[tuple[bytes, bytes]],
                    close: bool) -> None:
        headers = [(b"content-type", content_type.encode()), (b"content-length", str(len(data)).encode()),
                   (b"x-amzn-requestid", str(uuid.uuid4()).encode()), *extra]
        if close:
            # The rest of the request was not read: the connection cannot carry another.
            headers.append((b"connection", b"close"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": data})


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        # Listening now: clients that connect before the loop runs wait in the backlog.
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


def _log_request(name: str, status: int, refusal: str, started: float, client: str, api: str = "ecs") -> None:
    """Called before the answer is sent: once a client has its answer, no line about its
    request is still to come (into whatever the client's process does next)."""
    fields = logs.kv(operation=name, status=status, ms=round((time.monotonic() - started) * 1000, 1), client=client)
    if status == 200:
        log.info("%s request", api, extra=fields)
    else:
        log.info("%s request refused: %s", api, refusal, extra=fields)


def serve(host: str, port: int, ctx: ApiContext, tls: ssl.SSLContext | None, limits: Limits = Limits(),
          traffic: Traffic | None = None) -> EcsGateway:
    """Starts the gateway; raises OSError when the address cannot be bound."""
    return EcsGateway(host, port, ctx, tls, limits, traffic).start()


def handle(ctx: ApiContext, req: sigv4.Request, replays: ReplayCache | None = None) -> tuple[int, dict, str]:
    """One request start to finish: (HTTP status, JSON body, operation or "-")."""
    # For the log until the operation is known to be real: refusals name what was tried.
    name = (req.header("x-amz-target") or "").rpartition(".")[2][:64] or "-"
    if ecr.is_ecr(req.header("x-amz-target")):
        return ecr.handle(ctx, req, replays)
    if appscaling.is_appscaling(req.header("x-amz-target")):
        return appscaling.handle(ctx, req, replays)
    try:
        key = sigv4.verify(req, lambda key_id: lookup(ctx, key_id), replays=replays, is_read=_IS_READ)
        if req.method != "POST":
            raise EcsError("UnknownOperationException", "ECS operations are POST requests", 405)
        name = protocol.operation(req.header("x-amz-target"), _KNOWN)
        body = protocol.decode_body(req.body)
        if isinstance(key, TaskCredential):
            authorize_role(ctx, "ecs", name, key, resource_of(ctx, name, body))
        else:
            authorize(name, accesskeys.identity(key), key.access_key_id)
        with API_LATENCY.labels(method="ecs." + name).time():
            return 200, ACTIONS[name](ctx, body), name
    except Exception as exc:
        err = to_ecs_error(exc, name)
        return err.status, err.body(), name

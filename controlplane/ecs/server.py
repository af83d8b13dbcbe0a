"""The ECS-compatible HTTP gateway: `aws ecs --endpoint-url http://HOST:PORT ...` and
``boto3.client("ecs", endpoint_url=...)`` drive Shoal through it. It runs inside a control
plane replica (``--ecs-listen``) and serves on the replica's ApiContext, so each ECS
operation runs the same code as the gRPC Operator. Every request must carry a valid
Signature V4 made with an access key that Shoal issued (``shoal accesskey create``)."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from controlplane.api import accesskeys
from controlplane.api.context import ApiContext
from controlplane.ecs import protocol, sigv4
from controlplane.ecs.actions import ACTIONS
from controlplane.ecs.errors import EcsError, to_ecs_error
from controlplane.metrics import API_LATENCY
from shoal import logs

log = logging.getLogger(__name__)

_KNOWN = frozenset(ACTIONS)


class EcsGateway:
    """A running gateway; ``address`` is where it listens, ``close()`` stops it."""

    def __init__(self, host: str, port: int, ctx: ApiContext) -> None:
        self.ctx = ctx
        self.httpd = ThreadingHTTPServer((host, port), _handler(ctx))
        self.httpd.daemon_threads = True
        self.address = f"{host}:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="ecs-gateway", daemon=True)

    def start(self) -> EcsGateway:
        self._thread.start()
        log.info("ECS gateway serving", extra=logs.kv(listen=self.address))
        return self

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def serve(host: str, port: int, ctx: ApiContext) -> EcsGateway:
    """Starts the gateway; raises OSError when the address cannot be bound."""
    return EcsGateway(host, port, ctx).start()


def handle(ctx: ApiContext, req: sigv4.Request) -> tuple[int, dict, str]:
    """One request start to finish: (HTTP status, JSON body, operation or "-")."""
    # For the log until the operation is known to be real: refusals name what was tried.
    name = (req.header("x-amz-target") or "").rpartition(".")[2][:64] or "-"
    try:
        sigv4.verify(req, lambda key_id: accesskeys.secret_for(ctx, key_id))
        if req.method != "POST":
            raise EcsError("UnknownOperationException", "ECS operations are POST requests", 405)
        name = protocol.operation(req.header("x-amz-target"), _KNOWN)
        body = protocol.decode_body(req.body)
        with API_LATENCY.labels(method="ecs." + name).time():
            return 200, ACTIONS[name](ctx, body), name
    except Exception as exc:
        err = to_ecs_error(exc, name)
        return err.status, err.body(), name


def _handler(ctx: ApiContext) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # Keep-alive: the SDKs pool connections.
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            self._serve("POST")

        def do_GET(self) -> None:  # noqa: N802
            self._serve("GET")

        def _serve(self, method: str) -> None:
            started = time.monotonic()
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                length = -1
            if not 0 <= length <= protocol.MAX_BODY_BYTES:
                self.close_connection = True
                self._reply(413 if length > 0 else 400, {
                    "__type": "SerializationException",
                    "message": f"request body must have a Content-Length of at most {protocol.MAX_BODY_BYTES} bytes",
                })
                return
            raw = self.rfile.read(length) if length else b""
            path, _, query = self.path.partition("?")
            headers: dict[str, list[str]] = {}
            for key, value in self.headers.items():
                headers.setdefault(key.lower(), []).append(value)
            status, body, name = handle(ctx, sigv4.Request(method, path, query, headers, raw))
            self._reply(status, body)
            fields = logs.kv(operation=name, status=status, ms=round((time.monotonic() - started) * 1000, 1),
                             client=self.client_address[0])
            if status == 200:
                log.info("ecs request", extra=fields)
            else:
                log.info("ecs request refused: %s", body.get("message", ""), extra=fields)

        def _reply(self, status: int, body: dict) -> None:
            data = protocol.encode(body)
            self.send_response(status)
            self.send_header("Content-Type", protocol.CONTENT_TYPE)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
            if status != 200 and "__type" in body:
                self.send_header("x-amzn-ErrorType", body["__type"])
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            # Each request is logged once, structured, in _serve.
            pass

    return Handler

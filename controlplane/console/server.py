"""The web console's HTTP server: the page and its assets (shipped in this package, nothing
fetched from the internet), a JSON read API over the replica's cache, one server-sent
event stream that tells the page when the cluster changed (fed by the cache's watch through
the event feed), and the actions, each behind a session and its CSRF token.

Doors: every /api call but login needs a live session cookie (HttpOnly, SameSite=Strict);
every POST but login needs JSON and the session's CSRF token in ``X-CSRF-Token``, and a
cross-origin ``Origin`` is refused outright; actions are judged by ``actions.run`` with the
session's identity. Every answer carries a Content-Security-Policy that allows only this
origin's scripts, so a name holding markup can at worst be shown, never run. It speaks
HTTPS with the certificate it is given (the replica's, from the cluster CA) and then marks
its cookie Secure; plain HTTP only without one (an --insecure control plane)."""

from __future__ import annotations

import hmac
import json
import logging
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from importlib import resources
from typing import Any

import grpc

from controlplane.api import accesskeys
from controlplane.api.context import ApiContext
from controlplane.console import actions
from controlplane.console.chaos import Chaos
from controlplane.console.logs import LogSource
from controlplane.console.logs import authorize as authorize_logs
from controlplane.console.sessions import Session, Sessions
from controlplane.console.views import Views, event
from controlplane.errors import ApiError
from controlplane.feed import KINDS, EventFeed
from controlplane.tls_http import TLSServer
from shoal.logs import kv
from shoal.security.ca import Identity
from shoal.store.base import StoreError
from shoal.v1 import events_pb2 as ev

log = logging.getLogger(__name__)

COOKIE = "shoal_console"
ASSETS = {"app.js": "text/javascript", "app.css": "text/css", "index.html": "text/html"}
MAX_BODY = 16 * 1024
# Notices to one page are at least this far apart: a rollout's many reports become a few.
NOTICE_INTERVAL = 0.2
KEEPALIVE = 15.0
# An open stream asks the store this often whether its session still lives (logged out or
# expired at any replica): it then ends.
SESSION_RECHECK = 5.0
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
                               "img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # The one-time link's token must not leave in a Referer.
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
_HTTP_OF = {grpc.StatusCode.INVALID_ARGUMENT: 400, grpc.StatusCode.NOT_FOUND: 404,
            grpc.StatusCode.PERMISSION_DENIED: 403, grpc.StatusCode.UNAUTHENTICATED: 401,
            grpc.StatusCode.FAILED_PRECONDITION: 409}


class Console:
    """A running console; ``url`` is its address, ``link(identity)`` a one-time login."""

    def __init__(self, host: str, port: int, ctx: ApiContext, views: Views, feed: EventFeed, insecure: bool,
                 logs: LogSource, sessions: Sessions | None = None, tls: ssl.SSLContext | None = None,
                 revoked: Callable[[Identity], bool] = lambda identity: False) -> None:
        self.ctx, self.views, self.feed, self.insecure, self.logs = ctx, views, feed, insecure, logs
        # A session made from a link stands for the certificate that asked for the link: it
        # ends when that certificate is revoked (controlplane/revocations.py).
        self.revoked = revoked
        self.sessions = sessions or Sessions(ctx.store)
        self.chaos = Chaos(ctx, views.cache, feed)
        self.closing = threading.Event()
        self.httpd = TLSServer((host, port), _handler(self), tls)
        # The browser sends a Secure cookie over HTTPS only, never over a plain connection.
        self.cookie_flags = "Path=/; HttpOnly; SameSite=Strict" + ("; Secure" if tls is not None else "")
        bound = self.httpd.server_address[1]
        self.url = f"{'https' if tls is not None else 'http'}://{_url_host(host)}:{bound}"
        threading.Thread(target=self.httpd.serve_forever, name="console", daemon=True).start()
        log.info("console serving", extra=kv(url=self.url))

    def link(self, identity: Identity | None) -> ev.ConsoleLink:
        token, expires = self.sessions.link(identity)
        return ev.ConsoleLink(url=f"{self.url}/login?token={token}", expires_at=expires)

    def close(self) -> None:
        self.closing.set()
        self.chaos.close()
        self.httpd.shutdown()
        self.httpd.server_close()

    def login(self, body: dict[str, Any]) -> Session | None:
        key_id, secret = body.get("accessKeyId"), body.get("secretAccessKey")
        if not isinstance(key_id, str) or not isinstance(secret, str) or len(key_id) > 64 or len(secret) > 128:
            return None
        key = accesskeys.active(self.ctx, key_id)
        if key is None or not hmac.compare_digest(key.secret_access_key.encode(), secret.encode()):
            return None
        return self.sessions.start(accesskeys.identity(key))


def _url_host(host: str) -> str:
    if host in ("", "0.0.0.0", "::"):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def _asset(name: str) -> bytes:
    return resources.files("controlplane.console").joinpath("static", name).read_bytes()


def _handler(console: Console) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt: str, *args: object) -> None:
            log.debug("console: " + fmt, *args)

        # ---- plumbing ----
        def _send(self, status: int, body: bytes, ctype: str, extra: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for name, value in {**HEADERS, "Content-Type": ctype, "Content-Length": str(len(body)),
                                **(extra or {})}.items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _json(self, status: int, data: Any, extra: dict[str, str] | None = None) -> None:
            self._send(status, json.dumps(data).encode(), "application/json", extra)

        def _error(self, status: int, message: str) -> None:
            self._json(status, {"error": message})

        def _session(self) -> Session | None:
            """The request's live session; None once it answered 401 (none) or 503 (the
            store, which holds the sessions, is unreachable)."""
            token = None
            for part in (self.headers.get("Cookie") or "").split(";"):
                name, _, value = part.strip().partition("=")
                if name == COOKIE:
                    token = value
            ok, session = self._call(lambda: console.sessions.get(token))
            if session is not None and session.identity is not None and console.revoked(session.identity):
                session = None
            if ok and session is None:
                self._error(401, "not logged in (or the session expired): log in again")
            return session

        def _cookie(self, session: Session) -> dict[str, str]:
            return {"Set-Cookie": f"{COOKIE}={session.id}; {console.cookie_flags}; "
                                  f"Max-Age={int(console.sessions.ttl)}"}

        def _same_origin(self) -> bool:
            origin = self.headers.get("Origin")
            if origin is None:
                return True
            return urllib.parse.urlsplit(origin).netloc == (self.headers.get("Host") or "")

        def _body(self) -> dict[str, Any] | None:
            length = self.headers.get("Content-Length") or ""
            if not length.isdigit() or int(length) > MAX_BODY:
                self._error(413 if length.isdigit() else 411, f"body: at most {MAX_BODY} bytes, with Content-Length")
                return None
            raw = self.rfile.read(int(length))
            if (self.headers.get("Content-Type") or "").split(";")[0].strip() != "application/json":
                self._error(415, "Content-Type: must be application/json")
                return None
            try:
                data = json.loads(raw or b"{}")
            except ValueError:
                self._error(400, "body: not JSON")
                return None
            if not isinstance(data, dict):
                self._error(400, "body: must be a JSON object")
                return None
            return data

        def _open_stream(self) -> None:
            """Starts a server-sent event stream: no length, the connection closes after it."""
            self.send_response(200)
            for name, value in {**HEADERS, "Content-Type": "text/event-stream", "Connection": "close"}.items():
                self.send_header(name, value)
            self.end_headers()
            self.close_connection = True

        # ---- GET ----
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            url = urllib.parse.urlsplit(self.path)
            path, query = url.path, urllib.parse.parse_qs(url.query)
            if path == "/" or path == "/index.html":
                self._send(200, _asset("index.html"), "text/html; charset=utf-8")
            elif path.startswith("/static/") and path[len("/static/"):] in ASSETS:
                name = path[len("/static/"):]
                self._send(200, _asset(name), ASSETS[name] + "; charset=utf-8")
            elif path == "/login":
                self._redeem((query.get("token") or [""])[0])
            elif path.startswith("/api/"):
                session = self._session()
                if session is None:
                    return
                if path == "/api/stream":
                    self._stream(session)
                elif path.startswith("/api/logs/"):
                    self._logs(path, query, session)
                else:
                    self._read(path, query, session)
            else:
                self._error(404, f"no page {path[:64]!r}")

        def _redeem(self, token: str) -> None:
            ok, session = self._call(lambda: console.sessions.redeem(token) if token else None)
            if not ok:
                return
            if session is None:
                log.warning("console: one-time link refused (unknown, used or expired)",
                            extra=kv(client=self.client_address[0]))
                self._send(403, b"This login link is unknown, used or expired: run `shoal console` for a new one.\n",
                           "text/plain; charset=utf-8")
                return
            log.info("console: logged in by one-time link", extra=kv(user=session.user, role=session.role))
            self._send(303, b"", "text/plain", {**self._cookie(session), "Location": "/"})

        def _call(self, call: Callable[[], Any]) -> tuple[bool, Any]:
            """Runs one API call; its ApiError or StoreError is answered here as HTTP, and then
            the first of the pair is False."""
            try:
                return True, call()
            except ApiError as exc:
                self._error(_HTTP_OF.get(exc.code, 400), exc.message)
            except StoreError as exc:
                self._error(503, f"state store unavailable: {exc}")
            return False, None

        def _read(self, path: str, query: dict[str, list[str]], session: Session) -> None:
            ok, data = self._call(lambda: self._view(path, query, session))
            if ok:
                self._json(200, data)

        def _view(self, path: str, query: dict[str, list[str]], session: Session) -> Any:
            parts = [urllib.parse.unquote(p) for p in path.split("/")[2:]]
            v = console.views
            one: Callable[[str, str], Any] | None = {"services": v.service, "nodes": v.node,
                                                     "tasks": v.task}.get(parts[0])
            if parts == ["me"]:
                return {"user": session.user, "role": session.role, "csrf": session.csrf,
                        "canAct": session.role == "admin" or console.insecure}
            if parts == ["overview"]:
                return v.overview()
            if parts == ["events"]:
                return self._events(query)
            if parts == ["chaos"]:
                return console.chaos.runs()
            if len(parts) == 1 and parts[0] in ("services", "nodes", "tasks"):
                return getattr(v, parts[0])()
            if len(parts) == 3 and one is not None:
                data = one(parts[1], parts[2])
                if data is None:
                    raise ApiError(grpc.StatusCode.NOT_FOUND,
                                   f"{parts[0][:-1]} {parts[2][:64]!r} not found in cluster {parts[1][:64]!r}")
                return data
            raise ApiError(grpc.StatusCode.NOT_FOUND, f"no API {path[:64]!r}")

        def _events(self, query: dict[str, list[str]]) -> list[dict]:
            def first(name: str) -> str:
                return (query.get(name) or [""])[0][:256]

            kinds = [k for k in first("kind").split(",") if k]
            bad = [k for k in kinds if k not in KINDS]
            if bad:
                raise ApiError(grpc.StatusCode.INVALID_ARGUMENT,
                               f"kind: {bad[0][:32]!r} is not one of {', '.join(KINDS)}")
            req = ev.ListEventsRequest(cluster=first("cluster"), service=first("service"), node=first("node"),
                                       kinds=kinds, limit=200)
            return [event(e) for e in console.feed.list(req).events][::-1]

        def _stream(self, session: Session) -> None:
            self._open_stream()
            version = console.feed.version
            checked = time.monotonic()
            try:
                # The browser waits 5 s before reconnecting a broken stream (its default is 3 s).
                self.wfile.write(f"retry: 5000\nevent: change\ndata: {version}\n\n".encode())
                self.wfile.flush()
                sent = time.monotonic()
                while not console.closing.is_set():
                    now = console.feed.wait(version, KEEPALIVE)
                    if now == version:
                        self.wfile.write(b": keepalive\n\n")
                    else:
                        # The first change goes at once; a burst after it becomes one notice
                        # per NOTICE_INTERVAL.
                        console.closing.wait(max(0.0, NOTICE_INTERVAL - (time.monotonic() - sent)))
                        version = console.feed.version
                        self.wfile.write(f"event: change\ndata: {version}\n\n".encode())
                        sent = time.monotonic()
                    self.wfile.flush()
                    if time.monotonic() - checked >= SESSION_RECHECK:
                        checked = time.monotonic()
                        if not self._still_live(session):
                            return
            except OSError:
                return  # the browser left

        def _still_live(self, session: Session) -> bool:
            try:
                return console.sessions.get(session.id) is not None
            except StoreError:
                return True  # the store's outage is no logout; the page's reads say 503 meanwhile

        def _logs(self, path: str, query: dict[str, list[str]], session: Session) -> None:
            parts = [urllib.parse.unquote(p) for p in path.split("/")[3:]]
            if len(parts) != 2 or not all(parts):
                self._error(404, "logs: want /api/logs/CLUSTER/TASK")
                return
            try:
                authorize_logs(session.identity, console.insecure)
            except ApiError as exc:
                self._error(_HTTP_OF.get(exc.code, 403), exc.message)
                return
            self._open_stream()
            log.info("console: logs opened", extra=kv(user=session.user, task=parts[1][:64]))

            def write(data: bytes) -> None:
                self.wfile.write(data)
                self.wfile.flush()

            try:
                # No automatic reconnect: the page decides whether to open the logs again.
                write(b"retry: 3600000\n\n")
                console.logs.follow(parts[0], parts[1], (query.get("container") or [""])[0][:256], write,
                                    console.closing)
            except OSError:
                return  # the page left

        # ---- POST ----
        def do_POST(self) -> None:  # noqa: N802
            path = urllib.parse.urlsplit(self.path).path
            if not self._same_origin():
                log.warning("console: cross-origin POST refused", extra=kv(origin=self.headers.get("Origin", "")[:100],
                                                                           path=path[:100]))
                self._error(403, "Origin: cross-origin requests are refused")
                return
            body = self._body()
            if body is None:
                return
            if path == "/api/login":
                ok, session = self._call(lambda: console.login(body))
                if not ok:
                    return
                if session is None:
                    log.warning("console: login refused", extra=kv(client=self.client_address[0]))
                    self._error(401, "accessKeyId/secretAccessKey: unknown key, wrong secret, or inactive key")
                    return
                log.info("console: logged in", extra=kv(user=session.user, role=session.role))
                self._json(200, {"user": session.user, "role": session.role}, self._cookie(session))
                return
            session = self._session()
            if session is None:
                return
            if not session.csrf_ok(self.headers.get("X-CSRF-Token")):
                log.warning("console: action without its CSRF token refused", extra=kv(user=session.user, path=path))
                self._error(403, "X-CSRF-Token: missing or wrong for this session; reload the page")
                return
            if path == "/api/logout":
                ok, _ = self._call(lambda: console.sessions.end(session.id))
                if ok:
                    self._json(200, {}, {"Set-Cookie": f"{COOKIE}=; {console.cookie_flags}; Max-Age=0"})
            elif path == "/api/chaos":
                self._chaos(session, body)
            elif path.startswith("/api/actions/"):
                self._act(path[len("/api/actions/"):], session, body)
            else:
                self._error(404, f"no API {path[:64]!r}")

        def _act(self, name: str, session: Session, body: dict[str, Any]) -> None:
            ok, result = self._call(lambda: actions.run(console.ctx, name, session.identity, console.insecure, body))
            if not ok:
                return
            log.info("console action", extra=kv(action=name[:32], user=session.user, **{
                k: str(v)[:64] for k, v in body.items() if k in ("cluster", "service", "node", "task")}))
            self._json(200, result)

        def _chaos(self, session: Session, body: dict[str, Any]) -> None:
            ok, result = self._call(lambda: console.chaos.start(session.identity, console.insecure, session.user,
                                                                body))
            if ok:
                self._json(200, result)

    return Handler

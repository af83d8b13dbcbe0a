"""The token endpoint of the cluster registry (distribution's token authentication): the
registry answers an unauthenticated request with ``401`` and ``WWW-Authenticate: Bearer
realm=…/token``; the client (dockerd) then asks here, ``GET /token?service=S&scope=…``
with HTTP Basic auth, and gets a short-lived JWT granting what its Shoal identity may do.

The registry posts its push notifications to ``/events`` on the same server, with a bearer
token the issuer signed for it (``EVENTS_AUDIENCE``; see events.py).

The Basic password is a login credential from ``GetLoginCredential`` (``shoal registry
login``): a JWT this cluster's issuer signed, naming the identity and its role (and the
access key it was made with, which must still stand: logins.py). Served over
TLS with a certificate from the cluster CA, in threads of its own (a slow TLS handshake
holds only its own thread); no client certificate is asked for, dockerd has none."""

from __future__ import annotations

import base64
import datetime
import json
import logging
import ssl
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from controlplane.registry.access import ScopeError, grant, parse_scope
from controlplane.registry.events import EventError
from controlplane.registry.logins import CERT_CLAIM, KEY_CLAIM
from controlplane.tls_http import TLSServer
from shoal.logs import kv
from shoal.security import registry_issuer
from shoal.security.registry_issuer import Issuer, TokenError

log = logging.getLogger(__name__)

TOKEN_SECONDS = 300
MAX_EVENTS_BYTES = 1024 * 1024


class TokenRefused(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def issue(issuer: Issuer, service: str, authorization: str, query: str, exists: Callable[[str], bool],
          current: Callable[[dict], str | None], now: float | None = None) -> dict:
    """The token response for one request (``authorization``: the Authorization header);
    raises TokenRefused saying why not. ``current`` says why a verified login no longer
    stands against the IAM state of now (logins.Logins.refusal), or None."""
    params = parse_qs(query, keep_blank_values=True)
    asked = params.get("service", [""])[0]
    if asked != service:
        raise TokenRefused(400, "UNSUPPORTED", f"service: this issuer serves {service!r}, not {asked[:64]!r}")
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        raise TokenRefused(401, "UNAUTHORIZED", "the cluster registry needs credentials: run `shoal registry login`")
    try:
        _, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        login = issuer.verify(password, registry_issuer.LOGIN_AUDIENCE, now)
    except (ValueError, UnicodeDecodeError) as exc:
        raise TokenRefused(401, "UNAUTHORIZED", f"login credential refused: {exc}; run `shoal registry login` "
                                               "again") from None
    why = current(login)
    if why is not None:
        raise TokenRefused(401, "UNAUTHORIZED", f"login credential refused: {why}")
    try:
        access = grant(str(login.get("role", "")), [parse_scope(s) for s in params.get("scope", [])], exists)
    except ScopeError as exc:
        raise TokenRefused(401, "DENIED", str(exc)) from None
    # The registry token names the login's key or certificate too: the front refuses it
    # once the key is gone or the certificate revoked.
    key = {c: login[c] for c in (KEY_CLAIM, CERT_CLAIM) if login.get(c)}
    claims = registry_issuer.claims(str(login.get("sub", "")), service, TOKEN_SECONDS, now, access=access, **key)
    token = issuer.sign(claims)
    log.info("registry token issued", extra=kv(identity=claims["sub"], access=json.dumps(access)))
    issued = datetime.datetime.fromtimestamp(claims["iat"], datetime.UTC).isoformat()
    return {"token": token, "access_token": token, "expires_in": TOKEN_SECONDS, "issued_at": issued}


def serve(host: str, port: int, tls: ssl.SSLContext, issuer: Issuer, service: str,
          exists: Callable[[str], bool], current: Callable[[dict], str | None],
          on_events: Callable[[object], str]) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            if urlsplit(self.path).path != "/events":
                self._reply(404, {"errors": [{"code": "NOT_FOUND", "message": "POST only to /events"}]})
                return
            scheme, _, token = self.headers.get("Authorization", "").partition(" ")
            try:
                if scheme.lower() != "bearer":
                    raise TokenError("events: want the registry's bearer token")
                issuer.verify(token, registry_issuer.EVENTS_AUDIENCE)
            except TokenError as exc:
                self._reply(401, {"errors": [{"code": "UNAUTHORIZED", "message": str(exc)}]})
                return
            length = int(self.headers.get("Content-Length") or 0)
            if not 0 < length <= MAX_EVENTS_BYTES:
                self._reply(400, {"errors": [{"code": "SIZE_INVALID", "message": f"body: 1-{MAX_EVENTS_BYTES} bytes"}]})
                return
            try:
                sentence = on_events(json.loads(self.rfile.read(length)))
            except (ValueError, EventError) as exc:
                self._reply(400, {"errors": [{"code": "UNSUPPORTED", "message": str(exc)}]})
                return
            except Exception as exc:  # the store: the registry retries a failed delivery
                log.warning("registry events not recorded: %s", exc)
                self._reply(503, {"errors": [{"code": "UNAVAILABLE", "message": str(exc)}]})
                return
            if sentence:
                log.info(sentence)
            self._reply(200, {})

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            url = urlsplit(self.path)
            if url.path != "/token":
                self._reply(404, {"errors": [{"code": "NOT_FOUND", "message": "the token endpoint is /token"}]})
                return
            try:
                body = issue(issuer, service, self.headers.get("Authorization", ""), url.query, exists, current)
            except TokenRefused as exc:
                log.warning("registry token refused", extra=kv(reason=exc.message, client=self.client_address[0]))
                self._reply(exc.status, {"errors": [{"code": exc.code, "message": exc.message}]})
                return
            except Exception as exc:  # the store, most likely: say so rather than drop the connection
                log.exception("registry token endpoint failed")
                self._reply(503, {"errors": [{"code": "UNAVAILABLE", "message": f"cannot issue a token now: {exc}"}]})
                return
            self._reply(200, body)

        def _reply(self, status: int, body: dict) -> None:
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            if status == 401:
                self.send_header("WWW-Authenticate", 'Basic realm="shoal registry"')
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, fmt: str, *args) -> None:
            log.debug("token endpoint: " + fmt, *args)

    server = TLSServer((host, port), Handler, tls)
    threading.Thread(target=server.serve_forever, name="registry-token", daemon=True).start()
    return server

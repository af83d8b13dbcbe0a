"""Shoal's authorizing front of the cluster registry: it listens on the registry's address
(the one image names carry), terminates TLS with a certificate from the cluster CA and
forwards every request to the registry on loopback, in plain HTTP, — except a manifest PUT that would move
an immutable tag, which it refuses before the registry sees it, as ECR refuses with
ImageTagAlreadyExistsException. distribution itself cannot refuse a tag push, so without
this front an immutable tag could only be put back after the fact (events.py keeps that
as the fallback).

Authentication stays the registry's: the client's bearer token is forwarded untouched, and
the front asks the registry, with that same token, which manifest the tag names now. The one
thing the front judges in a token is whether the login it came from still stands (its access
key not deleted: logins.py), on every request, so a revoked key stops a push or pull at once
rather than when its 5-minute token runs out."""

from __future__ import annotations

import hashlib
import http.client
import json
import logging
import re
import ssl
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from controlplane.registry.client import MANIFEST_TYPES
from controlplane.tls_http import TLSServer
from shoal.logs import kv

log = logging.getLogger(__name__)

MAX_MANIFEST_BYTES = 4 * 1024 * 1024  # distribution's own limit on a manifest
CHUNK = 256 * 1024
UPSTREAM_SECONDS = 300.0
_MANIFEST_PUT = re.compile(r"^/v2/(?P<name>.+)/manifests/(?P<ref>[^/]+)$")
# Hop-by-hop headers (RFC 9110 7.6.1) are the connection's, not the message's.
_HOP = frozenset({"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade"})

# (repository) -> the tag->digest map Shoal recorded when its tags are immutable, else None.
ImmutableTags = Callable[[str], "dict[str, str] | None"]
# (a request's Authorization header) -> why its token no longer stands, or None.
TokenCheck = Callable[[str], "str | None"]


def refusal(repository: str, tag: str, held: str, pushed: str) -> str | None:
    """Why a push of manifest ``pushed`` under ``tag`` is refused, or None to let it
    through: a tag that names another manifest cannot move in a repository with immutable
    tags."""
    if not held or held == pushed:
        return None
    return (f"ImageTagAlreadyExistsException: tag {tag!r} in repository {repository!r} is immutable and already "
            f"names {held}; push under a new tag")


def serve(host: str, port: int, tls: ssl.SSLContext, upstream: str,
          immutable_tags: ImmutableTags, token_check: TokenCheck) -> ThreadingHTTPServer:
    """``upstream``: the registry's HOST:PORT on loopback, plain HTTP (the client's TLS ends
    here; a second TLS hop on loopback cost about half the pull rate, bench/images.py)."""
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            if self._login_stands():
                self._forward()

        do_HEAD = do_POST = do_PATCH = do_DELETE = do_GET  # noqa: N815

        def _login_stands(self) -> bool:
            why = token_check(self.headers.get("Authorization", ""))
            if why is None:
                return True
            log.warning("registry request refused", extra=kv(reason=why, client=self.client_address[0]))
            # A body left unread would reset the connection under the answer: a small one is
            # read and dropped; a larger (a blob) is not waited for, the connection closes.
            length = self.headers.get("Content-Length") or "0"
            chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
            if not chunked and length.isdigit() and int(length) <= MAX_MANIFEST_BYTES:
                self.rfile.read(int(length))
            else:
                self.close_connection = True
            self._error(401, "UNAUTHORIZED", why)
            return False

        def do_PUT(self) -> None:  # noqa: N802
            if not self._login_stands():
                return
            path = self.path.split("?", 1)[0]
            # The registry judges the path percent-decoded: "/v2/ap%70/manifests/v1" is app's v1
            # to it, and a repository nobody made to the check below. No repository name,
            # tag, digest or upload id holds a '%'.
            if "%" in path:
                self._error(400, "NAME_INVALID", f"path: {path[:200]!r} is percent-encoded; repository names, "
                                                 "tags and digests are sent as they are")
                return
            match = _MANIFEST_PUT.match(path)
            if match is None or match["ref"].startswith("sha256:"):
                self._forward()
                return
            body = self._body(MAX_MANIFEST_BYTES)
            if body is None:
                return
            name, tag = match["name"], match["ref"]
            tags = immutable_tags(name)
            if tags is not None:
                pushed = "sha256:" + hashlib.sha256(body).hexdigest()
                why = refusal(name, tag, self._held(name, tag) or tags.get(tag, ""), pushed)
                if why is not None:
                    log.warning("immutable tag push refused", extra=kv(repository=name, tag=tag, pushed=pushed,
                                                                       client=self.client_address[0]))
                    self._error(400, "TAG_INVALID", why)
                    return
            self._forward(body)

        def _held(self, name: str, tag: str) -> str:
            """The digest the registry says ``tag`` names now ("" when none), asked with
            the client's own token."""
            headers = {"Accept": MANIFEST_TYPES, "Host": self.headers.get("Host", upstream)}
            if self.headers.get("Authorization"):
                headers["Authorization"] = self.headers["Authorization"]
            conn = http.client.HTTPConnection(upstream, timeout=UPSTREAM_SECONDS)
            try:
                conn.request("HEAD", f"/v2/{name}/manifests/{tag}", headers=headers)
                answer = conn.getresponse()
                answer.read()
                return answer.getheader("Docker-Content-Digest", "") if answer.status == 200 else ""
            except OSError as exc:
                log.warning("registry front: cannot ask the registry for a tag: %s", exc)
                return ""
            finally:
                conn.close()

        def _body(self, limit: int | None = None) -> bytes | None:
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                parts = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        break
                    parts.append(self.rfile.read(size))
                    self.rfile.readline()
                body = b"".join(parts)
            else:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if limit is not None and len(body) > limit:
                self._error(400, "MANIFEST_INVALID", f"manifest: at most {limit} bytes")
                return None
            return body

        def _stream_body(self, conn: http.client.HTTPConnection) -> None:
            """Sends the request's body upstream as it arrives (blob uploads can be large)."""
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        conn.send(b"0\r\n\r\n")
                        return
                    conn.send(f"{size:x}\r\n".encode() + self.rfile.read(size) + b"\r\n")
                    self.rfile.readline()
            left = int(self.headers.get("Content-Length") or 0)
            while left > 0:
                piece = self.rfile.read(min(CHUNK, left))
                if not piece:
                    return
                conn.send(piece)
                left -= len(piece)

        def _forward(self, body: bytes | None = None) -> None:
            conn = http.client.HTTPConnection(upstream, timeout=UPSTREAM_SECONDS)
            try:
                conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                chunked = body is None and "chunked" in self.headers.get("Transfer-Encoding", "").lower()
                for key, value in self.headers.items():
                    if key.lower() in _HOP or (body is not None and key.lower() == "content-length"):
                        continue
                    conn.putheader(key, value)
                # The registry builds its Location URLs from this: the client came in by HTTPS.
                conn.putheader("X-Forwarded-Proto", "https")
                if body is not None:
                    conn.putheader("Content-Length", str(len(body)))
                elif chunked:
                    conn.putheader("Transfer-Encoding", "chunked")
                conn.endheaders()
                if body is not None:
                    conn.send(body)
                else:
                    self._stream_body(conn)
                answer = conn.getresponse()
                self._relay(answer)
            except OSError as exc:
                log.warning("registry front: upstream failed: %s", exc)
                self._error(503, "UNAVAILABLE", f"the registry did not answer: {exc}")
            finally:
                conn.close()

        def _relay(self, answer: http.client.HTTPResponse) -> None:
            length = answer.getheader("Content-Length")
            self.send_response(answer.status, answer.reason)
            for key, value in answer.getheaders():
                if key.lower() not in _HOP and key.lower() != "content-length":
                    self.send_header(key, value)
            if self.command == "HEAD" or answer.status in (204, 304) or answer.status < 200:
                self.send_header("Content-Length", length or "0")
                self.end_headers()
                return
            if length is None:
                data = answer.read()
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return
            self.send_header("Content-Length", length)
            self.end_headers()
            while piece := answer.read(CHUNK):
                self.wfile.write(piece)

        def _error(self, status: int, code: str, message: str) -> None:
            raw = json.dumps({"errors": [{"code": code, "message": message}]}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, fmt: str, *args) -> None:
            log.debug("registry front: " + fmt, *args)

    server = TLSServer((host, port), Handler, tls)
    threading.Thread(target=server.serve_forever, name="registry-front", daemon=True).start()
    return server


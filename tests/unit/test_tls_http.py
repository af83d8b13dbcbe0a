"""tls_http.TLSServer, over TLS and plain: a kept-alive connection serves its next request,
and a silent client (mid-handshake, idle between requests, or half a request) is dropped
after IDLE_SECONDS, its connection closed, so it holds no worker."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest

from controlplane import tls_http
from controlplane.ecs.config import context_from_pem
from shoal.security import ca as ca_mod

IDLE = 0.5


class Hello(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self.send_response(200)
        self.send_header("Content-Length", "5")
        self.end_headers()
        self.wfile.write(b"hello")


@pytest.fixture(params=["tls", "plain"])
def server(request, monkeypatch) -> Iterator[tuple[tls_http.TLSServer, bool]]:
    monkeypatch.setattr(tls_http, "IDLE_SECONDS", IDLE)
    tls = None
    if request.param == "tls":
        authority = ca_mod.CertificateAuthority.create()
        key = ca_mod.new_key()
        leaf = authority.issue_server(key.public_key(), ["127.0.0.1"])
        tls = context_from_pem(ca_mod.bundle_pem([leaf, authority.cert]), ca_mod.key_pem(key))
    srv = tls_http.TLSServer(("127.0.0.1", 0), Hello, tls)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield srv, tls is not None
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(10)


def connect(srv: tls_http.TLSServer, tls: bool) -> socket.socket:
    raw = socket.create_connection(srv.server_address[:2], timeout=5)
    if not tls:
        return raw
    client = ssl.create_default_context()
    client.check_hostname = False
    client.verify_mode = ssl.CERT_NONE
    return client.wrap_socket(raw)


def answer(conn: socket.socket) -> bytes:
    got = b""
    while not got.endswith(b"hello"):
        chunk = conn.recv(4096)
        assert chunk, f"connection closed mid-answer after {got!r}"
        got += chunk
    return got


def closed_within(conn: socket.socket, seconds: float) -> float:
    """Seconds until the server closed ``conn`` (EOF or reset); fails past ``seconds``."""
    conn.settimeout(seconds)
    start = time.monotonic()
    try:
        assert conn.recv(4096) == b"", "the server sent something unasked"
    except ConnectionResetError:
        pass
    except TimeoutError:
        pytest.fail(f"the connection was still open {seconds} s later")
    return time.monotonic() - start


def test_kept_alive_connection_serves_again_then_is_closed_once_idle(server) -> None:
    srv, tls = server
    with connect(srv, tls) as conn:
        for _ in range(2):
            conn.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert answer(conn).startswith(b"HTTP/1.1 200")
        assert closed_within(conn, 5) >= IDLE * 0.8


def test_half_a_request_is_dropped(server) -> None:
    srv, tls = server
    with connect(srv, tls) as conn:
        conn.sendall(b"GET / HTTP/1.1\r\nHo")
        closed_within(conn, 5)


def test_a_client_that_never_handshakes_is_dropped_and_holds_up_no_one(server) -> None:
    srv, tls = server
    with socket.create_connection(srv.server_address[:2], timeout=5) as silent:
        # Served meanwhile: the silent one waits in a thread of its own.
        with connect(srv, tls) as other:
            other.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert answer(other).startswith(b"HTTP/1.1 200")
        closed_within(silent, 5)

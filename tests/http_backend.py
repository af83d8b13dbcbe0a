"""A small backend for node-proxy tests and bench/traffic.py, run as its own process
(stdlib only): `python tests/http_backend.py http PORT NAME` answers HTTP/1.1 with keep-alive
on 127.0.0.1:PORT — `/` says NAME, `/xff` echoes X-Forwarded-For, `/slow?seconds=S` answers
after S seconds; `python tests/http_backend.py http-loop PORT NAME` answers every GET with NAME
from one thread (an asyncio event loop: no thread per connection, so no handoffs of
Python's GIL between requests); `python tests/http_backend.py pp2 PORT` reads a PROXY protocol v2 header on
each TCP connection and answers `src=IP:PORT`. Prints `ready` once listening."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import socketserver
import struct
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

PP2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"


def http_handler(name: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Small answers on kept-alive connections must not wait for Nagle and delayed ACKs.
        disable_nagle_algorithm = True

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            url = urlsplit(self.path)
            if url.path == "/xff":
                body = self.headers.get("X-Forwarded-For", "")
            elif url.path == "/slow":
                time.sleep(float(parse_qs(url.query).get("seconds", ["1"])[0]))
                body = name
            else:
                body = name
            data = (body + "\n").encode()
            # One write for the whole answer: fewer packets and wake-ups on both sides.
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
                             b"X-Backend: %s\r\n\r\n%s" % (len(data), name.encode(), data))

        def log_message(self, fmt: str, *args: object) -> None:
            pass

    return Handler


def parse_pp2(header: bytes, body: bytes) -> str:
    """The source address of a PROXY v2 header (TCP over IPv4 or IPv6)."""
    family = header[13] >> 4
    if family == 1:
        src, _dst, sport, _dport = struct.unpack("!4s4sHH", body[:12])
    elif family == 2:
        src, _dst, sport, _dport = struct.unpack("!16s16sHH", body[:36])
    else:
        return "src=unknown"
    return f"src={ipaddress.ip_address(src)}:{sport}"


class PP2Handler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        sock: socket.socket = self.request
        header = _read(sock, 16)
        if header[:12] != PP2_SIGNATURE:
            sock.sendall(b"no PROXY v2 header\n")
            return
        length = struct.unpack("!H", header[14:16])[0]
        sock.sendall((parse_pp2(header, _read(sock, length)) + "\n").encode())


def _read(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            break
        data += chunk
    return data


class Quiet:
    def handle_error(self, request: object, client_address: object) -> None:
        # A client that hangs up mid-answer (a load generator stopping) is no error here.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[misc]


class ThreadingTCP(Quiet, socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 512


class ThreadingHTTP(Quiet, ThreadingHTTPServer):
    daemon_threads = True
    # Load generators open many connections at once; the default backlog of 5 drops some.
    request_queue_size = 512


class LoopHTTP(asyncio.Protocol):
    """HTTP/1.1 with keep-alive, answering NAME to each request head (GETs without a body)."""

    def __init__(self, name: str) -> None:
        data = (name + "\n").encode()
        self.answer = (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
                       b"X-Backend: %s\r\n\r\n%s" % (len(data), name.encode(), data))
        self.buffer = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        # Small answers on kept-alive connections must not wait for Nagle and delayed ACKs.
        transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while b"\r\n\r\n" in self.buffer:
            head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
            headers = dict(line.split(b":", 1) for line in head.split(b"\r\n")[1:] if b":" in line)
            self.transport.write(self.answer)  # type: ignore[attr-defined]
            if {k.strip().lower(): v.strip().lower() for k, v in headers.items()}.get(b"connection") == b"close":
                self.transport.close()
                return


async def serve_loop(port: int, name: str) -> None:
    server = await asyncio.get_running_loop().create_server(lambda: LoopHTTP(name), "127.0.0.1", port, backlog=512)
    print("ready", flush=True)
    await server.serve_forever()


def main(argv: list[str]) -> None:
    kind, port = argv[0], int(argv[1])
    if kind == "http-loop":
        asyncio.run(serve_loop(port, argv[2]))
        return
    if kind == "http":
        server: socketserver.BaseServer = ThreadingHTTP(("127.0.0.1", port), http_handler(argv[2]))
    else:
        server = ThreadingTCP(("127.0.0.1", port), PP2Handler)
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1:])

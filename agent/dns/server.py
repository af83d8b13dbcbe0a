"""The responder's sockets: UDP and TCP on each listen address, on one port. A UDP query is
answered on the listening thread when the answer is local; one going upstream waits in a
small pool, and each TCP connection has its own thread. Past their bounds UDP queries are
dropped (the client asks again) and TCP connections closed, so a flood costs a bounded
number of threads."""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import selectors
import socket
import struct
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

import shoal.logs
from agent.dns.upstream import recv_exactly

log = logging.getLogger(__name__)


class Handler(Protocol):
    def answer_locally(self, data: bytes, client: str, tcp: bool) -> bytes | None | Forward:
        """The reply (None: send nothing), or FORWARD when only an upstream can answer."""

    def forward(self, data: bytes, tcp: bool) -> bytes | None:
        """The reply to a query that goes upstream; blocks up to the upstream timeout."""


class Forward:
    """The marker for a query that goes upstream."""


FORWARD = Forward()
WORKERS = 8
# Forwarded queries waiting for or in a worker; past this a flood is dropped, not queued.
MOST_PENDING = 256
# TCP connections served at once: each holds a thread while its client idles.
MOST_CONNECTIONS = 32
# A TCP client idle this long is closed (RFC 7766 suggests seconds, not minutes).
TCP_IDLE = 10.0
_BIND_TRIES = 20


class DnsServer:
    def __init__(self, handler: Handler, addresses: list[str], port: int, shared: bool = False) -> None:
        """``shared``: the sockets take SO_REUSEPORT, so the responders of several agents of
        one cluster on one host can all listen on the bridge gateway's port 53 (their tables
        are the same cluster-wide; the kernel hands each query to one of them). A socket
        held without it still makes the bind fail."""
        self.handler = handler
        self.addresses = addresses
        self.port = port
        self.shared = shared
        self._udp: list[socket.socket] = []
        self._tcp: list[socket.socket] = []
        self._pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="dns")
        self._pending = threading.BoundedSemaphore(MOST_PENDING)
        self._connections = threading.BoundedSemaphore(MOST_CONNECTIONS)
        self._stopped = threading.Event()
        self._threads: list[threading.Thread] = []
        self._selector = selectors.DefaultSelector()

    def start(self) -> None:
        """Binds every address (raising OSError that names the one that failed), then serves.
        With port 0 the first UDP socket picks the port and the others take the same."""
        try:
            self._bind_all()
        except OSError:
            self._close_sockets()
            raise
        for s in self._udp:
            self._selector.register(s, selectors.EVENT_READ, self._on_datagram)
        for s in self._tcp:
            self._selector.register(s, selectors.EVENT_READ, self._on_accept)
        t = threading.Thread(target=self._loop, name="dns-listen", daemon=True)
        t.start()
        self._threads.append(t)

    def _bind_all(self) -> None:
        for attempt in range(_BIND_TRIES if self.port == 0 else 1):
            port = self.port
            try:
                for address in self.addresses:
                    udp = _bound(address, port, socket.SOCK_DGRAM, self.shared)
                    self._udp.append(udp)
                    port = udp.getsockname()[1]
                    tcp = _bound(address, port, socket.SOCK_STREAM, self.shared)
                    self._tcp.append(tcp)
                    tcp.listen(64)
                self.port = port
                return
            except OSError:
                # Port 0: the port UDP chose may be taken for TCP; choose again.
                self._close_sockets()
                if self.port != 0 or attempt == _BIND_TRIES - 1:
                    raise

    def _loop(self) -> None:
        while not self._stopped.is_set():
            for key, _ in self._selector.select(timeout=0.5):
                try:
                    key.data(key.fileobj)
                except OSError as exc:
                    if not self._stopped.is_set():
                        log.warning("dns socket error", extra=shoal.logs.kv(error=exc))

    def _on_datagram(self, s: socket.socket) -> None:
        data, client = s.recvfrom(65535)
        try:
            reply = self.handler.answer_locally(data, client[0], False)
        except Exception:
            log.exception("dns query failed (a bug)", extra=shoal.logs.kv(client=client[0]))
            return
        if reply is not FORWARD:
            if reply is not None:
                s.sendto(reply, client)
            return
        if not self._pending.acquire(blocking=False):
            return
        self._pool.submit(self._forward_datagram, s, data, client)

    def _forward_datagram(self, s: socket.socket, data: bytes, client: tuple) -> None:
        try:
            reply = self.handler.forward(data, False)
            if reply is not None:
                s.sendto(reply, client)
        except Exception:
            log.exception("dns query failed (a bug)", extra=shoal.logs.kv(client=client[0]))
        finally:
            self._pending.release()

    def _on_accept(self, s: socket.socket) -> None:
        conn, client = s.accept()
        if not self._connections.acquire(blocking=False):
            conn.close()
            return
        threading.Thread(target=self._serve_stream, args=(conn, client), name="dns-tcp", daemon=True).start()

    def _serve_stream(self, conn: socket.socket, client: tuple) -> None:
        """Answers queries on one connection in turn until the client closes or idles."""
        try:
            with conn:
                conn.settimeout(TCP_IDLE)
                while not self._stopped.is_set():
                    head = recv_exactly(conn, 2)
                    query = recv_exactly(conn, struct.unpack("!H", head)[0]) if head else None
                    if query is None:
                        return
                    reply = self.handler.answer_locally(query, client[0], True)
                    if reply is FORWARD:
                        reply = self.handler.forward(query, True)
                    if reply is None:
                        return
                    conn.sendall(struct.pack("!H", len(reply)) + reply)
        except OSError:
            return
        except Exception:
            log.exception("dns query failed (a bug)", extra=shoal.logs.kv(client=client[0]))
        finally:
            self._connections.release()

    def stop(self) -> None:
        self._stopped.set()
        for t in self._threads:
            t.join(timeout=5)
        self._close_sockets()
        self._selector.close()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _close_sockets(self) -> None:
        for s in self._udp + self._tcp:
            with contextlib.suppress(OSError):
                s.close()
        self._udp, self._tcp = [], []


def _bound(address: str, port: int, kind: int, shared: bool = False) -> socket.socket:
    family = socket.AF_INET6 if ipaddress.ip_address(address).version == 6 else socket.AF_INET
    s = socket.socket(family, kind)
    try:
        if kind == socket.SOCK_STREAM:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if shared:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        s.bind((address, port))
    except OSError as exc:
        s.close()
        raise OSError(exc.errno, f"{address}:{port}/{'tcp' if kind == socket.SOCK_STREAM else 'udp'}: "
                      f"{exc.strerror}") from exc
    return s

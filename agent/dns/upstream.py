"""The host's resolvers, which every query outside Shoal's names goes to: read from
/etc/resolv.conf (or given), and asked over UDP, or TCP when the client came over TCP."""

from __future__ import annotations

import ipaddress
import socket
import struct

Upstream = tuple[str, int]
RESOLV_CONF = "/etc/resolv.conf"
TIMEOUT = 2.0


class UpstreamError(ValueError):
    pass


def parse(value: str, default_port: int = 53) -> Upstream:
    """"IP", "IP:PORT" or "[IPv6]:PORT"; raises `UpstreamError` saying what is wrong."""
    text = value.strip()
    host, port = text, default_port
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise UpstreamError(f"{value!r}: expected IP, IP:PORT or [IPv6]:PORT")
        port_text = rest[1:]
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    else:
        port_text = ""
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise UpstreamError(f"{value!r}: port must be 1-65535")
        port = int(port_text)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise UpstreamError(f"{value!r}: not an IP address") from None
    return host, port


def from_resolv_conf(path: str = RESOLV_CONF) -> list[Upstream]:
    """The nameservers a resolv.conf lists (a missing file lists none)."""
    out: list[Upstream] = []
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.readlines()
    except OSError:
        return out
    for line in lines:
        words = line.split("#", 1)[0].split(";", 1)[0].split()
        if len(words) >= 2 and words[0] == "nameserver":
            try:
                # A zone index (fe80::1%eth0) is dropped: the socket layer routes it anyway.
                out.append(parse(words[1].split("%", 1)[0]))
            except UpstreamError:
                continue
    return out


def forward(upstreams: list[Upstream], query: bytes, tcp: bool, timeout: float = TIMEOUT) -> bytes | None:
    """The first answer an upstream gives to ``query`` (its id checked), or None when none
    answers in time."""
    if len(query) < 12:
        return None
    for host, port in upstreams:
        try:
            data = _ask_tcp(host, port, query, timeout) if tcp else _ask_udp(host, port, query, timeout)
        except OSError:
            continue
        if data is not None and data[:2] == query[:2]:
            return data
    return None


def _family(host: str) -> int:
    return socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET


def _ask_udp(host: str, port: int, query: bytes, timeout: float) -> bytes | None:
    with socket.socket(_family(host), socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        # Connected: datagrams from anyone but the upstream are not delivered to us.
        s.connect((host, port))
        s.send(query)
        while True:
            data = s.recv(65535)
            if data[:2] == query[:2]:
                return data


def _ask_tcp(host: str, port: int, query: bytes, timeout: float) -> bytes | None:
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(struct.pack("!H", len(query)) + query)
        head = recv_exactly(s, 2)
        if head is None:
            return None
        return recv_exactly(s, struct.unpack("!H", head)[0])


def recv_exactly(s: socket.socket, n: int) -> bytes | None:
    """``n`` bytes from a stream, or None when it ends first."""
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf

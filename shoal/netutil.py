"""Small network helpers shared by the daemons, `shoal up` and the tests."""

from __future__ import annotations

import contextlib
import socket

from shoal.waiting import wait_until


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free right now on ``host`` (the OS picks it; there is a small window in
    which another process could take it, which callers accept)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """``count`` distinct TCP ports free right now on ``host``: the sockets are held open
    together while the OS picks, so two calls in a row cannot hand out the same port."""
    with contextlib.ExitStack() as held:
        socks = [held.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) for _ in range(count)]
        for s in socks:
            s.bind((host, 0))
        return [s.getsockname()[1] for s in socks]


def wait_for_port(host: str, port: int, timeout: float) -> bool:
    """True once a TCP connect to host:port succeeds, False after ``timeout`` seconds."""
    return wait_until(lambda: _connects(host, port), timeout, interval=0.05)


def _connects(host: str, port: int) -> bool:
    with socket.create_connection((host, port), timeout=0.5):
        return True


def split_hostport(value: str, default_port: int | None = None) -> tuple[str, int]:
    """"host:port" (or "[v6]:port") -> (host, port); raises ValueError naming the value."""
    host, sep, port = value.rpartition(":")
    if not sep:
        if default_port is None:
            raise ValueError(f"{value!r} is not HOST:PORT")
        return value, default_port
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{value!r}: port must be 1-65535")
    return host.strip("[]"), int(port)

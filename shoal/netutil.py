"""Small network helpers shared by the daemons, `shoal up` and the tests."""

from __future__ import annotations

import random
import socket
import threading

from shoal.waiting import wait_until

# Where free ports are picked: below Linux's ephemeral range (32768-60999) and apart from the
# agents' dynamic host-port blocks (shoalctl/local/ports.py). A port the OS picks for a bind to
# port 0 is an ephemeral one, which any outgoing connection on the machine can take as its
# source port between the pick and the listener's bind: a CI run saw a replica's own etcd
# connection, or another's, take its gRPC port, and the bind fail "Address already in use".
PICK_AREA = (10000, 19999)
_PICK_TRIES = 2000
# Ports this process has handed out: never twice, so that picks made before their listeners
# bind cannot collide (emptied once half the area is used).
_handed: set[int] = set()
_lock = threading.Lock()


def _bindable(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free right now on ``host`` (``free_ports``)."""
    return free_ports(1, host)[0]


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """``count`` distinct TCP ports free right now on ``host``, from ``PICK_AREA``, none
    handed out by this process before. Another process could still take one before its
    listener binds (a small window, which callers accept), but no outgoing connection can."""
    low, high = PICK_AREA
    with _lock:
        if len(_handed) + count > (high - low + 1) // 2:
            _handed.clear()
        picked: list[int] = []
        for _ in range(_PICK_TRIES):
            port = random.randint(low, high)
            if port not in _handed and port not in picked and _bindable(host, port):
                picked.append(port)
                if len(picked) == count:
                    _handed.update(picked)
                    return picked
    raise OSError(f"no {count} free ports between {low} and {high} on {host}")


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

"""Host ports for a local cluster: whether one is free, and a block of them for an agent's
dynamic host-port mappings."""

from __future__ import annotations

import random
import socket

from shoal.netutil import free_port
from shoalctl.local.errors import ClusterError

HOST = "127.0.0.1"
# Below Linux's ephemeral range (32768-60999), where outgoing connections take ports.
DYNAMIC_PORTS_AREA = (20000, 32700)


def port_free(port: int, host: str = HOST) -> bool:
    """True if nothing listens on (or holds) ``port`` on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def claim_port(port: int, host: str, what: str) -> int:
    """``port``, or a free one for 0; ClusterError naming ``what`` if ``port`` is taken."""
    if port == 0:
        return free_port(host)
    if not port_free(port, host):
        raise ClusterError(f"port {port} for {what} is already in use on {host}: "
                           f"choose another or stop what holds it (see `ss -ltnp 'sport = :{port}'`)")
    return port


def pick_port_block(span: int, taken: list[tuple[int, int]]) -> tuple[int, int]:
    """A random block of ``span`` ports, all free now and not overlapping ``taken``: random
    so that clusters running side by side (parallel tests) rarely pick the same block."""
    low, high = DYNAMIC_PORTS_AREA
    starts = list(range(low, high - span + 1, span))
    random.shuffle(starts)
    for start in starts:
        end = start + span - 1
        if any(start <= t_high and t_low <= end for t_low, t_high in taken):
            continue
        if all(port_free(p) for p in range(start, end + 1)):
            return start, end
    raise ClusterError(f"no block of {span} free ports between {low} and {high} for dynamic host ports")

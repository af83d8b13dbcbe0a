"""Stops gRPC's blocking waits from polling ten times a second.

grpcio's synchronous API never blocks a thread without a timeout: every wait (a stream's
next message, a unary call's reply) wakes each ``grpc._common.MAXIMUM_WAIT_TIMEOUT``
(0.1 s) so that a signal handler on the main thread is not held up
(https://github.com/grpc/grpc/issues/19464). One blocked stream costs nothing; a control
plane holding 1,000 agent streams, or a fleet of 1,000 hollow agents, wakes 10,000 times a
second for nothing, which on two cores is most of the machine.

Our processes never wait on gRPC from the main thread (it waits on a threading.Event
and handles signals), so the short poll buys nothing there. Waits still end at once when
their condition is notified; only the idle re-check interval grows.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)

# Long enough that idle waits cost nothing, short enough that a wait missed by a bug in
# notification would still recover.
IDLE_WAIT_SECONDS = 5.0


def relax_idle_polling(seconds: float = IDLE_WAIT_SECONDS) -> bool:
    """Raises grpcio's idle re-check interval to ``seconds``. Returns False (and changes
    nothing) if this grpcio has no such setting, so an upgrade degrades to the default."""
    try:
        from grpc import _common
    except ImportError:
        return False
    if not isinstance(getattr(_common, "MAXIMUM_WAIT_TIMEOUT", None), (int, float)):
        log.warning("grpc._common.MAXIMUM_WAIT_TIMEOUT not found; leaving gRPC's idle polling as it is")
        return False
    _common.MAXIMUM_WAIT_TIMEOUT = seconds
    return True

"""How every client (the CLI, the agent, the autoscaler) reaches the control plane: one
``Connection`` holds the replicas' endpoints, the client's credentials and channel options,
and refuses to go out over plaintext unless the client was told ``--insecure``; its
``stub`` fails over between the replicas.

Without a CA a client would send its requests (join tokens, secrets, access keys, every
order) to whoever answers on the port, unauthenticated and unencrypted: that is a choice to
make out loud (``--insecure``, or SHOAL_INSECURE=1), for a control plane started
``--insecure``, never what happens when a CA was forgotten.

Every replica serves the whole API, so a client that cannot reach one replica tries the
next. A call moves on only when gRPC says UNAVAILABLE: the connection could not be made or
broke before an answer, which for a unary call almost always means the request never
reached a server. Other errors (a refusal, a conflict, a deadline) are answers and are
returned as they are, never retried. Between full rounds over the list the client waits
with exponential backoff and jitter, so clients that lost the same replica do not all hit
the next one in the same instant.

Channels are opened by a function the caller passes in, so whoever decides how channels
are made (TLS or not) decides it for the failover client too.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import grpc

from shoal import logs
from shoal.errors import rpc_status
from shoal.netutil import split_hostport
from shoal.retry import backoff
from shoal.security.channels import ClientTLS, client_channel

log = logging.getLogger(__name__)

BACKOFF_BASE = 0.2
BACKOFF_CAP = 5.0

OpenChannel = Callable[[str], grpc.Channel]


def parse_endpoints(value: str, field: str = "endpoint") -> list[str]:
    """"h1:p1,h2:p2" -> ["h1:p1", "h2:p2"]; raises ValueError naming ``field`` and the bad
    part. IPv6 hosts come back bracketed ("[::1]:7400")."""
    out: list[str] = []
    for part in value.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            host, port = split_hostport(part)
        except ValueError as exc:
            raise ValueError(f"{field}: {exc}") from None
        if not host:
            raise ValueError(f"{field}: {part!r} has no host")
        out.append(f"[{host}]:{port}" if ":" in host else f"{host}:{port}")
    if not out:
        raise ValueError(f"{field}: at least one HOST:PORT is required")
    return out


def _unavailable(exc: grpc.RpcError) -> bool:
    return rpc_status(exc)[0] == grpc.StatusCode.UNAVAILABLE


class PlaintextRefused(ValueError):
    """A client without a CA that was not told --insecure; the message names the flag."""


def insecure_from_env(env: dict[str, str] | None = None) -> bool:
    """SHOAL_INSECURE=1: what `shoal up` gives the processes of a cluster it started --insecure."""
    return (os.environ if env is None else env).get("SHOAL_INSECURE") == "1"


class Connection:
    """The endpoints of the control plane's replicas and how to reach them. ``tls`` None
    (no CA configured) is plaintext, allowed only with ``insecure``; otherwise
    PlaintextRefused says which ``flag`` to give. ``options`` add to the channels'."""

    def __init__(self, targets: list[str], tls: ClientTLS | None, *, insecure: bool = False,
                 flag: str = "--insecure", options: tuple[tuple[str, object], ...] = ()) -> None:
        if not targets:
            raise ValueError("endpoint: at least one HOST:PORT is required")
        if tls is None and not insecure:
            raise PlaintextRefused(
                f"no CA configured (SHOAL_CA/SHOAL_CERT/SHOAL_KEY, or `shoal up`'s config): refusing to send "
                f"credentials and requests to the control plane at {targets[0]} over plaintext; pass {flag} only "
                "if it was started with --insecure")
        self.targets = list(targets)
        self.tls = tls
        self.options = options

    @property
    def plaintext(self) -> bool:
        return self.tls is None

    def open(self, target: str) -> grpc.Channel:
        """A new channel to one replica (the caller closes it)."""
        return client_channel(target, self.tls, self.options)

    def stub(self, stub_class: type, **kwargs: Any) -> FailoverStub:
        """``stub_class``'s calls on whichever replica answers (see FailoverStub)."""
        return FailoverStub(self.targets, self.open, stub_class, **kwargs)


class FailoverStub:
    """``FailoverStub(targets, open_channel, OperatorStub).CreateService(req, timeout=5)``
    calls the method on the endpoint that last answered, moving to the next on UNAVAILABLE
    until every endpoint has been tried ``rounds`` times or ``patience`` seconds have
    passed; then the last UNAVAILABLE is raised. ``timeout``: the deadline of each attempt
    when the caller gives none. Thread-safe; channels open lazily and stay open until
    ``close()``."""

    def __init__(self, targets: list[str], open_channel: OpenChannel, stub_class: type,
                 rounds: int = 3, patience: float = 30.0, timeout: float | None = None) -> None:
        if not targets:
            raise ValueError("endpoint: at least one HOST:PORT is required")
        self.targets = list(targets)
        self.rounds = max(1, rounds)
        self.patience = patience
        self.timeout = timeout
        self._open = open_channel
        self._stub_class = stub_class
        self._channels: dict[str, grpc.Channel] = {}
        self._stubs: dict[str, Any] = {}
        self._index = 0
        self._lock = threading.Lock()

    @property
    def current(self) -> str:
        """The endpoint the next call goes to first."""
        return self.targets[self._index % len(self.targets)]

    def _stub(self, target: str) -> Any:
        with self._lock:
            stub = self._stubs.get(target)
            if stub is None:
                channel = self._open(target)
                self._channels[target] = channel
                stub = self._stubs[target] = self._stub_class(channel)
            return stub

    def call(self, method: str, request: Any, **kwargs: Any) -> Any:
        deadline = time.monotonic() + self.patience
        if self.timeout is not None:
            kwargs.setdefault("timeout", self.timeout)
        n = len(self.targets)
        last: grpc.RpcError | None = None
        for attempt in range(self.rounds * n):
            with self._lock:
                index = self._index
            target = self.targets[index % n]
            try:
                reply = getattr(self._stub(target), method)(request, **kwargs)
            except grpc.RpcError as exc:
                if not _unavailable(exc):
                    raise
                last = exc
                self._forget(target)
                with self._lock:
                    # Another thread may already have moved on; move from where we were.
                    if self._index == index:
                        self._index = index + 1
                if n > 1:
                    log.debug("endpoint unavailable; trying the next",
                              extra=logs.kv(endpoint=target, method=method, next=self.current))
                if (attempt + 1) % n == 0:
                    pause = backoff((attempt + 1) // n - 1, BACKOFF_BASE, BACKOFF_CAP)
                    if time.monotonic() + pause >= deadline:
                        break
                    time.sleep(pause)
                continue
            return reply
        assert last is not None
        raise last

    def _forget(self, target: str) -> None:
        """Drops the channel to a replica that failed: a gRPC channel that saw connection
        refused backs off (up to minutes) before trying again and fails every call fast
        meanwhile, so a replica that came back would stay unreachable through it."""
        with self._lock:
            channel = self._channels.pop(target, None)
            self._stubs.pop(target, None)
        if channel is not None:
            channel.close()

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("_"):
            raise AttributeError(name)

        def method(request: Any, **kwargs: Any) -> Any:
            return self.call(name, request, **kwargs)

        method.__name__ = name
        return method

    def close(self) -> None:
        with self._lock:
            channels = list(self._channels.values())
            self._channels.clear()
            self._stubs.clear()
        for channel in channels:
            channel.close()

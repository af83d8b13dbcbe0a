"""The local cluster's own clients of its control plane: channels and Operator stubs made with
the admin identity, failing over between replicas when there are several, closed together."""

from __future__ import annotations

from collections.abc import Callable

import grpc

from shoal.endpoints import FailoverStub
from shoal.security.channels import ClientTLS, client_channel
from shoal.v1 import operator_pb2_grpc


class ControlPlaneClients:
    """``endpoints()``: every replica's HOST:PORT, replica 1 first; ``tls()``: the admin
    identity (None: an --insecure cluster). Both are asked when a client is made, since
    ports and credentials exist only once the cluster starts."""

    def __init__(self, endpoints: Callable[[], list[str]], tls: Callable[[], ClientTLS | None]) -> None:
        self.endpoints = endpoints
        self.tls = tls
        self._channel: grpc.Channel | None = None
        self._operator: operator_pb2_grpc.OperatorStub | FailoverStub | None = None

    def open_channel(self, target: str) -> grpc.Channel:
        """Every channel to a replica is made here."""
        return client_channel(target, self.tls())

    @property
    def channel(self) -> grpc.Channel:
        """A channel to replica 1, kept until ``close``."""
        if self._channel is None:
            self._channel = self.open_channel(self.endpoints()[0])
        return self._channel

    @property
    def operator(self) -> operator_pb2_grpc.OperatorStub:
        """An Operator stub kept until ``close``; with several replicas, one that fails over
        between them (shoal.endpoints.FailoverStub)."""
        if self._operator is None:
            endpoints = self.endpoints()
            if len(endpoints) > 1:
                self._operator = FailoverStub(endpoints, self.open_channel, operator_pb2_grpc.OperatorStub)
            else:
                self._operator = operator_pb2_grpc.OperatorStub(self.channel)
        return self._operator  # type: ignore[return-value]

    def failover_operator(self, timeout: float = 10, endpoints: list[str] | None = None) -> FailoverStub:
        """A new Operator stub over every replica (or just ``endpoints``), failing over
        between them, each call with ``timeout`` unless it gives its own; the caller closes it."""
        return FailoverStub(endpoints or self.endpoints(), self.open_channel, operator_pb2_grpc.OperatorStub,
                            patience=max(timeout, 10), timeout=timeout)

    def close(self) -> None:
        if isinstance(self._operator, FailoverStub):
            self._operator.close()
        if self._channel is not None:
            self._channel.close()
        self._channel, self._operator = None, None

"""How ELBv2 actions reach the Traffic service: ``Traffic.call(method, request)`` with the
method's request message, answering its response message or raising TrafficError with the
status it ended with. The gateway calls the replica's own Traffic handlers in process
(``controlplane.api.traffic.ROUTES``), as its ECS actions call the Operator's: no second
hop, the same validation and errors as the gRPC API (authorization was decided before,
from the access key), and the ELBv2 error code the handler chose kept."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from google.protobuf.message import Message

from controlplane.api import traffic as traffic_api
from controlplane.api.context import ApiContext
from controlplane.ecs.elbv2.errors import TrafficError
from shoal.errors import ApiError


class Traffic(Protocol):
    def call(self, method: str, request: Message) -> Any: ...


class InProcess:
    """The Traffic handlers, by gRPC method name, run on ``ctx``."""

    def __init__(self, ctx: ApiContext,
                 routes: Mapping[str, Callable[[ApiContext, Any], Any]] = traffic_api.ROUTES) -> None:
        self.ctx = ctx
        self.routes = routes

    def call(self, method: str, request: Message) -> Any:
        try:
            return self.routes[method](self.ctx, request)
        except ApiError as exc:
            if exc.code is None:
                raise
            raise TrafficError(exc.code, exc.message, exc.ecs_type) from None

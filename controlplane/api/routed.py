"""A gRPC service made from a table of handlers: the method NAME runs
``routes[NAME](ctx, request)``, its errors turned into gRPC statuses
(``controlplane.errors.grpc_errors``) and its time fed to the API latency histogram."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from controlplane.api.context import ApiContext
from controlplane.errors import grpc_errors
from controlplane.metrics import API_LATENCY

Handler = Callable[[ApiContext, Any], Any]


def _method(name: str, handler: Handler) -> Callable[..., Any]:
    timer = API_LATENCY.labels(method=name)

    @grpc_errors
    def call(self: Routed, request: Any, context: Any) -> Any:
        with timer.time():
            return handler(self.ctx, request)

    call.__name__ = name
    return call


class Routed:
    """Base of a servicer whose methods are ``routes``: ``class S(Routed, XServicer,
    routes={...})``."""

    def __init_subclass__(cls, routes: Mapping[str, Handler], **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name, handler in routes.items():
            setattr(cls, name, _method(name, handler))

    def __init__(self, ctx: ApiContext) -> None:
        self.ctx = ctx

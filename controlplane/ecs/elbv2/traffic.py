"""How ELBv2 actions reach the Traffic service: ``Traffic.call(method, request)`` with the
method's request message, answering its response message or raising TrafficError with the
status it ended with. The gateway calls the replica's own Traffic servicer in process, as
its ECS actions call the Operator's handlers: no second hop, the same validation and
errors as the gRPC API (authorization was decided before, from the access key)."""

from __future__ import annotations

from typing import Any, NoReturn, Protocol

import grpc
from google.protobuf.message import Message

from controlplane.ecs.elbv2.errors import TrafficError


class Traffic(Protocol):
    def call(self, method: str, request: Message) -> Any: ...


class _Aborted(Exception):
    pass


class _Context:
    """The part of grpc.ServicerContext a unary servicer method uses: abort, codes and
    trailers. ``abort`` raises, as gRPC's does, so the method ends there."""

    def __init__(self) -> None:
        self.code: grpc.StatusCode = grpc.StatusCode.OK
        self.details = ""
        self.trailers: tuple[tuple[str, str], ...] = ()

    def abort(self, code: grpc.StatusCode, details: str) -> NoReturn:
        self.code, self.details = code, details
        raise _Aborted(details)

    def set_code(self, code: grpc.StatusCode) -> None:
        self.code = code

    def set_details(self, details: str) -> None:
        self.details = details

    def set_trailing_metadata(self, metadata: tuple[tuple[str, str], ...]) -> None:
        self.trailers = metadata

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return ()

    def peer(self) -> str:
        return "ecs-gateway"

    def is_active(self) -> bool:
        return True

    def time_remaining(self) -> float | None:
        return None


class InProcess:
    """A Traffic servicer (``traffic_pb2_grpc.TrafficServicer``) called in this process."""

    def __init__(self, servicer: Any) -> None:
        self.servicer = servicer

    def call(self, method: str, request: Message) -> Any:
        context = _Context()
        try:
            response = getattr(self.servicer, method)(request, context)
        except _Aborted:
            raise TrafficError(context.code, context.details) from None
        if context.code != grpc.StatusCode.OK:
            raise TrafficError(context.code, context.details or context.code.name)
        return response

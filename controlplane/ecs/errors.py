"""Errors in the AWS JSON protocol's shape: an HTTP status and a body
``{"__type": "<ExceptionName>", "message": "..."}``, which the SDKs turn into their typed
exceptions (``client.exceptions.ClusterNotFoundException``)."""

from __future__ import annotations

import logging

from google.protobuf import json_format

from controlplane.errors import ApiError
from shoal.store.base import StoreError
from shoal.validation import ValidationError

log = logging.getLogger(__name__)


class EcsError(Exception):
    def __init__(self, ecs_type: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.ecs_type = ecs_type
        self.message = message
        self.status = status

    def body(self) -> dict[str, str]:
        return {"__type": self.ecs_type, "message": self.message}


def invalid_parameter(message: str) -> EcsError:
    return EcsError("InvalidParameterException", message)


def to_ecs_error(exc: BaseException, operation: str) -> EcsError:
    """Our exceptions as ECS answers them. Anything unexpected is a bug: logged with its
    traceback, answered as ServerException (500) without internals."""
    if isinstance(exc, EcsError):
        return exc
    if isinstance(exc, ApiError):
        return EcsError(exc.ecs_type, exc.message)
    if isinstance(exc, ValidationError):
        return invalid_parameter(str(exc))
    if isinstance(exc, json_format.ParseError):
        return invalid_parameter(f"request: {exc}")
    if isinstance(exc, StoreError):
        log.warning("store unavailable in ECS %s: %s", operation, exc)
        return EcsError("ServerException", f"state store unavailable: {exc}", 500)
    log.error("bug in ECS %s", operation, exc_info=exc)
    return EcsError("ServerException", f"internal error in {operation}; see the control plane log", 500)

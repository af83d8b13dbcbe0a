"""How the control plane raises and answers API errors (shoal.errors.ApiError): the common
refusals (invalid, not_found, conflict), and the decorator that turns them into gRPC
statuses."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import grpc
import grpc.aio

from shoal.errors import ApiError
from shoal.refusals import REASON_TRAILER
from shoal.store.base import StoreError
from shoal.validation import ValidationError

log = logging.getLogger(__name__)

__all__ = ["ApiError", "abort_with", "check_refs", "conflict", "grpc_errors", "invalid", "not_found"]

F = TypeVar("F", bound=Callable[..., Any])


def _set_reason(context: grpc.ServicerContext | grpc.aio.ServicerContext, exc: ApiError) -> None:
    if exc.reason:
        context.set_trailing_metadata(((REASON_TRAILER, exc.reason),))


def abort_with(context: grpc.ServicerContext, exc: ApiError) -> None:
    """Ends the call with ``exc``'s status (and its reason trailer); raises, as abort does."""
    _set_reason(context, exc)
    context.abort(exc.code, exc.message)


async def abort_with_async(context: grpc.aio.ServicerContext, exc: ApiError) -> None:
    """``abort_with`` for an asynchronous handler."""
    _set_reason(context, exc)
    await context.abort(exc.code, exc.message)


def invalid(message: str) -> ApiError:
    return ApiError(grpc.StatusCode.INVALID_ARGUMENT, message, "InvalidParameterException")


def check_refs(field: str, refs: Sequence[str], most: int, what: str) -> None:
    """A Describe* call's list of names or ARNs: 1 to ``most`` of them, as ECS allows."""
    if not refs:
        raise invalid(f"{field}: give at least one {what}")
    if len(refs) > most:
        raise invalid(f"{field}: at most {most} per call")


def not_found(message: str, ecs_type: str = "ClientException") -> ApiError:
    return ApiError(grpc.StatusCode.NOT_FOUND, message, ecs_type)


def conflict(message: str, ecs_type: str = "ClientException") -> ApiError:
    return ApiError(grpc.StatusCode.FAILED_PRECONDITION, message, ecs_type)


def grpc_errors(method: F) -> F:
    """Turns our errors into gRPC statuses; anything else is a bug, logged with its
    traceback and reported as INTERNAL without leaking internals to the caller."""

    @functools.wraps(method)
    def wrapper(self: Any, request: Any, context: grpc.ServicerContext) -> Any:
        try:
            return method(self, request, context)
        except ApiError as exc:
            abort_with(context, exc)
        except ValidationError as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        except StoreError as exc:
            log.warning("store unavailable in %s: %s", method.__name__, exc)
            context.abort(grpc.StatusCode.UNAVAILABLE, f"state store unavailable: {exc}")
        except Exception:
            log.exception("bug in %s", method.__name__)
            context.abort(grpc.StatusCode.INTERNAL, f"internal error in {method.__name__}; see control plane log")

    return wrapper  # type: ignore[return-value]

"""The one API error: a call the control plane refused, with a gRPC status, a message that
names the field at fault, the ECS exception name the ECS gateway answers with, and an
optional machine-readable reason (sent in the shoal.refusals.REASON_TRAILER trailer). The
control plane raises it; a client (the autoscaler) turns a gRPC error it receives into one."""

from __future__ import annotations

import grpc


def rpc_status(exc: grpc.RpcError) -> tuple[grpc.StatusCode | None, str]:
    """The status code and details a failed call ended with. An ``RpcError`` raised before
    any call (a channel that could not be made) carries neither: None and its text."""
    code = exc.code() if hasattr(exc, "code") else None
    details = exc.details() if hasattr(exc, "details") else str(exc)
    return code, details


class ApiError(Exception):
    def __init__(self, code: grpc.StatusCode | None, message: str, ecs_type: str = "ClientException",
                 reason: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.ecs_type = ecs_type
        self.reason = reason

    @classmethod
    def from_rpc(cls, exc: grpc.RpcError, what: str) -> ApiError:
        """The error a call to ``what`` answered with, as the client sees it."""
        code, details = rpc_status(exc)
        return cls(code, f"{what}: {details or code}")

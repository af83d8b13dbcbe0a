"""shoal.errors.ApiError: the one API error, raised by the control plane and rebuilt by a
client from the gRPC error it received."""

from __future__ import annotations

import grpc

from controlplane.errors import invalid
from shoal.errors import ApiError, rpc_status


class _Refused(grpc.RpcError):
    def code(self) -> grpc.StatusCode:
        return grpc.StatusCode.INVALID_ARGUMENT

    def details(self) -> str:
        return "desiredCount: must be between 0 and 100000"


def test_the_client_sees_the_status_and_the_field_the_server_named():
    err = ApiError.from_rpc(_Refused(), "UpdateService")
    assert err.code == grpc.StatusCode.INVALID_ARGUMENT
    assert str(err) == "UpdateService: desiredCount: must be between 0 and 100000"


def test_the_control_plane_raises_the_same_class():
    err = invalid("desiredCount: must be between 0 and 100000")
    assert type(err) is ApiError and err.ecs_type == "InvalidParameterException"


class _NoChannel(grpc.RpcError):
    def __str__(self) -> str:
        return "could not make a channel"


def test_an_error_without_a_status_keeps_its_text():
    assert rpc_status(_Refused()) == (grpc.StatusCode.INVALID_ARGUMENT, "desiredCount: must be between 0 and 100000")
    assert rpc_status(_NoChannel()) == (None, "could not make a channel")
    assert str(ApiError.from_rpc(_NoChannel(), "ListTasks")) == "ListTasks: could not make a channel"

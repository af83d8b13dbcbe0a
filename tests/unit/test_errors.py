"""shoal.errors.ApiError: the one API error, raised by the control plane and rebuilt by a
client from the gRPC error it received."""

from __future__ import annotations

import grpc

from controlplane.errors import invalid
from shoal.errors import ApiError


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

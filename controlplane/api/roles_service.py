"""The Roles gRPC service: admins create, read, list and delete roles; a node asks for its
running tasks' role credentials (authz gives GetTaskRoleCredentials to nodes only)."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from controlplane.api import roles, task_credentials
from controlplane.api.context import ApiContext
from controlplane.authz import current_identity
from controlplane.errors import grpc_errors
from shoal.logs import kv
from shoal.v1 import roles_pb2 as ro
from shoal.v1 import roles_pb2_grpc

log = logging.getLogger(__name__)


class RolesService(roles_pb2_grpc.RolesServicer):
    """``known_actions``: every "<service>:<Operation>" a policy may name;
    ``ttl``: seconds a task's credentials live."""

    def __init__(self, ctx: ApiContext, known_actions: Iterable[str],
                 ttl: float = task_credentials.DEFAULT_TTL) -> None:
        self.ctx = ctx
        self.known_actions = frozenset(known_actions)
        self.ttl = ttl

    @grpc_errors
    def CreateRole(self, request: ro.CreateRoleRequest, context) -> ro.Role:  # noqa: N802
        role = roles.create(self.ctx, request, self.known_actions)
        log.info("role created", extra=kv(role=role.name, by=current_identity()))
        return role

    @grpc_errors
    def GetRole(self, request: ro.GetRoleRequest, context) -> ro.Role:  # noqa: N802
        return roles.require(self.ctx, request.name)

    @grpc_errors
    def ListRoles(self, request: ro.ListRolesRequest, context) -> ro.ListRolesResponse:  # noqa: N802
        return roles.list_(self.ctx)

    @grpc_errors
    def DeleteRole(self, request: ro.DeleteRoleRequest, context) -> ro.Role:  # noqa: N802
        role = roles.delete(self.ctx, request.name)
        log.info("role deleted", extra=kv(role=role.name, by=current_identity()))
        return role

    @grpc_errors
    def GetTaskRoleCredentials(self, request: ro.GetTaskRoleCredentialsRequest,  # noqa: N802
                               context) -> ro.TaskRoleCredentials:
        creds = task_credentials.mint(self.ctx, current_identity(), request.cluster, request.task_id, self.ttl)
        log.info("task role credentials issued", extra=kv(task=request.task_id, role=creds.role_arn,
                                                         node=current_identity(), expires=round(creds.expiration)))
        return creds

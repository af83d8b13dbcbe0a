"""What a task definition's ``executionRoleArn`` bounds: the work its node's agent does on
the task's behalf. When a definition names an execution role, each secret the agent asks
for (``secrets[].valueFrom``, ``repositoryCredentials.credentialsParameter``) must be allowed
``shoal:GetSecret`` on the secret's ARN, and each cluster registry pull
``ecr:BatchGetImage`` on the repository's ARN; a refusal names the field, so the task stops
saying which secret or image its role does not cover. Without an execution role, nothing is
bounded (Shoal's behaviour before roles existed)."""

from __future__ import annotations

import grpc

from controlplane.api import roles
from controlplane.api.context import ApiContext
from controlplane.authz import record_denial
from controlplane.errors import ApiError
from controlplane.iam.policy import allows
from shoal.v1 import resources_pb2 as r

GET_SECRET = "shoal:GetSecret"
PULL = "ecr:BatchGetImage"


def secret_arn(ctx: ApiContext, name: str) -> str:
    return f"arn:aws:shoal:{ctx.arns.region}:{ctx.arns.account}:secret:{name}"


def repository_arn(ctx: ApiContext, name: str) -> str:
    return f"arn:aws:ecr:{ctx.arns.region}:{ctx.arns.account}:repository/{name}"


def check(ctx: ApiContext, taskdef: r.TaskDefinition, action: str, resource: str, field: str) -> None:
    """Raises PERMISSION_DENIED naming ``field`` unless the definition has no execution
    role or its role allows ``action`` on ``resource``."""
    if not taskdef.execution_role_arn:
        return
    name = roles.name_of(taskdef.execution_role_arn)
    role = roles.get(ctx, taskdef.execution_role_arn)
    if role is None:
        why = f"executionRoleArn: no role {name!r} (`shoal role create` it, or leave executionRoleArn out)"
    elif allows(roles.policy_of(role), action, resource):
        return
    else:
        why = f"{field}: execution role {name!r} does not allow {action} on {resource}"
    record_denial("execution_role", f"role/{name}", f"{action} on {resource}",
                  taskdef=f"{taskdef.family}:{taskdef.revision}")
    raise ApiError(grpc.StatusCode.PERMISSION_DENIED, why)


def check_secrets(ctx: ApiContext, taskdef: r.TaskDefinition) -> None:
    """Every secret the containers name as environment variables, checked in order."""
    for i, cdef in enumerate(taskdef.container_definitions):
        for j, ref in enumerate(cdef.secrets):
            check(ctx, taskdef, GET_SECRET, secret_arn(ctx, ref.value_from),
                  f"containerDefinitions[{i}].secrets[{j}].valueFrom")

"""Every action a role's policy may name: the operations Shoal's gateways answer (ECS, ECR,
ELBv2 as "elasticloadbalancing") and Shoal's own ("shoal:GetSecret", judged on a secret's
ARN when a task's execution role bounds what its agent reads)."""

from __future__ import annotations

from controlplane.ecs.ecr import OPERATIONS as ECR_OPERATIONS
from controlplane.ecs.elbv2.actions import ACTIONS as ELBV2_ACTIONS
from controlplane.ecs.server import ACTIONS as ECS_ACTIONS

SHOAL_ACTIONS = ("GetSecret",)


def known_actions() -> frozenset[str]:
    return frozenset(
        [f"ecs:{name}" for name in ECS_ACTIONS]
        + [f"ecr:{name}" for name in ECR_OPERATIONS]
        + [f"elasticloadbalancing:{name}" for name in ELBV2_ACTIONS]
        + [f"shoal:{name}" for name in SHOAL_ACTIONS]
    )


def secret_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:shoal:{region}:{account}:secret:{name}"

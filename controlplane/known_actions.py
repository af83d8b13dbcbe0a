"""Every action a role's policy may name: the operations Shoal's gateways answer (ECS, ECR,
ELBv2 as "elasticloadbalancing"), ECR's pull actions and Shoal's own ("shoal:GetSecret"),
the last two judged when a task's execution role bounds what its agent pulls and reads."""

from __future__ import annotations

from controlplane.ecs.ecr import OPERATIONS as ECR_OPERATIONS
from controlplane.ecs.elbv2.actions import ACTIONS as ELBV2_ACTIONS
from controlplane.ecs.server import ACTIONS as ECS_ACTIONS

SHOAL_ACTIONS = ("GetSecret",)
# What an execution role allows the agent on a task's behalf beyond the gateway's operations:
# pulling from the cluster registry (controlplane/api/execution_roles.py).
ECR_PULL_ACTIONS = ("BatchGetImage", "GetDownloadUrlForLayer")


def known_actions() -> frozenset[str]:
    return frozenset(
        [f"ecs:{name}" for name in ECS_ACTIONS]
        + [f"ecr:{name}" for name in (*ECR_OPERATIONS, *ECR_PULL_ACTIONS)]
        + [f"elasticloadbalancing:{name}" for name in ELBV2_ACTIONS]
        + [f"shoal:{name}" for name in SHOAL_ACTIONS]
    )

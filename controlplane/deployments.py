"""A service's deployments: a new one as ECS starts it, made by the API (CreateService,
UpdateService) and by the leader's service controller (a service found without a primary
deployment gets one)."""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Iterable

from shoal.v1 import resources_pb2 as r


def new_deployment(td_arn: str, desired: int,
                   strategy: Iterable[r.CapacityProviderStrategyItem] = ()) -> r.Deployment:
    now = time.time()
    return r.Deployment(
        id=f"ecs-svc/{uuid.uuid4().int % 10**19:019d}",
        status="PRIMARY",
        task_definition=td_arn,
        desired_count=desired,
        created_at=now,
        updated_at=now,
        rollout_state="IN_PROGRESS",
        rollout_state_reason="ECS deployment in progress.",
        capacity_provider_strategy=strategy,
    )


def breaker_threshold(desired: int) -> int:
    """The deployment circuit breaker's failure threshold. ECS: half the desired count, at
    least 3 and at most 200."""
    return min(200, max(3, math.ceil(desired * 0.5)))

"""botocore's own ECR service model as the contract for the gateway's ECR subset, checked
as tests/ecs_model.py checks ECS: every response body against its operation's output shape."""

from __future__ import annotations

from typing import Any

from botocore.loaders import Loader

from tests.ecs_model import check_against, hook_responses

MODEL = Loader().load_service_model("ecr", "service-2")


def check_output(operation: str, body: Any) -> None:
    check_against(MODEL, "ECR", operation, body)


def validate_every_response(client: Any) -> list[str]:
    """Hooks a boto3 ECR client: every response is checked as it arrives; returns the
    operations seen."""
    return hook_responses(client, check_output, "after-call.ecr")

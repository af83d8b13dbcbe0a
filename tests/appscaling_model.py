"""botocore's own Application Auto Scaling model as the contract for the gateway's subset,
checked as tests/ecs_model.py checks ECS: every response body against its operation's
output shape."""

from __future__ import annotations

from typing import Any

from botocore.loaders import Loader

from tests.ecs_model import check_against, hook_responses

MODEL = Loader().load_service_model("application-autoscaling", "service-2")


def check_output(operation: str, body: Any) -> None:
    check_against(MODEL, "Application Auto Scaling", operation, body)


def validate_every_response(client: Any) -> list[str]:
    """Hooks a boto3 application-autoscaling client: every response is checked as it
    arrives; returns the operations seen."""
    return hook_responses(client, check_output, "after-call")

"""botocore's own Application Auto Scaling model as the contract for the gateway's subset,
checked as tests/ecs_model.py checks ECS: every response body against its operation's
output shape."""

from __future__ import annotations

import json
from typing import Any

from botocore.loaders import Loader

from tests.ecs_model import _check, check_error

MODEL = Loader().load_service_model("application-autoscaling", "service-2")


def check_output(operation: str, body: Any) -> None:
    problems: list[str] = []
    _check(body, MODEL["operations"][operation]["output"]["shape"], operation, problems, MODEL["shapes"])
    assert not problems, (f"{operation} response does not match botocore's Application Auto Scaling model:\n  "
                          + "\n  ".join(problems))


def validate_every_response(client: Any) -> list[str]:
    """Hooks a boto3 application-autoscaling client: every response is checked as it
    arrives; returns the operations seen."""
    seen: list[str] = []

    def after_call(http_response, model, **_: Any) -> None:
        body = json.loads(http_response.content or b"{}")
        if http_response.status_code == 200:
            check_output(model.name, body)
            seen.append(model.name)
        else:
            check_error(body)

    client.meta.events.register("after-call", after_call)
    return seen

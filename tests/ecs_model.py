"""botocore's own ECS service model as the contract for the ECS gateway: ``check_output``
validates a response body (raw JSON, as sent) against the operation's output shape —
types, enums, required members and no members the model does not have."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from botocore.loaders import Loader

MODEL = Loader().load_service_model("ecs", "service-2")
SHAPES: dict[str, dict[str, Any]] = MODEL["shapes"]


def output_problems(operation: str, body: Any) -> list[str]:
    out = MODEL["operations"][operation].get("output")
    problems: list[str] = []
    if out is None:
        if body not in ({}, None):
            problems.append(f"{operation} has no output shape but returned {body!r}")
        return problems
    _check(body, out["shape"], operation, problems)
    return problems


def check_output(operation: str, body: Any) -> None:
    problems = output_problems(operation, body)
    assert not problems, f"{operation} response does not match botocore's model:\n  " + "\n  ".join(problems)


def check_error(body: Any) -> None:
    assert isinstance(body, dict) and set(body) <= {"__type", "message"}, body
    assert isinstance(body.get("__type"), str) and isinstance(body.get("message"), str), body


def _check(value: Any, shape_name: str, path: str, problems: list[str],
           shapes: dict[str, dict[str, Any]] = SHAPES) -> None:
    shape = shapes[shape_name]
    kind = shape["type"]
    if kind == "structure":
        if not isinstance(value, dict):
            problems.append(f"{path}: expected an object ({shape_name}), got {type(value).__name__}")
            return
        members = shape.get("members", {})
        for name in shape.get("required", []):
            if name not in value:
                problems.append(f"{path}.{name}: required by {shape_name} but missing")
        for name, item in value.items():
            if name not in members:
                problems.append(f"{path}.{name}: not a member of {shape_name}")
            else:
                _check(item, members[name]["shape"], f"{path}.{name}", problems, shapes)
    elif kind == "list":
        if not isinstance(value, list):
            problems.append(f"{path}: expected a list ({shape_name})")
            return
        for i, item in enumerate(value):
            _check(item, shape["member"]["shape"], f"{path}[{i}]", problems, shapes)
    elif kind == "map":
        if not isinstance(value, dict):
            problems.append(f"{path}: expected a map ({shape_name})")
            return
        for k, v in value.items():
            _check(k, shape["key"]["shape"], f"{path}<key>", problems, shapes)
            _check(v, shape["value"]["shape"], f"{path}[{k!r}]", problems, shapes)
    elif kind == "string":
        if not isinstance(value, str):
            problems.append(f"{path}: expected a string, got {value!r}")
        elif "enum" in shape and value not in shape["enum"]:
            problems.append(f"{path}: {value!r} is not one of {shape_name}'s values {shape['enum']}")
    elif kind in ("integer", "long"):
        if not isinstance(value, int) or isinstance(value, bool):
            problems.append(f"{path}: expected an integer, got {value!r}")
    elif kind in ("double", "float"):
        if not isinstance(value, int | float) or isinstance(value, bool):
            problems.append(f"{path}: expected a number, got {value!r}")
    elif kind == "boolean":
        if not isinstance(value, bool):
            problems.append(f"{path}: expected a boolean, got {value!r}")
    elif kind == "timestamp":
        # botocore reads epoch seconds (a number) or ISO 8601 text.
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            problems.append(f"{path}: expected a timestamp, got {value!r}")
    else:
        problems.append(f"{path}: shape type {kind} not handled by this checker")


def check_against(model: dict[str, Any], name: str, operation: str, body: Any) -> None:
    """``body`` against ``operation``'s output shape in botocore's ``model`` of the service
    ``name`` (for messages)."""
    problems: list[str] = []
    _check(body, model["operations"][operation]["output"]["shape"], operation, problems, model["shapes"])
    assert not problems, (f"{operation} response does not match botocore's {name} model:\n  "
                          + "\n  ".join(problems))


def hook_responses(client: Any, check: Callable[[str, Any], None], event: str) -> list[str]:
    """Hooks a boto3 ``client`` on ``event`` so every successful response body is checked by
    ``check`` (operation, body) as it arrives, and every error body's frame; returns the list
    that records the operations seen."""
    seen: list[str] = []

    def after_call(http_response, model, **_: Any) -> None:
        body = json.loads(http_response.content or b"{}")
        if http_response.status_code == 200:
            check(model.name, body)
            seen.append(model.name)
        else:
            check_error(body)

    client.meta.events.register(event, after_call)
    return seen


def validate_every_response(client: Any) -> list[str]:
    """Hooks ``client`` (a boto3 ECS client) so every successful response body is checked
    against the model as it arrives; returns the list that records the operations seen."""
    return hook_responses(client, check_output, "after-call.ecs")

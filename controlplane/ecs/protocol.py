"""The AWS JSON 1.1 protocol as ECS speaks it: ``POST /`` with the operation named in
``X-Amz-Target: AmazonEC2ContainerServiceV20141113.<Operation>`` and a JSON object as the
body; answers are JSON with ``Content-Type: application/x-amz-json-1.1``."""

from __future__ import annotations

import json
from typing import Any

from controlplane.ecs.errors import EcsError

TARGET_PREFIX = "AmazonEC2ContainerServiceV20141113."
CONTENT_TYPE = "application/x-amz-json-1.1"
# Task definitions, the largest documents ECS takes, are capped at 64 KiB; a little room
# over that for the JSON around them.
MAX_BODY_BYTES = 1024 * 1024


def operation(target: str | None, known: set[str] | frozenset[str]) -> str:
    """The operation named by the X-Amz-Target header, if it is one this gateway serves."""
    if not target:
        raise EcsError("UnknownOperationException", "Missing X-Amz-Target header naming the operation")
    prefix, _, name = target.rpartition(".")
    if prefix + "." != TARGET_PREFIX or name not in known:
        raise EcsError("UnknownOperationException", f"Operation {target[:200]!r} is not supported by this gateway")
    return name


def decode_body(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise EcsError("SerializationException", f"request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise EcsError("SerializationException", "request body must be a JSON object")
    return body


def encode(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()

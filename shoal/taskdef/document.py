"""An ECS task definition JSON document (what `aws ecs register-task-definition
--cli-input-json` takes) parsed into Shoal's TaskDefinition message: every field Shoal acts on
is validated, every field it does not act on is kept (in source_json) and reported as a
warning, and any bad input raises ValidationError naming the field in ECS JSON terms. Also
task definition references (family, family:revision, ARN)."""

from __future__ import annotations

import json
import re
from typing import Any

from google.protobuf import json_format

from shoal.taskdef.fields import DOCUMENT, INT32_MAX
from shoal.taskdef.policy import HostPolicy
from shoal.taskdef.policy import check as check_policy
from shoal.taskdef.task import TaskParser
from shoal.v1 import resources_pb2
from shoal.validation import MAX_TASKDEF_BYTES, ValidationError, check_name, expect_object, quote, show


class _Refused(Exception):
    pass


def _reject_constant(name: str) -> Any:
    raise _Refused(f"{name} is not a JSON number")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                # Parsers disagree on which duplicate wins; refusing keeps one meaning.
                raise _Refused(f"duplicate key {quote(key)} in one JSON object")
            seen.add(key)
    return obj


CLOSED = HostPolicy()


def _decode(text: Any) -> str:
    limit = f"the limit is {MAX_TASKDEF_BYTES} bytes (64 KiB, as ECS)"
    if isinstance(text, bytes | bytearray | memoryview):
        data = bytes(text)
        if len(data) > MAX_TASKDEF_BYTES:
            raise ValidationError(DOCUMENT, f"document is {len(data)} bytes; {limit}")
        try:
            source = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValidationError(DOCUMENT, f"document is not UTF-8 (bad byte at offset {exc.start})") from None
    elif isinstance(text, str):
        # A character is at least one byte: a long string is refused before it is encoded.
        if len(text) > MAX_TASKDEF_BYTES:
            raise ValidationError(DOCUMENT, f"document is over {MAX_TASKDEF_BYTES} bytes; {limit}")
        try:
            size = len(text.encode("utf-8"))
        except UnicodeEncodeError as exc:
            raise ValidationError(DOCUMENT, f"document holds invalid Unicode at character {exc.start}") from None
        if size > MAX_TASKDEF_BYTES:
            raise ValidationError(DOCUMENT, f"document is {size} bytes; {limit}")
        source = text
    else:
        raise ValidationError(DOCUMENT, f"must be JSON text, got {show(text)}")
    if not source.strip():
        raise ValidationError(DOCUMENT, "document is empty")
    return source


def _load(source: str) -> Any:
    try:
        return json.loads(
            source.removeprefix("\ufeff"), object_pairs_hook=_unique_keys, parse_constant=_reject_constant
        )
    except json.JSONDecodeError as exc:
        raise ValidationError(DOCUMENT, f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except _Refused as exc:
        raise ValidationError(DOCUMENT, f"not valid JSON: {exc}") from None
    except RecursionError:
        raise ValidationError(DOCUMENT, "not valid JSON: nested too deeply") from None
    except ValueError as exc:
        # e.g. an integer literal with more digits than Python converts.
        raise ValidationError(DOCUMENT, f"not valid JSON: {exc}") from None


def parse_task_definition(
    text: str | bytes,
    policy: HostPolicy = CLOSED,
) -> tuple[resources_pb2.TaskDefinition, list[str]]:
    """The TaskDefinition for an ECS JSON document (plain, or wrapped in {"taskDefinition": ...}
    as describe-task-definition prints it) and the warnings about what Shoal keeps without
    acting on. ``policy`` is the cluster's, for what may reach the host (policy.check).
    Raises ValidationError, naming the field, for anything else."""
    source = _decode(text)
    doc = _load(source)
    if not isinstance(doc, dict):
        raise ValidationError(DOCUMENT, f"the document must be a JSON object, got {show(doc)}")
    parser = TaskParser()
    base = ""
    outer_tags: Any = None
    if DOCUMENT in doc and "containerDefinitions" not in doc:
        parser.check_keys(doc, "", frozenset({DOCUMENT, "tags"}))
        outer_tags = doc.get("tags")
        doc = expect_object(doc[DOCUMENT], DOCUMENT)
        base = DOCUMENT
    normalised = parser.task(doc, base)
    if outer_tags is not None and "tags" not in normalised:
        normalised["tags"] = parser.tags(outer_tags, "tags")
    normalised["sourceJson"] = source
    try:
        td = json_format.ParseDict(normalised, resources_pb2.TaskDefinition(), ignore_unknown_fields=True)
    except Exception as exc:
        # Validation above should leave nothing for protobuf to refuse; if it does, the caller
        # still gets a ValidationError, never a protobuf exception.
        raise ValidationError(base or DOCUMENT, f"could not be stored: {exc}") from None
    check_policy(td, policy, base, resolved=False)
    return td, parser.warnings


_ARN = re.compile(r"arn:aws[a-z-]*:ecs:[a-z0-9-]*:[0-9]*:task-definition/(.+)")


def parse_task_definition_ref(text: str) -> tuple[str, int | None]:
    """(family, revision) for a reference as ECS takes one: "family" (revision None),
    "family:3", or "arn:aws:ecs:<region>:<account>:task-definition/family:3"."""
    field = DOCUMENT
    if not isinstance(text, str):
        raise ValidationError(field, f"must be a family, family:revision or ARN, got {show(text)}")
    if not text:
        raise ValidationError(field, "required")
    if len(text) > 1600:
        raise ValidationError(field, f"is {len(text)} characters; a reference is at most 1600")
    body = text
    if text.startswith("arn:"):
        match = _ARN.fullmatch(text)
        if not match:
            raise ValidationError(
                field,
                f"{quote(text)} is not a task definition ARN "
                "(arn:aws:ecs:<region>:<account>:task-definition/<family>:<revision>)",
            )
        body = match.group(1)
    family, sep, revision = body.partition(":")
    try:
        check_name(family, field)
    except ValidationError:
        raise ValidationError(
            field, f"{quote(text)} is not family, family:revision or an ARN (a family is letters, digits, - and _)"
        ) from None
    if not sep:
        return family, None
    if not re.fullmatch(r"[0-9]{1,10}", revision) or not 1 <= int(revision) <= INT32_MAX:
        raise ValidationError(field, f"revision must be a positive integer, got {quote(revision)}")
    return family, int(revision)

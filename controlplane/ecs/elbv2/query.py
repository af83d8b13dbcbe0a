"""The AWS Query protocol's requests as botocore's ``elbv2`` model sends them: a
form-encoded POST body with ``Action``, ``Version`` and the parameters flattened
(``Listeners.member.1.Port=80``, ``Attributes.member.2.Key=…``), read back into nested
dicts and lists under the model's member names."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from controlplane.ecs.elbv2.errors import validation

VERSION = "2015-12-01"
FORM_TYPE = "application/x-www-form-urlencoded"
# More list members than any ELBv2 parameter allows (Tags: 50, Targets: none of ours).
_MAX_INDEX = 1000

Params = dict[str, Any]


def is_query(content_type: str | None) -> bool:
    """Whether a request's Content-Type is the Query protocol's form encoding."""
    return (content_type or "").split(";")[0].strip().lower() == FORM_TYPE


def parse(body: bytes) -> tuple[str, Params]:
    """(the Action, its parameters nested). Raises ValidationError naming the key at fault."""
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body.strip()),
                          max_num_fields=2000)
    except (UnicodeDecodeError, ValueError) as exc:
        raise validation(f"request body is not form-encoded UTF-8: {exc}") from None
    flat: dict[str, str] = {}
    for key, value in pairs:
        if key in flat:
            raise validation(f"{key}: given more than once")
        flat[key] = value
    action = flat.pop("Action", "")
    if not action:
        raise validation("Action: required (the operation to perform)")
    version = flat.pop("Version", "")
    if version != VERSION:
        raise validation(f"Version: {version!r} is not supported; this endpoint speaks ELBv2 {VERSION}")
    params: Params = {}
    for key, value in flat.items():
        _put(params, key.split("."), value, key)
    return action, _lists(params, "")


def _put(node: Params, parts: list[str], value: str, key: str) -> None:
    head, rest = parts[0], parts[1:]
    if not head:
        raise validation(f"{key}: empty name segment")
    if head == "member":
        if not rest or not (rest[0].isascii() and rest[0].isdigit()) or not 1 <= int(rest[0]) <= _MAX_INDEX:
            raise validation(f"{key}: 'member' must be followed by an index from 1 to {_MAX_INDEX}")
        head, rest = "member." + str(int(rest[0])), rest[1:]
    if not rest:
        if head in node:
            raise validation(f"{key}: given both as a value and as a structure")
        node[head] = value
        return
    child = node.setdefault(head, {})
    if not isinstance(child, dict):
        raise validation(f"{key}: given both as a value and as a structure")
    _put(child, rest, value, key)


def _lists(node: Any, path: str) -> Any:
    """``{"member.1": a, "member.2": b}`` becomes ``[a, b]``; indexes must run 1..n."""
    if not isinstance(node, dict):
        return node
    members = [k for k in node if k.startswith("member.")]
    if members:
        if len(members) != len(node):
            raise validation(f"{path}: mixes list members with other fields")
        indexes = sorted(int(k[len("member."):]) for k in members)
        if indexes != list(range(1, len(indexes) + 1)):
            raise validation(f"{path}.member: indexes must run 1..{len(indexes)} without gaps")
        return [_lists(node[f"member.{i}"], f"{path}.member.{i}") for i in indexes]
    return {k: _lists(v, f"{path}.{k}" if path else k) for k, v in node.items()}

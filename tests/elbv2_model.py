"""botocore's own ELBv2 service model as the contract for the gateway's Query protocol:
``check_response`` validates a response body (the raw XML, as sent) against the action's
output shape — element names, ``<member>`` lists, types, enums, required members and no
element the model does not have — and ``check_error`` an error body's frame."""

from __future__ import annotations

import datetime
import xml.etree.ElementTree as ET
from typing import Any

from botocore.loaders import Loader

MODEL = Loader().load_service_model("elbv2", "service-2")
SHAPES: dict[str, dict[str, Any]] = MODEL["shapes"]
NS = "{" + MODEL["metadata"]["xmlNamespace"] + "}"


def response_problems(action: str, body: bytes) -> list[str]:
    problems: list[str] = []
    root = ET.fromstring(body)
    if root.tag != f"{NS}{action}Response":
        return [f"root element is {root.tag}, not {NS}{action}Response"]
    children = [c.tag for c in root]
    if children != [f"{NS}{action}Result", f"{NS}ResponseMetadata"]:
        problems.append(f"{action}Response holds {children}")
    request_id = root.find(f"{NS}ResponseMetadata/{NS}RequestId")
    if request_id is None or not (request_id.text or "").strip():
        problems.append("ResponseMetadata.RequestId missing")
    out = MODEL["operations"][action]["output"]
    result = root.find(f"{NS}{action}Result")
    if result is not None:
        _check(result, out["shape"], action, problems)
    return problems


def check_response(action: str, body: bytes) -> None:
    problems = response_problems(action, body)
    assert not problems, f"{action} response does not match botocore's model:\n  " + "\n  ".join(problems)


def check_error(body: bytes) -> tuple[str, str]:
    """Asserts the Query protocol's error frame; returns (code, message)."""
    root = ET.fromstring(body)
    assert root.tag == f"{NS}ErrorResponse", root.tag
    assert [c.tag for c in root] == [f"{NS}Error", f"{NS}RequestId"], [c.tag for c in root]
    error = root.find(f"{NS}Error")
    assert error is not None
    assert [c.tag for c in error] == [f"{NS}Type", f"{NS}Code", f"{NS}Message"], [c.tag for c in error]
    assert error.findtext(f"{NS}Type") in ("Sender", "Receiver")
    return error.findtext(f"{NS}Code") or "", error.findtext(f"{NS}Message") or ""


def _check(elem: ET.Element, shape_name: str, path: str, problems: list[str]) -> None:
    shape = SHAPES[shape_name]
    kind = shape["type"]
    if kind == "structure":
        members = shape.get("members", {})
        seen = set()
        for child in elem:
            name = child.tag.removeprefix(NS)
            if name not in members:
                problems.append(f"{path}.{name}: not a member of {shape_name}")
                continue
            if name in seen:
                problems.append(f"{path}.{name}: appears twice")
            seen.add(name)
            _check(child, members[name]["shape"], f"{path}.{name}", problems)
        for name in shape.get("required", []):
            if name not in seen:
                problems.append(f"{path}.{name}: required by {shape_name} but missing")
        if (elem.text or "").strip():
            problems.append(f"{path}: text {elem.text!r} inside a structure")
    elif kind == "list":
        if shape["member"].get("locationName") not in (None, "member") or shape.get("flattened"):
            problems.append(f"{path}: list shape {shape_name} is not a <member> list; checker cannot read it")
            return
        for i, child in enumerate(elem):
            if child.tag != f"{NS}member":
                problems.append(f"{path}[{i}]: element {child.tag} in a list, not <member>")
            else:
                _check(child, shape["member"]["shape"], f"{path}[{i}]", problems)
    elif len(elem):
        problems.append(f"{path}: a {kind} ({shape_name}) with child elements")
    else:
        _scalar(elem.text or "", shape, shape_name, path, problems)


def _scalar(text: str, shape: dict[str, Any], shape_name: str, path: str, problems: list[str]) -> None:
    kind = shape["type"]
    if kind == "string":
        if "enum" in shape and text not in shape["enum"]:
            problems.append(f"{path}: {text!r} is not one of {shape_name}'s values {shape['enum']}")
    elif kind in ("integer", "long"):
        try:
            value = int(text)
        except ValueError:
            problems.append(f"{path}: expected an integer, got {text!r}")
            return
        if "min" in shape and value < shape["min"] or "max" in shape and value > shape["max"]:
            problems.append(f"{path}: {value} outside {shape_name}'s range")
    elif kind == "boolean":
        if text not in ("true", "false"):
            problems.append(f"{path}: expected true or false, got {text!r}")
    elif kind == "timestamp":
        try:
            datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            problems.append(f"{path}: expected an ISO 8601 time, got {text!r}")
    else:
        problems.append(f"{path}: shape type {kind} not handled by this checker")


def validate_every_response(client: Any) -> list[str]:
    """Hooks ``client`` (a boto3 elbv2 client) so every response body is checked against the
    model as it arrives; returns the list that records the actions answered."""
    seen: list[str] = []

    def after_call(http_response: Any, model: Any, **_: Any) -> None:
        if http_response.status_code == 200:
            check_response(model.name, http_response.content)
            seen.append(model.name)
        else:
            check_error(http_response.content)

    client.meta.events.register("after-call.elastic-load-balancing-v2", after_call)
    return seen

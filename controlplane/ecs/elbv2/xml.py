"""The Query protocol's answers: ``<ActionResponse xmlns=…><ActionResult>…</ActionResult>
<ResponseMetadata><RequestId>…`` for a result, ``<ErrorResponse><Error><Type>Sender</Type>
<Code>…`` for an error. A result is written from a dict in the model's member names: a
list is a sequence of ``<member>`` elements, booleans are ``true``/``false``, a
``datetime`` is ISO 8601."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from xml.sax.saxutils import escape

NAMESPACE = "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"
CONTENT_TYPE = "text/xml"


def response(action: str, result: dict[str, Any], request_id: str) -> bytes:
    parts = [f'<{action}Response xmlns="{NAMESPACE}">']
    parts.append(f"<{action}Result>")
    _members(result, parts)
    parts.append(f"</{action}Result>")
    parts.append(f"<ResponseMetadata><RequestId>{escape(request_id)}</RequestId></ResponseMetadata>")
    parts.append(f"</{action}Response>")
    return "".join(parts).encode()


def error(code: str, message: str, request_id: str, status: int) -> bytes:
    # Sender: the request was at fault; Receiver: we were (5xx).
    fault = "Receiver" if status >= 500 else "Sender"
    return (f'<ErrorResponse xmlns="{NAMESPACE}"><Error><Type>{fault}</Type><Code>{escape(code)}</Code>'
            f"<Message>{escape(message)}</Message></Error><RequestId>{escape(request_id)}</RequestId>"
            "</ErrorResponse>").encode()


def _members(result: dict[str, Any], parts: list[str]) -> None:
    for name, value in result.items():
        if value is None:
            continue
        parts.append(f"<{name}>")
        _value(value, parts)
        parts.append(f"</{name}>")


def _value(value: Any, parts: list[str]) -> None:
    if isinstance(value, dict):
        _members(value, parts)
    elif isinstance(value, list):
        for item in value:
            parts.append("<member>")
            _value(item, parts)
            parts.append("</member>")
    elif isinstance(value, bool):
        parts.append("true" if value else "false")
    elif isinstance(value, datetime):
        parts.append(value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z")
    else:
        parts.append(escape(str(value)))


def timestamp(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)

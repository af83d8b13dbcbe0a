"""Which members of a JSON document a protobuf message has no field for. ECS requests are
parsed leniently (proto3 JSON ignoring unknown members); where a member Shoal does not act
on must be refused rather than dropped, this names it."""

from __future__ import annotations

from typing import Any

from google.protobuf.descriptor import Descriptor


def unknown_members(value: Any, desc: Descriptor, path: str) -> list[str]:
    """Paths ("serviceConnectConfiguration.services[0].tls") of the members of ``value`` (a
    JSON object, or a list of them) that ``desc`` does not define, in document order.
    Values of the wrong type are left to the parser, which names them itself."""
    if isinstance(value, list):
        out: list[str] = []
        for i, item in enumerate(value):
            out += unknown_members(item, desc, f"{path}[{i}]")
        return out
    if not isinstance(value, dict):
        return []
    fields = {f.json_name: f for f in desc.fields} | {f.name: f for f in desc.fields}
    out = []
    for key, item in value.items():
        field = fields.get(key)
        if field is None:
            out.append(f"{path}.{key}")
        elif field.message_type is not None and not field.message_type.GetOptions().map_entry:
            out += unknown_members(item, field.message_type, f"{path}.{key}")
    return out

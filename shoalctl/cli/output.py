"""Printing: `-o json` gives ECS-shaped JSON (camelCase, as the AWS CLI prints it);
the default is a table for people."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence

from google.protobuf import json_format
from google.protobuf.message import Message


def to_dict(msg: Message) -> dict:
    return json_format.MessageToDict(msg)


def print_json(value: object) -> None:
    if isinstance(value, Message):
        value = to_dict(value)
    elif isinstance(value, list):
        value = [to_dict(v) if isinstance(v, Message) else v for v in value]
    print(json.dumps(value, indent=2, sort_keys=False))


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    cells = [[str(c) for c in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    for row in cells:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def ago(epoch: float) -> str:
    return ago_at(epoch) if epoch else "-"


def when(epoch: float, now: float | None = None) -> str:
    """An epoch time as people read it: local date and time, and how long ago."""
    if not epoch:
        return "-"
    stamp = time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(epoch))
    return f"{stamp} ({ago_at(epoch, now)} ago)"


def ago_at(epoch: float, now: float | None = None) -> str:
    secs = max(0, int((time.time() if now is None else now) - epoch))
    if secs < 120:
        return f"{secs}s"
    if secs < 7200:
        return f"{secs // 60}m"
    if secs < 172800:
        return f"{secs // 3600}h"
    return f"{secs // 86400}d"


def add_output_flag(parser) -> None:
    parser.add_argument("-o", "--output", choices=("table", "json"), default="table", help="output format")

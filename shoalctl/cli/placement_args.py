"""The AWS CLI's shorthand for placement, so commands copy across:
``type=spread,field=attribute:ecs.availability-zone`` and
``type=memberOf,expression=attribute:ecs.instance-type == t2.small`` (an expression
runs to the end of the argument, commas and all)."""

from __future__ import annotations

import re

from shoal.v1 import resources_pb2 as r
from shoalctl.cli.errors import CliError

_KEY = re.compile(r"(?:^|,)\s*(type|field|expression)=")


def _pairs(text: str, flag: str) -> dict[str, str]:
    found = list(_KEY.finditer(text))
    if not found or found[0].start() != 0:
        raise CliError(f"{flag}: expected type=...[,field=...|,expression=...], got {text!r}")
    out: dict[str, str] = {}
    for i, m in enumerate(found):
        key = m.group(1)
        if key == "expression":
            out[key] = text[m.end():].strip()
            break
        end = found[i + 1].start() if i + 1 < len(found) else len(text)
        out[key] = text[m.end():end].strip()
    return out


def strategy(text: str) -> r.PlacementStrategy:
    pairs = _pairs(text, "--placement-strategy")
    if "type" not in pairs:
        raise CliError(f"--placement-strategy: type is required in {text!r}")
    return r.PlacementStrategy(type=pairs["type"], field=pairs.get("field", ""))


def constraint(text: str) -> r.PlacementConstraint:
    pairs = _pairs(text, "--placement-constraint")
    if "type" not in pairs:
        raise CliError(f"--placement-constraint: type is required in {text!r}")
    return r.PlacementConstraint(type=pairs["type"], expression=pairs.get("expression", ""))


def add_flags(parser) -> None:
    parser.add_argument("--placement-strategy", action="append", default=[], metavar="type=T[,field=F]",
                        help="binpack|spread|random; repeat to chain, in order")
    parser.add_argument("--placement-constraint", action="append", default=[], metavar="type=T[,expression=E]",
                        help="distinctInstance, or memberOf with a Cluster Query Language expression")

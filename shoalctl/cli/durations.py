"""Durations on the command line: "30s", "2m", "500ms", "1h" or plain seconds."""

from __future__ import annotations

import argparse

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """Seconds in ``text``; argparse.ArgumentTypeError naming the value when it is not a
    duration (so the flag's error reads "--for: invalid duration ...")."""
    value = text.strip().lower()
    for unit in ("ms", "s", "m", "h"):
        if value.endswith(unit) and value[: -len(unit)].replace(".", "", 1).isdigit():
            return float(value[: -len(unit)]) * _UNITS[unit]
    if value.replace(".", "", 1).isdigit():
        return float(value)
    raise argparse.ArgumentTypeError(f"{text!r} is not a duration (e.g. 30s, 2m, 500ms, 1h, or seconds)")

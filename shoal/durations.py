"""Durations as people type them: "500ms", "30s", "2m", "1h", "7d", or plain seconds."""

from __future__ import annotations

import re

from shoal.validation import ValidationError

_DURATION = re.compile(r"(\d{1,12}(?:\.\d+)?)(ms|s|m|h|d)?")
_UNITS = {"": 1.0, "ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(text: str, field: str) -> float:
    """Seconds in ``text``; a ValidationError naming ``field`` (a flag, say) when it is not
    a duration."""
    m = _DURATION.fullmatch((text or "").strip().lower())
    if m is None:
        raise ValidationError(field, f"{text!r} is not a duration (e.g. 500ms, 30s, 2m, 1h, 7d, or seconds)")
    return float(m[1]) * _UNITS[m[2] or ""]

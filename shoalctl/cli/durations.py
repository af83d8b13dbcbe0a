"""Durations as argparse flag types ("30s", "2m", "500ms", "1h", or plain seconds); the
parsing is shoal.durations'."""

from __future__ import annotations

import argparse

from shoal.durations import parse_duration
from shoal.validation import ValidationError


def duration_arg(text: str) -> float:
    """Seconds in ``text``; argparse.ArgumentTypeError when it is not a duration, so the
    flag's error reads "--for: '3x' is not a duration ..."."""
    try:
        return parse_duration(text, "duration")
    except ValidationError as exc:
        raise argparse.ArgumentTypeError(exc.message) from None

"""Structured logging: one line per record, ``key=value`` pairs after the message, so a
log line carries the task and node ids it is about and greps cleanly."""

from __future__ import annotations

import logging
import sys
import time


class KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        line = f"{ts}.{int(record.msecs):03d}Z {record.levelname:<5} {record.name}: {record.getMessage()}"
        fields = getattr(record, "fields", None)
        if fields:
            line += " " + " ".join(f"{k}={_quote(v)}" for k, v in fields.items())
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def _quote(value: object) -> str:
    text = str(value)
    return f'"{text}"' if (" " in text or not text) else text


def kv(**fields: object) -> dict[str, dict[str, object]]:
    """``log.info("placed task", extra=kv(task=tid, node=nid))``."""
    return {"fields": fields}


class StderrHandler(logging.StreamHandler):
    """Writes each record to ``sys.stderr`` as it is when the record comes, not as it was at
    setup: code that swaps it (a test harness capturing output, then closing its stream)
    never leaves the process's daemon threads logging into a closed file."""

    def __init__(self) -> None:
        logging.Handler.__init__(self)  # not StreamHandler's: it would pin today's stream

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr


def setup(level: str = "INFO") -> None:
    handler = StderrHandler()
    handler.setFormatter(KeyValueFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # grpc and docker's urllib3 are chatty at DEBUG and say nothing we act on.
    for noisy in ("urllib3", "docker", "grpc"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

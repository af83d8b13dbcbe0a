"""shoal.logs.setup: the key=value lines go to the stderr of the moment, so a stream that was
swapped out and closed (as a test harness does with captured output) is never written to."""

from __future__ import annotations

import io
import logging
import sys

from shoal import logs
from tests.fixtures.root_logging import root_logging_restored


def test_records_go_to_the_current_stderr_not_a_closed_one(root_logging_kept, monkeypatch) -> None:
    at_setup = io.StringIO()
    monkeypatch.setattr(sys, "stderr", at_setup)
    logs.setup("INFO")
    at_setup.close()
    now = io.StringIO()
    monkeypatch.setattr(sys, "stderr", now)
    logging.getLogger("shoal.test").info("placed task", extra=logs.kv(task="t-1", node="n 1"))
    out = now.getvalue()
    assert "Logging error" not in out, out
    assert out.endswith(' INFO  shoal.test: placed task task=t-1 node="n 1"\n'), out


def test_a_daemons_setup_is_undone_when_the_test_ends() -> None:
    root = logging.getLogger()
    handlers, level, grpc_level = root.handlers[:], root.level, logging.getLogger("grpc").level
    with root_logging_restored():
        logs.setup("DEBUG")
        assert root.handlers != handlers and root.level == logging.DEBUG
    assert (root.handlers, root.level, logging.getLogger("grpc").level) == (handlers, level, grpc_level)

"""shoalctl.local.procs.Supervised: what every daemon `shoal up` starts shares — pid,
running, its log's tail, and waiting until it is ready or has died."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from shoalctl.local.procs import Supervised, kill_popen


class _Daemon(Supervised):
    def __init__(self, argv: list[str], log_path: Path) -> None:
        self.log_path = log_path
        with log_path.open("ab") as out:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def test_a_daemon_that_dies_is_reported_at_once_with_its_log(tmp_path: Path) -> None:
    d = _Daemon([sys.executable, "-c", "print('bad flag'); raise SystemExit(3)"], tmp_path / "d.log")
    started = time.monotonic()
    with pytest.raises(ValueError, match=r"(?s)daemon exited with code 3:\nbad flag"):
        d.until_ready(lambda: False, "daemon", "here", timeout=30, error=ValueError)
    assert time.monotonic() - started < 10, "an exit is not waited out to the deadline"
    assert d.pid is not None and not d.running


def test_a_daemon_never_ready_times_out_saying_why(tmp_path: Path) -> None:
    d = _Daemon([sys.executable, "-c", "import time; time.sleep(60)"], tmp_path / "d.log")
    try:
        def refuse() -> bool:
            raise OSError("connection refused")

        with pytest.raises(RuntimeError, match=r"daemon not ready at :1234 after 0.3s \(connection refused\)"):
            d.until_ready(refuse, "daemon", ":1234", timeout=0.3)
        assert d.running
        d.until_ready(lambda: True, "daemon", ":1234", timeout=0.3)
    finally:
        kill_popen(d.proc)

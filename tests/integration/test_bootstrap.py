"""scripts/bootstrap.sh says why it failed: its messages reach stderr (a lock line once sent
the whole script's stderr to /dev/null, so a failure was a bare exit 1)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def test_a_failing_bootstrap_says_why() -> None:
    # Everything else is in place on a test machine, so the run reaches the Python step and
    # dies there, after the lock is taken.
    run = subprocess.run(["bash", str(REPO / "scripts" / "bootstrap.sh")], capture_output=True, text=True,
                         timeout=600, env={**os.environ, "PYTHON": "no-such-python3"})
    assert run.returncode == 1
    assert "bootstrap: error: no-such-python3 not found" in run.stderr, run.stdout + run.stderr

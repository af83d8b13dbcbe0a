"""`shoal down` stopping processes another process started (procs.stop_record): under a
parent that does not reap (a PID 1 that is not an init), an exited process stays a zombie,
and a zombie has stopped."""

from __future__ import annotations

import subprocess
import sys
import time

import psutil

from shoalctl.local import procs

# A parent that starts `sleep` and never waits for it: once sleep exits it is a zombie.
NEGLECTFUL_PARENT = ("import subprocess, time; p = subprocess.Popen(['sleep', '600']); "
                     "print(p.pid, flush=True); time.sleep(600)")


def test_a_zombie_counts_as_stopped() -> None:
    parent = subprocess.Popen([sys.executable, "-c", NEGLECTFUL_PARENT], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        record = procs.ProcRecord.of("agent", "agent-1", child)
        assert record.alive()
        started = time.monotonic()
        said = procs.stop_record(record, timeout=10)
        took = time.monotonic() - started
        assert psutil.Process(child).status() == psutil.STATUS_ZOMBIE, "the test needs an unreaped child"
        assert said == "agent-1 stopped", said
        assert took < 2, f"took {took:.1f}s to see the zombie as stopped"
        assert not record.alive()
    finally:
        parent.kill()
        parent.wait(10)

"""The proxy watchdog on real processes: it stops the process it watches when its lifeline
closes, never a process whose command line is not the one it was given (a reused pid), and
leaves when the watched process does."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

from agent.proxy.watchdog import live_as, watch


def sleeper() -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "marker"])


def test_a_closed_lifeline_stops_the_watched_process() -> None:
    proc = sleeper()
    read, write = os.pipe()
    try:
        result: list[str] = []
        t = threading.Thread(target=lambda: result.append(watch(proc.pid, b"marker", read)))
        t.start()
        # Reaped here by its parent (in an agent's life, init reaps it).
        os.close(write)
        assert proc.wait(10) == -15
        t.join(10)
        assert result == [f"the agent is gone; stopped haproxy {proc.pid}"]
    finally:
        proc.kill()
        os.close(read)


def test_a_process_with_another_command_line_is_left_alone() -> None:
    proc = sleeper()
    read, write = os.pipe()
    try:
        os.close(write)
        assert not live_as(proc.pid, b"haproxy.cfg")
        assert watch(proc.pid, b"haproxy.cfg", read).endswith("exited; the watchdog leaves with it")
        assert proc.poll() is None, "a pid that is not the watched haproxy is never signalled"
    finally:
        proc.kill()
        proc.wait()
        os.close(read)


def test_the_watchdog_leaves_with_its_process() -> None:
    proc = sleeper()
    read, write = os.pipe()
    try:
        result: list[str] = []
        t = threading.Thread(target=lambda: result.append(watch(proc.pid, b"marker", read)))
        t.start()
        proc.kill()
        proc.wait()
        t.join(5)
        assert result == [f"haproxy {proc.pid} exited; the watchdog leaves with it"]
    finally:
        os.close(write)
        os.close(read)

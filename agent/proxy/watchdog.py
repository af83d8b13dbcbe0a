"""Stops the node proxy when the agent that started it dies, however it dies (kill -9
included). The agent starts one watchdog beside each HAProxy master, with the read end of a
pipe as its stdin; the agent alone holds the write end, which the kernel closes when the agent
exits. On end of file the watchdog stops the master (SIGTERM, then SIGKILL), unless the pid is
no longer a live haproxy on the agent's config. It exits as soon as the master does.

Run by path with the standard library only (`python -I watchdog.py PID CONFIG`), so it starts
without the agent's imports. Not PR_SET_PDEATHSIG: that fires when the spawning *thread* ends,
and the agent starts HAProxy from whichever thread applies a routing table or restarts it."""

from __future__ import annotations

import os
import select
import signal
import sys
import time

POLL = 1.0
STOP_GRACE = 5.0


def live_as(pid: int, marker: bytes) -> bool:
    """``pid`` is running (not a zombie) and its command line names ``marker``: a pid reused
    by another process is never signalled."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                return False
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return marker in f.read().split(b"\0")
    except (OSError, IndexError):
        return False


def watch(pid: int, marker: bytes, fd: int = 0) -> str:
    """Waits until the master exits (returns) or ``fd`` reaches end of file (stops it)."""
    while live_as(pid, marker):
        readable, _, _ = select.select([fd], [], [], POLL)
        if readable and not os.read(fd, 1):
            break
    else:
        return f"haproxy {pid} exited; the watchdog leaves with it"
    if not live_as(pid, marker):
        return f"the agent is gone and so is haproxy {pid}"
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE
    while live_as(pid, marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    if live_as(pid, marker):
        os.kill(pid, signal.SIGKILL)
        return f"the agent is gone; killed haproxy {pid} (it ignored SIGTERM for {STOP_GRACE:g}s)"
    return f"the agent is gone; stopped haproxy {pid}"


def main(argv: list[str]) -> int:
    if len(argv) != 3 or not argv[1].isdigit():
        print("usage: watchdog.py HAPROXY_PID CONFIG_PATH", file=sys.stderr)
        return 2
    try:
        said = watch(int(argv[1]), argv[2].encode())
    except ProcessLookupError:
        said = f"haproxy {argv[1]} was gone before it could be stopped"
    print(f"shoal proxy watchdog: {said}", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

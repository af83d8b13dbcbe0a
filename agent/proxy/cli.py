"""HAProxy's master CLI over its unix socket: commands to the master (`show proc`) and,
prefixed with `@1`, to the current worker's runtime API (`add server`, `set server`, ...).
One connection per command; HAProxy answers and closes."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field


class CliError(Exception):
    """The socket could not be reached, or a command was refused (the message says why)."""


@dataclass(frozen=True)
class Processes:
    """What `show proc` says: the master, how often it reloaded (and how many reloads
    failed), the current workers and the old ones still finishing their connections."""

    master: int
    reloads: int
    failed: int
    workers: list[int] = field(default_factory=list)
    old_workers: list[int] = field(default_factory=list)


class MasterCli:
    def __init__(self, path: str, timeout: float = 5.0) -> None:
        self.path = path
        self.timeout = timeout

    def command(self, cmd: str) -> str:
        """Sends one line, returns the whole answer."""
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(self.timeout)
                s.connect(self.path)
                s.sendall(cmd.encode() + b"\n")
                # The master CLI answers once the request side is closed.
                s.shutdown(socket.SHUT_WR)
                chunks = []
                while chunk := s.recv(65536):
                    chunks.append(chunk)
        except OSError as exc:
            raise CliError(f"master CLI {self.path}: {exc}") from None
        return b"".join(chunks).decode(errors="replace")

    def worker(self, cmd: str) -> str:
        """Sends ``cmd`` to the current worker's runtime API."""
        return self.command(f"@1 {cmd}")

    def processes(self) -> Processes:
        return parse_show_proc(self.command("show proc"))

    def run(self, cmd: str, expect: str = "") -> None:
        """A runtime command that succeeds with ``expect`` in its answer ("" for commands
        that answer nothing on success); raises CliError with HAProxy's answer otherwise."""
        answer = self.worker(cmd).strip()
        if (expect and expect not in answer) or (not expect and answer):
            raise CliError(f"{cmd!r}: {answer or 'no answer'}")


def parse_show_proc(text: str) -> Processes:
    master = reloads = failed = 0
    workers: list[int] = []
    old: list[int] = []
    section = "master"
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("# workers"):
            section = "workers"
        elif line.startswith("# old workers"):
            section = "old"
        elif line.startswith("#"):
            section = "other" if section != "master" else section
        elif line:
            parts = line.split()
            if not parts[0].isdigit():
                continue
            pid = int(parts[0])
            if section == "master" and len(parts) > 2 and parts[1] == "master":
                master, reloads = pid, int(parts[2])
                if "[failed:" in line:
                    failed = int(line.split("[failed:")[1].split("]")[0])
            elif section == "workers":
                workers.append(pid)
            elif section == "old":
                old.append(pid)
    if not master:
        raise CliError(f"show proc: no master in {text[:200]!r}")
    return Processes(master=master, reloads=reloads, failed=failed, workers=workers, old_workers=old)

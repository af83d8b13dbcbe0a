"""Process supervision for the local cluster: spawn a daemon detached from the terminal with
its output in a log file, and stop one — ours (a Popen) or one a previous `shoal up`
recorded (a pid plus its start time, so a recycled pid is never signalled)."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Self

import psutil

import shoal
from shoal import logs
from shoal.waiting import wait_until

log = logging.getLogger(__name__)

LOG_TAIL_LINES = 30
# The daemons run from the same source tree as this module, installed or not.
_SOURCE_ROOT = Path(shoal.__file__).resolve().parent.parent


class Started:
    """start() and stop() around a ``with`` block: stop() runs however the block ends."""

    def start(self) -> object:
        raise NotImplementedError

    def stop(self) -> object:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Supervised:
    """A daemon this process started: ``proc`` is its Popen once spawned (None before),
    writing to ``log_path``."""

    proc: subprocess.Popen[bytes] | None
    log_path: Path

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        return log_tail(self.log_path, lines)

    def until_ready(self, ready: Callable[[], object], what: str, at: str, timeout: float, interval: float = 0.1,
                    error: type[Exception] = RuntimeError) -> None:
        """Returns once ``ready()`` is truthy (an exception from it counts as "not yet").
        Raises ``error`` with the tail of the log as soon as the process has exited, or
        once ``timeout`` seconds pass; ``what`` names the daemon in the message, ``at`` the
        address it was asked at."""
        deadline = time.monotonic() + timeout
        last: object = None
        while True:
            if self.proc is None or self.proc.poll() is not None:
                code = self.proc.returncode if self.proc is not None else None
                raise error(f"{what} exited with code {code}:\n{self.log_tail()}")
            try:
                if ready():
                    return
            except Exception as exc:
                last = exc
            if time.monotonic() >= deadline:
                why = f" ({last})" if isinstance(last, Exception) else ""
                raise error(f"{what} not ready at {at} after {timeout}s{why}:\n{self.log_tail()}")
            time.sleep(interval)


@dataclass(frozen=True)
class ProcRecord:
    """What `shoal down`, a different process, needs to find and stop a daemon."""

    role: str  # etcd | controlplane | agent | prometheus | autoscaler | registry
    name: str  # unique within the cluster: "etcd", "controlplane", "agent-2", ...
    pid: int
    create_time: float  # psutil's, to tell our process from a later one with the same pid
    log: str = ""

    @classmethod
    def of(cls, role: str, name: str, pid: int, log_path: Path | str = "") -> ProcRecord:
        try:
            created = psutil.Process(pid).create_time()
        except psutil.Error:
            created = 0.0
        return cls(role=role, name=name, pid=pid, create_time=created, log=str(log_path))

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> ProcRecord:
        return cls(
            role=str(data["role"]),
            name=str(data["name"]),
            pid=int(data["pid"]),
            create_time=float(data.get("create_time", 0.0)),
            log=str(data.get("log", "")),
        )

    def process(self) -> psutil.Process | None:
        """The live process this record names, or None if it exited (or the pid now
        belongs to someone else)."""
        try:
            proc = psutil.Process(self.pid)
            # create_time has 10 ms resolution on Linux; a recycled pid is seconds apart.
            if self.create_time and abs(proc.create_time() - self.create_time) > 1.0:
                return None
            if proc.status() == psutil.STATUS_ZOMBIE:
                return None
            return proc
        except psutil.Error:
            return None

    def alive(self) -> bool:
        return self.process() is not None


def child_env() -> dict[str, str]:
    """This process's environment, with the source tree first on PYTHONPATH and Python's
    output unbuffered (logs reach the file as they happen, not when a buffer fills)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_SOURCE_ROOT), env.get("PYTHONPATH", "")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def spawn(argv: list[str], log_path: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Starts ``argv`` with stdout and stderr appended to ``log_path``, in its own session:
    a Ctrl-C or a closed terminal must not reach the daemons, which are stopped in order by
    whoever owns the cluster."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as out:
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )


def stop_popen(proc: subprocess.Popen[bytes], name: str, timeout: float = 10) -> str:
    """SIGTERM, wait up to ``timeout``, then SIGKILL; always reaps. Returns what happened."""
    if proc.poll() is not None:
        return f"{name} had already exited with code {proc.returncode}"
    _signal_group(proc.pid, signal.SIGTERM)
    # A stopped (SIGSTOPped) process cannot act on SIGTERM until continued.
    _signal_group(proc.pid, signal.SIGCONT)
    try:
        proc.wait(timeout)
        return f"{name} stopped (code {proc.returncode})"
    except subprocess.TimeoutExpired:
        log.warning("process ignored SIGTERM; killing it", extra=logs.kv(name=name, pid=proc.pid))
        _signal_group(proc.pid, signal.SIGKILL)
        proc.wait(10)
        return f"{name} killed after ignoring SIGTERM for {timeout}s"


def kill_popen(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL and reap: a crash, as fault tests want it."""
    if proc.poll() is None:
        _signal_group(proc.pid, signal.SIGKILL)
        proc.wait(10)


def stop_record(record: ProcRecord, timeout: float = 10) -> str:
    """Like ``stop_popen`` for a process we did not start (so cannot reap): it has stopped
    once gone or a zombie (under a parent that does not reap, such as a PID 1 that is not
    an init, an exited process stays a zombie)."""
    if record.process() is None:
        return f"{record.name} was not running"
    _signal_group(record.pid, signal.SIGTERM)
    _signal_group(record.pid, signal.SIGCONT)
    if wait_until(lambda: not record.alive(), timeout):
        return f"{record.name} stopped"
    log.warning("process ignored SIGTERM; killing it", extra=logs.kv(name=record.name, pid=record.pid))
    _signal_group(record.pid, signal.SIGKILL)
    if not wait_until(lambda: not record.alive(), 10):
        return f"{record.name} (pid {record.pid}) survived SIGKILL"
    return f"{record.name} killed after ignoring SIGTERM for {timeout}s"


def send(pid: int, sig: signal.Signals) -> None:
    """A signal to one process (not its group): SIGSTOP/SIGCONT for freeze tests."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def log_tail(path: Path | str, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = Path(path).read_text(errors="replace")
    except OSError as exc:
        return f"(no log at {path}: {exc})"
    return "\n".join(text.splitlines()[-lines:])


def _signal_group(pid: int, sig: signal.Signals) -> None:
    # Our daemons lead their own process group (start_new_session): signalling the group
    # also reaches anything they spawned. Fall back to the pid for anything else.
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except ProcessLookupError:
        pass

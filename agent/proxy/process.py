"""One HAProxy master (master-worker mode) run by the agent: validate a config with
`haproxy -c`, install it, start the master, reload it seamlessly (SIGUSR2; the new worker
takes the listening sockets from the old one through the stats socket's `expose-fd
listeners`, and the old one finishes its connections), stop it. A watchdog beside the master
stops it when the agent dies (watchdog.py); a master left behind all the same (its watchdog
killed too) is found through its pid file and stopped before a new one starts."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import shoal.logs
from agent.proxy.cli import CliError, MasterCli, Processes
from shoal.waiting import wait_until

log = logging.getLogger(__name__)

BINARY = "haproxy"
WATCHDOG = Path(__file__).with_name("watchdog.py")
START_TIMEOUT = 15.0
RELOAD_TIMEOUT = 15.0
# The watchdog exits within its poll interval once the lifeline closes.
STOP_WATCHDOG = 5.0


# HAProxy refuses a unix socket path longer than 97 bytes (it binds a temporary name beside it).
SOCKET_PATH_MAX = 97


def socket_dir_for(workdir: Path) -> Path:
    """``workdir`` when its sockets' paths fit HAProxy's limit, else a private directory
    under the system's temporary one (a deep state dir)."""
    if len(str(Path(workdir) / "haproxy.sock")) <= SOCKET_PATH_MAX:
        return Path(workdir)
    return Path(tempfile.mkdtemp(prefix="shoal-proxy-"))


class ProxyError(Exception):
    """HAProxy did not start or reload; the message says why (its own words when it has any)."""


class HAProxyProcess:
    def __init__(self, workdir: Path, binary: str = BINARY, socket_dir: Path | None = None) -> None:
        """``workdir`` holds the config, pid file and log; ``socket_dir`` (default: the
        same) the unix sockets, whose paths must fit in 108 bytes."""
        self.workdir = Path(workdir)
        self.socket_dir = Path(socket_dir or workdir)
        self.binary = binary
        self.config_path = self.workdir / "haproxy.cfg"
        self.pid_path = self.workdir / "haproxy.pid"
        self.log_path = self.workdir / "haproxy.log"
        self.cli = MasterCli(str(self.socket_dir / "master.sock"))
        self.proc: subprocess.Popen[bytes] | None = None
        # The watchdog of the running master, and the pipe end whose close it waits for.
        self._watchdog: subprocess.Popen[bytes] | None = None
        self._lifeline: int | None = None

    @property
    def master_pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def check(self, text: str) -> str:
        """Writes ``text`` beside the running config and validates it with `haproxy -c`;
        returns "" when valid, else HAProxy's alerts."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        candidate = self.workdir / "haproxy.cfg.new"
        candidate.write_text(text)
        try:
            res = subprocess.run([self.binary, "-c", "-f", str(candidate)], capture_output=True, text=True,
                                 timeout=30)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"{self.binary} -c: {exc}"
        if res.returncode == 0:
            return ""
        alerts = [line.strip() for line in (res.stdout + res.stderr).splitlines() if "ALERT" in line]
        return "; ".join(alerts) or (res.stdout + res.stderr).strip()[-500:] or f"exit code {res.returncode}"

    def install(self) -> None:
        """Makes the last checked config the one the master loads."""
        os.replace(self.workdir / "haproxy.cfg.new", self.config_path)

    def write(self, text: str) -> None:
        """Writes the running config without a check: only for texts whose skeleton was
        checked already (the servers changed through the runtime API)."""
        tmp = self.workdir / "haproxy.cfg.tmp"
        tmp.write_text(text)
        os.replace(tmp, self.config_path)

    def start(self) -> Processes:
        """Starts the master on the installed config; returns once a worker serves."""
        self.stop_leftover()
        self._end_watchdog()
        try:
            with open(self.log_path, "ab") as log_file:
                self.proc = subprocess.Popen(
                    [self.binary, "-W", "-S", f"{self.cli.path},mode,600", "-f", str(self.config_path),
                     "-p", str(self.pid_path)],
                    stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
                    # Its own session: a terminal's Ctrl-C reaches the agent, which stops it.
                    start_new_session=True)
        except OSError as exc:
            raise ProxyError(f"cannot run {self.binary}: {exc}") from None
        self._start_watchdog(self.proc.pid)
        seen: list[Processes] = []

        def serving() -> bool:
            if not self.alive():
                return True
            try:
                seen[:] = [self.cli.processes()]
            except CliError:
                return False
            return bool(seen[0].workers)

        wait_until(serving, START_TIMEOUT, interval=0.05)
        if not self.alive() or not seen:
            self.stop()
            raise ProxyError(f"haproxy did not start: {self.log_tail()}")
        log.info("haproxy started", extra=shoal.logs.kv(pid=self.proc.pid if self.proc else 0,
                                                         worker=seen[0].workers[0]))
        return seen[0]

    def reload(self) -> Processes:
        """Seamless reload onto the installed config; returns the processes after it, or
        raises ProxyError (the old worker then keeps serving)."""
        if not self.alive():
            raise ProxyError("haproxy is not running")
        before = self.cli.processes()
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGUSR2)
        after: list[Processes] = []

        def reloaded() -> bool:
            try:
                after[:] = [self.cli.processes()]
            except CliError:
                return False
            p = after[0]
            return p.reloads > before.reloads and (bool(p.workers) or p.failed > before.failed)

        if not wait_until(reloaded, RELOAD_TIMEOUT, interval=0.05):
            raise ProxyError(f"haproxy did not reload within {RELOAD_TIMEOUT:g}s: {self.log_tail()}")
        if after[0].failed > before.failed:
            raise ProxyError(f"haproxy refused the new config: {self.log_tail()}")
        return after[0]

    def stop(self, timeout: float = 5.0) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            self._end_watchdog()
            return
        # SIGTERM to the master stops its workers too.
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        self.pid_path.unlink(missing_ok=True)
        self._end_watchdog()

    def _start_watchdog(self, pid: int) -> None:
        # Both ends are close-on-exec (PEP 446): only the watchdog's stdin is the read end,
        # so no other child of the agent holds the write end open after the agent dies.
        read, self._lifeline = os.pipe()
        try:
            with open(self.log_path, "ab") as log_file:
                self._watchdog = subprocess.Popen(
                    [sys.executable, "-I", str(WATCHDOG), str(pid), str(self.config_path)],
                    stdin=read, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)
        except OSError as exc:
            log.warning("the proxy's watchdog did not start; a kill -9 of the agent leaves haproxy running",
                        extra=shoal.logs.kv(pid=pid, error=exc))
        finally:
            os.close(read)

    def _end_watchdog(self) -> None:
        """Closes the lifeline (the watchdog leaves once its master is gone) and reaps it."""
        lifeline, self._lifeline = self._lifeline, None
        if lifeline is not None:
            os.close(lifeline)
        watchdog, self._watchdog = self._watchdog, None
        if watchdog is not None:
            try:
                watchdog.wait(STOP_WATCHDOG)
            except subprocess.TimeoutExpired:
                watchdog.kill()
                watchdog.wait()

    def log_tail(self, lines: int = 8) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return " | ".join(line.strip() for line in text[-lines:]) or "(empty log)"

    def stop_leftover(self) -> bool:
        """A master an earlier agent started (it was killed before it could stop it) still
        holds the ports: stop it, if the pid is still a haproxy on our config. Returns
        whether there was one."""
        try:
            pid = int(self.pid_path.read_text().split()[0])
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError, IndexError):
            return False
        if str(self.config_path).encode() not in cmdline or pid == os.getpid():
            return False
        log.warning("stopping a haproxy left by an earlier agent", extra=shoal.logs.kv(pid=pid))
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return False

        def gone() -> bool:
            try:
                return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
            except (OSError, IndexError):
                return True

        if not wait_until(gone, 5.0, interval=0.05):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.pid_path.unlink(missing_ok=True)
        return True

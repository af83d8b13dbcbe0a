"""The proxy driver: keeps this node's HAProxy equal to the latest routing table, and
supervises it. A table that changes only servers goes through the runtime API (no reload);
any other change renders a new config, validates it with `haproxy -c` and only then reloads
seamlessly. A table the proxy cannot carry, or a config HAProxy refuses, leaves the running
proxy as it is. Each `apply` returns a sentence saying what it did. Once a second the
supervisor also reads HAProxy's own checks of the registered addresses (`proxy/checks.py`)
and hands them to ``on_checks`` when they change (and again every ``CHECKS_RESEND``
seconds, so a new stream or replica learns them)."""

from __future__ import annotations

import dataclasses
import errno
import logging
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import shoal.logs
from agent.proxy import checks, config, servers
from agent.proxy.cli import CliError
from agent.proxy.config import ConfigError, NodeAddresses, Rendered
from agent.proxy.process import BINARY, HAProxyProcess, ProxyError
from shoal.retry import backoff
from shoal.v1 import traffic_pb2
from shoal.worker import Worker

log = logging.getLogger(__name__)

SUPERVISE_INTERVAL = 1.0
RESTART_BASE = 0.5
RESTART_CAP = 30.0
RETRY_CAP = 60.0
CHECKS_RESEND = 30.0

Render = Callable[[traffic_pb2.RoutingTable, NodeAddresses], Rendered]


def held_elsewhere(binds: set[tuple[str, int]]) -> frozenset[tuple[str, int]]:
    """Those of ``binds`` another program on this node holds now: a test bind (with
    SO_REUSEADDR, as HAProxy binds, so a port in TIME_WAIT is free) answers EADDRINUSE.
    Without SO_REUSEPORT, so a program that shares its port with it is not shared with."""
    held = set()
    for address, port in binds:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((address, port))
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    held.add((address, port))
                # Anything else (an address this node lacks) is HAProxy's to report.
    return frozenset(held)
OnChecks = Callable[[traffic_pb2.NodeProxyChecks], None]


class ProxyDriver:
    def __init__(self, workdir: Path, external: str, internal: str, metrics_port: int,
                 binary: str = BINARY, render: Render = config.render, socket_dir: Path | None = None,
                 reserved_ports: frozenset[int] = frozenset(), privileged_ports: bool = False) -> None:
        """``render``: the table-to-config function; tests swap it to make configs HAProxy
        refuses. ``socket_dir``: where the unix sockets go (default ``workdir``).
        ``reserved_ports``: the node's other own listening ports, which no route binds.
        ``privileged_ports``: load-balancer listeners may bind ports below 1024."""
        self.render = render
        self.process = HAProxyProcess(workdir, binary, socket_dir)
        self.addresses = NodeAddresses(external=external, internal=internal, metrics_port=metrics_port,
                                       stats_socket=str(self.process.socket_dir / "haproxy.sock"),
                                       reserved=reserved_ports, privileged_ports=privileged_ports)
        # The frontends the last rendered table left out: warned about when they change, not
        # on every table.
        self.left_out: tuple[tuple[str, int, str], ...] = ()
        self.revision = -1
        # What the running proxy holds: the rendered config, and servers taken out of it
        # that still had connections (in maintenance; deleted once they have none).
        self.running: Rendered | None = None
        self.parked: set[tuple[str, str]] = set()
        # A table whose reload failed for a reason of the moment (not a refused config):
        # the supervisor tries it again, as no newer table may come for a long time.
        self.retry: traffic_pb2.RoutingTable | None = None
        self._retry_attempt = 0
        self._next_retry = 0.0
        self._lock = threading.Lock()
        self._worker = Worker("proxy-supervisor", self._supervise)
        self._restart_attempt = 0
        self._next_restart = 0.0
        # Where the check results go (the agent's stream); what went last, and when.
        self.on_checks: OnChecks | None = None
        self._sent_checks: list[traffic_pb2.ProxyCheckResult] | None = None
        self._checks_sent_at = 0.0

    # ---- lifecycle -------------------------------------------------------------------

    def start(self) -> str:
        """Starts HAProxy with no routes (the exporter only) and its supervisor."""
        with self._lock:
            empty = config.render(traffic_pb2.RoutingTable(), self.addresses)
            error = self.process.check(empty.text)
            if error:
                raise ProxyError(f"the proxy's own config is refused: {error}")
            self.process.install()
            procs = self.process.start()
            self.running = empty
        self._worker.start()
        return f"haproxy started (master {procs.master}, worker {procs.workers[0]}), no routes yet"

    def stop(self) -> None:
        self._worker.stop()
        with self._lock:
            self.process.stop()

    def _supervise(self) -> None:
        while not self._worker.stopping.wait(SUPERVISE_INTERVAL):
            try:
                sentence = self.tick()
            except Exception:
                log.exception("proxy supervisor cycle failed (a bug)")
                continue
            if sentence:
                log.info(sentence, extra=shoal.logs.kv(revision=self.revision, parked=len(self.parked)))
            try:
                sentence = self.report_checks()
            except CliError as exc:
                log.warning(f"reading the proxy's checks failed: {exc}")
                continue
            if sentence:
                log.info(sentence, extra=shoal.logs.kv(revision=self.revision))

    def tick(self) -> str:
        """One supervisor cycle: restart a dead HAProxy (with backoff), else delete parked
        servers that no longer hold connections. Returns a sentence when it did something."""
        with self._lock:
            if self._worker.stopping.is_set():
                return ""
            if not self.process.alive():
                return self._restart()
            if self.retry is not None and time.monotonic() >= self._next_retry:
                before = self.running
                said = self._apply(self.retry)
                if self.retry is not None:
                    # Still failing (a port another process holds, say): back off.
                    self._retry_attempt += 1
                    delay = backoff(self._retry_attempt, SUPERVISE_INTERVAL, RETRY_CAP)
                    self._next_retry = time.monotonic() + delay
                    if self.running is before and self.revision == self.retry.revision:
                        return ""  # applied already; a port it waits for is still held: nothing new
                    said += f"; next try in {delay:.1f}s"
                return said
            return self._sweep()

    def checks(self) -> list[traffic_pb2.ProxyCheckResult]:
        """HAProxy's verdicts on the registered addresses in rotation (none checked: none)."""
        with self._lock:
            running = self.running
            if running is None or not self.process.alive():
                return []
            checked = [s for s in running.servers.values() if s.checked and s.active]
            if not checked:
                return []
            # Servers only (type 4): the frontends and backends are not judged.
            return checks.results(self.process.cli.worker("show stat -1 4 -1"), checked)

    def report_checks(self) -> str:
        """Hands the checks to ``on_checks`` when they changed since last sent, or are not
        empty and were last sent ``CHECKS_RESEND`` ago. Returns a sentence when it sent."""
        if self.on_checks is None:
            return ""
        now = time.monotonic()
        got = self.checks()
        if got == self._sent_checks and (not got or now - self._checks_sent_at < CHECKS_RESEND):
            return ""
        if self._sent_checks is None and not got:
            return ""  # nothing checked, nothing ever said: no record for this node
        self.on_checks(traffic_pb2.NodeProxyChecks(results=got))
        self._sent_checks, self._checks_sent_at = got, now
        states = Counter(x.health.state for x in got)
        said = ", ".join(f"{n} {state}" for state, n in sorted(states.items())) or "none checked"
        return f"reported the proxy's checks of registered addresses: {said}"

    def _restart(self) -> str:
        if time.monotonic() < self._next_restart:
            return ""
        code = self.process.proc.poll() if self.process.proc is not None else None
        try:
            procs = self.process.start()
        except ProxyError as exc:
            self._restart_attempt += 1
            delay = backoff(self._restart_attempt, RESTART_BASE, RESTART_CAP)
            self._next_restart = time.monotonic() + delay
            return f"haproxy is down (exit code {code}) and did not restart: {exc}; next try in {delay:.1f}s"
        self._restart_attempt = 0
        self.parked.clear()
        return (f"haproxy had stopped (exit code {code}); restarted it on routing table revision "
                f"{self.revision} (worker {procs.workers[0]})")

    def _sweep(self) -> str:
        deleted = []
        for backend, name in sorted(self.parked):
            try:
                if self._delete(backend, name):
                    deleted.append(f"{backend}/{name}")
            except CliError as exc:
                log.warning("deleting a removed server failed", extra=shoal.logs.kv(server=f"{backend}/{name}",
                                                                                     error=exc))
        self.parked.difference_update(tuple(d.split("/", 1)) for d in deleted)
        return f"deleted servers whose last connection ended: {', '.join(deleted)}" if deleted else ""

    def _delete(self, backend: str, name: str) -> bool:
        """Deletes a server in maintenance once no request uses it; False while one does."""
        ref = f"{backend}/{name}"
        try:
            self.process.cli.run(f"del server {ref}", expect="Server deleted")
            return True
        except CliError:
            pass
        row = next((r.split() for r in self.process.cli.worker(f"show servers conn {backend}").splitlines()
                    if r.startswith(f"{ref} ")), None)
        if row is None:
            return True
        if row[6] != "0":  # used_cur: a request still runs on it
            return False
        # Only idle connections are left, kept for reuse and never purged while the server is
        # in maintenance; moving the server's port drops them.
        self.process.cli.run(f"set server {ref} addr {row[2]} port {'2' if row[3] == '1' else '1'}", expect="change")
        self.process.cli.run(f"del server {ref}", expect="Server deleted")
        return True

    # ---- converging ------------------------------------------------------------------

    def apply(self, table: traffic_pb2.RoutingTable) -> str:
        """Converges the running proxy on ``table``; returns what it did."""
        with self._lock:
            return self._apply(table)

    def _apply(self, table: traffic_pb2.RoutingTable) -> str:
        if self.retry is None or self.retry.revision != table.revision:
            self._retry_attempt, self._next_retry = 0, 0.0
        self.retry = None
        # The running proxy's own listeners are not another program's.
        running = self.running.binds if self.running is not None and self.process.alive() else frozenset()
        addresses = dataclasses.replace(
            self.addresses, held_elsewhere=held_elsewhere(config.wanted_binds(table, self.addresses) - running))
        try:
            new = self.render(table, addresses)
        except ConfigError as exc:
            return (f"refused routing table revision {table.revision}: {exc}; "
                    f"the proxy keeps revision {self.revision}")
        self._warn_left_out(new, table.revision)
        if self.running is None or not self.process.alive():
            return self._install_for_restart(new, table.revision)
        if new.skeleton != self.running.skeleton:
            said = self._reload(new, table.revision, "frontends or backends changed")
        else:
            said = self._runtime(new, table.revision)
        if (self.revision != table.revision and "failed validation" not in said) or new.waits_for_ports:
            # Tried again by the supervisor: a reload that failed for a reason of the moment,
            # or a listener left out while another program holds its port.
            self.retry = table
        return said

    def _warn_left_out(self, new: Rendered, revision: int) -> None:
        if new.left_out == self.left_out:
            return
        self.left_out = new.left_out
        if new.left_out:
            listeners = ", ".join(f"{name} (port {port}: {why})" for name, port, why in new.left_out)
            log.warning(f"routing table revision {revision}: not binding {listeners}; the other listeners are "
                        "applied",
                        extra=shoal.logs.kv(revision=revision, left_out=listeners))

    def _install_for_restart(self, new: Rendered, revision: int) -> str:
        error = self.process.check(new.text)
        if error:
            return (f"refused routing table revision {revision}: haproxy -c: {error}; "
                    f"the proxy keeps revision {self.revision}")
        self.process.install()
        self.running, self.revision = new, revision
        self.parked.clear()
        return f"haproxy is not running: installed the config of routing table revision {revision} for its restart"

    def _reload(self, new: Rendered, revision: int, why: str) -> str:
        error = self.process.check(new.text)
        if error:
            return (f"kept the running proxy on revision {self.revision}: the config for routing table "
                    f"revision {revision} failed validation: {error}")
        assert self.running is not None
        self.process.install()
        try:
            procs = self.process.reload()
        except ProxyError as exc:
            # The master keeps the old worker; the file must say what it runs.
            self.process.write(self.running.text)
            return f"kept the running proxy on revision {self.revision}: reload for revision {revision} failed: {exc}"
        self.running, self.revision = new, revision
        self.parked.clear()
        return (f"reloaded haproxy for routing table revision {revision} ({why}): {_counts(new)} "
                f"(worker {procs.workers[0] if procs.workers else '?'}, reload {procs.reloads})")

    def _runtime(self, new: Rendered, revision: int) -> str:
        assert self.running is not None
        steps = servers.plan(self.running.servers, new.servers, self.parked)
        if not steps:
            self.revision = revision
            return f"routing table revision {revision}: the proxy already matches ({_counts(new)})"
        done: Counter[str] = Counter()
        parked = set(self.parked)
        for step in steps:
            try:
                self.process.cli.run(step.command, step.expect)
            except CliError as exc:
                if step.retry_later:
                    parked.add(_key(step.command))
                    continue
                return self._reload(new, revision, f"the runtime API refused {exc}")
            done[_verb(step.command)] += 1
            if step.command.startswith("del server"):
                parked.discard(_key(step.command))
        self.parked = parked - set(new.servers)
        # The file follows, so a restart or the next reload starts from what runs.
        self.process.write(new.text)
        self.running, self.revision = new, revision
        what = ", ".join(f"{verb} {n}" for verb, n in sorted(done.items()))
        held = f"; {len(self.parked)} removed servers wait for their connections to end" if self.parked else ""
        return f"applied routing table revision {revision} through the runtime API, no reload: {what}{held}"


def _key(command: str) -> tuple[str, str]:
    backend, _, name = command.split()[2].partition("/")
    return backend, name


def _verb(command: str) -> str:
    words = command.split()
    if words[0] == "add":
        return "added"
    if words[0] == "del":
        return "deleted"
    if words[3] == "addr":
        return "moved"
    if words[3] == "weight":
        return "reweighted"
    return {"ready": "in rotation", "drain": "draining", "maint": "out of rotation"}[words[-1]]


def _counts(r: Rendered) -> str:
    frontends = r.skeleton.count("\nfrontend ") - 1  # the exporter is not a route
    backends = r.skeleton.count("\nbackend ")
    return f"{frontends} frontends, {backends} backends, {len(r.servers)} servers"


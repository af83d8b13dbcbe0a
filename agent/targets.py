"""Target health checks, as ELBv2 runs them but from the task's own node: for each running
task that its assignment names as a target, an HTTP GET of the target group's path (or a
TCP connect) on the host port bound to the target's container port, every interval; a
target becomes healthy after ``healthy_threshold`` passes in a row and unhealthy after
``unhealthy_threshold`` failures in a row, with ELBv2's states and reason codes. Checks run
on a small pool of their own, never on the agent's reconcile loop; a state change is handed
to ``on_change`` (the agent reports it as ``TaskStateChange.target_health``)."""

from __future__ import annotations

import http.client
import logging
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from agent.tasks import LocalTask
from shoal.logs import kv
from shoal.v1 import resources_pb2 as r

log = logging.getLogger(__name__)

INITIAL = ("initial", "Elb.InitialHealthChecking", "Initial health checking in progress")
DRAINING = ("draining", "Target.DeregistrationInProgress", "Target deregistration is in progress")


@dataclass(frozen=True)
class Check:
    """One target to probe: a task's port in one target group."""

    task_id: str
    target_group_arn: str
    protocol: str
    host: str
    port: int
    path: str = "/"
    matcher: str = "200"
    interval: float = 30.0
    timeout: float = 5.0
    healthy_threshold: int = 5
    unhealthy_threshold: int = 2


@dataclass
class Outcome:
    ok: bool
    reason: str = ""
    description: str = ""


@dataclass
class TargetState:
    """What ELBv2 tracks per target: its state and the passes or failures in a row."""

    state: str = INITIAL[0]
    reason: str = INITIAL[1]
    description: str = INITIAL[2]
    passes: int = 0
    failures: int = 0

    def step(self, check: Check, outcome: Outcome) -> bool:
        """Counts one probe; True when the reported state (or its reason) changed."""
        before = (self.state, self.reason)
        if outcome.ok:
            self.passes, self.failures = self.passes + 1, 0
            if self.state != "healthy" and self.passes >= check.healthy_threshold:
                self.state, self.reason, self.description = "healthy", "", ""
        else:
            self.passes, self.failures = 0, self.failures + 1
            if self.state == "unhealthy" or self.failures >= check.unhealthy_threshold:
                self.state, self.reason, self.description = "unhealthy", outcome.reason, outcome.description
        return (self.state, self.reason) != before

    def message(self, arn: str) -> r.TargetHealth:
        return r.TargetHealth(target_group_arn=arn, state=self.state, reason=self.reason,
                              description=self.description)


def matches(matcher: str, code: int) -> bool:
    """ELBv2's Matcher.HttpCode: "200", "200,204", "200-399"."""
    for part in (matcher or "200").split(","):
        low, _, high = part.strip().partition("-")
        if low.isdigit() and int(low) <= code <= int(high if high.isdigit() else low):
            return True
    return False


def probe(check: Check) -> Outcome:
    """One health check of ``check``'s target, within its timeout."""
    try:
        if check.protocol != "HTTP":
            socket.create_connection((check.host, check.port), timeout=check.timeout).close()
            return Outcome(True)
        conn = http.client.HTTPConnection(check.host, check.port, timeout=check.timeout)
        try:
            conn.request("GET", check.path or "/", headers={"User-Agent": "ELB-HealthChecker/2.0"})
            code = conn.getresponse().status
        finally:
            conn.close()
    except TimeoutError:
        return Outcome(False, "Target.Timeout", "Request timed out")
    except (OSError, http.client.HTTPException) as exc:
        return Outcome(False, "Target.FailedHealthChecks", f"Health checks failed: {exc}")
    if matches(check.matcher, code):
        return Outcome(True)
    return Outcome(False, "Target.ResponseCodeMismatch", f"Health checks failed with these codes: [{code}]")


def checks_for(desired: dict[str, r.TaskAssignment], tasks: dict[str, LocalTask]) -> list[Check]:
    """The checks of exactly the RUNNING tasks, wanted RUNNING, whose assignments name them
    as targets, each on the host port bound to its target's container port."""
    checks = []
    for task_id, a in desired.items():
        task = tasks.get(task_id)
        if not a.targets or task is None or task.last_status != "RUNNING" or a.task.desired_status != "RUNNING":
            continue
        for tg in a.targets:
            bound = _bound(task, tg.container_name, tg.container_port)
            if bound is not None:
                checks.append(Check(task_id, tg.target_group_arn, tg.protocol, bound[0], bound[1], tg.path,
                                    tg.matcher, float(tg.interval_seconds), float(tg.timeout_seconds),
                                    tg.healthy_threshold, tg.unhealthy_threshold))
    return checks


def _bound(task: LocalTask, container: str, port: int) -> tuple[str, int] | None:
    """Where the node reaches ``container``'s ``port``: its bound host address (loopback
    for a wildcard bind) and host port, or None while nothing is bound."""
    c = task.containers.get(container) if container else None
    for held in [c] if c is not None else task.containers.values():
        for container_port, _proto, ip, host_port in held.bindings:
            if container_port == port and host_port:
                return ("127.0.0.1" if ip in ("", "0.0.0.0", "::") else ip), host_port
    return None


class TargetChecker:
    """Runs the checks of the targets last given to ``set_targets``; ``on_change(task_id,
    health)`` gets the task's whole list whenever one of its targets changes state."""

    def __init__(self, on_change: Callable[[str, list[r.TargetHealth]], None], workers: int = 4,
                 probe_fn: Callable[[Check], Outcome] = probe) -> None:
        self.on_change = on_change
        self.probe = probe_fn
        self.workers = workers
        self._lock = threading.Lock()
        self._checks: dict[Check, TargetState] = {}
        self._due: dict[Check, float] = {}
        self._running: set[Check] = set()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._pool: ThreadPoolExecutor | None = None

    def set_targets(self, checks: list[Check]) -> None:
        """The targets to check now; a target kept keeps its state, a new one starts initial
        (and is reported so), a target no longer given is forgotten."""
        new_tasks: set[str] = set()
        with self._lock:
            wanted = set(checks)
            for gone in set(self._checks) - wanted:
                del self._checks[gone]
                self._due.pop(gone, None)
            for check in wanted - set(self._checks):
                self._checks[check] = TargetState()
                self._due[check] = time.monotonic()
                new_tasks.add(check.task_id)
            start = self._pool is None and bool(self._checks)
            if start:
                self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="target-check")
        if start:
            threading.Thread(target=self._loop, name="target-checks", daemon=True).start()
        for task_id in sorted(new_tasks):
            self.on_change(task_id, self.health(task_id))
        if new_tasks:
            self._wake.set()

    def health(self, task_id: str) -> list[r.TargetHealth]:
        with self._lock:
            return sorted((s.message(c.target_group_arn) for c, s in self._checks.items() if c.task_id == task_id),
                          key=lambda h: h.target_group_arn)

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            now = time.monotonic()
            with self._lock:
                due = [c for c, at in self._due.items() if at <= now and c not in self._running]
                self._running.update(due)
                nxt = min((at for c, at in self._due.items() if c not in self._running), default=now + 1.0)
            for check in due:
                assert self._pool is not None
                self._pool.submit(self._run, check)
            self._wake.wait(max(0.01, min(1.0, nxt - now)))
            self._wake.clear()

    def _run(self, check: Check) -> None:
        started = time.monotonic()
        try:
            outcome = self.probe(check)
        except Exception as exc:  # a bug in a probe must not stop the checks
            log.exception("target check failed", extra=kv(task=check.task_id))
            outcome = Outcome(False, "Target.FailedHealthChecks", str(exc))
        with self._lock:
            self._running.discard(check)
            state = self._checks.get(check)
            if state is None:
                return
            self._due[check] = started + check.interval
            changed = state.step(check, outcome)
            if changed:
                log.info("target %s", state.state, extra=kv(task=check.task_id, target_group=check.target_group_arn,
                                                             port=check.port, reason=state.reason or "-"))
        self._wake.set()
        if changed:
            self.on_change(check.task_id, self.health(check.task_id))

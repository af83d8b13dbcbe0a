"""The node agent's task supervisor: restores from labelled containers, converges on the
latest assignment set (level-triggered: on assignments, on runtime events and on a periodic
resync), runs each start/stop as one operation per task, and reports every transition."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field

import shoal.logs
from agent import dependencies, reconcile, restarts, spec, task_roles, volumes
from agent.image_cache import CacheSettings
from agent.pulls import ImagePuller, ImagePullFailed, PullAuth
from agent.routing import RoutingConsumer, RoutingFeed
from agent.runtime import (
    LABEL_NODE,
    ContainerInfo,
    ContainerRuntimeError,
    ContainerSpec,
    NotFound,
    Runtime,
    RuntimeEvent,
)
from agent.targets import DRAINING, TargetChecker, checks_for
from agent.tasks import FAILED_TO_START, LocalContainer, LocalTask, restored
from shoal.taskdef import policy
from shoal.taskdef.policy import HostPolicy
from shoal.v1 import agent_pb2, traffic_pb2
from shoal.v1 import resources_pb2 as r
from shoal.validation import ValidationError

log = logging.getLogger(__name__)

Listener = Callable[[agent_pb2.TaskStateChange], None]


@dataclass
class AgentConfig:
    cluster: str = "default"
    node_id: str = ""
    gc_delay: float = 30.0
    stop_timeout: int = spec.DEFAULT_STOP_TIMEOUT
    bind_ip: str = "0.0.0.0"
    resync_interval: float = 10.0
    # Start/stop operations run in parallel up to this many tasks at once.
    workers: int = 4
    # Seconds a container waits for its dependsOn conditions (startTimeout overrides).
    start_timeout: float = dependencies.DEFAULT_START_TIMEOUT
    # Caps every restartPolicy.restartAttemptPeriod (ECS's minimum is 60 s; tests need less).
    restart_period_cap: float | None = None
    # What this node lets a task reach (--allow-*), checked on every assignment: the control
    # plane checked it too, but a definition written into etcd directly never met that check.
    policy: HostPolicy = field(default_factory=HostPolicy)
    # Where a host path really leads on this node (os.path.realpath), when the agent shares
    # the Docker daemon's filesystem; None judges paths as written.
    resolve_path: Callable[[str], str] | None = None
    # The node image cache (--image-cleanup): None leaves every image on the node.
    image_cache: CacheSettings | None = None


class Agent:
    def __init__(self, config: AgentConfig, runtime: Runtime,
                 on_cycle: Callable[[float], None] | None = None) -> None:
        self.config = config
        self.runtime = runtime
        self.on_cycle = on_cycle
        self.tasks: dict[str, LocalTask] = {}
        self.desired: dict[str, r.TaskAssignment] | None = None
        self.revision = -1
        self.listeners: list[Listener] = []
        self._lock = threading.RLock()
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._pool: Executor | None = None
        self._own_pool = True
        self._threads: list[threading.Thread] = []
        self._cancel_watch: Callable[[], None] | None = None
        # Tasks with a start/stop/remove in flight: the reconciler leaves them alone.
        self._inflight: set[str] = set()
        self.last_sentence = ""
        self._volumes_swept = 0.0
        self.pulls = ImagePuller(runtime, config.image_cache, config.resync_interval)
        # Fetches a task's secret values ({container: {env: value}}) from the control plane
        # right before its containers are created; set by main (None: no secrets support).
        self.resolve_secrets: Callable[[r.Task], dict[str, dict[str, str]]] | None = None
        self.routing = RoutingFeed()
        # Registered by main; each gets every routing table the control plane sends.
        self.routing_consumers: list[RoutingConsumer] = self.routing.consumers
        # Target health checks of the tasks their assignments name as targets.
        self.targets = TargetChecker(self._on_target_health)
        # When a draining target's containers may stop (the plan's wake_at), or None.
        self._wake_at: float | None = None
        # The DNS a task's containers get (the node's responder); None: the engine's default.
        self.container_dns: Callable[[r.Task], spec.ContainerDns | None] | None = None
        # Fetches the credentials a task's image pulls need ({image: Docker AuthConfig}) from
        # the control plane, only when an image is missing; kept in memory for that pull only.
        self.resolve_pull_auth: PullAuth | None = None
        # The environment giving a task its role's credentials (agent/task_roles.py); None: no endpoint.
        self.task_role_env: Callable[[r.Task], dict[str, str]] | None = None

    @property
    def node_id(self) -> str:
        return self.config.node_id

    def _labels(self) -> dict[str, str]:
        return {LABEL_NODE: self.node_id}

    # ---- reporting -------------------------------------------------------------------

    def _emit(self, task: LocalTask) -> None:
        change = task.to_change()
        log.info("task state", extra=shoal.logs.kv(task=task.task_id, node=self.node_id, status=task.last_status,
                                                  stop_code=task.stop_code or "-", health=task.health))
        for listener in list(self.listeners):
            try:
                listener(change)
            except Exception:
                log.exception("task state listener failed")

    def snapshot(self) -> list[agent_pb2.TaskStateChange]:
        """A state change for every task known, for a control plane that is catching up."""
        with self._lock:
            return [t.to_change() for t in self.tasks.values()]

    def running_containers(self) -> int:
        with self._lock:
            return sum(1 for t in self.tasks.values() for c in t.containers.values() if c.last_status == "RUNNING")

    def release_all(self, timeout: float) -> str:
        """The node was deregistered: nothing is assigned to it any more, so every task is
        stopped (its service runs it elsewhere). Waits up to ``timeout`` for the containers
        to stop; returns what happened."""
        with self._lock:
            revision = self.revision
        self.apply_assignments(agent_pb2.Assignments(revision=revision))
        deadline = time.monotonic() + timeout
        while (left := self.running_containers()) and time.monotonic() < deadline and not self._stopped.is_set():
            self._stopped.wait(0.2)
        if left:
            return f"deregistered: {left} containers still running after {timeout:g}s"
        return "deregistered: stopped every task"

    # ---- inputs ----------------------------------------------------------------------

    def restore(self) -> str:
        """Before anything else: adopt this node's labelled containers so a restarted agent
        neither starts a task twice nor forgets one it was running."""
        infos = self.runtime.list(self._labels())
        now = time.time()
        adopted = half_started = 0
        with self._lock:
            for task_id, group in reconcile.group_by_task(infos).items():
                if not task_id or task_id in self.tasks:
                    continue
                if any(i.state == "created" for i in group):
                    # A start cut short by the restart; the plan removes and restarts it.
                    half_started += 1
                    continue
                self.tasks[task_id] = restored(task_id, group, now, self.config.stop_timeout)
                adopted += 1
        running = sum(1 for t in self.tasks.values() if t.last_status == "RUNNING")
        sentence = (f"restored {adopted} tasks ({running} running) from {len(infos)} labelled containers"
                    + (f"; {half_started} half-started tasks left for the reconciler" if half_started else ""))
        log.info(sentence, extra=shoal.logs.kv(node=self.node_id))
        return sentence

    def apply_assignments(self, assignments: agent_pb2.Assignments) -> str:
        with self._lock:
            if assignments.revision < self.revision:
                return (f"ignored assignment set at revision {assignments.revision}: "
                        f"already applied {self.revision}")
            self.revision = assignments.revision
            self.desired = {a.task.id: a for a in assignments.tasks}
            for task_id, a in self.desired.items():
                task = self.tasks.get(task_id)
                if task is not None:
                    task.adopt_assignment(a)
                    if not task.policy_checked:
                        task.policy_checked = True
                        task.refusal = self._refusal(a)
                        if task.refusal:
                            log.warning("restored task refused by this node's policy; stopping it",
                                        extra=shoal.logs.kv(task=task_id, node=self.node_id, reason=task.refusal))
        self._wake.set()
        return f"applied assignment set at revision {assignments.revision} with {len(assignments.tasks)} tasks"

    def apply_routing(self, table: traffic_pb2.RoutingTable) -> str:
        """See RoutingFeed.apply."""
        return self.routing.apply(table, self.node_id)

    def _on_target_health(self, task_id: str, health: list[r.TargetHealth]) -> None:
        with self._lock:
            task = self.tasks.get(task_id)
            if task is None or task.last_status != "RUNNING":
                return
            if task.restored and not task.target_health and all(h.state == "initial" for h in health):
                # A restarted agent checks afresh; a target healthy a moment ago stays in
                # rotation until a check here finds otherwise.
                return
            task.target_health = health
        self._emit(task)

    def _sync_targets(self) -> None:
        with self._lock:
            checks = checks_for(self.desired or {}, self.tasks)
        self.targets.set_targets(checks)

    def on_runtime_event(self, event: RuntimeEvent) -> None:
        if event.action in ("die", "health_status", "start", "destroy", "oom", "resync"):
            self._wake.set()

    # ---- the loop --------------------------------------------------------------------

    def run_cycle(self) -> str:
        started = time.monotonic()
        with self._lock:
            # A task whose operation runs while the runtime is listed may have containers the
            # listing missed (a start that ends meanwhile): read against it, its new container
            # looked "removed outside the agent", and the running task was reported failed.
            # Such tasks wait for the next cycle, which the operation's end wakes.
            listed_busy = set(self._inflight)
        try:
            observed = reconcile.group_by_task(self.runtime.list(self._labels()))
        except ContainerRuntimeError as exc:
            return f"runtime unavailable, changing nothing: {exc}"
        with self._lock:
            busy = self._inflight | listed_busy
            changed = reconcile.sync_observed(self.tasks, observed, busy,
                                              restart_period_cap=self.config.restart_period_cap)
            p = reconcile.plan(self.desired, self.tasks, observed, now=time.time(),
                               gc_delay=self.config.gc_delay, busy=busy)
            self._inflight.update(a.task_id for a in p.actions)
            self._wake_at = p.wake_at
            changed_tasks = [self.tasks[t] for t in changed if t in self.tasks]
        for task in changed_tasks:
            self._emit(task)
        for action in p.actions:
            self._dispatch(action)
        self._sync_targets()
        self._sweep_volumes()
        self._sweep_images()
        if self.on_cycle:
            self.on_cycle(time.monotonic() - started)
        return p.sentence

    def _dispatch(self, action: reconcile.Action) -> None:
        fn = {
            "start": self._start_task,
            "stop": self._stop_task,
            "remove": self._remove_task,
            "gc": self._gc_task,
            "report_stopped": self._report_stopped,
            "restart": self._restart_containers,
            "deactivate": self._deactivate_task,
        }[action.kind]
        if self._pool is None:
            # Without a running loop (unit tests, one-shot use) operations run inline.
            self._run_op(fn, action)
        else:
            self._pool.submit(self._run_op, fn, action)

    def _run_op(self, fn: Callable[[reconcile.Action], None], action: reconcile.Action) -> None:
        try:
            fn(action)
        except Exception:
            log.exception("task operation failed", extra=shoal.logs.kv(task=action.task_id, action=action.kind))
        finally:
            with self._lock:
                self._inflight.discard(action.task_id)
            self._wake.set()

    def start(self, pool: Executor | None = None) -> None:
        """Starts the reconcile loop, the operation pool and the runtime event watch. A
        ``pool`` given here (shared by many hollow agents in one process) is used instead of
        one of our own, and is left running by `stop`."""
        self._own_pool = pool is None
        self._pool = pool or ThreadPoolExecutor(max_workers=self.config.workers,
                                                thread_name_prefix=f"agent-{self.node_id[:8]}")
        self._cancel_watch = self.runtime.watch(self._labels(), self.on_runtime_event)
        t = threading.Thread(target=self._loop, name=f"reconcile-{self.node_id[:8]}", daemon=True)
        t.start()
        self._threads.append(t)

    def _loop(self) -> None:
        while not self._stopped.is_set():
            wait = self.config.resync_interval
            if self._wake_at is not None:
                wait = min(wait, max(0.0, self._wake_at - time.time()))
            self._wake.wait(wait)
            self._wake.clear()
            if self._stopped.is_set():
                break
            try:
                sentence = self.run_cycle()
            except Exception:
                log.exception("reconcile cycle failed (a bug)", extra=shoal.logs.kv(node=self.node_id))
                continue
            if sentence != self.last_sentence:
                log.info(sentence, extra=shoal.logs.kv(node=self.node_id, revision=self.revision))
            else:
                log.debug(sentence, extra=shoal.logs.kv(node=self.node_id))
            self.last_sentence = sentence

    def wake(self) -> None:
        self._wake.set()

    def interrupt(self) -> None:
        """Safe from a signal handler: every loop and wait of the agent ends at its next check."""
        self._stopped.set()
        self._wake.set()

    def operations_in_flight(self) -> int:
        with self._lock:
            return len(self._inflight)

    def stop(self) -> None:
        """Stops the agent's loops; the containers keep running. Operations under way (a
        `docker stop` may take a container's whole stop timeout) are not waited for: dockerd
        finishes them, and a restarted agent adopts what it finds."""
        self.interrupt()
        self.targets.stop()
        if self._cancel_watch:
            self._cancel_watch()
        for t in self._threads:
            t.join(timeout=5)
        if self._pool is not None and self._own_pool:
            self._pool.shutdown(wait=False, cancel_futures=True)

    # ---- operations (one per task at a time: the task is marked busy) ----------------

    def _start_task(self, action: reconcile.Action) -> None:
        with self._lock:
            a = self.desired.get(action.task_id) if self.desired else None
            if a is None:
                return
            refusal = self._refusal(a)
            dns = self.container_dns(a.task) if self.container_dns and not refusal else None
            specs = [] if refusal else spec.build(a, node_id=self.node_id, bind_ip=self.config.bind_ip,
                                                  default_stop_timeout=self.config.stop_timeout, dns=dns)
            task = LocalTask(task_id=a.task.id, cluster=a.task.cluster, service=a.task.service_name,
                             task_arn=a.task.task_arn)
            for cdef, s in specs:
                task.containers[cdef.name] = LocalContainer(
                    name=cdef.name, image=cdef.image, essential=spec.essential(cdef),
                    has_healthcheck=s.healthcheck is not None, stop_timeout=s.stop_timeout,
                    bindings=_declared_bindings(s, cdef, self.config.bind_ip),
                )
            if refusal:
                for cdef in a.task_definition.container_definitions:
                    task.containers[cdef.name] = LocalContainer(name=cdef.name, image=cdef.image,
                                                                essential=spec.essential(cdef))
            task.adopt_assignment(a)
            self.tasks[task.task_id] = task
        if refusal:
            # Like ECS's CannotStartContainerError: the task stops before anything is created.
            self._fail(task, refusal)
            return
        self._emit(task)
        if self.resolve_secrets is not None and any(cdef.secrets for cdef, _ in specs):
            try:
                specs = spec.with_secrets(specs, self.resolve_secrets(a.task))
            except Exception as exc:  # whatever went wrong fetching them, the task cannot start without them
                self._fail(task, f"ResourceInitializationError: unable to retrieve secrets: {exc}")
                return
        try:
            specs = task_roles.with_role_env(specs, a, self.task_role_env)
        except RuntimeError as exc:
            self._fail(task, f"ResourceInitializationError: {exc}")
            return
        try:
            self.pulls.ensure(a.task, [s.image for _, s in specs], self.resolve_pull_auth)
            dependencies.start_containers(self.runtime, task, specs, a, node_id=self.node_id,
                                          cancelled=lambda: self._start_cancelled(task.task_id),
                                          default_timeout=self.config.start_timeout)
        except dependencies.ContainerFailed as exc:
            self._fail(task, f"CannotStartContainerError: {exc}")
            return
        except (dependencies.DependencyFailed, dependencies.Cancelled) as exc:
            self._fail(task, str(exc))
            return
        except ImagePullFailed as exc:
            self._fail(task, f"CannotPullContainerError: {exc}")
            return
        except ContainerRuntimeError as exc:
            self._fail(task, f"CannotStartContainerError: starting containers: {exc}")
            return
        for c in task.containers.values():
            try:
                info = self.runtime.inspect(c.runtime_id)
            except ContainerRuntimeError:
                continue
            if info.ports:
                c.bindings = tuple((p.container_port, p.protocol, p.host_ip, p.host_port) for p in info.ports)
            c.health = info.health
        with self._lock:
            task.last_status = "RUNNING"
            task.recompute_health()
        self._emit(task)

    def _refusal(self, a: r.TaskAssignment) -> str:
        """Why this node's policy refuses the task (ECS's CannotStartContainerError), or ""."""
        try:
            policy.check(a.task_definition, self.config.policy, resolve=self.config.resolve_path)
        except ValidationError as exc:
            return f"CannotStartContainerError: refused by this node's policy: {exc}"
        return ""

    def _start_cancelled(self, task_id: str) -> bool:
        with self._lock:
            a = self.desired.get(task_id) if self.desired else None
        return self._stopped.is_set() or a is None or a.task.desired_status == "STOPPED"

    def _restart_containers(self, action: reconcile.Action) -> None:
        with self._lock:
            task = self.tasks.get(action.task_id)
        if task is None or task.last_status != "RUNNING":
            return
        restarts.restart(self.runtime, task, action.container_ids, self.node_id)
        self._emit(task)

    def _sweep_volumes(self) -> None:
        """Task-scoped volumes whose task is neither assigned here nor known (its containers
        went without the agent: a failed create, a cleanup by hand) are removed once per
        resync interval, so a task's data never outlives it on the node."""
        now = time.monotonic()
        with self._lock:
            if self.desired is None or now - self._volumes_swept < self.config.resync_interval:
                return
            self._volumes_swept = now
            keep = set(self.desired) | set(self.tasks) | self._inflight
        try:
            orphans = self.runtime.volume_tasks(volumes.node_labels(self.node_id)) - keep
        except ContainerRuntimeError as exc:
            log.warning("listing task volumes failed", extra=shoal.logs.kv(node=self.node_id, error=exc))
            return
        for task_id in sorted(orphans):
            log.info("removing volumes of a task no longer here", extra=shoal.logs.kv(task=task_id, node=self.node_id))
            self._remove_volumes(task_id)

    def _sweep_images(self) -> None:
        now = time.time()
        with self._lock:
            if self.desired is None or not self.pulls.sweep_due(now):
                return
            assigned = list(self.desired.values())
        said = self.pulls.sweep(assigned, now)
        if said:
            log.info(said, extra=shoal.logs.kv(node=self.node_id))

    def _remove_volumes(self, task_id: str) -> None:
        try:
            self.runtime.remove_volumes(volumes.task_labels(task_id, self.node_id))
        except ContainerRuntimeError as exc:
            log.warning("removing task volumes failed", extra=shoal.logs.kv(task=task_id, error=exc))

    def _fail(self, task: LocalTask, reason: str) -> None:
        log.warning("task failed to start", extra=shoal.logs.kv(task=task.task_id, reason=reason))
        for c in task.containers.values():
            if c.runtime_id:
                self._stop_container(c)
            c.reason = c.reason or reason
        with self._lock:
            task.mark_stopped(FAILED_TO_START, reason)
        self._emit(task)

    def _stop_container(self, c: LocalContainer) -> None:
        try:
            self.runtime.stop(c.runtime_id, c.stop_timeout)
            info = self.runtime.inspect(c.runtime_id)
            if info.state == "exited" and c.exit_code is None:
                c.exit_code = info.exit_code
        except NotFound:
            pass
        except ContainerRuntimeError as exc:
            log.warning("stopping container failed", extra=shoal.logs.kv(container=c.runtime_id[:12], error=exc))
        c.last_status = "STOPPED"

    def _stop_task(self, action: reconcile.Action) -> None:
        with self._lock:
            task = self.tasks.get(action.task_id)
        if task is None:
            return
        # Reverse start order, so what others depend on goes last.
        for c in reversed(list(task.containers.values())):
            if c.runtime_id:
                self._stop_container(c)
        with self._lock:
            task.mark_stopped(action.stop_code, action.reason)
        self._emit(task)

    def _deactivate_task(self, action: reconcile.Action) -> None:
        """A target being drained: DEACTIVATING (ECS's name) while the proxies let its
        in-flight requests finish; its containers stop at its deregister_until."""
        with self._lock:
            task = self.tasks.get(action.task_id)
            if task is None or task.last_status != "RUNNING":
                return
            task.last_status = "DEACTIVATING"
            task.target_health = [r.TargetHealth(target_group_arn=h.target_group_arn, state=DRAINING[0],
                                                 reason=DRAINING[1], description=DRAINING[2])
                                  for h in task.target_health]
        self._emit(task)

    def _remove_task(self, action: reconcile.Action) -> None:
        with self._lock:
            task = self.tasks.get(action.task_id)
        timeouts = {c.runtime_id: c.stop_timeout for c in task.containers.values()} if task else {}
        for cid in action.container_ids:
            try:
                self.runtime.stop(cid, timeouts.get(cid, self.config.stop_timeout))
                self.runtime.remove(cid)
            except ContainerRuntimeError as exc:
                log.warning("removing container failed", extra=shoal.logs.kv(container=cid[:12], error=exc))
                return
        self._remove_volumes(action.task_id)
        with self._lock:
            self.tasks.pop(action.task_id, None)
        log.info("removed task no longer assigned here",
                 extra=shoal.logs.kv(task=action.task_id, containers=len(action.container_ids)))

    def _gc_task(self, action: reconcile.Action) -> None:
        for cid in action.container_ids:
            try:
                self.runtime.remove(cid)
            except ContainerRuntimeError as exc:
                log.warning("collecting container failed", extra=shoal.logs.kv(container=cid[:12], error=exc))
        self._remove_volumes(action.task_id)

    def _report_stopped(self, action: reconcile.Action) -> None:
        with self._lock:
            a = self.desired.get(action.task_id) if self.desired else None
            if a is None or action.task_id in self.tasks:
                return
            task = LocalTask(task_id=a.task.id, cluster=a.task.cluster, service=a.task.service_name,
                             task_arn=a.task.task_arn)
            for c in a.task.containers:
                task.containers[c.name] = LocalContainer(name=c.name, image=c.image, last_status="STOPPED",
                                                         container_arn=c.container_arn)
            task.mark_stopped(action.stop_code, action.reason)
            self.tasks[task.task_id] = task
        self._emit(task)

    # ---- views for metrics -----------------------------------------------------------

    def view(self) -> list[LocalTask]:
        with self._lock:
            return list(self.tasks.values())

    def containers(self) -> list[ContainerInfo]:
        try:
            return self.runtime.list(self._labels())
        except ContainerRuntimeError:
            return []


def _declared_bindings(s: ContainerSpec, cdef: r.ContainerDefinition,
                       bind_ip: str) -> tuple[tuple[int, str, str, int], ...]:
    """The bindings a container will have, known before it starts: the pre-allocated ones
    in bridge mode, the container ports themselves in host mode."""
    if s.network_mode == "host":
        return tuple((pm.container_port, (pm.protocol or "tcp").lower(), bind_ip, pm.container_port)
                     for pm in cdef.port_mappings)
    return tuple((p.container_port, p.protocol, p.host_ip, p.host_port) for p in s.ports)

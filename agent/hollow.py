"""A runtime whose containers "run" in memory, with realistic transitions and small delays:
one machine can carry thousands of hollow agents against a real control plane (as
Kubernetes does with kubemark). Also the in-memory fake behind the agent's unit tests."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from agent.logs import hollow_lines
from agent.runtime import (
    ContainerInfo,
    ContainerSpec,
    LogStream,
    NotFound,
    PullError,
    Runtime,
    RuntimeEvent,
    RuntimeUnavailable,
    StartError,
)

_ids = itertools.count(1)


@dataclass
class _Container:
    spec: ContainerSpec
    info: ContainerInfo
    started_at: float = 0.0
    # Health a started container reports once its check would have run (if it has one).
    health_on_start: str = "HEALTHY"


@dataclass
class HollowRuntime(Runtime):
    """In-memory containers. Delays are in seconds (0 for unit tests). ``missing_images``
    are absent locally, ``unpullable`` fail to pull with ``pull_error``, ``unstartable``
    fail at start; tests drive exits with `exit`."""

    pull_delay: float = 0.0
    start_delay: float = 0.0
    stop_delay: float = 0.0
    missing_images: set[str] = field(default_factory=set)
    unpullable: set[str] = field(default_factory=set)
    unstartable: set[str] = field(default_factory=set)
    pull_error: str = "manifest unknown"
    memory_bytes: int = 8 * 1024 * 1024
    available: bool = True

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._containers: dict[str, _Container] = {}
        self._watchers: list[tuple[dict[str, str], Callable[[RuntimeEvent], None]]] = []
        self.pulls: list[str] = []
        # The credentials each pull was given (None: anonymous), in pull order.
        self.pull_auths: list[dict[str, str] | None] = []
        self.creates: list[str] = []

    def _check(self) -> None:
        if not self.available:
            raise RuntimeUnavailable("hollow engine is down")

    def _emit(self, c: _Container, action: str) -> None:
        with self._lock:
            watchers = list(self._watchers)
        for labels, cb in watchers:
            if all(c.info.labels.get(k) == v for k, v in labels.items()):
                cb(RuntimeEvent(c.info.id, action, dict(c.info.labels)))

    def image_present(self, image: str) -> bool:
        self._check()
        return image not in self.missing_images and image not in self.unpullable

    def pull(self, image: str, auth: dict[str, str] | None = None) -> None:
        self._check()
        self.pulls.append(image)
        self.pull_auths.append(auth)
        if self.pull_delay:
            time.sleep(self.pull_delay)
        if image in self.unpullable:
            raise PullError(f"pull access denied for {image}: {self.pull_error}")
        self.missing_images.discard(image)

    def create(self, spec: ContainerSpec) -> str:
        self._check()
        with self._lock:
            if any(c.info.name == spec.name for c in self._containers.values()):
                raise StartError(f'Conflict. The container name "/{spec.name}" is already in use')
            cid = f"{next(_ids):012x}" + "0" * 52
            self._containers[cid] = _Container(
                spec, ContainerInfo(id=cid, name=spec.name, labels=dict(spec.labels), image=spec.image, state="created")
            )
        self.creates.append(spec.name)
        return cid

    def _get(self, container_id: str) -> _Container:
        with self._lock:
            c = self._containers.get(container_id)
        if c is None:
            raise NotFound(f"no such container: {container_id[:12]}")
        return c

    def start(self, container_id: str) -> None:
        self._check()
        c = self._get(container_id)
        if c.spec.image in self.unstartable:
            c.info.state, c.info.exit_code = "exited", 128
            c.info.error = "hollow: exec format error"
            raise StartError(f"failed to start {c.spec.name}: exec format error")
        if self.start_delay:
            time.sleep(self.start_delay)
        c.info.state, c.info.exit_code, c.started_at = "running", None, time.time()
        c.info.ports = tuple(c.spec.ports) if c.spec.network_mode == "bridge" else ()
        c.info.health = c.health_on_start if c.spec.healthcheck else "UNKNOWN"
        self._emit(c, "start")
        if c.spec.healthcheck:
            self._emit(c, "health_status")

    def stop(self, container_id: str, timeout: int) -> None:
        self._check()
        try:
            c = self._get(container_id)
        except NotFound:
            return
        if c.info.state != "running":
            return
        if self.stop_delay:
            time.sleep(min(self.stop_delay, timeout))
        self.exit(container_id, 143)

    def exit(self, container_id: str, code: int) -> None:
        """Simulates the container's main process exiting with ``code``."""
        c = self._get(container_id)
        c.info.state, c.info.exit_code, c.info.finished_at = "exited", code, time.time()
        self._emit(c, "die")

    def remove(self, container_id: str) -> None:
        self._check()
        with self._lock:
            c = self._containers.pop(container_id, None)
        if c is not None:
            self._emit(c, "destroy")

    def inspect(self, container_id: str) -> ContainerInfo:
        self._check()
        c = self._get(container_id)
        return ContainerInfo(**vars(c.info))

    def list(self, labels: dict[str, str]) -> list[ContainerInfo]:
        self._check()
        with self._lock:
            found = [c for c in self._containers.values()
                     if all(c.info.labels.get(k) == v for k, v in labels.items())]
        return [ContainerInfo(**vars(c.info)) for c in found]

    def watch(self, labels: dict[str, str], callback: Callable[[RuntimeEvent], None]) -> Callable[[], None]:
        entry = (dict(labels), callback)
        with self._lock:
            self._watchers.append(entry)

        def cancel() -> None:
            with self._lock:
                if entry in self._watchers:
                    self._watchers.remove(entry)

        return cancel

    def logs(self, container_id: str, *, follow: bool, since: float = 0, tail: int = 0) -> LogStream:
        c = self._get(container_id)
        return hollow_lines(c.spec.name, c.started_at, lambda: c.info.state == "running",
                            follow=follow, since=since, tail=tail)

    def usage(self, container_id: str) -> tuple[float, int] | None:
        with self._lock:
            c = self._containers.get(container_id)
        if c is None or c.info.state != "running":
            return None
        # A hollow container "uses" 1% of a core.
        return (time.time() - c.started_at) * 0.01, self.memory_bytes

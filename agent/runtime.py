"""The one thin layer between the agent and a container engine: a `Runtime` interface, the
plain records it speaks in, and `DockerRuntime` over docker-py. Docker's errors become ours
here, so nothing above this module imports docker; unit tests fake exactly this edge."""

from __future__ import annotations

import abc
import contextlib
import logging
import random
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import docker
import docker.errors
import docker.types
import requests.exceptions

import shoal.logs
from agent import cgroups

log = logging.getLogger(__name__)

LABEL_CLUSTER = "shoal.cluster"
LABEL_TASK = "shoal.task"
LABEL_CONTAINER = "shoal.container"
LABEL_NODE = "shoal.node"
LABEL_SPEC_HASH = "shoal.spec-hash"
LABEL_SERVICE = "shoal.service"
LABEL_ESSENTIAL = "shoal.essential"


class ContainerRuntimeError(RuntimeError):
    """Anything the container engine refused or failed at."""


class RuntimeUnavailable(ContainerRuntimeError):
    """The engine could not be reached at all."""


class PullError(ContainerRuntimeError):
    """An image could not be pulled."""


class StartError(ContainerRuntimeError):
    """A container could not be created or started."""


class NotFound(ContainerRuntimeError):
    """The container is gone."""


@dataclass(frozen=True)
class PortBinding:
    container_port: int
    protocol: str
    host_port: int
    host_ip: str = "0.0.0.0"


@dataclass(frozen=True)
class HealthCheck:
    test: tuple[str, ...]
    interval: int = 30
    timeout: int = 5
    retries: int = 3
    start_period: int = 0


@dataclass(frozen=True)
class Mount:
    """``source`` is a host path when it starts with "/", a Docker volume name otherwise."""

    source: str
    target: str
    read_only: bool = False


@dataclass(frozen=True)
class Ulimit:
    name: str
    soft: int
    hard: int


@dataclass(frozen=True)
class VolumeSpec:
    """A Docker named volume a task needs before its containers are created."""

    name: str
    driver: str = "local"
    driver_opts: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    # False: the volume must already exist (ECS: a shared volume without autoprovision).
    create: bool = True


@dataclass(frozen=True)
class ContainerSpec:
    """Everything the engine needs to create one container; built by `agent.spec`."""

    name: str
    image: str
    labels: dict[str, str]
    command: tuple[str, ...] = ()
    entrypoint: tuple[str, ...] = ()
    environment: dict[str, str] = field(default_factory=dict)
    working_dir: str = ""
    user: str = ""
    hostname: str = ""
    cpu_shares: int = 2
    memory_mib: int | None = None
    memory_reservation_mib: int | None = None
    network_mode: str = "bridge"
    ports: tuple[PortBinding, ...] = ()
    healthcheck: HealthCheck | None = None
    stop_timeout: int = 30
    privileged: bool = False
    read_only: bool = False
    mounts: tuple[Mount, ...] = ()
    # "<container name>:ro" or ":rw"; the source containers exist before this one is created.
    volumes_from: tuple[str, ...] = ()
    ulimits: tuple[Ulimit, ...] = ()
    init: bool = False
    cap_add: tuple[str, ...] = ()
    cap_drop: tuple[str, ...] = ()


@dataclass
class ContainerInfo:
    """What the engine says about one container right now."""

    id: str
    name: str
    labels: dict[str, str]
    image: str = ""
    # created | running | exited (paused/restarting/dead are folded into these)
    state: str = "created"
    exit_code: int | None = None
    # HEALTHY | UNHEALTHY | UNKNOWN
    health: str = "UNKNOWN"
    ports: tuple[PortBinding, ...] = ()
    error: str = ""
    finished_at: float = 0.0
    # Seconds from SIGTERM to SIGKILL the container was created with (None: engine default).
    stop_timeout: int | None = None


@dataclass(frozen=True)
class RuntimeEvent:
    container_id: str
    action: str
    labels: dict[str, str]


class Runtime(abc.ABC):
    """A container engine as the agent uses it. Every method may raise `ContainerRuntimeError`
    (`RuntimeUnavailable` when the engine is unreachable)."""

    @abc.abstractmethod
    def image_present(self, image: str) -> bool: ...

    @abc.abstractmethod
    def pull(self, image: str) -> None:
        """Raises `PullError` with the engine's reason."""

    @abc.abstractmethod
    def create(self, spec: ContainerSpec) -> str:
        """Creates (does not start) the container; returns its id. Raises `StartError`."""

    @abc.abstractmethod
    def start(self, container_id: str) -> None:
        """Raises `StartError`."""

    @abc.abstractmethod
    def stop(self, container_id: str, timeout: int) -> None:
        """SIGTERM (or the image's stop signal), SIGKILL after ``timeout`` seconds. A container
        already stopped or gone is not an error."""

    @abc.abstractmethod
    def remove(self, container_id: str) -> None:
        """Force-removes; gone already is not an error."""

    @abc.abstractmethod
    def inspect(self, container_id: str) -> ContainerInfo:
        """Raises `NotFound`."""

    @abc.abstractmethod
    def list(self, labels: dict[str, str]) -> list[ContainerInfo]:
        """All containers (running or not) carrying every one of ``labels``."""

    @abc.abstractmethod
    def watch(self, labels: dict[str, str], callback: Callable[[RuntimeEvent], None]) -> Callable[[], None]:
        """Calls ``callback`` for each container event on containers with ``labels`` (from
        another thread) until the returned function is called. Best effort: events may be
        missed while the engine is away, which is why the agent also resyncs."""

    def usage(self, container_id: str) -> tuple[float, int] | None:
        """(cpu seconds, memory bytes) of a running container, or None when unknown."""
        return None

    def ensure_volume(self, volume: VolumeSpec) -> None:
        """Creates the named volume unless it exists; with ``create`` False a missing volume
        raises `StartError`. Engines without volumes accept and ignore it."""
        return None

    def remove_volumes(self, labels: dict[str, str]) -> int:
        """Removes the volumes carrying every one of ``labels`` that no container uses;
        returns how many went."""
        return 0

    def volume_tasks(self, labels: dict[str, str]) -> set[str]:
        """The task ids (``shoal.task`` label) of the volumes carrying every one of ``labels``."""
        return set()

    def logs(self, container_id: str, *, follow: bool, since: float = 0, tail: int = 0) -> LogStream:
        """The container's output (stdout and stderr) from ``since`` (epoch seconds, 0: the
        start), only the last ``tail`` lines if given, then (``follow``) what it writes next.
        Raises `NotFound`."""
        return LogStream(iter(()), lambda: None)

    def close(self) -> None:
        return None


class LogStream:
    """Chunks of output; `close` (from any thread) ends the iteration soon after."""

    def __init__(self, chunks: Iterator[bytes], close: Callable[[], None]) -> None:
        self._chunks = chunks
        self._close = close
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        return self._chunks

    def close(self) -> None:
        self.closed = True
        with contextlib.suppress(Exception):
            self._close()


def _health(state: dict) -> str:
    status = ((state.get("Health") or {}).get("Status") or "").lower()
    return {"healthy": "HEALTHY", "unhealthy": "UNHEALTHY"}.get(status, "UNKNOWN")


def _parse_time(text: str) -> float:
    if not text or text.startswith("0001-"):
        return 0.0
    try:
        from datetime import datetime

        return datetime.fromisoformat(text[:26].rstrip("Z") + "+00:00").timestamp()
    except ValueError:
        return 0.0


def info_from_inspect(attrs: dict) -> ContainerInfo:
    state = attrs.get("State") or {}
    status = state.get("Status", "")
    folded = {"running": "running", "paused": "running", "restarting": "running", "created": "created"}.get(
        status, "exited"
    )
    ports: list[PortBinding] = []
    for key, bindings in ((attrs.get("NetworkSettings") or {}).get("Ports") or {}).items():
        port, _, proto = key.partition("/")
        for b in bindings or []:
            if b.get("HostPort"):
                ports.append(PortBinding(int(port), proto or "tcp", int(b["HostPort"]), b.get("HostIp") or "0.0.0.0"))
    return ContainerInfo(
        id=attrs["Id"],
        name=attrs.get("Name", "").lstrip("/"),
        labels=dict((attrs.get("Config") or {}).get("Labels") or {}),
        image=(attrs.get("Config") or {}).get("Image", ""),
        state=folded,
        exit_code=state.get("ExitCode") if folded == "exited" else None,
        health=_health(state),
        ports=tuple(sorted(ports, key=lambda p: (p.container_port, p.protocol, p.host_ip))),
        error=state.get("Error", "") or ("OOMKilled" if state.get("OOMKilled") else ""),
        finished_at=_parse_time(state.get("FinishedAt", "")),
        stop_timeout=(attrs.get("Config") or {}).get("StopTimeout"),
    )


def docker_features(spec: ContainerSpec) -> dict:
    """The host-config arguments for mounts, volumesFrom, ulimits, init and capabilities."""
    out: dict = {}
    if spec.mounts:
        out["binds"] = [f"{m.source}:{m.target}:{'ro' if m.read_only else 'rw'}" for m in spec.mounts]
    if spec.volumes_from:
        out["volumes_from"] = list(spec.volumes_from)
    if spec.ulimits:
        out["ulimits"] = [docker.types.Ulimit(name=u.name, soft=u.soft, hard=u.hard) for u in spec.ulimits]
    if spec.init:
        out["init"] = True
    if spec.cap_add:
        out["cap_add"] = list(spec.cap_add)
    if spec.cap_drop:
        out["cap_drop"] = list(spec.cap_drop)
    return out


def _explain(exc: Exception) -> str:
    if isinstance(exc, docker.errors.APIError):
        return str(exc.explanation or exc)
    return str(exc)


class DockerRuntime(Runtime):
    def __init__(self, base_url: str | None = None, timeout: int = 60) -> None:
        try:
            if base_url:
                self.client = docker.DockerClient(base_url=base_url, timeout=timeout)
            else:
                self.client = docker.from_env(timeout=timeout)
            self.client.ping()
        except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
            raise RuntimeUnavailable(f"docker engine at {base_url or 'DOCKER_HOST/default socket'}: {exc}") from exc
        self.api = self.client.api

    def _call(self, what: str, fn: Callable, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except docker.errors.NotFound as exc:
            raise NotFound(f"{what}: {_explain(exc)}") from exc
        except (requests.exceptions.ConnectionError, docker.errors.DockerException) as exc:
            if isinstance(exc, docker.errors.APIError):
                raise ContainerRuntimeError(f"{what}: {_explain(exc)}") from exc
            raise RuntimeUnavailable(f"{what}: {exc}") from exc
        except requests.exceptions.RequestException as exc:
            raise RuntimeUnavailable(f"{what}: {exc}") from exc

    def image_present(self, image: str) -> bool:
        try:
            self._call(f"inspect image {image}", self.api.inspect_image, image)
            return True
        except NotFound:
            return False

    def pull(self, image: str) -> None:
        repository, tag = image, "latest"
        last = repository.rsplit("/", 1)[-1]
        if "@" in image:
            repository, tag = image.split("@", 1)[0], image.split("@", 1)[1]
        elif ":" in last:
            repository, tag = image.rsplit(":", 1)
        try:
            self.api.pull(repository, tag=tag)
        except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
            raise PullError(_explain(exc)) from exc

    def create(self, spec: ContainerSpec) -> str:
        # host_port 0 (no binding pre-allocated) lets docker choose.
        port_bindings = {f"{p.container_port}/{p.protocol}": (p.host_ip, p.host_port or None) for p in spec.ports}
        host_config = self.api.create_host_config(
            network_mode=spec.network_mode or "bridge",
            port_bindings=port_bindings or None,
            cpu_shares=spec.cpu_shares,
            mem_limit=f"{spec.memory_mib}m" if spec.memory_mib else None,
            mem_reservation=f"{spec.memory_reservation_mib}m" if spec.memory_reservation_mib else None,
            privileged=spec.privileged,
            read_only=spec.read_only,
            **docker_features(spec),
        )
        healthcheck = None
        if spec.healthcheck:
            ns = 1_000_000_000
            hc = spec.healthcheck
            healthcheck = {
                "test": list(hc.test),
                "interval": hc.interval * ns,
                "timeout": hc.timeout * ns,
                "retries": hc.retries,
                "start_period": hc.start_period * ns,
            }
        try:
            created = self.api.create_container(
                image=spec.image,
                name=spec.name,
                command=list(spec.command) or None,
                entrypoint=list(spec.entrypoint) or None,
                environment=dict(spec.environment) or None,
                working_dir=spec.working_dir or None,
                user=spec.user or None,
                hostname=spec.hostname or None,
                labels=dict(spec.labels),
                ports=[(p.container_port, p.protocol) for p in spec.ports] or None,
                host_config=host_config,
                healthcheck=healthcheck,
                stop_timeout=spec.stop_timeout,
                detach=True,
                volumes=[m.target for m in spec.mounts] or None,
            )
        except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
            raise StartError(_explain(exc)) from exc
        return created["Id"]

    def start(self, container_id: str) -> None:
        try:
            self.api.start(container_id)
        except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
            raise StartError(_explain(exc)) from exc

    def stop(self, container_id: str, timeout: int) -> None:
        with contextlib.suppress(NotFound):
            self._call(f"stop {container_id[:12]}", self.api.stop, container_id, timeout=timeout)

    def remove(self, container_id: str) -> None:
        try:
            self._call(f"remove {container_id[:12]}", self.api.remove_container, container_id, force=True)
        except NotFound:
            pass
        except ContainerRuntimeError as exc:
            # Removal already in progress (a GC racing a task teardown) is the outcome we want.
            if "already in progress" not in str(exc):
                raise

    def inspect(self, container_id: str) -> ContainerInfo:
        return info_from_inspect(self._call(f"inspect {container_id[:12]}", self.api.inspect_container, container_id))

    def list(self, labels: dict[str, str]) -> list[ContainerInfo]:
        filters = {"label": [f"{k}={v}" for k, v in labels.items()]}
        summaries = self._call("list containers", self.api.containers, all=True, filters=filters)
        out = []
        for s in summaries:
            try:
                out.append(self.inspect(s["Id"]))
            except NotFound:
                continue
        return out

    def watch(self, labels: dict[str, str], callback: Callable[[RuntimeEvent], None]) -> Callable[[], None]:
        stopped = threading.Event()
        holder: dict[str, object] = {}
        filters = {"type": "container", "label": [f"{k}={v}" for k, v in labels.items()]}

        def run() -> None:
            delay = 0.2
            broken = False
            while not stopped.is_set():
                try:
                    stream = self.api.events(decode=True, filters=filters)
                    holder["stream"] = stream
                    if broken:
                        # Back after a gap (dockerd restarted?): whatever happened in it,
                        # containers that died with dockerd included, needs a resync now.
                        log.info("docker event stream reconnected; resyncing")
                        callback(RuntimeEvent("", "resync", {}))
                    broken = False
                    delay = 0.2
                    for ev in stream:
                        if stopped.is_set():
                            break
                        actor = ev.get("Actor") or {}
                        action = str(ev.get("Action") or ev.get("status") or "").split(":", 1)[0]
                        callback(RuntimeEvent(ev.get("id") or actor.get("ID", ""), action,
                                              dict(actor.get("Attributes") or {})))
                    if stopped.is_set():
                        break
                    # A stream that ends without an error is dockerd shutting down.
                    log.warning("docker event stream ended; reconnecting")
                except Exception as exc:
                    if stopped.is_set():
                        break
                    if not broken:
                        log.warning("docker event stream broke; reconnecting", extra=shoal.logs.kv(error=exc))
                # Tell the agent events may have been missed so it resyncs.
                broken = True
                callback(RuntimeEvent("", "resync", {}))
                stopped.wait(delay + random.uniform(0, delay))
                delay = min(delay * 2, 5.0)

        thread = threading.Thread(target=run, name="docker-events", daemon=True)
        thread.start()

        def cancel() -> None:
            stopped.set()
            stream = holder.get("stream")
            if stream is not None:
                # Closing a half-dead stream may raise; it is gone either way.
                with contextlib.suppress(Exception):
                    stream.close()  # type: ignore[attr-defined]

        return cancel

    def usage(self, container_id: str) -> tuple[float, int] | None:
        return cgroups.usage(container_id)

    # Volumes and logs live in their own modules, which build on this one's records.
    def ensure_volume(self, volume: VolumeSpec) -> None:
        from agent import volumes

        volumes.docker_ensure(self.api, volume)

    def remove_volumes(self, labels: dict[str, str]) -> int:
        from agent import volumes

        return volumes.docker_remove(self.api, labels)

    def volume_tasks(self, labels: dict[str, str]) -> set[str]:
        from agent import volumes

        return volumes.docker_task_ids(self.api, labels)

    def logs(self, container_id: str, *, follow: bool, since: float = 0, tail: int = 0) -> LogStream:
        from agent import logs

        return logs.docker_logs(self.api, container_id, follow=follow, since=since, tail=tail)

    def close(self) -> None:
        self.client.close()


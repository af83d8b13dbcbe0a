"""The one thin layer between the agent and a container engine: the `Runtime` interface and
the plain records and errors it speaks in. `agent.docker_runtime` implements it over
docker-py, `agent.hollow` in memory; unit tests fake exactly this edge."""

from __future__ import annotations

import abc
import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

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
    # The node's DNS responder and the service's namespaces, when the agent serves DNS;
    # empty: the engine's default resolver configuration.
    dns: tuple[str, ...] = ()
    dns_search: tuple[str, ...] = ()


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
    def pull(self, image: str, auth: dict[str, str] | None = None) -> None:
        """Pulls with ``auth`` (Docker's AuthConfig: ``registrytoken``, or ``username`` and
        ``password``), anonymously without. Raises `PullError` with the engine's reason."""

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

    def exec(self, container_id: str, command: list[str], *, stdin: bool = False,
             tty: TerminalSize | None = None) -> ExecStream:
        """Runs ``command`` in the running container: its output as it comes, then its exit
        code; with ``stdin`` its input is written through the stream, with ``tty`` it runs on
        a terminal of that size. Raises `NotFound`, or `ContainerRuntimeError` when it cannot
        run."""
        raise ContainerRuntimeError("this container engine cannot run commands in containers")

    def bridge_gateway(self) -> str:
        """The address containers on the engine's default network reach this host at
        ("" when there is none): where the node's DNS responder and proxy listen for them."""
        return ""

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


@dataclass(frozen=True)
class TerminalSize:
    rows: int
    cols: int


class ExecInput(Protocol):
    """The input side of a command started with stdin or a terminal (one writer thread)."""

    def write(self, data: bytes) -> None: ...

    def close_stdin(self) -> None: ...

    def resize(self, size: TerminalSize) -> None: ...


class ExecStream(LogStream):
    """A command's output; once it is read to the end, `exit_code()` says how it ended.
    ``input`` is set when it was started with stdin or a terminal."""

    def __init__(self, chunks: Iterator[bytes], close: Callable[[], None], exit_code: Callable[[], int],
                 input: ExecInput | None = None) -> None:
        super().__init__(chunks, close)
        self.exit_code = exit_code
        self.input = input

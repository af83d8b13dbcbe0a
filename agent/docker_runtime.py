"""`DockerRuntime`: the `Runtime` interface over docker-py. Docker's errors become ours here
(and in the volume and log helpers it calls), so nothing above this layer imports docker."""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import socket
import threading
from collections.abc import Callable
from datetime import datetime

import docker
import docker.errors
import docker.types
import psutil

import shoal.logs
from agent import cgroups, execs, logs, volumes
from agent.engine_errors import ENGINE_ERRORS, engine_errors, explain
from agent.runtime import (
    ContainerInfo,
    ContainerRuntimeError,
    ContainerSpec,
    ExecStream,
    LogStream,
    NotFound,
    PortBinding,
    PullError,
    Runtime,
    RuntimeEvent,
    RuntimeUnavailable,
    StartError,
    TerminalSize,
    VolumeSpec,
)
from shoal.retry import backoff

log = logging.getLogger(__name__)


def _health(state: dict) -> str:
    status = ((state.get("Health") or {}).get("Status") or "").lower()
    return {"healthy": "HEALTHY", "unhealthy": "UNHEALTHY"}.get(status, "UNKNOWN")


def _parse_time(text: str) -> float:
    if not text or text.startswith("0001-"):
        return 0.0
    try:
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
    """The host-config arguments for mounts, volumesFrom, ulimits, init, capabilities and DNS."""
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
    if spec.dns:
        out["dns"] = list(spec.dns)
    if spec.dns_search:
        out["dns_search"] = list(spec.dns_search)
    return out


class DockerRuntime(Runtime):
    def __init__(self, base_url: str | None = None, timeout: int = 60) -> None:
        try:
            if base_url:
                self.client = docker.DockerClient(base_url=base_url, timeout=timeout)
            else:
                self.client = docker.from_env(timeout=timeout)
            self.client.ping()
        except ENGINE_ERRORS as exc:
            raise RuntimeUnavailable(f"docker engine at {base_url or 'DOCKER_HOST/default socket'}: {exc}") from exc
        self.api = self.client.api

    def _call(self, what: str, fn: Callable, *args, **kwargs):
        with engine_errors(what):
            return fn(*args, **kwargs)

    def image_present(self, image: str) -> bool:
        try:
            self._call(f"inspect image {image}", self.api.inspect_image, image)
            return True
        except NotFound:
            return False

    def remove_image(self, image: str) -> None:
        # Not forced: an image a container (even a stopped one) still uses stays.
        self._call(f"remove image {image}", self.api.remove_image, image)

    def pull(self, image: str, auth: dict[str, str] | None = None) -> None:
        repository, tag = image, "latest"
        last = repository.rsplit("/", 1)[-1]
        if "@" in image:
            repository, tag = image.split("@", 1)[0], image.split("@", 1)[1]
        elif ":" in last:
            repository, tag = image.rsplit(":", 1)
        try:
            # Credentials come only from the control plane, in the request's header: an
            # empty auth_config keeps docker-py from reading this host's ~/.docker/config.json,
            # and nothing of it is stored by the engine or shows in `docker inspect`.
            for line in self.api.pull(repository, tag=tag, stream=True, decode=True, auth_config=auth or {}):
                if isinstance(line, dict) and line.get("error"):
                    raise PullError(str(line.get("error")))
        except ENGINE_ERRORS as exc:
            raise PullError(explain(exc)) from exc

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
        except ENGINE_ERRORS as exc:
            raise StartError(explain(exc)) from exc
        return created["Id"]

    def bridge_gateway(self) -> str:
        """The host's address on Docker's default bridge, where this node's containers reach
        it; "" for a dockerd started without its default bridge."""
        try:
            network = self._call("inspect network bridge", self.api.inspect_network, "bridge")
        except NotFound:  # a dockerd started without its default bridge
            return ""
        configs = (network.get("IPAM") or {}).get("Config") or []
        for config in configs:
            if config.get("Gateway"):
                return str(config["Gateway"])
        # Some engines leave Gateway out of the default bridge's IPAM (seen with Debian's 20.10
        # on a fresh boot): the host's address is then the bridge interface's own, in the subnet.
        subnets = [ipaddress.ip_network(c["Subnet"], strict=False) for c in configs if c.get("Subnet")]
        bridge = (network.get("Options") or {}).get("com.docker.network.bridge.name") or "docker0"
        for addr in psutil.net_if_addrs().get(bridge, []):
            if addr.family == socket.AF_INET and any(ipaddress.ip_address(addr.address) in net for net in subnets):
                return str(addr.address)
        return ""

    def start(self, container_id: str) -> None:
        try:
            self.api.start(container_id)
        except ENGINE_ERRORS as exc:
            raise StartError(explain(exc)) from exc

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
            attempt = 0
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
                    attempt = 0
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
                stopped.wait(backoff(attempt, 0.2, 5.0))
                attempt += 1

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

    # Volumes and logs live in their own modules, which build on the records in agent.runtime.
    def ensure_volume(self, volume: VolumeSpec) -> None:

        volumes.docker_ensure(self.api, volume)

    def remove_volumes(self, labels: dict[str, str]) -> int:

        return volumes.docker_remove(self.api, labels)

    def volume_tasks(self, labels: dict[str, str]) -> set[str]:
        return volumes.docker_task_ids(self.api, labels)

    def exec(self, container_id: str, command: list[str], *, stdin: bool = False,
             tty: TerminalSize | None = None) -> ExecStream:
        return execs.docker_exec(self.api, container_id, command, stdin=stdin, tty=tty)

    def logs(self, container_id: str, *, follow: bool, since: float = 0, tail: int = 0) -> LogStream:

        return logs.docker_logs(self.api, container_id, follow=follow, since=since, tail=tail)

    def close(self) -> None:
        self.client.close()


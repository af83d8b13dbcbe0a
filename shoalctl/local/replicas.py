"""The control plane replicas of a local cluster: their names, ports and command lines, and
starting one (until its gRPC health says SERVING), stopping, killing it, and which one leads."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from shoal import keys
from shoal.netutil import free_ports
from shoal.store.base import Store, StoreError
from shoal.waiting import wait_until
from shoalctl.local import procs
from shoalctl.local.errors import ClusterError


@dataclass
class ReplicaSettings:
    """What every replica is started with. ``etcd_args(i)``: replica i's etcd flags;
    ``pki_dir``: its --pki-dir (None: an --insecure cluster); ``first_ports``: replica 1's
    (api, metrics) ports; ``console_port``: replica 1's web console port (None: no replica
    serves one; the others get free ports)."""

    host: str
    first_ports: tuple[int, int]
    logs_dir: Path
    lease_ttl: float
    log_level: str
    etcd_args: Callable[[int], list[str]]
    pki_dir: Path | None
    ecs_listen: str | None = None
    console_port: int | None = None
    # The cluster registry's HOST:PORT and where replica 1 serves its token endpoint.
    registry: str | None = None
    registry_token_listen: str | None = None
    # The registry process on loopback; replica 1's front listens on ``registry`` for it.
    registry_upstream: str | None = None
    extra_args: list[str] = field(default_factory=list)


class Replicas:
    """Replica i (from 1) -> its process, (api, metrics) ports and console port; replica 1
    uses the settings' first ports, the others free ones picked when first asked for."""

    def __init__(self, count: int) -> None:
        if not 1 <= count <= 9:
            raise ValueError(f"replicas must be 1-9, got {count}")
        self.count = count
        self.procs: dict[int, subprocess.Popen[bytes]] = {}
        self.ports: dict[int, tuple[int, int]] = {}
        self.console_ports: dict[int, int] = {}

    def name(self, i: int) -> str:
        """"controlplane" for a single replica, "controlplane-N" for replica N of several:
        its --name, so also what the leader key holds while it leads."""
        return "controlplane" if self.count == 1 else f"controlplane-{i}"

    def ports_of(self, i: int, settings: ReplicaSettings) -> tuple[int, int]:
        if i == 1:
            return settings.first_ports
        if i not in self.ports:
            # Picked together, so no two of them can be the same freed port.
            api, metrics, *console = free_ports(2 if settings.console_port is None else 3, settings.host)
            self.ports[i] = (api, metrics)
            if console:
                self.console_ports[i] = console[0]
        return self.ports[i]

    def console_port_of(self, i: int, settings: ReplicaSettings) -> int | None:
        """Replica ``i``'s web console port, or None when the replicas serve no console."""
        if settings.console_port is None or i == 1:
            return settings.console_port
        self.ports_of(i, settings)
        return self.console_ports[i]

    def log_path(self, i: int, settings: ReplicaSettings) -> Path:
        return settings.logs_dir / f"{self.name(i)}.log"

    def spawn(self, i: int, settings: ReplicaSettings, env: dict[str, str]) -> bool:
        """Starts replica ``i`` unless it runs; returns whether it started it."""
        if not 1 <= i <= self.count:
            raise ClusterError(f"no replica {i}: this cluster has {self.count}")
        proc = self.procs.get(i)
        if proc is not None and proc.poll() is None:
            return False
        api, metrics = self.ports_of(i, settings)
        console = self.console_port_of(i, settings)
        name = self.name(i)
        argv = [
            sys.executable, "-m", "controlplane",
            *settings.etcd_args(i),
            "--listen", f"{settings.host}:{api}",
            "--metrics-listen", f"{settings.host}:{metrics}",
            "--lease-ttl", str(settings.lease_ttl),
            # HTTPS with a certificate from the cluster CA; plain HTTP only for an --insecure cluster.
            *(["--ecs-listen", settings.ecs_listen, *([] if settings.pki_dir is not None else ["--ecs-plaintext"])]
              if settings.ecs_listen is not None and i == 1 else []),
            *(["--console-listen", f"{settings.host}:{console}"] if console is not None else []),
            *(["--registry", settings.registry] if settings.registry else []),
            *(["--registry-token-listen", settings.registry_token_listen]
              if settings.registry and settings.registry_token_listen and i == 1 else []),
            *(["--registry-front-listen", settings.registry, "--registry-upstream", settings.registry_upstream]
              if settings.registry and settings.registry_upstream and i == 1 else []),
            "--name", name,
            "--log-level", settings.log_level,
            *(["--pki-dir", str(settings.pki_dir)] if settings.pki_dir is not None else []),
            *settings.extra_args,
        ]
        self.procs[i] = procs.spawn(argv, self.log_path(i, settings), env=env)
        return True

    def wait_serving(self, i: int, settings: ReplicaSettings, channel: grpc.Channel, timeout: float) -> None:
        """Returns once replica ``i`` serves; ClusterError with its log tail if it exits
        (at once, rather than after the whole timeout) or the deadline passes."""
        name, log_path, proc = self.name(i), self.log_path(i, settings), self.procs[i]
        target = f"{settings.host}:{self.ports_of(i, settings)[0]}"
        if not wait_until(lambda: proc.poll() is not None or _serving(channel), timeout, interval=0.2) \
                or proc.poll() is not None:
            raise ClusterError(
                f"{name} did not serve on {target} within {timeout}s (exit code {proc.poll()}); "
                f"{log_path}:\n{procs.log_tail(log_path)}"
            )

    def stop(self, i: int, timeout: float = 10) -> str:
        proc = self.procs.get(i)
        return procs.stop_popen(proc, self.name(i), timeout) if proc else f"{self.name(i)} not started"

    def kill(self, i: int) -> None:
        """SIGKILL replica ``i``: a crash. Its lease (leadership, its agents' liveness keys)
        expires one TTL later."""
        proc = self.procs.get(i)
        if proc is not None:
            procs.kill_popen(proc)

    def leader(self, store: Store) -> int | None:
        """The number of the replica holding the controllers' leader key now, or None when
        no replica does (or the store cannot say)."""
        try:
            kv = store.get(keys.leader("controllers"))
        except StoreError:
            return None
        if kv is None:
            return None
        holder = kv.value.decode(errors="replace")
        for i in range(1, self.count + 1):
            if self.name(i) == holder:
                return i
        return None

    def records(self, settings: ReplicaSettings) -> list[procs.ProcRecord]:
        return [procs.ProcRecord.of("controlplane", self.name(i), p.pid, self.log_path(i, settings))
                for i, p in sorted(self.procs.items())]


def _serving(channel: grpc.Channel) -> bool:
    try:
        reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""), timeout=2)
    except grpc.RpcError:
        return False
    return reply.status == health_pb2.HealthCheckResponse.SERVING

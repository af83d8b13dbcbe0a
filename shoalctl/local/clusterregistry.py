"""The cluster registry as one part of a local cluster: the address image names start with
(a non-loopback address of this machine, see ``registry.reachable_host``), the port of its
token endpoint on control-plane replica 1, and starting it (its certificates and push token
made from the cluster CA in etcd) and stopping it. The registry process itself: registry.py."""

from __future__ import annotations

from pathlib import Path

from shoal.store.base import Store
from shoalctl.local import procs
from shoalctl.local.errors import ClusterError
from shoalctl.local.ports import claim_port
from shoalctl.local.registry import RegistryProcess, reachable_host


class ClusterRegistry:
    """``wanted`` False: every method is a no-op and ``address`` is None. Port 0 picks a
    free port at ``claim_ports``."""

    def __init__(self, wanted: bool, host: str, port: int, state_dir: Path, logs_dir: Path) -> None:
        self.wanted = wanted
        self.host = host
        self.port = port
        self.token_port = 0
        self.upstream_port = 0
        self.state_dir = state_dir
        self.logs_dir = logs_dir
        self.process: RegistryProcess | None = None

    @property
    def address(self) -> str | None:
        """HOST:PORT image names start with, or None."""
        return f"{reachable_host(self.host)}:{self.port}" if self.wanted else None

    @property
    def token_listen(self) -> str | None:
        """Where replica 1 serves the registry's token endpoint (its --registry-token-listen)."""
        return f"{self.host}:{self.token_port}" if self.wanted else None

    @property
    def upstream(self) -> str | None:
        """Where the registry process itself listens (loopback, plain HTTP): replica 1's front, on
        ``address``, forwards to it and refuses pushes that would move an immutable tag."""
        return f"127.0.0.1:{self.upstream_port}" if self.wanted else None

    def claim_ports(self) -> None:
        if not self.wanted:
            return
        self.token_port = claim_port(self.token_port, self.host, "the registry's token endpoint (registry_token_port)")
        self.port = claim_port(self.port, reachable_host(self.host), "the registry")
        self.upstream_port = claim_port(self.upstream_port, "127.0.0.1", "the registry behind its front")

    def start(self, store: Store, pki_dir: Path, timeout: float) -> RegistryProcess:
        """Writes its config and certificates from the cluster CA in ``store`` and starts
        it; ``process`` is set before the start is waited for, so a failed start can still
        be recorded and stopped. Raises ClusterError saying why it did not come up."""
        host, _, port = (self.address or "").rpartition(":")
        self.process = RegistryProcess(self.state_dir / "registry", self.logs_dir / "registry.log", host, int(port),
                                       f"https://{self.host}:{self.token_port}/token", self.upstream_port)
        self.process.prepare(store, pki_dir)
        try:
            self.process.start(timeout)
        except RuntimeError as exc:
            raise ClusterError(str(exc)) from exc
        return self.process

    def stop(self, timeout: float) -> list[str]:
        return [self.process.stop(timeout)] if self.process is not None else []

    def records(self) -> list[procs.ProcRecord]:
        if self.process is None or self.process.pid is None:
            return []
        return [procs.ProcRecord.of("registry", "registry", self.process.pid, self.process.log_path)]

"""Nodes as Vagrant machines: `vagrant up node-N` / `vagrant destroy -f node-N` in the
vagrant/ directory, whose Vagrantfile defines machines node-1..node-<max_nodes> that run an
agent registering as their machine name (it reads SHOAL_ENDPOINT and SHOAL_CLUSTER).

Config: vagrant_dir (default: the repository's vagrant/), max_nodes (default 8),
prefix (default "node-"), vagrant (the binary, default "vagrant"), timeout (seconds,
default 1800). Commands are argv lists; nothing goes through a shell.
"""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path

from autoscaler.providers.base import NodeProvider, ProviderContext, ProviderError, ProviderNode
from shoal import logs
from shoal.provider_config import BUILT_IN, check_built_in, int_option

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
Runner = Callable[..., subprocess.CompletedProcess]


class VagrantNodeProvider(NodeProvider):
    CONFIG_KEYS = BUILT_IN["vagrant"][0]

    def __init__(self, config: Mapping[str, str], ctx: ProviderContext, runner: Runner = subprocess.run) -> None:
        super().__init__(config, ctx)
        self.dir = Path(self.config.get("vagrant_dir") or ROOT / "vagrant")
        self.max_nodes = int_option(self.config, "max_nodes", 8, 1, 1000)
        self.prefix = self.config.get("prefix", "node-")
        self.binary = self.config.get("vagrant", "vagrant")
        self.timeout = int_option(self.config, "timeout", 1800, 10, 86_400)
        self.runner = runner

    @classmethod
    def check_config(cls, config: Mapping[str, str]) -> None:
        check_built_in("vagrant", config)

    def _machines(self) -> dict[str, str]:
        """machine name -> state, from `vagrant status --machine-readable`."""
        out = self._run("status", ["status", "--machine-readable"])
        states: dict[str, str] = {}
        for line in out.splitlines():
            parts = line.split(",")
            if len(parts) >= 4 and parts[2] == "state" and parts[1].startswith(self.prefix):
                states[parts[1]] = parts[3]
        return states

    def non_terminated_nodes(self) -> list[ProviderNode]:
        return [ProviderNode(id=m, name=m) for m, state in sorted(self._machines().items())
                if state not in ("not_created", "poweroff", "aborted")]

    def create_node(self, name: str) -> ProviderNode:
        # Vagrant machines have fixed names: take the first one not up; ``name`` is a hint only.
        up = {n.id for n in self.non_terminated_nodes()}
        free = [f"{self.prefix}{i}" for i in range(1, self.max_nodes + 1) if f"{self.prefix}{i}" not in up]
        if not free:
            raise ProviderError(f"all {self.max_nodes} vagrant machines are up")
        machine = free[0]
        self._run("up", ["up", machine])
        return ProviderNode(id=machine, name=machine, state="pending")

    def terminate_node(self, node_id: str) -> None:
        if not node_id.startswith(self.prefix):
            raise ProviderError(f"{node_id!r} is not one of this provider's machines ({self.prefix}N)")
        self._run("destroy", ["destroy", "-f", node_id])

    def _run(self, what: str, args: list[str]) -> str:
        env = dict(os.environ, SHOAL_ENDPOINT=self.ctx.endpoint, SHOAL_CLUSTER=self.ctx.cluster,
                   SHOAL_CAPACITY_PROVIDER=self.ctx.capacity_provider)
        argv = [self.binary, *args]
        try:
            done = self.runner(argv, cwd=self.dir, capture_output=True, text=True, timeout=self.timeout, env=env,
                               stdin=subprocess.DEVNULL, check=False)
        except FileNotFoundError as exc:
            raise ProviderError(f"vagrant {what}: {self.binary!r} not found (install Vagrant)") from exc
        except subprocess.TimeoutExpired as exc:
            raise ProviderError(f"vagrant {what} took longer than {self.timeout}s") from exc
        if done.returncode != 0:
            raise ProviderError(f"vagrant {' '.join(args)} exited with {done.returncode}: "
                                f"{(done.stderr or done.stdout).strip()[-500:]}")
        if what != "status":
            log.info(f"vagrant {what} done", extra=logs.kv(args=" ".join(args)))
        return done.stdout

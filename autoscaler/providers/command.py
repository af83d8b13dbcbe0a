"""Nodes made and removed by the user's own scripts (cloud CLIs, IPMI, a Terraform wrapper).

Config:
- ``create``: the command that brings up one node, as a JSON list of strings or a
  shell-like string split with shlex (never run through a shell: no interpolation, no
  globbing). It gets the node name as its last argument and SHOAL_NODE_NAME,
  SHOAL_CLUSTER, SHOAL_ENDPOINT and SHOAL_CAPACITY_PROVIDER in its environment; it must
  start an agent there with ``--name $SHOAL_NODE_NAME --cluster $SHOAL_CLUSTER``. The last
  line it prints is the node's id (default: the name).
- ``terminate``: gets the node id as its last argument.
- ``list`` (optional): prints one node per line, "ID [NAME]". Without it the provider
  remembers what it created in <state_dir>/nodes.json.
- ``timeout``: seconds each command may take (default 600).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import threading
from collections.abc import Mapping
from pathlib import Path

from autoscaler.providers.base import NodeProvider, ProviderContext, ProviderError, ProviderNode
from shoal import logs
from shoal.provider_config import BUILT_IN, check_built_in, int_option, parse_argv

log = logging.getLogger(__name__)

_TAIL = 500


class CommandNodeProvider(NodeProvider):
    CONFIG_KEYS = BUILT_IN["command"][0]

    def __init__(self, config: Mapping[str, str], ctx: ProviderContext) -> None:
        super().__init__(config, ctx)
        self.create_argv = parse_argv(self.config.get("create", ""), "nodeProvider.config.create")
        self.terminate_argv = parse_argv(self.config.get("terminate", ""), "nodeProvider.config.terminate")
        listing = self.config.get("list")
        self.list_argv = parse_argv(listing, "nodeProvider.config.list") if listing else None
        self.timeout = int_option(self.config, "timeout", 600, 1, 86_400)
        self.state_file = Path(self.config.get("state_dir") or ctx.state_dir) / "nodes.json"
        self._lock = threading.Lock()

    @classmethod
    def check_config(cls, config: Mapping[str, str]) -> None:
        check_built_in("command", config)

    def non_terminated_nodes(self) -> list[ProviderNode]:
        if self.list_argv is None:
            return [ProviderNode(id=i, name=n) for i, n in sorted(self._load().items())]
        out = []
        for line in self._run("list", self.list_argv, []).splitlines():
            parts = line.split()
            if parts:
                out.append(ProviderNode(id=parts[0], name=parts[1] if len(parts) > 1 else parts[0]))
        return out

    def create_node(self, name: str) -> ProviderNode:
        lines = [line.strip() for line in self._run("create", self.create_argv, [name], name).splitlines()]
        node_id = next((line for line in reversed(lines) if line), name)
        if len(node_id) > 255 or any(c.isspace() for c in node_id):
            raise ProviderError(f"create printed {node_id[:80]!r} as the node id; ids are one word")
        with self._lock:
            nodes = self._load()
            nodes[node_id] = name
            self._save(nodes)
        return ProviderNode(id=node_id, name=name, state="pending")

    def terminate_node(self, node_id: str) -> None:
        self._run("terminate", self.terminate_argv, [node_id], self._load().get(node_id, node_id))
        with self._lock:
            nodes = self._load()
            nodes.pop(node_id, None)
            self._save(nodes)

    # ---- helpers --------------------------------------------------------------------------

    def _run(self, what: str, argv: list[str], extra: list[str], name: str = "") -> str:
        env = dict(os.environ, SHOAL_CLUSTER=self.ctx.cluster, SHOAL_ENDPOINT=self.ctx.endpoint,
                   SHOAL_CAPACITY_PROVIDER=self.ctx.capacity_provider, SHOAL_NODE_NAME=name)
        full = argv + extra
        try:
            done = subprocess.run(full, capture_output=True, text=True, timeout=self.timeout, env=env,
                                  stdin=subprocess.DEVNULL, check=False)
        except FileNotFoundError as exc:
            raise ProviderError(f"{what} command {argv[0]!r} not found") from exc
        except PermissionError as exc:
            raise ProviderError(f"{what} command {argv[0]!r} is not executable") from exc
        except subprocess.TimeoutExpired as exc:
            raise ProviderError(f"{what} command {argv[0]!r} took longer than {self.timeout}s") from exc
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip()[-_TAIL:]
            raise ProviderError(f"{what} command {argv[0]!r} exited with {done.returncode}: {tail}")
        log.info(f"{what} command succeeded", extra=logs.kv(command=argv[0], node=name or "-"))
        return done.stdout

    def _load(self) -> dict[str, str]:
        try:
            data = json.loads(self.state_file.read_text())
            return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise ProviderError(f"cannot read {self.state_file}: {exc}") from exc

    def _save(self, nodes: dict[str, str]) -> None:
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(nodes, indent=1, sort_keys=True))
        os.replace(tmp, self.state_file)

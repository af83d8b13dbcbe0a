"""An in-memory node provider for unit tests, with failure injection: make the next N
creates or terminates fail, or every call raise, and see exactly what was asked."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Mapping
from pathlib import Path

from autoscaler.providers.base import NodeProvider, ProviderContext, ProviderError, ProviderNode


class FakeNodeProvider(NodeProvider):
    CONFIG_KEYS = frozenset({"nodes"})

    def __init__(self, config: Mapping[str, str] | None = None, ctx: ProviderContext | None = None) -> None:
        ctx = ctx or ProviderContext("fake", "default", "127.0.0.1:7400", Path("/nonexistent"))
        super().__init__(config or {}, ctx)
        self.nodes: dict[str, ProviderNode] = {}
        self.created: list[str] = []
        self.terminated: list[str] = []
        self.fail_creates = 0
        self.fail_terminates = 0
        self.unreachable = False
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        for name in filter(None, (self.config.get("nodes") or "").split(",")):
            self.nodes[name] = ProviderNode(id=name, name=name)

    def _check(self) -> None:
        if self.unreachable:
            raise ProviderError("fake provider is unreachable")

    def non_terminated_nodes(self) -> list[ProviderNode]:
        with self._lock:
            self._check()
            return sorted(self.nodes.values(), key=lambda n: n.id)

    def create_node(self, name: str) -> ProviderNode:
        with self._lock:
            self._check()
            if self.fail_creates:
                self.fail_creates -= 1
                raise ProviderError(f"injected failure creating {name}")
            node = ProviderNode(id=f"fake-{next(self._ids)}", name=name, state="pending")
            self.nodes[node.id] = node
            self.created.append(name)
            return node

    def terminate_node(self, node_id: str) -> None:
        with self._lock:
            self._check()
            if self.fail_terminates:
                self.fail_terminates -= 1
                raise ProviderError(f"injected failure terminating {node_id}")
            self.nodes.pop(node_id, None)
            self.terminated.append(node_id)

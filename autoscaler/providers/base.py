"""Node providers: how a capacity provider gets and gives back hosts, as Ray's autoscaler
does it. A provider only starts and stops machines that run a Shoal agent; the cluster
scaler decides how many, and matches a provider's node to the container instance its agent
registers by name (the agent's ``--name``, the container instance's hostname)."""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from shoal.provider_config import check_keys


class ProviderError(Exception):
    """Creating, listing or terminating a node failed; the message says which and why."""


@dataclass(frozen=True)
class ProviderNode:
    # The provider's handle for the node (what terminate_node takes).
    id: str
    # The hostname its agent registers with.
    name: str
    # pending (asked for, not up yet) | running
    state: str = "running"
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ProviderContext:
    """What every provider is told about where its nodes belong."""

    capacity_provider: str
    cluster: str
    # The control plane endpoint the nodes' agents connect to.
    endpoint: str
    # A directory the provider may keep state in (one per capacity provider).
    state_dir: Path


class NodeProvider(abc.ABC):
    """``config`` is the capacity provider's nodeProvider.config map (strings)."""

    # Keys the provider understands; others are refused so a typo is an error, not a no-op.
    CONFIG_KEYS: frozenset[str] = frozenset()
    # The subset a capacity provider written through the API may set (see profiles.py):
    # data such as node size, never a command, class or path. The rest comes only from the
    # autoscaler host's providers config file.
    API_KEYS: frozenset[str] = frozenset()

    def __init__(self, config: Mapping[str, str], ctx: ProviderContext) -> None:
        self.config = dict(config)
        self.ctx = ctx

    @classmethod
    def check_config(cls, config: Mapping[str, str]) -> None:
        """Raises ValidationError naming ``nodeProvider.config.<key>``. Override to check
        values; call super() for the unknown-key check."""
        check_keys(config, cls.CONFIG_KEYS)

    @abc.abstractmethod
    def non_terminated_nodes(self) -> list[ProviderNode]:
        """Every node that is starting or running: the provider's own view, which the
        cluster scaler trusts over the control plane's (a node may not have registered)."""

    @abc.abstractmethod
    def create_node(self, name: str) -> ProviderNode:
        """Starts one node whose agent registers as ``name`` (providers with fixed machine
        names may choose another and return it). May return before the agent is up."""

    @abc.abstractmethod
    def terminate_node(self, node_id: str) -> None:
        """Stops the node for good. Unknown ids are ignored (it is already gone)."""

    def close(self) -> None:
        """Releases what the provider holds in this process; nodes keep running."""
        return None

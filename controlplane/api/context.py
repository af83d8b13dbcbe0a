"""What every API handler needs: the store, typed reads, ARN format and cluster policy."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import grpc

from controlplane.cache import Cache
from controlplane.errors import ApiError, not_found
from controlplane.registry.settings import RegistrySettings
from controlplane.state import Record, State
from shoal import keys
from shoal.arns import ArnFormat, cluster_name
from shoal.store.base import Conflict, Store
from shoal.taskdef.policy import HostPolicy
from shoal.v1 import resources_pb2 as r


@dataclass
class ApiContext:
    store: Store
    arns: ArnFormat = field(default_factory=ArnFormat)
    # What task definitions may reach on a node (--allow-*); every agent checks it again.
    policy: HostPolicy = field(default_factory=HostPolicy)
    # The replica's watch-fed cache, once started: hot reads come from it (api/reads.py).
    cache: Cache | None = None
    # The cluster registry, when this replica has one (--registry).
    registry: RegistrySettings | None = None
    # RegisterTargets may name loopback, link-local and node addresses (--allow-local-targets).
    allow_local_targets: bool = False
    # Hosts of etcd's endpoints and this replica's listeners, refused as targets like node addresses.
    control_plane_hosts: frozenset[str] = frozenset()
    # This replica's and etcd's ports, each with the flag that set it: never listener ports.
    control_plane_ports: Mapping[int, str] = field(default_factory=dict)
    # Hosts (``host`` or ``host:port``) HTTP lifecycle hooks may call (--hook-allow-host); none: no HTTP hooks.
    hook_hosts: frozenset[str] = frozenset()
    # A user's name -> the second its credentials count from (`shoal user revoke`), or None:
    # the replica's watch-fed tombstones (controlplane/revocations.py), set once security is.
    revoked_since: Callable[[str], int | None] = field(default=lambda name: None)

    def __post_init__(self) -> None:
        self.state = State(self.store)

    def require_cluster(self, name_or_arn: str,
                        load: Callable[[str], Record[r.Cluster] | None] | None = None) -> Record[r.Cluster]:
        """The ACTIVE cluster named, read from the store (or by ``load``, given its key)."""
        name = cluster_name(name_or_arn)
        rec = load(keys.cluster(name)) if load is not None else self.state.cluster(name)
        if rec is None or rec.msg.status != "ACTIVE":
            raise not_found(f"cluster: cluster {name!r} not found", "ClusterNotFoundException")
        return rec

    def ensure_default_cluster(self) -> None:
        """ECS creates the default cluster on first use; so do we, at start-up."""
        cluster = r.Cluster(cluster_name="default", cluster_arn=self.arns.cluster("default"), status="ACTIVE")
        with contextlib.suppress(Conflict):  # already there, or another replica won the race
            self.store.create(keys.cluster("default"), cluster.SerializeToString())


def already_exists(message: str) -> ApiError:
    return ApiError(grpc.StatusCode.ALREADY_EXISTS, message, "InvalidParameterException")

"""The agent gateway's liveness half: an agent's key under alive/ exists, bound to this
replica's lease, while it heartbeats; it is deleted once the agent has been silent for a
TTL, and rewritten when the replica lease is re-granted. A replica cut off from etcd sends
its agents away so they re-put their keys through another replica in time."""

from __future__ import annotations

import logging
import threading
import time

import grpc

from controlplane.api.agent_stream import AgentStream
from controlplane.api.context import ApiContext
from controlplane.errors import ApiError
from shoal import keys
from shoal.logs import kv
from shoal.replica_lease import ReplicaLease
from shoal.store.base import Conflict, StoreError

log = logging.getLogger(__name__)


def _cut_off_error() -> ApiError:
    return ApiError(grpc.StatusCode.UNAVAILABLE, "this replica cannot reach etcd; connect to another replica",
                    "ServerException")


class Liveness:
    """Part of ``AgentGatewayService`` (controlplane/api/agents.py), which sets these."""

    ctx: ApiContext
    lease: ReplicaLease
    ttl: float
    address: str
    _lock: threading.Lock
    _streams: dict[str, AgentStream]
    _lingering: dict[str, AgentStream]

    def cut_off(self) -> bool:
        """True when etcd is out of reach and the replica lease (with every agent key on it)
        may expire: see ``ReplicaLease.cut_off``."""
        return self.lease.cut_off()

    def refusal_if_cut_off(self) -> ApiError | None:
        """What to answer an agent that registers or connects while this replica is cut off."""
        return _cut_off_error() if self.cut_off() else None

    def shed_if_cut_off(self) -> str:
        """Ends every agent stream while this replica is cut off from etcd, so the agents
        move to another replica and re-put their alive keys there (bound to its lease)
        before this replica's lease expires and takes the keys with it: their nodes are
        then never judged lost. Returns what it did."""
        if not self.cut_off():
            return ""
        with self._lock:
            streams = [s for s in self._streams.values() if not s.closed]
        for stream in streams:
            stream.outbox.put(_cut_off_error())
        if not streams:
            return ""
        return (f"replica lease unrefreshed for {self.lease.age():.1f}s (etcd out of reach): "
                f"sent {len(streams)} agents to another replica")

    def _put_alive(self, stream: AgentStream) -> None:
        stream.alive_revision = self.ctx.store.put(keys.alive(stream.node_id), self.address.encode(),
                                                   lease=self.lease.lease_id)

    def _rewrite_alive_keys(self, lease_id: int) -> None:
        with self._lock:
            streams = list(self._streams.values())
        for stream in streams:
            try:
                self._put_alive(stream)
            except StoreError as exc:
                log.warning("could not rewrite alive key: %s", exc, extra=kv(node=stream.node_id))

    def expire_silent_agents(self) -> str:
        """Deletes the alive key of every agent silent for a TTL. Returns what it did."""
        now = time.monotonic()
        with self._lock:
            candidates = list(self._streams.values()) + list(self._lingering.values())
        expired = []
        for stream in candidates:
            if now - stream.last_heartbeat <= self.ttl or not stream.alive_revision:
                continue
            try:
                # Only our own write: if another replica re-put the key, the agent lives there.
                self.ctx.store.delete(keys.alive(stream.node_id), stream.alive_revision)
            except Conflict:
                pass
            except StoreError as exc:
                return f"could not expire silent agents: {exc}"
            stream.alive_revision = 0
            expired.append(stream.node_id)
            with self._lock:
                if self._lingering.get(stream.node_id) is stream:
                    del self._lingering[stream.node_id]
        if expired:
            return f"marked {len(expired)} silent agents lost: {', '.join(n[:12] for n in expired)}"
        return ""

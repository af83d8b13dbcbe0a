"""Leader election through etcd, as Patroni does it: the leader key is created
create-only and bound to a lease the replica keeps for it alone (shorter than the one
its agents' liveness keys hang on, so a dead leader is replaced well inside one
--lease-ttl). Every write the leader makes carries a
compare on that key's create_revision (the fence), so a deposed leader's writes fail
instead of racing the new leader's."""

from __future__ import annotations

import logging

from shoal import keys
from shoal.replica_lease import ReplicaLease
from shoal.store.base import Compare, Conflict, Store, StoreError

log = logging.getLogger(__name__)


class Election:
    def __init__(self, store: Store, lease: ReplicaLease, name: str, component: str = "controllers") -> None:
        self.store = store
        self.lease = lease
        self.name = name
        self.key = keys.leader(component)
        self._create_revision = 0

    def is_leader(self) -> bool:
        return self._create_revision != 0 and self.lease.valid()

    def fence(self) -> Compare:
        """Holds only while this replica's leader key is the one in etcd."""
        return Compare(self.key, self._create_revision, on_create=True)

    def campaign(self) -> str:
        """One step of the election; returns a sentence saying where we stand."""
        if not self.lease.valid():
            was = self._create_revision
            self._create_revision = 0
            return "stepped down: leader lease is not valid" if was else "not campaigning: no valid leader lease"
        try:
            current = self.store.get(self.key)
            if current is None:
                try:
                    self._create_revision = self.store.create(
                        self.key, self.name.encode(), lease=self.lease.lease_id
                    )
                except Conflict:
                    return "lost the race for leadership"
                return f"became leader (fence revision {self._create_revision})"
            if current.value.decode() == self.name and current.lease == self.lease.lease_id:
                self._create_revision = current.create_revision
                return "leading"
            was = self._create_revision
            self._create_revision = 0
            holder = current.value.decode(errors="replace")
            return f"stepped down: {holder} holds leadership" if was else f"following {holder}"
        except StoreError as exc:
            self._create_revision = 0
            return f"not leading: store unreachable ({exc})"

    def resign(self) -> None:
        if not self._create_revision:
            return
        try:
            self.store.txn([self.fence()], [])
            self.store.delete(self.key)
        except StoreError:
            pass
        self._create_revision = 0

"""The one interface to Shoal's state. Every byte of cluster state lives behind it.

Two implementations pass the same contract tests (tests/unit/test_store_contract.py):
``EtcdStore`` (production, etcd v3) and ``MemoryStore`` (unit tests). Both number every
write with a store-wide revision that only grows, exactly as etcd does, so code written
against one behaves the same against the other.

Keys are str, values are bytes. A key's ``mod_revision`` is the revision of its last write;
``create_revision`` the revision that created it (0 for a key that does not exist, which is
what create-only compares against).

A transaction is bounded as etcd bounds it by default: at most ``MAX_TXN_OPS`` compares and
at most ``MAX_TXN_OPS`` operations (``--max-txn-ops``), and at most ``MAX_REQUEST_BYTES``
(``--max-request-bytes``). Both stores refuse a bigger one with ``StoreError`` (never
``Conflict``: retrying it cannot help). Writers of many records split them with
``shoal.store.batch``, one all-or-nothing group per record that must land together.

A store rides out a short outage of its backend (an etcd leader election, one dead member
of several) by retrying within a bounded window; ``StoreError`` means it lasted longer. A
conditional write retried after a lost reply may find its own first try applied; the store
then reports it applied (not ``Conflict``) when the keys prove it: each key put holds
exactly the value and lease written, all at one revision, and each key deleted is gone.
Another writer having written those very bytes and leases is indistinguishable, and is
taken as ours: the state is the one the caller asked for.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

# etcd's defaults (--max-txn-ops, --max-request-bytes); Shoal never starts etcd with others.
MAX_TXN_OPS = 128
MAX_REQUEST_BYTES = 1536 * 1024


class StoreError(Exception):
    """The store could not be reached or answered with an error. Callers fail safe."""


class Conflict(StoreError):
    """A compare-and-set or create-only write lost: someone wrote the key first."""


@dataclass(frozen=True)
class KV:
    key: str
    value: bytes
    mod_revision: int
    create_revision: int
    lease: int = 0


@dataclass(frozen=True)
class Event:
    """One change seen by a watch. ``kind`` is "put" or "delete"; a delete carries the
    key and the revision of the delete, and value b""."""

    kind: str
    kv: KV


@dataclass(frozen=True)
class Compare:
    """A guard for ``txn``: the key's ``mod_revision`` (or ``create_revision`` when
    ``on_create`` is true) must equal ``revision``. ``revision=0`` with ``on_create``
    means "the key does not exist"."""

    key: str
    revision: int
    on_create: bool = False


@dataclass(frozen=True)
class Put:
    key: str
    value: bytes
    lease: int = 0


@dataclass(frozen=True)
class Delete:
    key: str
    prefix: bool = False


@dataclass
class Listing:
    kvs: list[KV] = field(default_factory=list)
    # The store revision the listing was read at: start a watch at revision + 1 to miss nothing.
    revision: int = 0


WatchCallback = Callable[[list[Event]], None]


class Store(abc.ABC):
    """Contract of each method, as the contract tests check it."""

    @abc.abstractmethod
    def get(self, key: str) -> KV | None:
        """The key's current value, or None. Linearizable read."""

    @abc.abstractmethod
    def list(self, prefix: str) -> Listing:
        """Every key under ``prefix`` sorted by key, and the revision read at."""

    @abc.abstractmethod
    def put(self, key: str, value: bytes, lease: int = 0) -> int:
        """Unconditional write; returns the new revision. ``lease`` binds the key to a
        lease: the key is deleted when the lease expires or is revoked."""

    @abc.abstractmethod
    def create(self, key: str, value: bytes, lease: int = 0) -> int:
        """Create-only: writes only if the key does not exist, else raises ``Conflict``.
        Returns the new revision."""

    @abc.abstractmethod
    def cas(self, key: str, value: bytes, mod_revision: int, lease: int = 0) -> int:
        """Compare-and-set on revision: writes only if the key's mod_revision equals
        ``mod_revision`` (0: only if absent), else raises ``Conflict``. Returns the new
        revision."""

    @abc.abstractmethod
    def delete(self, key: str, mod_revision: int | None = None) -> bool:
        """Deletes the key; with ``mod_revision``, only if it still has that revision (else
        ``Conflict``). Returns whether a key was deleted."""

    @abc.abstractmethod
    def txn(self, compares: Sequence[Compare], ops: Sequence[Put | Delete]) -> int:
        """All-or-nothing: if every compare holds, applies every op at one new revision and
        returns it; otherwise applies nothing and raises ``Conflict``. More than
        ``MAX_TXN_OPS`` compares or ops, a key put twice, or more than ``MAX_REQUEST_BYTES``
        of keys and values: refused with ``StoreError``, nothing applied."""

    @abc.abstractmethod
    def grant_lease(self, ttl: float) -> int:
        """A new lease that expires ``ttl`` seconds (rounded up to whole seconds) from now
        unless refreshed. Returns its id (never 0)."""

    @abc.abstractmethod
    def refresh_lease(self, lease: int) -> bool:
        """Restarts the lease's ttl. False if the lease has already expired or is unknown:
        the caller must grant a new one and rewrite its keys."""

    @abc.abstractmethod
    def revoke_lease(self, lease: int) -> None:
        """Ends the lease now and deletes its keys. Unknown leases are ignored."""

    @abc.abstractmethod
    def watch(self, prefix: str, start_revision: int, callback: WatchCallback) -> Callable[[], None]:
        """Calls ``callback`` with each batch of events under ``prefix`` from
        ``start_revision`` on, in revision order, from a thread of the store's. Returns a
        function that cancels the watch. If the store cannot deliver (compacted revision,
        lost connection) it calls ``callback`` with an empty list and stops: the caller must
        re-list and watch again."""

    @abc.abstractmethod
    def close(self) -> None:
        """Releases connections and threads; no call is valid afterwards."""
